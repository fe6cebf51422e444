"""Random lesion shapes whose statistics are learned from the ISIC 2018 lesion masks.

A lesion outline is a star-shaped curve around its centre: its log-radius is a Fourier series,
log r(theta) = sum_k A_k cos(k theta + phi_k). Fitting (``fit_lesions``) measures r(theta) on
every real mask, takes the amplitudes A_k of its log-radius spectrum and models log A_1..A_K as
one multivariate normal (so harmonics that go together in real lesions stay together); phases
are uniform (any orientation). Size (equivalent-disc diameter), centre offset and the number
and size of satellite spots are kept as empirical quantiles. Harmonics map onto what a
dermatologist reads in a lesion (ABCD rule): odd low orders make it asymmetric, 2 and 4 elongate
it symmetrically, high orders make the border irregular, so each control scales one group.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .stats import LESION_ANALYSIS_SIZE, largest_component

N_ANGLES = 128
N_HARMONICS = 24
ASYMMETRY_HARMONICS = (1, 3, 5)
ELONGATION_HARMONICS = (2, 4)
BORDER_FROM = 6  # harmonics from this order up make the border irregular
MAX_SATELLITES = 6


@dataclass
class LesionControls:
    """What a user can ask of a proposed lesion; None means "as in real lesions" (drawn from the fit)."""

    diameter: float | None = None  # equivalent-disc diameter as a fraction of the image side
    asymmetry: float = 1.0  # multiplies the odd low harmonics: 0 = symmetric, 1 = as real lesions
    elongation: float = 1.0  # multiplies harmonics 2 and 4
    border_irregularity: float = 1.0  # multiplies harmonics >= 6: 0 = smooth border
    lesions: int = 1  # separate primary lesions
    satellites: int | None = None  # small spots near the main lesion; None = as often as in real masks
    centre: tuple[float, float] | None = None  # (x, y) as fractions of the side; None = drawn from the fit


def radial_profile(region: np.ndarray, n_angles: int = N_ANGLES) -> np.ndarray | None:
    """Distance from the centroid to the outline at ``n_angles`` equal angles (outermost point per angle)."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    pts = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    ys, xs = np.nonzero(region)
    d = pts - np.array([xs.mean(), ys.mean()])
    angle = np.mod(np.arctan2(d[:, 1], d[:, 0]), 2 * np.pi)
    radius = np.hypot(d[:, 0], d[:, 1])
    bins = np.minimum((angle / (2 * np.pi) * n_angles).astype(int), n_angles - 1)
    r = np.full(n_angles, np.nan)
    np.fmax.at(r, bins, radius)
    known = ~np.isnan(r)
    if known.sum() < n_angles // 4 or np.nanmin(r) <= 0.5:
        return None
    idx = np.arange(n_angles)
    return np.interp(idx, idx[known], r[known], period=n_angles)


def log_amplitudes(profile: np.ndarray, n_harmonics: int = N_HARMONICS) -> np.ndarray:
    """log A_k, k = 1..K, of the log-radius (scale-free: the mean log radius is dropped)."""
    spectrum = np.fft.rfft(np.log(profile)) / len(profile)
    return np.log(2 * np.abs(spectrum[1 : n_harmonics + 1]) + 1e-6)


def fit_lesions(masks, size: int = LESION_ANALYSIS_SIZE) -> dict:
    """The lesion statistics from real binary masks (any iterable of 2-D arrays); JSON-ready."""
    shapes, diameters, centres, n_sat, sat_ratio = [], [], [], [], []
    for mask in masks:
        m = cv2.resize((np.asarray(mask) > 0).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) >= 0.5
        region = largest_component(m)
        area = float(region.sum())
        if area < 16:
            continue
        ys, xs = np.nonzero(region)
        diameters.append(2 * np.sqrt(area / np.pi) / size)
        centres.append((xs.mean() / size, ys.mean() / size))
        touches = region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any()
        if not touches:  # a cut-off outline would teach the frame's straight edge, not the lesion's
            profile = radial_profile(region)
            if profile is not None:
                shapes.append(log_amplitudes(profile))
        n, _, st, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
        areas = np.sort(st[1:, cv2.CC_STAT_AREA])[::-1]
        extra = areas[1:][areas[1:] >= 0.001 * size * size]
        n_sat.append(min(len(extra), MAX_SATELLITES))
        sat_ratio.extend((extra / area).tolist())
    if len(shapes) < 3:
        raise ValueError("too few usable lesion masks to fit a shape model")
    shapes_a = np.asarray(shapes)
    levels = np.linspace(0, 1, 41)
    return {
        "source": "ISIC 2018 task 1 training masks",
        "n_masks": len(diameters),
        "n_shapes": len(shapes),
        "analysis_size": size,
        "log_amplitude_mean": shapes_a.mean(0).round(5).tolist(),
        "log_amplitude_cov": np.cov(shapes_a.T).round(6).tolist(),
        "diameter_quantiles": np.quantile(diameters, levels).round(5).tolist(),
        "centre_mean": np.mean(centres, 0).round(5).tolist(),
        "centre_cov": np.cov(np.asarray(centres).T).round(6).tolist(),
        "satellite_count_probabilities": (np.bincount(n_sat, minlength=MAX_SATELLITES + 1) / len(n_sat)).round(5).tolist(),
        "satellite_area_ratio_quantiles": np.quantile(sat_ratio or [0.01], levels).round(6).tolist(),
    }


