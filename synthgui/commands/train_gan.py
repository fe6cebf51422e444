"""``synthgui train-gan``: train an unconditional DCGAN generator (noise to image) from a folder of images."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-gan",
        help="train an unconditional DCGAN generator (noise to image) from a folder of images",
        description="Train a DCGAN (Radford et al.; the PyTorch example's recipe) on a folder of images: a mask "
        "GAN for the dual GAN pipeline, or a sample source for rare classes (US-DCGAN, MelanoGANs). Writes "
        "latest_net_G.pth (the example's netG state dict) with a noise model card, a resume file, loss_log.csv "
        "and preview grids. The result loads like any model: synthgui export --random N, study build --generate.",
    )
    p.add_argument("--images", type=Path, required=True, help="folder of training images")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--name", default="dcgan", help="model name written into the card")
    p.add_argument("--card-template", type=Path, help="model card JSON to start from (domain, data, licence)")
    p.add_argument("--size", type=int, default=64, help="image side, a power of two from 8 to 4096 (64 as in DCGAN)")
    p.add_argument("--channels", type=int, default=3, choices=[1, 3], help="1 = greyscale (masks), 3 = colour")
    p.add_argument("--nz", type=int, default=100, help="noise size")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64); a step that cannot fit "
                   "in the device's memory (the widths double with every layer, so --size counts too) is refused "
                   "before the run starts")
    p.add_argument("--iterations", type=int, default=10000)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rotate", action="store_true", help="also random quarter turns (orientation-free images)")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--diffaugment", action="store_true",
                   help="translate and cut out real and fake images before the discriminator (DiffAugment): "
                   "use it for datasets of a few hundred images or fewer")
    p.add_argument("--max-iterations", type=int, help="stop after this many iterations (a piece of a run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="CPU threads, at most 4 per CPU core of the machine")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0,
                   help="minutes between checkpoints (default 5; 0: every iteration)")
    p.add_argument("--preview-every", type=int, default=500, help="iterations between preview grids (0: none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.card import ModelCard
    from ..core.errors import SynthguiError
    from ..core.train_gan import GanConfig, GanTrainer, check_gan_step_memory, load_image_folder
    from .checks import MAX_SIDE, at_least_one, at_least_zero, non_negative, positive, seeds, threads
    from .train import _StopFlag, refuse_another_run

    if not 8 <= args.size <= MAX_SIDE or args.size & (args.size - 1):
        raise SynthguiError(f"--size must be a power of two from 8 to {MAX_SIDE}, not {args.size}: synthgui's networks "
                            f"train at up to {MAX_SIDE} px")
    at_least_one(args, "nz", "ngf", "ndf", "batch_size", "iterations", "max_iterations")
    threads(args)
    seeds(args, "seed")
    positive(args, "lr")
    non_negative(args, "checkpoint_minutes")
    at_least_zero(args, "preview_every")
    refuse_another_run(args)
    card = ModelCard.load(args.card_template) if args.card_template else None
    config = GanConfig(
        out_dir=str(args.out), name=args.name, size=args.size, nz=args.nz, ngf=args.ngf, ndf=args.ndf,
        channels=args.channels, batch_size=args.batch_size, iterations=args.iterations, lr=args.lr, seed=args.seed,
        device=args.device, threads=args.threads, flip=not args.no_flip, rotate=args.rotate, diffaugment=args.diffaugment,
        checkpoint_every_s=args.checkpoint_minutes * 60, preview_every=args.preview_every,
        max_iterations=args.max_iterations,
        command="synthgui " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--resume"),
    )
    check_gan_step_memory(config)  # before the images are decoded and the run folder is made
    images = load_image_folder(args.images, args.size, args.channels)
    trainer = GanTrainer(config, images, card)
    if args.resume:
        trainer.load_resume()
    print(f"training {trainer.spec.name} ({args.channels} channel{'s' if args.channels > 1 else ''}) on "
          f"{len(images)} images, {config.iterations} iterations of {config.batch_size}, device {trainer.device}",
          file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=config.iterations, initial=trainer.state.iteration, unit="it", dynamic_ncols=True, mininterval=2.0)

    def progress(it: int, total: int, rec) -> None:
        bar.update(1)
        if it % 10 == 0:
            bar.set_postfix(G=f"{rec.loss_G:.2f}", D=f"{rec.loss_D:.2f}", refresh=False)

    stop = _StopFlag()
    with stop.installed():
        state = trainer.run(progress, should_stop=stop)
    bar.close()
    if state.iteration < config.iterations:
        print(f"stopped at iteration {state.iteration}; saved. Continue with --resume", file=sys.stderr)
        return 130 if stop.requested else 0
    print(f"done: {state.iteration} iterations in {state.seconds / 60:.1f} min; weights {Path(args.out) / 'latest_net_G.pth'}")
    return 0
