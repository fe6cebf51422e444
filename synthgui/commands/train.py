"""``synthgui train``: train a pix2pix generator from paired masks and images (reference defaults)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

MAX_EPOCH_SIZE = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a pix2pix generator from paired masks and images",
        description="Train pix2pix with the reference defaults (U-Net 256, batch norm, dropout, vanilla GAN + "
        "100 x L1, 70x70 PatchGAN, Adam 2e-4/0.5, constant then linear decay). Writes latest_net_G.pth "
        "(reference state dict) with its model card, a resume file, loss_log.csv and preview grids.",
    )
    src = p.add_argument_group("data (masks + images with matching names, or the aligned A|B layout)")
    src.add_argument("--masks", type=Path, help="folder of masks / semantic maps (generator inputs)")
    src.add_argument("--images", type=Path, help="folder of real images, same file stems as --masks")
    src.add_argument("--aligned", type=Path, help="folder of A|B images (reference layout)")
    src.add_argument("--val-masks", type=Path, help="held-out masks for previews (default: ../val/masks beside --masks)")
    src.add_argument("--val-images", type=Path, help="held-out images for previews")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, log, previews)")
    p.add_argument("--name", default="model", help="model name written into the card")
    p.add_argument("--card-template", type=Path, help="model card JSON to start from (classes, encoding, data, licence)")
    net = p.add_argument_group("networks")
    net.add_argument("--netG", default="unet_256", choices=["unet_256", "unet_128", "resnet_9blocks", "resnet_6blocks"])
    net.add_argument("--ngf", type=int, default=64)
    net.add_argument("--ndf", type=int, default=64)
    net.add_argument("--norm", default="batch", choices=["batch", "instance", "none"])
    net.add_argument("--no-dropout", action="store_true")
    net.add_argument("--upsample", default="transpose", choices=["transpose", "resize_conv"],
                     help="resize_conv = nearest resize + 3x3 conv: fewer checkerboard artefacts")
    net.add_argument("--input-nc", type=int, help="generator input channels (default: from the card's encoding)")
    sched = p.add_argument_group("schedule")
    sched.add_argument("--epochs", type=int, default=100, help="epochs at the initial learning rate")
    sched.add_argument("--epochs-decay", type=int, default=100, help="epochs of linear decay to zero")
    sched.add_argument("--epoch-size", type=int, help="samples per epoch, at most 1,000,000: the epoch's order is "
                       "listed in memory and in every resume file (default: the training set)")
    sched.add_argument("--batch-size", type=int, default=1, help="pairs per step (default 1); a step that cannot fit "
                       "in the device's memory is refused before the run starts")
    sched.add_argument("--lr", type=float, default=2e-4)
    sched.add_argument("--lambda-l1", type=float, default=100.0, help="weight of the L1 loss, 0 or more (default 100)")
    sched.add_argument("--resolution", type=int, default=256, help="training side, a multiple of 32 from 32 to 4096 "
                       "(default 256)")
    sched.add_argument("--seed", type=int, default=0)
    sched.add_argument("--max-iterations", type=int, help="stop after this many iterations (a piece of a run)")
    aug = p.add_argument_group("augmentation")
    aug.add_argument("--retone", type=float, default=0.0, metavar="FRACTION",
                     help="skin models: re-tone this fraction (0 to 1) of samples to random Fitzpatrick I-VI tones")
    aug.add_argument("--rotate", action="store_true", help="also random quarter turns (orientation-free images)")
    aug.add_argument("--no-flip", action="store_true")
    aug.add_argument("--load-size", type=int, metavar="PX",
                     help="scale to PX and cut a random crop of --resolution (default: the reference's 286 for 256, "
                     "in proportion; 0: no crop jitter); at most twice --resolution, a crop of a quarter of the picture")
    run_g = p.add_argument_group("running")
    run_g.add_argument("--init-from", type=Path, metavar="WEIGHTS",
                       help="start the generator from these weights (same architecture), e.g. to fine-tune a "
                       "bundled model on your own pairs; the discriminator starts fresh unless --init-d-from")
    run_g.add_argument("--init-d-from", type=Path, metavar="WEIGHTS",
                       help="start the discriminator from these weights (a run's latest_net_D.pth, same --ndf), "
                       "to continue a finished run with a new schedule")
    run_g.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    run_g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    run_g.add_argument("--threads", type=int, help="CPU threads, at most 4 per CPU core of the machine")
    run_g.add_argument("--no-amp", action="store_true", help="no mixed precision on a GPU")
    run_g.add_argument("--checkpoint-minutes", type=float, default=5.0,
                       help="minutes between checkpoints (default 5; 0: every iteration)")
    run_g.add_argument("--preview-every", type=int, default=500, help="iterations between preview grids (0: none)")
    run_g.add_argument("--snapshot-every", type=int, default=0, help="iterations between half-precision G snapshots (0: none)")
    p.set_defaults(func=run)


def _spec(args: argparse.Namespace, input_nc: int):
    from ..core.networks import GeneratorSpec

    kind, _, rest = args.netG.partition("_")
    if kind == "unet":
        return GeneratorSpec(kind="unet", input_nc=input_nc, ngf=args.ngf, norm=args.norm, dropout=not args.no_dropout,
                             num_downs=8 if rest == "256" else 7, upsample=args.upsample)
    return GeneratorSpec(kind="resnet", input_nc=input_nc, ngf=args.ngf, norm=args.norm, dropout=not args.no_dropout,
                         n_blocks=int(rest.removesuffix("blocks")), upsample=args.upsample)


def _input_nc(card) -> int:
    if card is None:
        return 3
    kind = card.encoding.kind
    if kind == "channels":
        return len(card.encoding.channels)
    if kind == "onehot":
        return len(card.classes)
    return 3


class _StopFlag:
    """Ctrl+C / SIGTERM ask the loop to stop after the current iteration and save, so a resume is exact."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def installed(self):
        import contextlib
        import signal
        import threading

        @contextlib.contextmanager
        def scope():
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)

        return scope()