def _from_quantiles(rng: np.random.Generator, quantiles: list[float]) -> float:
    """A draw from a distribution known by equally spaced quantiles (inverse-CDF interpolation)."""
    q = np.asarray(quantiles)
    return float(np.interp(rng.random(), np.linspace(0, 1, len(q)), q))


def _outline(rng: np.random.Generator, fit: dict, c: LesionControls) -> np.ndarray:
    """Unit-area log-radius outline r(theta) at N_ANGLES angles, scaled by the controls."""
    mean = np.asarray(fit["log_amplitude_mean"])
    cov = np.asarray(fit["log_amplitude_cov"])
    amps = np.exp(rng.multivariate_normal(mean, cov, method="cholesky"))
    k = np.arange(1, len(amps) + 1)
    gain = np.ones_like(amps)
    gain[np.isin(k, ASYMMETRY_HARMONICS)] = c.asymmetry * float(fit.get("asymmetry_gain", 1.0))
    gain[np.isin(k, ELONGATION_HARMONICS)] = c.elongation
    gain[k >= BORDER_FROM] = c.border_irregularity * float(fit.get("border_gain", 1.0))
    phases = rng.uniform(0, 2 * np.pi, len(amps))
    theta = np.linspace(0, 2 * np.pi, N_ANGLES, endpoint=False)
    log_r = (amps * gain)[None, :] * np.cos(k[None, :] * theta[:, None] + phases[None, :])
    r = np.exp(log_r.sum(1))
    area = 0.5 * np.sum(r**2) * (2 * np.pi / N_ANGLES)
    return r / np.sqrt(area / np.pi)  # equivalent-disc radius 1


def _outline_points(centre: np.ndarray, radius: np.ndarray) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, len(radius), endpoint=False)
    return np.stack([centre[0] + radius * np.cos(theta), centre[1] + radius * np.sin(theta)], 1)


def _fill(canvas: np.ndarray, centre: np.ndarray, radius: np.ndarray, label: int = 1) -> None:
    pts = _outline_points(centre, radius)
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], label, lineType=cv2.LINE_8, shift=4)


def _gap(size: int) -> int:
    """Pixels kept free between separate lesions and spots, so they stay separate components."""
    return max(1, int(round(size / 128)))


