"""Recompute synthgui/core/geometry/fitted_params.json from the real masks in ../shared/data.

    python3 bench/fit_geometry.py [--data ../shared/data] [--every 1] [--parts skin,fundus,mri]

Lesions (ISIC 2018 task 1 masks): the log-radius Fourier shape model, sizes, centres and
satellite spots (``lesions.fit_lesions``), then the border and asymmetry gains that make
generated compactness and asymmetry match (the shape model stops at 24 harmonics and at
star-shaped outlines; what it misses is folded into those gains). Vessels (CHASE_DB1 + HRF): field of view from the photographs, optic disc from where
thick vessels converge, then trunk width and branch rate by grid search on the realism
measures (``vessels.fit_vessels``). MRI (LGG slices): the same shape model fitted to the brain
regions (FLAIR above a low threshold, as ``core/prepare.py`` finds them) and to the abnormality
masks. Real-mask summaries for the realism tests are stored too; ``--parts`` refits only some
domains and keeps the others from the existing file.
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

BORDER_GAINS = (1.25, 1.5, 1.75, 2.0)
ASYMMETRY_GAINS = (0.25, 0.35, 0.5, 0.65, 0.8)


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


def real_brain_masks(data: Path):
    """(brain region, abnormality) of every LGG slice with an abnormality."""
    from synthgui.core.prepare import brain_mask

    for path in sorted((data / "brain-lgg" / "masks").glob("*.png")):
        abnormality = grey(path)
        if abnormality.any():
            flair = np.asarray(Image.open(data / "brain-lgg" / "images" / path.name).convert("RGB"))[..., 1]
            yield brain_mask(flair), abnormality


def fit_mri(data: Path) -> tuple[dict, dict]:
    pairs = list(real_brain_masks(data))
    fit = {"brain": fit_lesions(b for b, _ in pairs), "abnormality": fit_lesions(a for _, a in pairs)}
    for part in fit.values():
        part["source"] = "LGG segmentation dataset (Buda et al. 2019), FLAIR slices with an abnormality"
        part["satellite_count_probabilities"] = [1.0]
    measured = [lesion_measures(a) for _, a in pairs]
    return fit, {k: summarise([m[k] for m in measured]) for k in LESION_MEASURES}


def fit_gains(lesions: dict, real: dict, n: int) -> tuple[float, float, list[dict]]:
    """Border and asymmetry gains that make generated compactness and asymmetry match the real ones.

    Harmonics above 24 and non-star-shaped outlines are out of the shape model's reach; scaling
    the high and odd low harmonics makes up for them. Grid search on summed normalised W1.
    """
    search = []
    for border in BORDER_GAINS:
        for asym in ASYMMETRY_GAINS:
            trial = {**lesions, "border_gain": border, "asymmetry_gain": asym}
            gen = [lesion_measures(propose_lesions(LESION_ANALYSIS_SIZE, 20_000 + s, trial, LesionControls())) for s in range(n)]
            cost = sum(compare_to_summary(m, [g[m] for g in gen], real[m]).normalised for m in ("compactness", "asymmetry"))
            search.append({"border_gain": border, "asymmetry_gain": asym, "cost": round(cost, 4)})
    best = min(search, key=lambda r: r["cost"])
    return best["border_gain"], best["asymmetry_gain"], search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--every", type=int, default=1, help="use every k-th ISIC mask (1 = all 2,594)")
    ap.add_argument("--samples", type=int, default=120, help="generated lesions per border-gain trial")
    ap.add_argument("--parts", default="skin,fundus,mri", help="domains to refit (others are kept)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    t0 = time.perf_counter()
    out = json.loads(FITTED_PARAMS.read_text()) if FITTED_PARAMS.is_file() else {}
    out.setdefault("summaries", {})
    out["about"] = "Fitted by bench/fit_geometry.py from ../shared/data; see synthgui/core/geometry/__init__.py."

    if "skin" in parts:
        masks = real_lesion_masks(args.data, args.every)
        lesions = fit_lesions(masks)
        measured = [lesion_measures(m) for m in masks]
        skin = {k: summarise([m[k] for m in measured]) for k in LESION_MEASURES}
        lesions["border_gain"], lesions["asymmetry_gain"], gain_search = fit_gains(lesions, skin, args.samples)
        out.update(lesions=lesions, lesion_gain_search=gain_search)
        out["summaries"]["skin"] = skin
        print(f"lesions: {lesions['n_masks']} masks, {lesions['n_shapes']} shapes, border gain {lesions['border_gain']}, "
              f"asymmetry gain {lesions['asymmetry_gain']} ({time.perf_counter() - t0:.0f} s)")

    if "fundus" in parts:
        measured_v, discs, radii = [], [], []
        for vessels, fov in real_vessel_masks(args.data):
            measured_v.append(vessel_measures(vessels, fov))
            discs.append(locate_disc(vessels, fov))
            radii.append(fov_circle(fov)[2] / max(vessels.shape))
        fundus = {k: summarise([m[k] for m in measured_v]) for k in VESSEL_MEASURES}
        params, vessel_search = fit_vessels(fundus, discs, radii)
        out.update(vessels=params.to_json(), vessel_search=vessel_search)
        out["summaries"]["fundus"] = fundus
        print(f"vessels: {len(measured_v)} masks, {params.to_json()} ({time.perf_counter() - t0:.0f} s)")

    if "mri" in parts:
        out["mri"], out["summaries"]["mri"] = fit_mri(args.data)
        print(f"mri: {out['mri']['abnormality']['n_masks']} slices ({time.perf_counter() - t0:.0f} s)")

    out["sources"] = {
        "skin": "ISIC 2018 task 1 training masks (CC0), Codella et al. 2018, Tschandl et al. 2018",
        "fundus": "CHASE_DB1 (Fraz et al. 2012) and HRF (Budai et al. 2013) manual vessel masks",
        "mri": "LGG segmentation dataset (Buda et al. 2019; TCGA/TCIA), CC BY-NC-SA 4.0",
    }
    write_text_atomic(FITTED_PARAMS, json.dumps(out, indent=1) + "\n")
    print(f"wrote {FITTED_PARAMS} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
