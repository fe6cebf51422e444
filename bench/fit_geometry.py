"""Recompute synthgui/core/geometry/fitted_params.json from the real masks in ../shared/data.

    python3 bench/fit_geometry.py [--data ../shared/data] [--every 1]

Lesions (ISIC 2018 task 1 masks): the log-radius Fourier shape model, sizes, centres and
satellite spots (``lesions.fit_lesions``), then the one border gain that makes generated
compactness match (the shape model stops at 24 harmonics; finer border detail is folded into
that gain). Vessels (CHASE_DB1 + HRF): field of view from the photographs, optic disc from where
thick vessels converge, then trunk width and branch rate by grid search on the realism
measures (``vessels.fit_vessels``). Real-mask summaries for the realism test are stored too.
A few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthgui.core.atomic import write_text_atomic  # noqa: E402
from synthgui.core.geometry import FITTED_PARAMS  # noqa: E402
from synthgui.core.geometry.lesions import LesionControls, fit_lesions, propose_lesions  # noqa: E402
from synthgui.core.geometry.stats import (  # noqa: E402
    LESION_ANALYSIS_SIZE, LESION_MEASURES, VESSEL_MEASURES, compare_to_summary, lesion_measures, summarise,
    vessel_measures,
)
from synthgui.core.geometry.vessels import field_of_view, fit_vessels, fov_circle, locate_disc  # noqa: E402

BORDER_GAINS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5)


def grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L")) > 127


def real_lesion_masks(data: Path, every: int) -> list[np.ndarray]:
    return [grey(p) for p in sorted((data / "skin-isic2018" / "masks").glob("*.png"))[::every]]


def real_vessel_masks(data: Path):
    """(vessels, field of view) for every CHASE_DB1 and HRF mask."""
    for name in ("fundus-chase", "fundus-hrf"):
        for path in sorted((data / name / "vessels").glob("*.png")):
            image = np.asarray(Image.open(data / name / "images" / f"{path.stem}.jpg").convert("RGB"))
            yield grey(path), field_of_view(image)


def fit_border_gain(lesions: dict, real: dict, n: int) -> tuple[float, list[dict]]:
    search = []
    for gain in BORDER_GAINS:
        trial = {**lesions, "border_gain": gain}
        gen = [lesion_measures(propose_lesions(LESION_ANALYSIS_SIZE, 20_000 + s, trial, LesionControls())) for s in range(n)]
        cost = compare_to_summary("compactness", [g["compactness"] for g in gen], real["compactness"]).normalised
        search.append({"border_gain": gain, "compactness_w1_normalised": round(cost, 4)})
    best = min(search, key=lambda r: r["compactness_w1_normalised"])
    return best["border_gain"], search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--every", type=int, default=1, help="use every k-th ISIC mask (1 = all 2,594)")
    ap.add_argument("--samples", type=int, default=120, help="generated lesions per border-gain trial")
    args = ap.parse_args()
    t0 = time.perf_counter()

    masks = real_lesion_masks(args.data, args.every)
    lesions = fit_lesions(masks)
    measured = [lesion_measures(m) for m in masks]
    skin = {k: summarise([m[k] for m in measured]) for k in LESION_MEASURES}
    lesions["border_gain"], border_search = fit_border_gain(lesions, skin, args.samples)
    print(f"lesions: {lesions['n_masks']} masks, {lesions['n_shapes']} shapes, border gain {lesions['border_gain']} "
          f"({time.perf_counter() - t0:.0f} s)")

    measured_v, discs, radii = [], [], []
    for vessels, fov in real_vessel_masks(args.data):
        measured_v.append(vessel_measures(vessels, fov))
        discs.append(locate_disc(vessels, fov))
        radii.append(fov_circle(fov)[2] / max(vessels.shape))
    fundus = {k: summarise([m[k] for m in measured_v]) for k in VESSEL_MEASURES}
    params, vessel_search = fit_vessels(fundus, discs, radii)
    print(f"vessels: {len(measured_v)} masks, {params.to_json()} ({time.perf_counter() - t0:.0f} s)")

    out = {
        "about": "Fitted by bench/fit_geometry.py from ../shared/data; see synthgui/core/geometry/__init__.py.",
        "lesions": lesions,
        "lesion_border_search": border_search,
        "vessels": params.to_json(),
        "vessel_search": vessel_search,
        "summaries": {"skin": skin, "fundus": fundus},
        "sources": {
            "skin": "ISIC 2018 task 1 training masks (CC0), Codella et al. 2018, Tschandl et al. 2018",
            "fundus": "CHASE_DB1 (Fraz et al. 2012) and HRF (Budai et al. 2013) manual vessel masks",
        },
    }
    write_text_atomic(FITTED_PARAMS, json.dumps(out, indent=1) + "\n")
    print(f"wrote {FITTED_PARAMS} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
