"""Brain MRI label maps: a brain outline with a tumour (FLAIR abnormality) inside it.

Both outlines reuse the lesion shape model (``lesions.py``), fitted separately to the brain
regions and to the FLAIR abnormality masks of the LGG slices in ../shared/data, so brain sizes
and tumour sizes, positions and borders follow real slices. The default map matches the MRI
card of ``core/prepare.py`` (0 background, 1 brain, 2 abnormality). With ``nested=True`` the
abnormality is split into BraTS-style nested regions by depth from its border: oedema outside,
an enhancing rim, a necrotic core (ids 2, 3, 4), for models whose cards name those classes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .lesions import LesionControls, check_centre, propose_lesions

BACKGROUND, BRAIN, ABNORMALITY = 0, 1, 2
OEDEMA, ENHANCING, NECROSIS = 2, 3, 4


@dataclass
class BrainControls:
    """User-facing controls; None means drawn from the fitted model."""

    tumour_diameter: float | None = None  # equivalent-disc diameter as a fraction of the image side
    tumour_centre: tuple[float, float] | None = None  # (x, y) as fractions of the side
    border_irregularity: float = 1.0
    tumour: bool = True  # False: a slice without abnormality
    nested: bool = False  # split the abnormality into oedema / enhancing rim / necrotic core
    enhancing_depth: float = 0.35  # nested: where the enhancing rim starts, as a fraction of the deepest point
    necrosis_depth: float = 0.65  # nested: where the necrotic core starts


def nest_regions(abnormality: np.ndarray, enhancing_depth: float, necrosis_depth: float) -> np.ndarray:
    """Oedema / enhancing / necrosis ids by distance from the abnormality's border (0 outside).

    Each region lies strictly inside the one around it (no necrosis pixel touches oedema or the
    brain, no enhancing pixel the brain, in 8-connectivity): a tumour too small for all three keeps
    the outer ones, so a small abnormality is oedema, not a solid necrotic core."""
    a = abnormality.astype(np.uint8)
    depth = cv2.distanceTransform(a, cv2.DIST_L2, 5)
    deepest = float(depth.max())
    out = np.where(abnormality, OEDEMA, 0).astype(np.uint8)
    if deepest <= 0:
        return out
    square = np.ones((3, 3), np.uint8)
    enhancing = (depth >= enhancing_depth * deepest) & (cv2.erode(a, square, borderValue=0) > 0)
    necrosis = (depth >= necrosis_depth * deepest) & (cv2.erode(enhancing.astype(np.uint8), square, borderValue=0) > 0)
    out[enhancing] = ENHANCING
    out[necrosis] = NECROSIS
    return out


def propose_brain(size: int, seed: int, fit: dict, controls: BrainControls | None = None) -> np.ndarray:
    """A size x size MRI label map drawn from the fitted brain and abnormality models.

    With a tumour asked for there is always one: a tumour drawn off the brain is drawn again, and one
    whose centre lies off the brain every time (a chosen centre beyond the brain's outline) is moved
    to the nearest point well inside the brain."""
    c = controls or BrainControls()
    _check(c)
    brain_seed, tumour_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31, 2))
    brain = propose_lesions(size, brain_seed, fit["brain"], LesionControls(satellites=0, lesions=1)) > 0
    label = np.where(brain, BRAIN, BACKGROUND).astype(np.uint8)
    if not c.tumour:
        return label
    tumour_controls = LesionControls(diameter=c.tumour_diameter, centre=c.tumour_centre, satellites=0,
                                     border_irregularity=c.border_irregularity)
    for attempt in range(8):  # a tumour drawn outside this brain is drawn again (seeded, so still reproducible)
        drawn = propose_lesions(size, tumour_seed + attempt, fit["abnormality"], tumour_controls) > 0
        abnormality = drawn & brain
        inside, whole = int(abnormality.sum()), int(drawn.sum())
        if inside and inside >= max(min(4, whole), 0.5 * whole):
            break
    if not abnormality.any() and brain.any():
        abnormality = _moved_into(brain, drawn, c.tumour_centre, size, fit, tumour_seed + attempt, tumour_controls)
    if c.nested:
        regions = nest_regions(abnormality, c.enhancing_depth, c.necrosis_depth)
        label[abnormality] = regions[abnormality]
    else:
        label[abnormality] = ABNORMALITY
    return label


def _moved_into(brain: np.ndarray, drawn: np.ndarray, centre, size: int, fit: dict, seed: int,
                controls: LesionControls) -> np.ndarray:
    """The last tumour drawn, centred at the brain point nearest to where it was meant to be among
    those at least half as deep inside the brain as its deepest point (the same seed: the same shape)."""
    if centre is not None:
        want = np.asarray(centre, np.float64) * size
    elif drawn.any():
        ys, xs = np.nonzero(drawn)
        want = np.array([xs.mean(), ys.mean()])
    else:
        want = np.array([size / 2, size / 2])
    depth = cv2.distanceTransform(brain.astype(np.uint8), cv2.DIST_L2, 5)
    ys, xs = np.nonzero(depth >= 0.5 * depth.max())
    k = int(np.argmin((xs - want[0]) ** 2 + (ys - want[1]) ** 2))
    moved = replace(controls, centre=(xs[k] / size, ys[k] / size))  # propose_lesions puts it at pixel (xs, ys)
    abnormality = (propose_lesions(size, seed, fit["abnormality"], moved) > 0) & brain
    if not abnormality.any():
        abnormality[ys[k], xs[k]] = True
    return abnormality


def _check(c: BrainControls) -> None:
    from ..errors import SynthguiError

    if c.tumour_diameter is not None and not 0 < c.tumour_diameter <= 1:
        raise SynthguiError(f"tumour diameter is a fraction of the image side (0 to 1), not {c.tumour_diameter}")
    check_centre("tumour centre", c.tumour_centre)
    if not 0 <= c.border_irregularity <= 4:
        raise SynthguiError(f"border irregularity is a multiple of the typical real one (0 to 4), not {c.border_irregularity}")
    if c.nested and not 0 < c.enhancing_depth < c.necrosis_depth < 1:
        raise SynthguiError("nested regions need 0 < enhancing_depth < necrosis_depth < 1")
