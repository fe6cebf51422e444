"""pix2pix training with the reference's defaults, resumable to the iteration.

Defaults follow the reference: U-Net 256 with batch norm and dropout, a 70x70 PatchGAN, the
vanilla GAN loss plus 100 x L1, Adam (2e-4, beta1 0.5), a constant learning rate for ``epochs`` then a
linear decay to zero over ``epochs_decay``. The generator is saved as a bare reference state dict
(``latest_net_G.pth``, loadable by the reference ``test.py``) with our model card beside it; a
separate ``resume.pt`` holds D, both optimisers, the schedule position and every RNG state, so an
interrupted run continues exactly. All files are written atomically.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import write_bytes_atomic, write_with_atomic
from .card import ModelCard, generic_card
from .checkpoints import save_state_dict
from .loss_log import append_row, trim_after
from .datasets import PairSet, SampleMaker, memory_text
from .errors import SynthguiError
from .networks import GeneratorSpec, NLayerDiscriminator, ResizeConv, build_generator, init_weights

LOG_FIELDS = ("iteration", "epoch", "G_GAN", "G_L1", "D_real", "D_fake", "lr", "seconds")


@dataclass
class TrainConfig:
    """One training run; everything needed to repeat it (saved into ``resume.pt`` and the card)."""

    out_dir: str
    name: str = "model"
    spec: GeneratorSpec = field(default_factory=GeneratorSpec)
    ndf: int = 64
    n_layers_d: int = 3
    epochs: int = 100
    epochs_decay: int = 100
    epoch_size: int | None = None  # samples per epoch; None = the whole training set
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_l1: float = 100.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision, on a GPU only
    threads: int | None = None
    retone_fraction: float = 0.0
    rotate: bool = False
    flip: bool = True
    load_size: int = 0  # > resolution: the reference's random resize-and-crop; 0 = none (runs from before it)
    init_from: str = ""  # generator weights to start from (fine-tuning)
    init_d_from: str = ""  # discriminator weights to start from; empty: D starts fresh
    checkpoint_every_s: float = 300.0
    preview_every: int = 500  # iterations
    log_every: int = 50  # iterations
    snapshot_every: int = 0  # iterations; 0 = none. Half-precision G snapshots for choosing the best
    max_iterations: int | None = None  # stop (with a checkpoint) after this many; for pieces of a run
    command: str = ""

    def to_json(self) -> dict:
        data = asdict(self)
        data["spec"] = asdict(self.spec)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        spec = {k: tuple(v) if isinstance(v, list) else v for k, v in data["spec"].items()}
        data["spec"] = GeneratorSpec(**spec)
        return cls(**data)


@dataclass
class TrainState:
    """Where a run stands; restored exactly by ``--resume``."""

    epoch: int = 0
    position: int = 0  # index into this epoch's order
    iteration: int = 0
    seconds: float = 0.0
    order: list[int] = field(default_factory=list)


@dataclass
class LossRecord:
    G_GAN: float
    G_L1: float
    D_real: float
    D_fake: float


def start_run(out_dir: str, device: str, threads: int | None, seed: int) -> tuple[Path, torch.device]:
    """The run folder, the device, a thread-limited CPU and a seeded torch: how every trainer starts."""
    from .engine import select_device

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthguiError(f"cannot use {out} as the run folder: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise SynthguiError(f"cannot use {out} as the run folder: it is not writable")
    dev = select_device(device)
    if dev.type == "cpu" and threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return out, dev


def saved_activations(net: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """Elements a forward of ``net`` keeps for the backward pass, at least: the input of every
    convolution (its weight gradient needs it). Laid out on the meta device, so nothing is allocated
    and a network too wide to build costs no more than a small one."""
    total = 0

    def keep(module, inputs, output) -> None:
        nonlocal total
        if not isinstance(module, ResizeConv) or module.runs_transposed(inputs[0]):  # else its Conv2d counts
            total += inputs[0].numel()

    hooks = [m.register_forward_hook(keep) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, ResizeConv))]
    try:
        with torch.no_grad():
            net(torch.empty(input_shape, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def gan_step_bytes(G: torch.nn.Module, D: torch.nn.Module, g_input: tuple[int, ...], d_input: tuple[int, ...],
                   batch: int, half: bool = False) -> int:
    """A lower bound of the memory one GAN training step needs, for networks built on the meta device:
    16 bytes a parameter (fp32 weight, gradient and Adam's two moments, also under mixed precision)
    and the activations of a batch, G's once and D's twice (real and fake are held together)."""
    params = sum(p.numel() for net in (G, D) for p in net.parameters())
    per_sample = saved_activations(G, (1, *g_input)) + 2 * saved_activations(D, (1, *d_input))
    return 16 * params + (2 if half else 4) * per_sample * batch


def step_memory_bytes(spec: GeneratorSpec, ndf: int, n_layers_d: int, resolution: int, batch: int, half: bool = False) -> int:
    """``gan_step_bytes`` of a pix2pix run: G on the input planes, D on input and image side by side."""
    with torch.device("meta"):
        G = build_generator(spec)
        D = NLayerDiscriminator(spec.input_nc + spec.output_nc, ndf, n_layers_d, spec.norm)
    return gan_step_bytes(G, D, (spec.input_nc, resolution, resolution),
                          (spec.input_nc + spec.output_nc, resolution, resolution), batch, half)


def device_memory(device: torch.device) -> int | None:
    """Bytes of memory a run on ``device`` can use at most: a GPU's own, else the machine's (None if unknown)."""
    from .datasets import host_memory

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    return host_memory()


def check_fits(need: int, device: torch.device, what: str, lower: str) -> None:
    """Refuse a run whose step cannot fit on ``device``, before its folder is made."""
    have = device_memory(device)
    if have is not None and need > have:
        raise SynthguiError(f"{what} needs at least {memory_text(need)} of memory (weights, Adam state and the "
                            f"batch's activations), more than the {memory_text(have)} of {device}: {lower}")


def check_step_memory(config: "TrainConfig", resolution: int) -> None:
    """A pix2pix step that cannot fit the device is refused now, not as torch's allocation error after
    the run folder was made (``config.batch_size`` as asked: a batch beyond the epoch is cut to it)."""
    from .engine import select_device

    device = select_device(config.device)
    batch = min(config.batch_size, config.epoch_size or config.batch_size)
    what = f"a step of {config.spec.name} at {resolution} px, batch {batch}, ngf {config.spec.ngf}, ndf {config.ndf}"
    try:
        need = step_memory_bytes(config.spec, config.ndf, config.n_layers_d, resolution, batch,
                                 half=config.amp and device.type == "cuda")
    except (RuntimeError, TypeError, OverflowError, ValueError):  # a width torch cannot even lay out
        raise SynthguiError(f"{what} is too large to lay out in memory: lower --batch-size, --ngf, --ndf or --input-nc") from None
    check_fits(need, device, what, "lower --batch-size, --resolution, --ngf, --ndf or --input-nc")


def read_resume(path: Path) -> dict:
    """A run's resume file, read without pickle; a missing, torn or foreign file is one clear error."""
    if not path.is_file():
        raise SynthguiError(f"nothing to resume: {path} does not exist")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn or foreign file: say so, touch nothing
        raise SynthguiError(f"{path}: not a readable resume file ({str(exc).splitlines()[0] if str(exc) else exc})") from None


class Trainer:
    """Owns G, D, optimisers and schedule; ``run`` trains until done, stopped or ``max_iterations``."""

    def __init__(self, config: TrainConfig, train: PairSet, card: ModelCard | None, val: PairSet | None = None) -> None:
        if len(train) == 0:
            raise SynthguiError("no training pairs")
        self.config, self.card = config, card
        self.out, self.device = start_run(config.out_dir, config.device, config.threads, config.seed)
        spec = config.spec
        self.G = build_generator(spec).to(self.device)
        self.D = NLayerDiscriminator(spec.input_nc + spec.output_nc, config.ndf, config.n_layers_d, spec.norm).to(self.device)
        init_weights(self.G)
        init_weights(self.D)
        if config.init_from:
            self._init_from(self.G, config.init_from)
        if config.init_d_from:
            self._init_from(self.D, config.init_d_from)
        betas = (config.beta1, 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        self.use_amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.maker = SampleMaker(train, card, spec.input_nc, config.retone_fraction, config.rotate, config.flip,
                                 config.load_size)
        self.val_maker = SampleMaker(val, card, spec.input_nc) if val is not None and len(val) else None
        self.rng = np.random.default_rng(config.seed)
        self.state = TrainState()
        self.window: list[LossRecord] = []  # losses since the last log row; kept in resume.pt so a resume logs them
        self.n_train = len(train)

    @staticmethod
    def _init_from(net: torch.nn.Module, path: str) -> None:
        """Start a network from trained weights of the same architecture; a mismatch names the first
        layer. Continuing a finished run needs D too: a fresh D against a trained G spends thousands
        of iterations catching up, and its early verdicts pull G off what it had learnt."""
        from .checkpoints import load_into, read_state_dict

        load_into(net, read_state_dict(path), str(path))

    # --- schedule -------------------------------------------------------------------------------

    @property
    def epoch_size(self) -> int:
        return self.config.epoch_size or self.n_train

    @property
    def iters_per_epoch(self) -> int:
        return max(1, math.ceil(self.epoch_size / self.config.batch_size))

    @property
    def total_epochs(self) -> int:
        return self.config.epochs + self.config.epochs_decay

    @property
    def total_iterations(self) -> int:
        return self.total_epochs * self.iters_per_epoch

    def lr_at(self, epoch: int) -> float:
        """The reference's 'linear' policy: constant, then down to 0 over ``epochs_decay`` epochs."""
        factor = 1.0 - max(0, epoch + 1 - self.config.epochs) / float(self.config.epochs_decay + 1)
        return self.config.lr * factor

    def _set_lr(self) -> float:
        lr = self.lr_at(self.state.epoch)
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def _new_order(self) -> list[int]:
        """This epoch's sample order: a fresh permutation, repeated if an epoch is longer than the set."""
        reps = math.ceil(self.epoch_size / self.n_train)
        order = np.concatenate([self.rng.permutation(self.n_train) for _ in range(reps)])[: self.epoch_size]
        return order.tolist()

    # --- one step -------------------------------------------------------------------------------

    def _gan_loss(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> LossRecord:
        """One reference iteration: update D on (A, fake) vs (A, real), then G on GAN + lambda * L1."""
        autocast = torch.autocast("cuda", dtype=torch.float16, enabled=self.use_amp) if self.device.type == "cuda" else _null()
        with autocast:
            fake_B = self.G(real_A)
        # D
        for p in self.D.parameters():
            p.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        with autocast:
            pred_fake = self.D(torch.cat([real_A, fake_B.detach()], 1))
            pred_real = self.D(torch.cat([real_A, real_B], 1))
        loss_D_fake = self._gan_loss(pred_fake, False)
        loss_D_real = self._gan_loss(pred_real, True)
        loss_D = (loss_D_fake + loss_D_real) * 0.5
        self.scaler.scale(loss_D).backward()
        self.scaler.step(self.opt_D)
        # G
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        with autocast:
            pred_fake = self.D(torch.cat([real_A, fake_B], 1))
        loss_G_GAN = self._gan_loss(pred_fake, True)
        loss_G_L1 = F.l1_loss(fake_B.float(), real_B.float()) * self.config.lambda_l1
        self.scaler.scale(loss_G_GAN + loss_G_L1).backward()
        self.scaler.step(self.opt_G)
        self.scaler.update()
        return LossRecord(loss_G_GAN.item(), loss_G_L1.item(), loss_D_real.item(), loss_D_fake.item())

    # --- the loop -------------------------------------------------------------------------------

    def run(self, progress: Callable[[int, int, LossRecord | None], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> TrainState:
        cfg = self.config
        self.G.train()
        self.D.train()
        last_save = time.monotonic()
        started_at = self.state.iteration
        t0 = time.monotonic()
        base_seconds = self.state.seconds
        while self.state.epoch < self.total_epochs:
            if not self.state.order:
                self.state.order = self._new_order()
                self.state.position = 0
            lr = self._set_lr()
            while self.state.position < len(self.state.order):
                idx = self.state.order[self.state.position: self.state.position + cfg.batch_size]
                a, b = self.maker.batch(idx, self.rng)
                rec = self.step(torch.from_numpy(a).to(self.device), torch.from_numpy(b).to(self.device))
                self.state.position += len(idx)
                self.state.iteration += 1
                self.state.seconds = base_seconds + time.monotonic() - t0
                self.window.append(rec)
                it = self.state.iteration
                if it % cfg.log_every == 0:
                    self._log(self.window, lr)
                    self.window = []
                if cfg.preview_every and it % cfg.preview_every == 0:
                    self.save_preview()
                if cfg.snapshot_every and it % cfg.snapshot_every == 0:
                    self.save_snapshot()
                if progress:
                    progress(it, self.total_iterations, rec)
                done_piece = cfg.max_iterations is not None and it - started_at >= cfg.max_iterations
                stop = done_piece or (should_stop is not None and should_stop())
                if stop or time.monotonic() - last_save >= cfg.checkpoint_every_s:
                    if self.state.position >= len(self.state.order):
                        self._end_epoch()
                    self.save()
                    last_save = time.monotonic()
                if stop:
                    return self.state
            self._end_epoch()
        if self.window:
            self._log(self.window, self.lr_at(self.state.epoch - 1))
            self.window = []
        self.save()
        self.save_preview()
        return self.state

    def _end_epoch(self) -> None:
        if self.state.order and self.state.position >= len(self.state.order):
            self.state.epoch += 1
            self.state.order = []
            self.state.position = 0

    # --- outputs --------------------------------------------------------------------------------

    def _log(self, window: list[LossRecord], lr: float) -> None:
        append_row(self.out / "loss_log.csv", LOG_FIELDS, {
            "iteration": self.state.iteration,
            "epoch": self.state.epoch + self.state.position / max(1, len(self.state.order) or 1),
            **{k: float(np.mean([getattr(r, k) for r in window])) for k in ("G_GAN", "G_L1", "D_real", "D_fake")},
            "lr": lr,
            "seconds": round(self.state.seconds, 1),
        })

    def _trim_log(self) -> None:
        """After a resume, drop log rows written past the checkpoint (they will be written again)."""
        trim_after(self.out / "loss_log.csv", LOG_FIELDS, self.state.iteration)

    def card_for_checkpoint(self, weights: str = "latest_net_G.pth") -> ModelCard:
        """The template's card for these weights; without a template, a card that says what training
        did (the mask image as RGB, at the training resolution) so the app renders as it was trained."""
        if self.card is None:
            card = generic_card(self.config.name)
            card.generic = False
            card.description = "Trained without a card template: the mask goes in as an RGB image, as in training."
            card.resolution = int(self.maker.pairs.masks.shape[1])
        else:
            card = copy.deepcopy(self.card)
        spec = self.config.spec
        card.architecture = {"netG": spec.name, "ngf": spec.ngf, "norm": spec.norm, "dropout": spec.dropout,
                             "upsample": spec.upsample, "input_nc": spec.input_nc, "output_nc": spec.output_nc}
        card.weights = weights
        card.training_command = self.config.command or card.training_command
        # Held-out metrics describe one weights file: a template's (e.g. a shipped card) never carry over.
        card.metrics = {"training": {"iterations": self.state.iteration, "epochs": self.state.epoch,
                                                     "seconds": round(self.state.seconds, 1), "device": str(self.device)}}
        return card

    def save(self) -> None:
        """G in the reference format with its card, D likewise, and the resume file."""
        save_state_dict(self.G, self.out / "latest_net_G.pth")
        save_state_dict(self.D, self.out / "latest_net_D.pth")
        self.card_for_checkpoint().save(self.out / "latest_net_G.json")
        resume = {
            "config": json.dumps(self.config.to_json()),
            "state": json.dumps(asdict(self.state)),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "pairs": json.dumps(self.maker.pairs.names),
            "log_window": json.dumps([asdict(r) for r in self.window]),
        }
        write_with_atomic(self.out / "resume.pt", lambda tmp: torch.save(resume, str(tmp)))

    def save_snapshot(self) -> None:
        """A half-precision G of this iteration with its own card, so it loads like the latest one."""
        name = f"iter_{self.state.iteration:06d}_net_G.pth"
        save_state_dict(self.G, self.out / name, half=True)
        self.card_for_checkpoint(name).save((self.out / name).with_suffix(".json"))

    def load_resume(self) -> None:
        path = self.out / "resume.pt"
        data = read_resume(path)
        saved = TrainConfig.from_json(json.loads(data["config"]))
        if _plain(asdict(saved.spec)) != _plain(asdict(self.config.spec)):
            raise SynthguiError(f"{path}: the run was started with {saved.spec}, not {self.config.spec}")
        for key in ("ndf", "n_layers_d"):
            if getattr(saved, key) != getattr(self.config, key):
                raise SynthguiError(f"{path}: the run was started with {key}={getattr(saved, key)}, "
                                    f"not {getattr(self.config, key)}")
        names = self.maker.pairs.names
        state = TrainState(**json.loads(data["state"]))
        if ("pairs" in data and json.loads(data["pairs"]) != names) or any(i >= len(names) for i in state.order):
            raise SynthguiError(f"{path}: the run was started on other training pairs than these {len(names)}; resume "
                                "it on the same pairs, or start a new run from its weights (--init-from, --init-d-from)")
        self.G.load_state_dict(data["G"])
        self.D.load_state_dict(data["D"])
        self.opt_G.load_state_dict(data["opt_G"])
        self.opt_D.load_state_dict(data["opt_D"])
        if data.get("scaler"):
            self.scaler.load_state_dict(data["scaler"])
        torch.set_rng_state(data["torch_rng"])
        if data.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(data["cuda_rng"])
        self.rng.bit_generator.state = json.loads(data["numpy_rng"])
        self.state = state
        self.window = [LossRecord(**r) for r in json.loads(data.get("log_window", "[]"))]
        self._trim_log()

    def render(self, maker: SampleMaker, indices: list[int], tone_lab: np.ndarray | None = None) -> list[np.ndarray]:
        """Generated images for pairs, in the reference test mode (batch statistics, dropout on),
        on a copy so the running statistics of the trained G are not disturbed."""
        from .encoding import to_uint8_image

        net = copy.deepcopy(self.G).train()
        out = []
        with torch.no_grad():
            for i in indices:
                a, _ = maker(i, None)
                if tone_lab is not None:
                    a = _retone_input(maker, i, tone_lab)
                y = net(torch.from_numpy(a[None]).to(self.device)).float().cpu().numpy()[0]
                out.append(to_uint8_image(y))
        return out

    def save_preview(self, rows: int = 4) -> None:
        """Grid of held-out input | generated | real (training pairs if none are held out)."""
        maker = self.val_maker or self.maker
        idx = list(range(min(rows, len(maker.pairs))))
        fakes = self.render(maker, idx)
        lines = []
        for i, fake in zip(idx, fakes):
            a, b = maker(i, None)
            lines.append(np.concatenate([_input_picture(a), fake, _input_picture(b)], axis=1))
        if self.card is not None and self.card.uses_skin_tone:
            from .skin_tones import FITZPATRICK_LAB

            tones = [self.render(maker, [0], np.array(lab, np.float32))[0] for lab in FITZPATRICK_LAB.values()]
            strip = np.concatenate(tones, axis=1)
            width = lines[0].shape[1]
            strip = _fit_width(strip, width)
            lines.append(strip)
        grid = np.concatenate(lines, axis=0)
        _save_png(self.out / f"preview_{self.state.iteration:06d}.png", grid)
        _save_png(self.out / "preview_latest.png", grid)


def _plain(data: dict) -> dict:
    """JSON-normal form (tuples become lists) so a spec read back from a file compares equal."""
    return json.loads(json.dumps(data))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _retone_input(maker: SampleMaker, i: int, tone_lab: np.ndarray) -> np.ndarray:
    from .encoding import from_uint8_image
    from .prepare import skin_semantic_map

    return from_uint8_image(skin_semantic_map(maker._labels[i], tone_lab, maker.card))


def _input_picture(chw: np.ndarray) -> np.ndarray:
    """Any generator input/target (C planes in [-1, 1]) as an RGB picture for a preview."""
    from .encoding import to_uint8_image

    if chw.shape[0] == 2:  # vessel + field of view: white vessels on a grey retina
        chw = np.stack([np.where(chw[0] > 0, 1.0, np.where(chw[1] > 0, 0.0, -1.0)).astype(np.float32)] * 3)
    return to_uint8_image(chw)


def _fit_width(strip: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h = max(1, round(strip.shape[0] * width / strip.shape[1]))
    return cv2.resize(strip, (width, h), interpolation=cv2.INTER_AREA)


def _save_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())