def _load_size(args) -> int:
    """The reference scales 256 to 286 before its random crop; other resolutions in proportion. Every
    sample is scaled to the load size at every step, and beyond twice the resolution the crop is
    under a quarter of the picture: a zoom, no longer the reference's jitter."""
    if args.load_size is None:
        return round(args.resolution * 286 / 256)
    if args.load_size and not args.resolution <= args.load_size <= 2 * args.resolution:
        from ..core.errors import SynthguiError

        if args.load_size < args.resolution:
            raise SynthguiError(f"--load-size {args.load_size} is smaller than --resolution {args.resolution}")
        raise SynthguiError(f"--load-size {args.load_size} is more than twice --resolution {args.resolution}: "
                            f"at most {2 * args.resolution}, a crop of a quarter of the picture")
    return args.load_size


def refuse_another_run(args: argparse.Namespace) -> None:
    """A new run in a folder that holds one would overwrite its weights and double its loss log."""
    from ..core.errors import SynthguiError

    if not args.resume and (Path(args.out) / "resume.pt").is_file():
        raise SynthguiError(f"{args.out} already holds a training run: add --resume to continue it, or choose another --out")


def run(args: argparse.Namespace) -> int:
    from ..core.card import ModelCard
    from ..core.datasets import load_aligned, load_pair_folders, sibling_val_dir
    from ..core.errors import SynthguiError
    from ..core.train import Trainer, TrainConfig, check_step_memory
    from .checks import at_least_one, at_least_zero, at_most, fraction, non_negative, positive, seeds, side, threads

    if args.aligned is None and (args.masks is None or args.images is None):
        raise SynthguiError("give --masks and --images, or --aligned")
    side(args, "resolution", 32)
    if args.resolution % 32:
        raise SynthguiError(f"--resolution must be a multiple of 32, not {args.resolution}")
    at_least_one(args, "ngf", "ndf", "batch_size", "epoch_size", "max_iterations", "input_nc")
    at_most(args, "epoch_size", MAX_EPOCH_SIZE, "the epoch's sample order is listed in memory and in every resume file")
    threads(args)
    seeds(args, "seed")
    positive(args, "lr")
    non_negative(args, "lambda_l1", "checkpoint_minutes")
    fraction(args, "retone")
    at_least_zero(args, "preview_every", "snapshot_every")
    if args.epochs < 0 or args.epochs_decay < 0:
        raise SynthguiError("--epochs and --epochs-decay cannot be negative")
    load_size = _load_size(args)
    refuse_another_run(args)
    template = args.card_template
    if template is None and args.masks is not None:
        from ..core.prepare import card_template_for

        template = card_template_for(args.masks)
        if template is not None:
            print(f"model card from {template} (written by synthgui prepare)", file=sys.stderr)
    card = ModelCard.load(template) if template else None
    if args.retone and (card is None or not card.uses_skin_tone):
        raise SynthguiError("--retone needs a skin model card (--card-template, or pairs made by 'synthgui prepare skin')")
    if card is not None:
        card.resolution = args.resolution
        card.name = args.name if args.name != "model" else card.name
    spec = _spec(args, args.input_nc or _input_nc(card))
    if spec.kind == "unet" and args.resolution % spec.size_multiple:
        raise SynthguiError(f"{spec.name} needs a resolution that is a multiple of {spec.size_multiple}")
    config = TrainConfig(
        out_dir=str(args.out), name=args.name, spec=spec, ndf=args.ndf, epochs=args.epochs,
        epochs_decay=args.epochs_decay, epoch_size=args.epoch_size, batch_size=args.batch_size, lr=args.lr,
        lambda_l1=args.lambda_l1, seed=args.seed, device=args.device, amp=not args.no_amp, threads=args.threads,
        retone_fraction=args.retone, rotate=args.rotate, flip=not args.no_flip,
        load_size=load_size, init_from=str(args.init_from or ""),
        init_d_from=str(args.init_d_from or ""),
        checkpoint_every_s=args.checkpoint_minutes * 60, preview_every=args.preview_every,
        snapshot_every=args.snapshot_every, max_iterations=args.max_iterations,
        command="synthgui " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--resume"),
    )
    check_step_memory(config, args.resolution)  # before the pairs are decoded and the run folder is made
    if args.aligned is not None:
        train = load_aligned(args.aligned, args.resolution)
    else:
        train = load_pair_folders(args.masks, args.images, args.resolution)
    val = None
    val_dirs = (args.val_masks, args.val_images) if args.val_masks and args.val_images else (
        sibling_val_dir(args.masks) if args.masks else None)
    if val_dirs:
        val = load_pair_folders(val_dirs[0], val_dirs[1], args.resolution)
    trainer = Trainer(config, train, card, val)
    if args.resume:
        trainer.load_resume()
    print(f"training {spec.name} ngf={spec.ngf} on {len(train)} pairs"
          + (f" ({len(val)} held out)" if val is not None else "")
          + f", {trainer.total_iterations} iterations, device {trainer.device}", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=trainer.total_iterations, initial=trainer.state.iteration, unit="it", dynamic_ncols=True,
               mininterval=2.0)

    def progress(it: int, total: int, rec) -> None:
        bar.update(1)
        if rec is not None and it % 10 == 0:
            bar.set_postfix(G_GAN=f"{rec.G_GAN:.2f}", G_L1=f"{rec.G_L1:.2f}", D=f"{(rec.D_real + rec.D_fake) / 2:.2f}",
                            refresh=False)

    stop = _StopFlag()
    with stop.installed():
        state = trainer.run(progress, should_stop=stop)
    bar.close()
    if stop.requested and state.epoch < trainer.total_epochs:
        print(f"stopped at iteration {state.iteration}; saved. Continue with --resume", file=sys.stderr)
        return 130
    print(f"done: {state.iteration} iterations in {state.seconds / 60:.1f} min; weights {Path(args.out) / 'latest_net_G.pth'}")
    return 0