def _fits(canvas: np.ndarray, centre: np.ndarray, radius: np.ndarray, inside: bool) -> bool:
    """Whether the outline, drawn as ``_fill`` draws it, keeps ``_gap`` pixels from everything drawn
    (and, with ``inside``, lies wholly in the image). Works on the outline's box, not the image."""
    size = canvas.shape[0]
    pts = _outline_points(centre, radius)
    if inside and (pts.min() < 0.5 or pts.max() > size - 1.5):
        return False
    g = _gap(size)
    x0, y0 = (max(0, int(np.floor(v)) - g - 1) for v in pts.min(0))
    x1, y1 = (min(size, int(np.ceil(v)) + g + 2) for v in pts.max(0))
    if x1 <= x0 or y1 <= y0:
        return False
    patch = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round((pts - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(patch, [local], 1, lineType=cv2.LINE_8, shift=4)
    if not patch.any():
        return False
    near = cv2.dilate(patch, np.ones((2 * g + 1, 2 * g + 1), np.uint8))
    return not (near.astype(bool) & (canvas[y0:y1, x0:x1] > 0)).any()


PLACEMENT_TRIES = 40  # positions tried for a satellite spot before it is left out
# where a further lesion's centre is tried, widening round by round; then the lesion is made smaller
LESION_RANGES = ((0.2, 0.8), (0.1, 0.9), (0.03, 0.97))
LESION_SHRINK, LESION_TRIES = 0.85, 200
LESION_MIN_RADIUS = 1.5  # pixels: a lesion is made smaller down to this before it is left out


def propose_lesions(size: int, seed: int, fit: dict, controls: LesionControls | None = None) -> np.ndarray:
    """A size x size label map (0 skin, 1 lesion) drawn from the fitted lesion model.

    Several lesions are that many separate lesions, and satellite spots separate spots inside the
    image: each is placed where it keeps a gap to what is drawn (seeded tries, so still reproducible).
    A further lesion that fits nowhere is made smaller; a spot that fits nowhere is left out."""
    c = controls or LesionControls()
    _check(c)
    rng = np.random.default_rng(seed)
    canvas = np.zeros((size, size), np.uint8)
    n_sat = c.satellites
    if n_sat is None:
        p = np.asarray(fit["satellite_count_probabilities"], np.float64)
        n_sat = int(rng.choice(len(p), p=p / p.sum()))
    for i in range(c.lesions):
        d = c.diameter if c.diameter is not None else _from_quantiles(rng, fit["diameter_quantiles"])
        if c.lesions > 1 and c.diameter is None:
            d /= np.sqrt(c.lesions)  # several lesions share the frame as one real lesion would
        radius = _outline(rng, fit, c) * d * size / 2
        if c.centre is not None and i == 0:
            centre = np.asarray(c.centre, np.float64) * size
        elif c.lesions == 1:
            centre = np.clip(rng.multivariate_normal(fit["centre_mean"], fit["centre_cov"]), 0.1, 0.9) * size
        elif i == 0:
            centre = rng.uniform(0.2, 0.8, 2) * size
        else:
            placed = _place_lesion(canvas, rng, radius)
            if placed is None:
                continue
            centre, radius = placed
        _fill(canvas, centre, radius)
        if i == 0:
            _satellites(canvas, rng, fit, centre, radius, n_sat, c)
    return canvas


def _place_lesion(canvas: np.ndarray, rng: np.random.Generator, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A centre (and radius) where a further lesion keeps a gap to everything drawn, or None.

    Seeded tries over a range that widens round by round; a lesion that fits nowhere is made smaller,
    down to a few pixels (the number of lesions is what was asked; two lesions drawn over each other
    read as one). None only when the image has no room even for that: the lesion is left out."""
    size = canvas.shape[0]
    free = cv2.distanceTransform((canvas == 0).astype(np.uint8), cv2.DIST_L2, 3)
    g = _gap(size)
    rounds = [(lo, hi, 1.0) for lo, hi in LESION_RANGES]
    k = 1
    while float(radius.max()) * LESION_SHRINK**k >= LESION_MIN_RADIUS:
        rounds.append((*LESION_RANGES[-1], LESION_SHRINK**k))
        k += 1
    for lo, hi, scale in rounds:
        r = radius * scale
        need = float(r.min()) + g  # the disc inside the outline must be clear: a cheap first test
        for _ in range(LESION_TRIES):
            centre = rng.uniform(lo, hi, 2) * size
            x, y = (min(size - 1, int(v)) for v in centre)
            if free[y, x] >= need and _fits(canvas, centre, r, inside=False):
                return centre, r
    return None


def _satellites(canvas, rng, fit, centre, radius, count: int, c: LesionControls) -> None:
    """Small spots just outside the main lesion's border, sized like the extra components of real masks.

    Each spot is separate from the lesion and the other spots and lies wholly in the image; one that
    finds no such place in a few tries is left out rather than drawn onto the lesion or off the image."""
    main_area = np.pi * float(np.mean(radius**2))
    for _ in range(count):
        for _ in range(PLACEMENT_TRIES):
            ratio = max(_from_quantiles(rng, fit["satellite_area_ratio_quantiles"]), 1e-4)
            r_sat = np.sqrt(ratio * main_area / np.pi)
            j = rng.integers(len(radius))
            theta = 2 * np.pi * j / len(radius)
            dist = radius[j] + r_sat + rng.uniform(0.05, 0.35) * np.sqrt(main_area / np.pi)
            at = centre + dist * np.array([np.cos(theta), np.sin(theta)])
            spot = _outline(rng, fit, LesionControls(border_irregularity=0.5 * c.border_irregularity,
                                                     asymmetry=c.asymmetry, elongation=c.elongation)) * max(r_sat, 1.0)
            if _fits(canvas, at, spot, inside=True):
                _fill(canvas, at, spot)
                break


def check_centre(name: str, centre: tuple[float, float] | None) -> None:
    """A centre is (x, y) in fractions of the side: anything else would fail or draw off the image."""
    from ..errors import SynthguiError

    if centre is None:
        return
    try:
        x, y = (float(v) for v in centre)
    except (TypeError, ValueError):
        x = y = float("nan")
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise SynthguiError(f"{name} is x,y as fractions of the image side (each 0 to 1), not {centre}")


def _check(c: LesionControls) -> None:
    from ..errors import SynthguiError

    check_centre("centre", c.centre)
    if c.diameter is not None and not 0 < c.diameter <= 1.5:
        raise SynthguiError(f"lesion diameter is a fraction of the image side (0 to 1.5), not {c.diameter}")
    for name in ("asymmetry", "elongation", "border_irregularity"):
        value = getattr(c, name)
        if not 0 <= value <= 4:
            raise SynthguiError(f"{name.replace('_', ' ')} is a multiple of the typical real lesion's (0 to 4), not {value}")
    if not 1 <= c.lesions <= 20:
        raise SynthguiError(f"number of lesions must be 1 to 20, not {c.lesions}")
    if c.satellites is not None and not 0 <= c.satellites <= 50:
        raise SynthguiError(f"number of satellite spots must be 0 to 50, not {c.satellites}")
