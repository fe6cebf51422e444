"""How close are proposed masks to real ones? Distribution distances of each realism measure.

    python3 bench/bench_geometry.py [--lesions 300] [--vessels 40] [--data ../shared/data] [--summary-only]
                                    [--vessel-gan RUN/latest_net_G.pth [--figure OUT.png]]

For N generated masks per domain it prints, per measure, the real and generated medians, the
Wasserstein-1 distance (in the measure's units and over the real spread) and, when the real
masks are at hand, the two-sample KS statistic against all of them (ISIC: every 5th mask).
Without ../shared/data (or with --summary-only) it compares with the committed summaries.
``--vessel-gan`` adds a vessel mask DCGAN (``synthgui train-gan`` on ``bench/vessel_gan_data.py``
images) against the same real masks, the procedural trees at the GAN's side for a like-for-like
row, and a memorisation check against the training masks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthgui.core.geometry import fitted, propose  # noqa: E402
from synthgui.core.geometry.stats import (  # noqa: E402
    LESION_ANALYSIS_SIZE, LESION_MEASURES, VESSEL_ANALYSIS_SIZE, VESSEL_MEASURES, compare_samples,
    compare_to_summary, lesion_measures, vessel_measures,
)
from synthgui.core.geometry.vessels import OUTSIDE, VESSEL  # noqa: E402


def table(title: str, rows) -> None:
    print(f"\n{title}")
    print(f"{'measure':16} {'real median':>12} {'generated':>12} {'W1':>10} {'W1/spread':>10} {'KS':>6}")
    for r in rows:
        ks = f"{r.ks:6.3f}" if r.ks is not None else "     -"
        print(f"{r.measure:16} {r.real_median:12.4f} {r.generated_median:12.4f} {r.wasserstein:10.4f} {r.normalised:10.3f} {ks}")


def write_vessel_figure(path: Path, train: np.ndarray, samples: np.ndarray, side: int, n: int = 4) -> None:
    """Three rows at 256 px: real masks (as the GAN saw them), GAN samples, procedural trees."""
    import cv2
    from PIL import Image

    from vessel_gan_data import LEVELS

    def tile(grey: np.ndarray) -> np.ndarray:
        return cv2.resize(grey, (256, 256), interpolation=cv2.INTER_CUBIC if grey.shape[0] < 256 else cv2.INTER_AREA)

    real = [tile((train[i] * 255).astype(np.uint8)) for i in np.linspace(0, len(train) - 1, n).astype(int)]
    gan = [tile(g) for g in samples[:n]]
    proc = [np.choose(propose("fundus", 256, s), [LEVELS["outside"], LEVELS["retina"], LEVELS["vessel"]]).astype(np.uint8)
            for s in range(n)]
    rows = [np.concatenate(r, axis=1) for r in (real, gan, proc)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, optimize=True)
    print(f"figure: {path} (rows: real at {side} px, GAN at {side} px, procedural at 256 px)")


def compare_vessel_gan(args, real: list[dict] | None, summary: dict, source: str, procedural: list[dict]) -> None:
    """The mask GAN against the same real masks: its samples upsampled (bicubic) to the analysis size
    and read by grey level; the procedural trees drawn at the GAN's side and upsampled the same way
    give the like-for-like row, since a small GAN cannot draw one-pixel vessels at 512."""
    import cv2

    from synthgui.core.engine import Engine
    from synthgui.core.models import load_model
    from vessel_gan_data import LEVELS, decode

    model = load_model(args.vessel_gan)
    side = model.card.resolution
    samples = Engine(model, device="cpu").sample(args.vessels, seed=0).images[..., 0]

    def up(grey: np.ndarray) -> np.ndarray:
        return cv2.resize(grey, (VESSEL_ANALYSIS_SIZE, VESSEL_ANALYSIS_SIZE), interpolation=cv2.INTER_CUBIC)

    def rows_for(measured: list[dict]) -> list:
        if real is not None:
            return [compare_samples(k, [g[k] for g in measured], [r[k] for r in real]) for k in VESSEL_MEASURES]
        return [compare_to_summary(k, [g[k] for g in measured], summary[k]) for k in VESSEL_MEASURES]

    gan = []
    for grey in samples:
        vessels, fov = decode(up(grey))
        if fov.sum() > 0.2 * fov.size:
            gan.append(vessel_measures(vessels, fov))
    table(f"fundus: {len(gan)} of {len(samples)} vessel GAN samples ({side} px, upsampled) vs {source}", rows_for(gan))
    small = []
    for s in range(args.vessels):
        lm = propose("fundus", side, s)
        grey = np.choose(lm, [LEVELS["outside"], LEVELS["retina"], LEVELS["vessel"]]).astype(np.uint8)
        small.append(vessel_measures(*decode(up(grey))))
    table(f"fundus: {args.vessels} procedural trees drawn at {side} px and upsampled the same way vs {source}", rows_for(small))
    if args.data.is_dir():
        from fit_geometry import real_vessel_masks
        from vessel_gan_data import encode

        train = np.stack([encode(v, f, side) for v, f in real_vessel_masks(args.data)]).astype(np.float32) / 255
        gen_grey = samples.astype(np.float32) / 255
        to_train = [float(np.abs(train - g).mean(axis=(1, 2)).min()) for g in gen_grey]
        real_nn = [float(np.sort(np.abs(train - t).mean(axis=(1, 2)))[1]) for t in train]  # [0] is itself
        print(f"memorisation: median L1 from a GAN sample to its nearest training mask {np.median(to_train):.4f} "
              f"(min {min(to_train):.4f}); from a real mask to its nearest other real one {np.median(real_nn):.4f}")
    if args.figure and args.data.is_dir():
        write_vessel_figure(args.figure, train, samples, side)
    costs = {name: sum(r.normalised for r in rows_for(m)) for name, m in
             (("vessel GAN", gan), (f"procedural at {side} px", small), (f"procedural at {VESSEL_ANALYSIS_SIZE} px", procedural))}
    print("summed W1/spread over the vessel measures (lower is closer): "
          + ", ".join(f"{k} {v:.2f}" for k, v in costs.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lesions", type=int, default=300)
    ap.add_argument("--vessels", type=int, default=40)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--vessel-gan", help="a vessel mask DCGAN (synthgui train-gan on bench/vessel_gan_data.py images) "
                    "to compare with the procedural trees")
    ap.add_argument("--figure", type=Path, help="with --vessel-gan: write rows of real | GAN | procedural masks here")
    args = ap.parse_args()
    have_data = args.data.is_dir() and not args.summary_only
    summaries = fitted()["summaries"]

    t = time.perf_counter()
    gen = [lesion_measures(propose("skin", LESION_ANALYSIS_SIZE, s)) for s in range(args.lesions)]
    per_lesion = (time.perf_counter() - t) / args.lesions
    if have_data:
        from fit_geometry import real_lesion_masks

        real = [lesion_measures(m) for m in real_lesion_masks(args.data, 5)]
        rows = [compare_samples(k, [g[k] for g in gen], [r[k] for r in real]) for k in LESION_MEASURES]
        source = f"{len(real)} ISIC masks"
    else:
        rows = [compare_to_summary(k, [g[k] for g in gen], summaries["skin"][k]) for k in LESION_MEASURES]
        source = "the committed ISIC summary"
    table(f"skin: {args.lesions} proposed lesions vs {source} (analysis {LESION_ANALYSIS_SIZE} px)", rows)

    t = time.perf_counter()
    maps = [propose("fundus", VESSEL_ANALYSIS_SIZE, s) for s in range(args.vessels)]
    per_tree = (time.perf_counter() - t) / args.vessels
    gen = vessel_gen = [vessel_measures(m == VESSEL, m != OUTSIDE) for m in maps]
    if have_data:
        from fit_geometry import real_vessel_masks

        real = [vessel_measures(v, f) for v, f in real_vessel_masks(args.data)]
        rows = [compare_samples(k, [g[k] for g in gen], [r[k] for r in real]) for k in VESSEL_MEASURES]
        source = f"{len(real)} CHASE_DB1 + HRF masks"
    else:
        rows = [compare_to_summary(k, [g[k] for g in gen], summaries["fundus"][k]) for k in VESSEL_MEASURES]
        source = "the committed CHASE_DB1 + HRF summary"
    table(f"fundus: {args.vessels} procedural vessel trees vs {source} (FOV spans {VESSEL_ANALYSIS_SIZE} px)", rows)
    if args.vessel_gan:
        compare_vessel_gan(args, real if have_data else None, summaries["fundus"], source, vessel_gen)
    gen = [lesion_measures(propose("mri", 256, s) == 2) for s in range(args.lesions)]
    if have_data:
        from fit_geometry import real_brain_masks

        real = [lesion_measures(a) for _, a in real_brain_masks(args.data)]
        rows = [compare_samples(k, [g[k] for g in gen], [r[k] for r in real]) for k in LESION_MEASURES]
        source = f"{len(real)} LGG abnormality masks"
    else:
        rows = [compare_to_summary(k, [g[k] for g in gen], summaries["mri"][k]) for k in LESION_MEASURES]
        source = "the committed LGG summary"
    table(f"mri: {args.lesions} proposed abnormalities vs {source} (analysis {LESION_ANALYSIS_SIZE} px)", rows)
    if not args.vessel_gan:
        print("\nvessel mask GAN: not measured (pass --vessel-gan PATH)")
    print(f"time per proposal: lesion {LESION_ANALYSIS_SIZE} px {per_lesion * 1000:.1f} ms (with measuring), "
          f"vessel tree {VESSEL_ANALYSIS_SIZE} px {per_tree * 1000:.0f} ms")


if __name__ == "__main__":
    main()
