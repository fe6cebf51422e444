"""Training of unconditional DCGAN generators (noise to image): the mask GAN of the dual GAN pipeline,
and US-DCGAN / MelanoGAN-style sample sources for rare classes.

The recipe is the DCGAN paper's (Radford et al. 2016) as the PyTorch example implements it: the
generator of ``core.dcgan``, a mirrored discriminator of strided 4x4 convolutions with BatchNorm and
LeakyReLU(0.2), N(0, 0.02) weights, Adam 2e-4 / 0.5, the non-saturating loss. Checkpoints are the
example's ``netG`` state dict (so other DCGAN code loads them) with a model card whose encoding is
``noise``; a resume file makes an interrupted run continue exactly.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .atomic import write_with_atomic
from .card import Encoding, ModelCard
from .checkpoints import save_state_dict
from .dcgan import DCGANGenerator, dcgan_spec
from .loss_log import append_row, trim_after
from .errors import SynthguiError

GAN_LOG_FIELDS = ("iteration", "loss_G", "loss_D", "D_real", "D_fake", "seconds")


class DCGANDiscriminator(nn.Module):
    """Image to one logit: 4x4 stride-2 convolutions halve the side down to 4, a last 4x4 conv reads it."""

    def __init__(self, size: int, channels: int, ndf: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width, side = ndf, size // 2
        while side > 4:
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width, side = width * 2, side // 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def diff_augment(x: torch.Tensor, generator: torch.Generator, shift: float = 0.125, cut: float = 0.5) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) with translation and cutout, applied to real and fake alike
    before D sees them. With a few dozen images D otherwise memorises the training set within a
    few hundred steps and G stops learning; the augmentation is differentiable so G's gradient
    passes through it, and G never learns to produce the augmentation itself."""
    n, _, h, w = x.shape
    dev = x.device
    p = max(1, int(h * shift + 0.5))
    dy = torch.randint(-p, p + 1, (n, 1, 1), generator=generator).to(dev)
    dx = torch.randint(-p, p + 1, (n, 1, 1), generator=generator).to(dev)
    gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
    ys = (gy[None] + dy + p).clamp(0, h + 2 * p - 1)
    xs = (gx[None] + dx + p).clamp(0, w + 2 * p - 1)
    padded = F.pad(x, (p, p, p, p), value=-1.0)  # outside the picture reads as black
    idx = torch.arange(n, device=dev)[:, None, None]
    x = padded.permute(0, 2, 3, 1)[idx, ys, xs].permute(0, 3, 1, 2)
    ch, cw = max(1, int(h * cut)), max(1, int(w * cut))
    cy = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), generator=generator).to(dev)
    cx = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), generator=generator).to(dev)
    keep = ((gy[None] - cy).abs() >= ch // 2) | ((gx[None] - cx).abs() >= cw // 2)
    return x * keep[:, None].to(x.dtype)


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: convolutions N(0, 0.02), BatchNorm scale N(1, 0.02) and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@dataclass
class GanConfig:
    """One DCGAN run; saved in the resume file so ``--resume`` continues with the same settings."""

    out_dir: str
    name: str = "dcgan"
    size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    channels: int = 3
    batch_size: int = 64
    iterations: int = 10000
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    flip: bool = True
    rotate: bool = False
    diffaugment: bool = False  # translation + cutout before D (for small datasets)
    checkpoint_every_s: float = 300.0
    preview_every: int = 500
    log_every: int = 50
    max_iterations: int | None = None  # stop (with a checkpoint) after this many in this call
    command: str = ""


@dataclass
class GanState:
    iteration: int = 0
    seconds: float = 0.0


@dataclass
class GanLoss:
    loss_G: float
    loss_D: float
    D_real: float  # mean probability D gives real images
    D_fake: float


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 to (N, C, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 127.5 - 1.0


class GanTrainer:
    """Owns G, D and their optimisers; ``run`` trains until ``iterations``, a stop request or ``max_iterations``."""

    def __init__(self, config: GanConfig, images: np.ndarray, card: ModelCard | None = None) -> None:
        if images.ndim != 4 or images.shape[1:] != (config.size, config.size, config.channels):
            raise SynthguiError(f"training images must be {config.size}x{config.size} with {config.channels} channels, "
                                f"not {images.shape[1:]}")
        if len(images) == 0:
            raise SynthguiError("no training images")
        from .train import start_run

        self.config, self.images = config, images
        self.out, self.device = start_run(config.out_dir, config.device, config.threads, config.seed)
        self.spec = dcgan_spec(nz=config.nz, ngf=config.ngf, nc=config.channels, size=config.size)
        self.G = DCGANGenerator(self.spec).to(self.device)
        self.D = DCGANDiscriminator(config.size, config.channels, config.ndf).to(self.device)
        dcgan_init(self.G)
        dcgan_init(self.D)
        betas = (config.beta1, 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        self.rng = np.random.default_rng(config.seed)
        self.fixed_noise = torch.randn(16, config.nz, 1, 1, generator=torch.Generator().manual_seed(config.seed))
        self.aug_rng = torch.Generator().manual_seed(config.seed + 1)
        self.card = card
        self.state = GanState()
        self.window: list[GanLoss] = []  # losses since the last log row; kept in resume.pt so a resume logs them

    def batch(self) -> torch.Tensor:
        """A random batch with random flips (and quarter turns when orientation carries no meaning)."""
        idx = self.rng.integers(0, len(self.images), self.config.batch_size)
        out = []
        for i in idx:
            img = self.images[i]
            if self.config.flip and self.rng.random() < 0.5:
                img = img[:, ::-1]
            if self.config.rotate:
                img = np.rot90(img, int(self.rng.integers(4)))
            out.append(np.ascontiguousarray(img))
        return images_to_tensor(np.stack(out)).to(self.device)

    def step(self, real: torch.Tensor) -> GanLoss:
        n = real.shape[0]
        z = torch.randn(n, self.config.nz, 1, 1, device=self.device)
        fake = self.G(z)
        aug = self._augment
        self.opt_D.zero_grad(set_to_none=True)
        logit_real = self.D(aug(real))
        logit_fake = self.D(aug(fake.detach()))
        loss_D = (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
                  + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
        loss_D.backward()
        self.opt_D.step()
        self.opt_G.zero_grad(set_to_none=True)
        logit_gen = self.D(aug(fake))
        loss_G = F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))  # non-saturating
        loss_G.backward()
        self.opt_G.step()
        return GanLoss(loss_G.item(), loss_D.item(), torch.sigmoid(logit_real).mean().item(),
                       torch.sigmoid(logit_fake).mean().item())

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.aug_rng) if self.config.diffaugment else x

    def run(self, progress: Callable[[int, int, GanLoss], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> GanState:
        cfg = self.config
        self.G.train()
        self.D.train()
        started, last_save, t0, base = self.state.iteration, time.monotonic(), time.monotonic(), self.state.seconds
        while self.state.iteration < cfg.iterations:
            rec = self.step(self.batch())
            self.state.iteration += 1
            self.state.seconds = base + time.monotonic() - t0
            self.window.append(rec)
            it = self.state.iteration
            if it % cfg.log_every == 0:
                self._log(self.window)
                self.window = []
            if cfg.preview_every and it % cfg.preview_every == 0:
                self.save_preview()
            if progress:
                progress(it, cfg.iterations, rec)
            stop = (cfg.max_iterations is not None and it - started >= cfg.max_iterations) or bool(should_stop and should_stop())
            if stop or time.monotonic() - last_save >= cfg.checkpoint_every_s:
                self.save()
                last_save = time.monotonic()
            if stop:
                return self.state
        if self.window:
            self._log(self.window)
            self.window = []
        self.save()
        self.save_preview()
        return self.state

    # --- outputs --------------------------------------------------------------------------------

    def card_for_checkpoint(self) -> ModelCard:
        card = copy.deepcopy(self.card) if self.card is not None else ModelCard(name=self.config.name)
        card.name = self.config.name
        card.classes = []  # a noise model has no input classes
        card.encoding = Encoding(kind="noise", noise_dim=self.config.nz)
        card.resolution = self.config.size
        card.default_mode = "eval"
        card.weights = "latest_net_G.pth"
        card.architecture = {"netG": self.spec.name, "ngf": self.config.ngf, "norm": "batch", "input_nc": self.config.nz,
                             "output_nc": self.config.channels}
        card.training_command = self.config.command or card.training_command
        card.metrics = {"training": {"iterations": self.state.iteration, "seconds": round(self.state.seconds, 1),
                                     "device": str(self.device), "images": int(len(self.images))}}
        return card

    def save(self) -> None:
        """G as the DCGAN example's state dict with its card, then the resume file, each atomically."""
        save_state_dict(self.G, self.out / "latest_net_G.pth")
        self.card_for_checkpoint().save(self.out / "latest_net_G.json")
        resume = {
            "config": json.dumps(asdict(self.config)),
            "state": json.dumps(asdict(self.state)),
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "aug_rng": self.aug_rng.get_state(),
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "log_window": json.dumps([asdict(r) for r in self.window]),
        }
        write_with_atomic(self.out / "resume.pt", lambda tmp: torch.save(resume, str(tmp)))

    def load_resume(self) -> None:
        from .train import read_resume

        path = self.out / "resume.pt"
        data = read_resume(path)
        saved = json.loads(data["config"])
        for key in ("size", "nz", "ngf", "ndf", "channels"):
            if saved[key] != getattr(self.config, key):
                raise SynthguiError(f"{path}: the run was started with {key}={saved[key]}, not {getattr(self.config, key)}")
        self.G.load_state_dict(data["G"])
        self.D.load_state_dict(data["D"])
        self.opt_G.load_state_dict(data["opt_G"])
        self.opt_D.load_state_dict(data["opt_D"])
        torch.set_rng_state(data["torch_rng"])
        if data.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(data["cuda_rng"])
        if "aug_rng" in data:
            self.aug_rng.set_state(data["aug_rng"])
        self.rng.bit_generator.state = json.loads(data["numpy_rng"])
        self.state = GanState(**json.loads(data["state"]))
        self.window = [GanLoss(**r) for r in json.loads(data.get("log_window", "[]"))]
        self._trim_log()

    def samples(self, noise: torch.Tensor) -> np.ndarray:
        """(N, H, W, C) uint8 from a copy of G in eval mode (running statistics, as the app samples)."""
        net = copy.deepcopy(self.G).eval()
        with torch.no_grad():
            y = net(noise.to(self.device)).float().cpu().numpy()
        return np.clip((y.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)

    def save_preview(self) -> None:
        """4 x 4 samples of the same fixed noise every time, so the grids show training progress."""
        from .train import _save_png

        s = self.samples(self.fixed_noise)
        if s.shape[-1] == 1:
            s = np.repeat(s, 3, axis=-1)
        grid = np.concatenate([np.concatenate(list(s[r * 4 : r * 4 + 4]), axis=1) for r in range(4)], axis=0)
        _save_png(self.out / f"preview_{self.state.iteration:06d}.png", grid)
        _save_png(self.out / "preview_latest.png", grid)

    def _log(self, window: list[GanLoss]) -> None:
        append_row(self.out / "loss_log.csv", GAN_LOG_FIELDS, {
            "iteration": self.state.iteration, "seconds": round(self.state.seconds, 1),
            **{k: float(np.mean([getattr(r, k) for r in window])) for k in ("loss_G", "loss_D", "D_real", "D_fake")}})

    def _trim_log(self) -> None:
        trim_after(self.out / "loss_log.csv", GAN_LOG_FIELDS, self.state.iteration)


def check_gan_step_memory(config: GanConfig) -> None:
    """A DCGAN step that cannot fit the device is refused before the run folder is made. The widths
    double with every layer (``ngf * size / 8`` at the noise end), so size and width together decide."""
    from .engine import select_device
    from .train import check_fits, gan_step_bytes

    device = select_device(config.device)
    what = (f"a DCGAN step at {config.size} px, batch {config.batch_size}, nz {config.nz}, ngf {config.ngf}, "
            f"ndf {config.ndf}")
    try:
        with torch.device("meta"):
            G = DCGANGenerator(dcgan_spec(nz=config.nz, ngf=config.ngf, nc=config.channels, size=config.size))
            D = DCGANDiscriminator(config.size, config.channels, config.ndf)
        need = gan_step_bytes(G, D, (config.nz, 1, 1), (config.channels, config.size, config.size), config.batch_size)
    except (RuntimeError, TypeError, OverflowError, ValueError):  # a width torch cannot even lay out
        raise SynthguiError(f"{what} is too large to lay out in memory: lower --nz, --ngf or --ndf") from None
    check_fits(need, device, what, "lower --batch-size, --size, --nz, --ngf or --ndf")


def load_image_folder(folder: str | Path, size: int, channels: int) -> np.ndarray:
    """Every image in a folder, resized to ``size`` (area averaging), as (N, size, size, channels) uint8."""
    import cv2

    from .datasets import IMAGE_SUFFIXES, check_decoded_fits
    from .masks import read_image_rgb

    folder = Path(folder)
    if not folder.is_dir():
        raise SynthguiError(f"not a folder: {folder}")
    paths = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise SynthguiError(f"no images in {folder}")
    check_decoded_fits(len(paths), size, channels, "images", "train at a lower --size or on fewer images")
    out = []
    for p in paths:
        img = read_image_rgb(p, stretch_wide=True)  # 16-bit grey over its own range, not clipped to white
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC)
        if channels == 1:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
        out.append(img)
    return np.stack(out)
