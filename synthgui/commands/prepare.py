"""``synthgui prepare``: raw datasets to training pairs (semantic map | real image), split by patient."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="build training pairs from a raw dataset (skin, fundus, mri)",
        description="Write <out>/{train,val}/{masks,images,labels}/<name>.png and <out>/pairs.csv. "
        "skin: ISIC-style images/ + masks/<name>_segmentation.png to DermGAN maps (skin colour estimated "
        "from non-lesion skin, lesion in its class colour). fundus: images/ + vessels/ (field of view from "
        "the red channel), cropped square around the retina. mri: LGG-style images/ + masks/ to "
        "brain/abnormality label maps. Held-out cases are chosen per patient, never per slice.",
    )
    p.add_argument("domain", choices=["skin", "fundus", "mri"])
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="raw dataset folder (repeat to merge several, e.g. CHASE_DB1 and HRF)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=int, default=256, help="side of the square pairs, 32 to 4096: the largest side "
                   "synthgui trains at (default 256)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of cases held out (default 0.1)")
    p.add_argument("--limit", type=int, help="only the first N pairs (for a quick look)")
    p.add_argument("--labels", type=Path, help="skin: diagnosis table (HAM10000 metadata with image_id/dx/lesion_id, "
                   "or ISIC 2018 task 3 ground truth); one lesion class per diagnosis, split by lesion_id")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.prepare import prepare_dataset

    from .checks import at_least_one, side

    side(args, "size", 32)
    at_least_one(args, "limit")
    from tqdm import tqdm

    bars = []  # drawn at the first pair, so an error in the dataset stays one line

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(unit="pair", dynamic_ncols=True, mininterval=1.0))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    try:
        summary = prepare_dataset(args.domain, list(args.data), args.out, args.size, args.val_fraction, args.limit, progress,
                                  args.labels)
    finally:
        for bar in bars:
            bar.close()
    for line in summary.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"{summary.domain}: {summary.train} training pairs ({summary.cases_train} cases), "
          f"{summary.val} held out ({summary.cases_val} cases) in {args.out}")
    return 0
