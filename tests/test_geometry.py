"""Geometry generators (dual GAN stage 1): reproducible, controllable, and statistically like real masks.

The realism tests compare generated masks with the committed summaries of the real ISIC and
CHASE_DB1/HRF masks (fitted_params.json), so they run without ../shared/data.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthgui.core.errors import SynthguiError
from synthgui.core.geometry import CLASSES, DOMAINS, control_names, fitted, propose
from synthgui.core.geometry.stats import (
    LESION_ANALYSIS_SIZE, LESION_MEASURES, VESSEL_ANALYSIS_SIZE, compare_to_summary, lesion_measures,
    skeleton_points, vessel_measures,
)
from synthgui.core.masks import disk_label_map, ellipse_label_map

# normalised W1 (over the real 5-95 % spread) each measure must stay under; bench_geometry.py prints the actual values
LESION_TOLERANCE = {"area_fraction": 0.4, "compactness": 0.45, "eccentricity": 0.45, "asymmetry": 0.6, "components": 0.3}
VESSEL_TOLERANCE = {"density": 1.0, "skeleton_length": 1.0, "branch_points": 1.0, "end_points": 1.0, "mean_width": 1.5}


@pytest.mark.parametrize("domain,size", [("skin", 128), ("fundus", 160)])
def test_same_seed_same_mask_and_valid_class_ids(domain, size):
    first = propose(domain, size, seed=7)
    assert first.shape == (size, size) and first.dtype == np.uint8
    assert np.array_equal(first, propose(domain, size, seed=7))
    assert not np.array_equal(first, propose(domain, size, seed=8))
    assert set(np.unique(first).tolist()) <= set(CLASSES[domain])
    assert (first > 0).any() and (first == 0).any()


def test_fundus_map_has_field_of_view_retina_and_vessels():
    lm = propose("fundus", 256, seed=3)
    assert set(np.unique(lm).tolist()) == {0, 1, 2}
    assert lm[0, 0] == 0 and lm[128, 128] != 0  # corner outside, centre inside the field of view
    assert 0.03 < (lm == 2).sum() / (lm > 0).sum() < 0.25


def test_bad_requests_are_clear_errors():
    with pytest.raises(SynthguiError, match="no geometry generator for domain 'ct'"):
        propose("ct", 64, 0)
    with pytest.raises(SynthguiError, match="unknown skin geometry control.*wobble"):
        propose("skin", 64, 0, wobble=2)
    with pytest.raises(SynthguiError, match="diameter"):
        propose("skin", 64, 0, diameter=3.0)
    with pytest.raises(SynthguiError, match="eye"):
        propose("fundus", 64, 0, eye="middle")
    with pytest.raises(SynthguiError, match="size"):
        propose("skin", 4, 0)
    assert set(DOMAINS) == {"skin", "fundus", "mri"} and "satellites" in control_names("skin")


def _mean_measure(measure: str, n: int = 12, **controls) -> float:
    return float(np.mean([lesion_measures(propose("skin", 256, 100 + s, **controls))[measure] for s in range(n)]))


def test_lesion_controls_do_what_they_say():
    area = _mean_measure("area_fraction", diameter=0.3, centre=(0.5, 0.5))
    assert area == pytest.approx(np.pi * 0.15**2, rel=0.15)
    assert _mean_measure("compactness", border_irregularity=0.0) < _mean_measure("compactness", border_irregularity=2.0) - 0.1
    assert _mean_measure("asymmetry", asymmetry=0.0, border_irregularity=0.0) < _mean_measure("asymmetry", asymmetry=3.0) / 2
    smooth_round = propose("skin", 256, 1, asymmetry=0, elongation=0, border_irregularity=0, diameter=0.4, centre=(0.5, 0.5))
    assert lesion_measures(smooth_round)["compactness"] < 1.15
    with_spots = [lesion_measures(propose("skin", 256, s, satellites=3, diameter=0.25, centre=(0.5, 0.5)))["components"] for s in range(5)]
    assert max(with_spots) >= 3
    two = [lesion_measures(propose("skin", 256, s, lesions=2, satellites=0, diameter=0.12))["components"] for s in range(5)]
    assert max(two) == 2 and min(two) >= 1  # two separate lesions (they may touch)


def test_vessel_controls_change_the_tree():
    def density(**c):
        return np.mean([vessel_measures(m == 2, m > 0)["density"] for m in (propose("fundus", 384, s, **c) for s in range(4))])

    assert density(calibre=0.6) < density() < density(calibre=1.5)
    left, right = propose("fundus", 256, 5, eye="left"), propose("fundus", 256, 5, eye="right")
    thick = lambda m: np.argwhere(m == 2)[:, 1].mean()  # noqa: E731
    assert thick(left) < thick(right)  # the disc, where vessels gather, sits on the eye's nasal side


def test_generated_lesions_match_real_statistics():
    real = fitted()["summaries"]["skin"]
    gen = [lesion_measures(propose("skin", LESION_ANALYSIS_SIZE, 500 + s)) for s in range(60)]
    for measure in LESION_MEASURES:
        result = compare_to_summary(measure, [g[measure] for g in gen], real[measure])
        assert result.normalised < LESION_TOLERANCE[measure], result


def test_circles_would_fail_the_lesion_realism_check():
    """The tolerance separates real-looking shapes from the naive default (discs of the real sizes)."""
    real = fitted()["summaries"]["skin"]
    rng = np.random.default_rng(0)
    discs = [disk_label_map(LESION_ANALYSIS_SIZE, float(rng.uniform(0.1, 0.35))) for _ in range(30)]
    gen = [lesion_measures(d) for d in discs]
    failed = [m for m in ("compactness", "eccentricity", "asymmetry")
              if compare_to_summary(m, [g[m] for g in gen], real[m]).normalised >= LESION_TOLERANCE[m]]
    assert len(failed) >= 2, failed


def test_generated_vessel_trees_match_real_statistics():
    real = fitted()["summaries"]["fundus"]
    maps = [propose("fundus", VESSEL_ANALYSIS_SIZE, 700 + s) for s in range(8)]
    gen = [vessel_measures(m == 2, m > 0) for m in maps]
    for measure, tolerance in VESSEL_TOLERANCE.items():
        result = compare_to_summary(measure, [g[measure] for g in gen], real[measure])
        assert result.normalised < tolerance, result


def test_measures_on_known_shapes():
    disc = lesion_measures(disk_label_map(256, 0.25))
    assert disc["area_fraction"] == pytest.approx(np.pi / 16, rel=0.02)
    assert disc["compactness"] < 1.12 and disc["asymmetry"] < 0.02 and disc["eccentricity"] < 0.15
    ellipse = lesion_measures(ellipse_label_map(256, (80, 40), angle=30))
    assert ellipse["eccentricity"] == pytest.approx(np.sqrt(1 - 0.25), abs=0.03) and ellipse["asymmetry"] < 0.03
    half = ellipse_label_map(256, (80, 40))
    half[:128] = 0  # a half ellipse: symmetric about one axis only
    assert lesion_measures(half)["asymmetry"] > 0.05 > ellipse["asymmetry"]
    cross = np.zeros((41, 41), bool)
    cross[20, 5:36] = True
    cross[5:36, 20] = True
    assert skeleton_points(cross) == (1, 4)


def test_vessel_measures_are_resolution_independent():
    for side in (400, 800):
        fov = np.zeros((side, side), bool)
        yy, xx = np.mgrid[:side, :side]
        fov[(yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side * 0.45) ** 2] = True
        v = np.zeros_like(fov)
        v[side // 2 - side // 100 : side // 2 + side // 100, side // 10 : side - side // 10] = True
        m = vessel_measures(v, fov)
        assert m["mean_width"] == pytest.approx(0.02 * VESSEL_ANALYSIS_SIZE / 0.9, rel=0.2)
        assert m["end_points"] == 2 and m["branch_points"] == 0


def test_fitting_on_real_masks(shared_data):
    """The fitting code runs on a handful of real masks and gives a usable model."""
    from PIL import Image

    from synthgui.core.geometry.lesions import fit_lesions, propose_lesions
    from synthgui.core.geometry.vessels import field_of_view, locate_disc

    paths = sorted((shared_data / "skin-isic2018" / "masks").glob("*.png"))[:40]
    fit = fit_lesions(np.asarray(Image.open(p)) > 127 for p in paths)
    assert fit["n_masks"] == 40 and len(fit["log_amplitude_mean"]) == 24
    assert (propose_lesions(128, 0, fit) == 1).any()
    image = np.asarray(Image.open(shared_data / "fundus-chase" / "images" / "Image_01L.jpg").convert("RGB"))
    vessels = np.asarray(Image.open(shared_data / "fundus-chase" / "vessels" / "Image_01L.png")) > 127
    fov = field_of_view(image)
    assert 0.5 < fov.mean() < 0.85
    x, y = locate_disc(vessels, fov)
    assert abs(x) < 1 and abs(y) < 1


def test_mri_label_maps_put_the_tumour_inside_the_brain():
    lm = propose("mri", 128, seed=2)
    assert np.array_equal(lm, propose("mri", 128, seed=2))
    assert set(np.unique(lm).tolist()) == {0, 1, 2}
    assert lm[0, 0] == 0 and (lm == 1).sum() > (lm == 2).sum() > 0
    nested = propose("mri", 128, seed=2, nested=True, tumour_diameter=0.3, tumour_centre=(0.5, 0.5))
    assert set(np.unique(nested).tolist()) == {0, 1, 2, 3, 4}
    from scipy import ndimage

    core = nested == 4  # the necrotic core is wrapped by the enhancing rim, which oedema wraps
    assert not (ndimage.binary_dilation(core) & (nested <= 2) & (nested > 0) & ~(nested == 2)).any()
    assert (ndimage.binary_dilation(core) & (nested == 3)).any()
    assert not (ndimage.binary_dilation(nested == 3) & (nested == 1)).any()
    assert set(np.unique(propose("mri", 64, 0, tumour=False)).tolist()) == {0, 1}


def test_generated_mri_abnormalities_match_real_statistics():
    real = fitted()["summaries"]["mri"]
    gen = [lesion_measures(propose("mri", LESION_ANALYSIS_SIZE, 900 + s) == 2) for s in range(40)]
    for measure in ("area_fraction", "eccentricity", "compactness"):
        result = compare_to_summary(measure, [g[measure] for g in gen], real[measure])
        assert result.normalised < 0.6, result


def test_controls_parse_with_the_dataclass_types():
    from synthgui.core.geometry import parse_controls

    assert parse_controls("skin", ["diameter=0.3", "satellites=2", "centre=0.4,0.6", "border-irregularity=0"]) == {
        "diameter": 0.3, "satellites": 2, "centre": (0.4, 0.6), "border_irregularity": 0.0}
    assert parse_controls("mri", ["nested=true", "tumour_diameter=fit"]) == {"nested": True, "tumour_diameter": None}
    assert parse_controls("fundus", ["eye=left"]) == {"eye": "left"}
    with pytest.raises(SynthguiError, match="one of diameter"):
        parse_controls("skin", ["size=3"])
    with pytest.raises(SynthguiError, match="not a valid"):
        parse_controls("skin", ["satellites=many"])


def test_export_random_masks_follow_the_geometry_controls(tmp_path, capsys):
    import json

    from PIL import Image

    from synthgui.cli import main
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    model = write_model(tmp_path / "m", GeneratorSpec(ngf=4), skin_card())
    areas = {}
    for diameter in ("0.15", "0.5"):
        out = tmp_path / f"out-{diameter}"
        assert main(["export", "--model", str(model), "--out", str(out), "--random", "3", "--geometry",
                     f"diameter={diameter}", "satellites=0", "--mode", "eval", "--no-progress"]) == 0
        areas[diameter] = np.mean([(np.asarray(Image.open(p)) > 0).mean() for p in sorted((out / "masks").iterdir())])
        plan = json.loads((out / "export.json").read_text())
        assert plan["sources"][0]["controls"] == {"diameter": float(diameter), "satellites": 0}
    # equivalent-disc diameter d of the side: area fraction about pi d^2 / 4
    assert areas["0.15"] == pytest.approx(np.pi * 0.15**2 / 4, rel=0.35)
    assert areas["0.5"] == pytest.approx(np.pi * 0.5**2 / 4, rel=0.35)
    assert main(["export", "--model", str(model), "--out", str(tmp_path / "bad"), "--random", "2", "--geometry", "eye=left"]) == 2
    assert "one of diameter" in capsys.readouterr().err
