"""``synthgui export``: render a sweep of masks and parameters to a folder, resumably."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export an image set (sweeps, manifest, dataset card, DICOM, privacy check)",
        description="Render every combination of masks and parameters to OUT with a manifest and a dataset card. "
        "Interrupted exports are finished with --resume. An export makes at most 1,000,000 images (six-digit names, "
        "and a manifest read whole at the end of every run); more are more exports.")
    p.add_argument("--model", default=None, help="model name or weights path (default: the bundled default; with --resume: the export's)")
    p.add_argument("--out", required=True, help="output folder")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--masks", default=None, help="folder of mask images (binary, class ids or class colours)")
    src.add_argument("--random", type=int, default=None, metavar="N", help="N random masks from the geometry generators, "
                     "at most 100,000: each is a record of the export's plan (for an unconditional generator such as "
                     "a DCGAN: N samples)")
    p.add_argument("--geometry", nargs="+", default=[], metavar="NAME=VALUE",
                   help="controls of --random masks, e.g. diameter=0.3 asymmetry=2 border_irregularity=0 satellites=2 "
                   "(skin), eye=left density=1.5 (fundus), nested=true (mri); a wrong name lists the model's")
    p.add_argument("--skin-tones", nargs="+", default=[], help="Fitzpatrick types I..VI, 'all', or #rrggbb (skin models)")
    p.add_argument("--conditions", nargs="+", default=[], help="class names every lesion pixel takes (default: as drawn)")
    p.add_argument("--sizes", nargs="+", default=["1"], help="lesion scale factors, e.g. 0.5 1 1.5")
    p.add_argument("--locations", nargs="+", default=["0,0"], help="offsets 'dx,dy' in pixels at the model's resolution, or 'random'")
    p.add_argument("--rotations", nargs="+", default=["0"], help="rotations in degrees")
    p.add_argument("--seeds", type=int, default=1, help="seeds per combination (variations in reference mode)")
    p.add_argument("--seed-base", type=int, default=0, help="first seed")
    p.add_argument("--sample", type=int, default=None, metavar="K",
                   help="render K combinations drawn at random instead of all (K at most 1,000,000)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of --sample and of random locations/masks")
    p.add_argument("--mode", choices=("reference", "deterministic", "eval"), default=None, help="test-time mode (default: the card's)")
    p.add_argument("--format", choices=("png", "tiff", "jpeg", "dicom"), default="png")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality")
    p.add_argument("--dicom-kind", choices=("auto", "secondary-capture", "photographic"), default="auto",
                   help="DICOM IOD (auto: VL Photographic for skin models, else Secondary Capture)")
    p.add_argument("--aligned", action="store_true", help="also write mask|image pairs in the pix2pix aligned layout")
    p.add_argument("--batch", type=int, default=8, help="images per forward in eval mode; in the other modes, images per "
                   "engine call (at least one per parallel stream); two batches must fit in memory")
    p.add_argument("--workers", type=int, default=None,
                   help="encoding/writing threads (default: half the cores, 2 to 8; at most 4 per CPU core)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--resume", action="store_true",
                   help="finish the export already in OUT (its stored masks, sweep and options are used; those given now are ignored)")
    p.add_argument("--privacy-check", nargs="?", const="", default=None, metavar="TRAINING_DIR",
                   help="compare every image with the training images (folder, or the one the model card names); "
                   "checked before rendering: it must exist and hold readable images")
    p.add_argument("--privacy-threshold", type=float, default=None,
                   help="near-copy distance threshold, a positive number (default 0.15)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _job(args, model):
    from pathlib import Path

    from ..core.errors import SynthguiError
    from ..core.export import ExportJob, ExportOptions, Sweep, folder_sources, parse_floats, parse_locations, parse_skin_tones, random_sources
    from ..core.export.manifest import PLAN

    out = Path(args.out)
    if (out / PLAN).exists():
        if not args.resume:
            raise SynthguiError(f"{out} already holds an export: add --resume to finish it, or choose another folder")
        job = ExportJob.open(out)
        job.check_model(model)
        given = [flag for flag, value in (("--masks", args.masks), ("--random", args.random), ("--skin-tones", args.skin_tones),
                                          ("--conditions", args.conditions), ("--sample", args.sample)) if value]
        if given:
            print(f"synthgui export: warning: resuming {out} with its stored plan; {', '.join(given)} ignored", file=sys.stderr)
        return job
    if model.card.encoding.kind == "noise":
        return _noise_job(args, model, out)
    if args.masks is None and args.random is None:
        raise SynthguiError("give --masks DIR or --random N")
    card = model.card
    if args.geometry and args.masks:
        raise SynthguiError("--geometry shapes --random masks; it does nothing with --masks")
    if args.masks:
        sources = folder_sources(args.masks)
    else:
        from ..core.geometry import parse_controls

        sources = random_sources(args.random, args.sample_seed, parse_controls(card.domain, args.geometry))
    tones = parse_skin_tones(args.skin_tones)
    if tones != [None] and not card.uses_skin_tone:
        print(f"synthgui export: warning: model {card.name!r} takes no skin tone; --skin-tones ignored", file=sys.stderr)
        tones = [None]
    for c in args.conditions:
        if card.class_by_name(c).id in card.anatomy_ids:  # refused now, not at every image
            raise SynthguiError(f"--conditions {c}: the {c} is what lesions lie on, not a lesion class "
                                f"(use {', '.join(k.name for k in card.lesion_classes) or 'none'})")
    sweep = Sweep(
        skin_tones=tones, conditions=list(dict.fromkeys(args.conditions)) or [None], sizes=parse_floats(args.sizes, "--sizes"),
        locations=parse_locations(args.locations), rotations=parse_floats(args.rotations, "--rotations"),
        seeds=args.seeds, seed_base=args.seed_base, sample=args.sample, sample_seed=args.sample_seed)
    mode = args.mode or card.default_mode
    if args.seeds > 1 and mode != "reference":
        print(f"synthgui export: warning: in {mode} mode the seed changes nothing; --seeds {args.seeds} repeats images", file=sys.stderr)
    options = ExportOptions(format=args.format, quality=args.quality, aligned=args.aligned, mode=args.mode,
                            batch=args.batch, workers=args.workers, dicom_kind=args.dicom_kind, export_seed=args.sample_seed)
    return ExportJob.create(out, model, sources, sweep, options)


def _noise_job(args, model, out):
    """An unconditional generator (DCGAN): --random N samples, image i from seed --seed-base + i."""
    from ..core.errors import SynthguiError
    from ..core.export import ExportJob, ExportOptions, Sweep, noise_sources

    if args.masks is not None or args.random is None:
        raise SynthguiError(f"model {model.card.name!r} samples from noise: give --random N (how many images), not --masks")
    ignored = [flag for flag, value in (("--skin-tones", args.skin_tones), ("--conditions", args.conditions),
                                        ("--sizes", args.sizes != ["1"]), ("--locations", args.locations != ["0,0"]),
                                        ("--rotations", args.rotations != ["0"]), ("--aligned", args.aligned)) if value]
    if ignored:
        print(f"synthgui export: warning: model {model.card.name!r} takes no mask; {', '.join(ignored)} ignored", file=sys.stderr)
    sweep = Sweep(seeds=args.random * args.seeds, seed_base=args.seed_base, sample=args.sample, sample_seed=args.sample_seed)
    options = ExportOptions(format=args.format, quality=args.quality, aligned=False, mode=args.mode, batch=args.batch,
                            workers=args.workers, dicom_kind=args.dicom_kind, export_seed=args.sample_seed)
    return ExportJob.create(out, model, noise_sources(), sweep, options)


def _model_for(args):
    from pathlib import Path

    from ..core.errors import SynthguiError
    from ..core.export.manifest import PLAN, read_plan
    from ..core.models import default_model_name, load_model

    name = args.model
    if name is None and args.resume and (Path(args.out) / PLAN).exists():
        name = read_plan(Path(args.out))["model"]["path"]
    name = name or default_model_name()
    if name is None:
        raise SynthguiError("no model given and no bundled model installed; pass --model PATH")
    return load_model(name)


def _check_seeds(args) -> None:
    """A bad seed would otherwise fail at the first image, after the export folder was made."""
    from .checks import SEED_LIMIT, seeds

    seeds(args, "seed_base", "sample_seed")
    count = max(args.random or 1, 1)  # an unconditional generator draws --random x --seeds seeds
    for what, end in (("--seed-base + --seeds x --random", args.seed_base + args.seeds * count),
                      ("--sample-seed + --random", args.sample_seed + count)):
        if end > SEED_LIMIT:
            from ..core.errors import SynthguiError

            raise SynthguiError(f"{what} must stay below 2**63: every seed of an export is a whole number from 0 to 2**63 - 1")


def _check_counts(args) -> None:
    """Counts the export can never meet, refused before the model is loaded (the rest, which depend on
    the masks and the model, when the plan is made, still before the folder)."""
    from ..core.export.run import MAX_IMAGES, WORKERS_PER_CORE, max_workers
    from .checks import at_least_one, at_most, positive

    at_most(args, "sample", MAX_IMAGES, "an export makes at most that many images")
    at_least_one(args, "workers")
    at_most(args, "workers", max_workers(), f"{WORKERS_PER_CORE} per CPU core; more only take turns, each holding an image")
    positive(args, "privacy_threshold")


def _privacy_folder(args, model) -> str | None:
    """The training folder of --privacy-check, checked now: otherwise a missing one fails after every image."""
    if args.privacy_check is None:
        return None
    from ..core.export.privacy_run import check_training_folder

    return check_training_folder(args.privacy_check or None, {**model.identity(), "training_data": model.card.training_data})


def run(args: argparse.Namespace) -> int:
    from ..core.engine import Engine, select_device
    from ..core.export import run_privacy_check

    _check_seeds(args)
    _check_counts(args)
    model = _model_for(args)
    for warning in model.warnings:
        print(f"synthgui export: warning: {warning}", file=sys.stderr)
    select_device(args.device)  # a wrong --device fails before the export folder is made
    training = _privacy_folder(args, model)
    job = _job(args, model)
    engine = Engine(model, device=args.device, threads=os.cpu_count())
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=job.items.total, unit="img", desc="export", file=sys.stderr, dynamic_ncols=True)

    def progress(p) -> None:
        if bar is not None:
            bar.total = p.total
            bar.n = p.done
            bar.refresh()

    def warn(message: str) -> None:
        (bar.write if bar is not None else print)(f"synthgui export: warning: {message}", file=sys.stderr)

    try:
        result = job.run(engine, progress=progress, warn=warn)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"synthgui export: interrupted; the folder is consistent, finish it with: synthgui export --out {args.out} --resume",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {result.written} images to {result.out_dir} ({result.done} of {result.total} done, "
          f"{result.rate:.1f} images/s on {engine.device}{' fp16' if engine.half else ''})")
    if result.skipped:
        print(f"synthgui export: {len(result.skipped)} mask(s) skipped (listed in {result.out_dir}/README.md)", file=sys.stderr)
    for note in result.notes:
        print(f"synthgui export: note: {note}", file=sys.stderr)
    if args.privacy_check is not None:
        kwargs = {} if args.privacy_threshold is None else {"threshold": args.privacy_threshold}
        report = run_privacy_check(result.out_dir, training, **kwargs)
        for line in report.summary_lines()[:3]:
            print(line.replace("**", ""))
        for r in report.flagged:
            print(f"near-copy: {r.image} ~ {r.nearest_training_image} (distance {r.distance:.3f})")
    return 0
