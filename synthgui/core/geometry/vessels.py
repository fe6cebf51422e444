"""Random retinal vessel trees inside a circular field of view: a fitted procedural model.

A mask GAN trained on the 70 real vessel masks (CHASE_DB1, HRF) at 128 px looks right as a whole but
cannot draw one-pixel vessels (docs/geometry.md compares the two), so at full resolution the tree
is grown by rules that follow retinal anatomy and the few free numbers are fitted to those masks:
  - the optic disc sits nasally, its offset from the centre drawn from where the thick vessels
    converge in real masks (``locate_disc``);
  - main trunks leave the disc: the temporal ones arch above and below the macula (the arcades),
    the nasal ones run radially; their calibre is fitted;
  - every vessel walks in small steps with a random turn (tortuosity) and splits at a fitted
    rate per unit length; children's widths follow Murray's law (w0^3 = w1^3 + w2^3) and the
    thinner child leaves at the wider angle (as in Murray's optimum); vessels end when they
    get too thin or leave the field of view, and avoid the fovea.
Coordinates are in field-of-view radii (centre 0, radius 1), so any output size works.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

# label map for fundus models (0 outside the field of view, 1 retina background, 2 vessel)
OUTSIDE, RETINA, VESSEL = 0, 1, 2
# the optic disc's centre lies at most this far from the centre, in FOV radii (the 70 real masks: 0.67);
# a disc drawn beyond the rim grew no vessels at all
MAX_DISC_OFFSET = 0.8


@dataclass
class VesselParams:
    """The procedural model's parameters; ``fit_vessels`` replaces the fitted ones."""

    fov_radius: float = 0.47  # field-of-view radius as a fraction of the image side
    disc_x: float = 0.45  # optic disc offset from the centre, in FOV radii (nasal side)
    disc_x_sd: float = 0.06
    disc_y: float = 0.0
    disc_y_sd: float = 0.06
    trunk_width: float = 0.022  # main trunk calibre, in FOV radii
    branch_rate: float = 4.0  # expected splits per FOV radius of vessel length
    min_width: float = 0.004  # vessels thinner than this end
    step: float = 0.012  # growth step, in FOV radii
    tortuosity: float = 0.05  # s.d. of the turn per step (radians)
    arcade_curvature: float = 0.7  # how strongly temporal trunks bend around the macula (rad per radius)
    fovea_distance: float = 0.55  # disc-to-fovea distance, in FOV radii
    max_length: float = 2.5  # a vessel stops after this length even if still wide
    taper: float = 0.004  # fraction of calibre lost per step along a vessel
    twig_rate: float = 0.0  # short thin side twigs per FOV radius of vessel length (fitting chose none)
    twig_length: float = 0.1  # their mean length, in FOV radii
    gap_rate: float = 0.0  # breaks per FOV radius in thin vessels (faint capillaries drawn in pieces)
    gap_length: float = 0.04  # mean length of a break, in FOV radii
    thin_tortuosity: float = 2.0  # thin vessels turn this many times more than thick ones (set by eye)

    @classmethod
    def from_json(cls, data: dict) -> "VesselParams":
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in names})

    def to_json(self) -> dict:
        return {k: round(v, 5) for k, v in asdict(self).items()}


@dataclass
class VesselControls:
    """User-facing controls; None = drawn from the fitted model."""

    eye: str | None = None  # "left" or "right": which side the optic disc is on
    density: float = 1.0  # multiplies the branching rate
    calibre: float = 1.0  # multiplies every vessel's width (the same tree, drawn thinner or thicker)
    tortuosity: float = 1.0  # multiplies the random turn per step


@dataclass
class _Segment:
    pos: tuple[float, float] | np.ndarray
    angle: float
    width: float
    curvature: float
    length: float = 0.0
    max_length: float = math.inf
    gap: int = 0  # steps left undrawn


def _murray_split(rng: np.random.Generator, width: float) -> tuple[float, float, float, float]:
    """Child widths (big, small) and their deviation angles from the parent direction."""
    ratio = rng.uniform(0.35, 0.95)  # small / big child calibre
    big = width / (1 + ratio**3) ** (1 / 3)
    small = big * ratio
    r0, r1, r2 = width**2, big**2, small**2  # Murray's optimal angles use squared radii
    cos1 = np.clip((r0**2 + r1**2 - r2**2) / (2 * r0 * r1), -1, 1)
    cos2 = np.clip((r0**2 + r2**2 - r1**2) / (2 * r0 * r2), -1, 1)
    return big, small, float(np.arccos(cos1)), float(np.arccos(cos2))


def grow_tree(rng: np.random.Generator, p: VesselParams, c: VesselControls) -> tuple[list[tuple[tuple[float, float], tuple[float, float], float]], np.ndarray, np.ndarray]:
    """Segments ((x, y) start, (x, y) end, width) in FOV radii, the disc centre and the fovea.

    Besides Murray splits, vessels put out short thin twigs, and thin vessels wander more and
    break into pieces: manual masks draw the faintest capillaries as short fragments, and those
    fragments are most of a real mask's end points."""
    eye = c.eye or ("left" if rng.random() < 0.5 else "right")
    nasal = 1.0 if eye == "right" else -1.0  # image x of the nasal side (right eye: disc on the right)
    for _ in range(100):  # the fitted offsets are wide: a disc drawn off the retina is drawn again
        disc = np.array([nasal * abs(rng.normal(p.disc_x, p.disc_x_sd)), rng.normal(p.disc_y, p.disc_y_sd)])
        if np.hypot(*disc) <= MAX_DISC_OFFSET:
            break
    else:
        disc *= MAX_DISC_OFFSET / np.hypot(*disc)
    fovea = disc + np.array([-nasal * p.fovea_distance, 0.0])
    trunks: list[_Segment] = []
    w0 = p.trunk_width  # calibre scales the drawn widths only, so the tree (and its cost) stays the fitted one
    for vertical in (-1, 1):  # superior (image y < 0) and inferior: an arcade artery and vein each
        for spread in (0.95, 1.25):  # leave the disc steeply, then arch temporally around the macula
            s = spread + rng.normal(0, 0.1)
            angle = math.atan2(vertical * math.sin(s), -nasal * math.cos(s))
            bend = vertical * nasal * p.arcade_curvature * rng.uniform(0.8, 1.2)
            trunks.append(_Segment(disc.copy(), angle, w0 * rng.uniform(0.85, 1.0), bend))
        for lo, hi in ((0.1, 0.6), (0.7, 1.4)):  # nasal vessels run radially
            angle = math.atan2(vertical * math.sin(rng.uniform(lo, hi)), nasal * math.cos(rng.uniform(lo, hi)))
            trunks.append(_Segment(disc.copy(), angle, w0 * rng.uniform(0.55, 0.75), 0.0))
    segments: list[tuple[tuple[float, float], tuple[float, float], float]] = []
    stack = trunks
    rate = p.branch_rate * c.density
    sd = p.tortuosity * c.tortuosity
    thin = 2.0 * p.min_width
    step, hypot = p.step, np.hypot  # plain floats in the walk: the same arithmetic, a fraction of the time
    fx, fy = float(fovea[0]), float(fovea[1])
    while stack and len(segments) < 30000:
        v = stack.pop()
        x, y = (float(u) for u in v.pos)
        limit = min(p.max_length, v.max_length)
        while v.width >= p.min_width and v.length < limit:
            turn = sd * (p.thin_tortuosity if v.width < thin else 1.0)
            v.angle += v.curvature * step + rng.normal(0, turn)
            tx, ty = fx - x, fy - y
            if hypot(tx, ty) < 0.2:  # the fovea is avascular: turn away from it
                away = math.atan2(-ty, -tx)
                v.angle += 0.3 * math.sin(away - v.angle)
            ex, ey = x + step * math.cos(v.angle), y + step * math.sin(v.angle)
            if hypot(ex, ey) > 1.02:
                break
            if v.gap > 0:
                v.gap -= 1
            else:
                segments.append(((x, y), (ex, ey), v.width * c.calibre))
                if v.width < thin and rng.random() < p.gap_rate * step:
                    v.gap = 1 + int(rng.exponential(p.gap_length / step))
            x, y, v.length = ex, ey, v.length + step
            v.curvature *= 0.975  # arcades straighten out as they leave the disc
            if rng.random() < p.twig_rate * c.density * step and v.length > 0.08:
                side = 1 if rng.random() < 0.5 else -1
                stack.append(_Segment((x, y), v.angle + side * rng.uniform(0.6, 1.4), p.min_width * rng.uniform(1.0, 1.6),
                                      rng.normal(0, 0.5), max_length=float(rng.exponential(p.twig_length))))
            if rng.random() < rate * step * (1.0 if v.length > 0.08 else 0.0):
                big, small, a_big, a_small = _murray_split(rng, v.width)
                side = 1 if rng.random() < 0.5 else -1
                stack.append(_Segment((x, y), v.angle - side * a_small, small, rng.normal(0, 0.2)))
                v.angle += side * a_big
                v.width = big
            else:
                v.width *= 1 - p.taper  # taper along the vessel
    return segments, disc, fovea


def propose_vessels(size: int, seed: int, params: VesselParams, controls: VesselControls | None = None) -> np.ndarray:
    """A size x size fundus label map: 0 outside the field of view, 1 retina, 2 vessel."""
    c = controls or VesselControls()
    _check(c)
    rng = np.random.default_rng(seed)
    segments, _, _ = grow_tree(rng, params, c)
    radius_px = params.fov_radius * size
    centre = np.array([size / 2, size / 2])
    label = np.zeros((size, size), np.uint8)
    cv2.circle(label, (int(round(size * 8)), int(round(size * 8))), int(round(radius_px * 16)), RETINA, -1, cv2.LINE_8, shift=4)
    vessels = np.zeros((size, size), np.uint8)
    if segments:
        ends = np.asarray([(a, b) for a, b, _ in segments], np.float64)  # (n, 2 ends, x y)
        points = np.round((centre + ends * radius_px) * 16).astype(int).tolist()
        widths = [max(1, int(round(w * radius_px))) for _, _, w in segments]
        for (pa, pb), thickness in zip(points, widths):
            cv2.line(vessels, tuple(pa), tuple(pb), 1, thickness, cv2.LINE_8, shift=4)
    label[(vessels > 0) & (label == RETINA)] = VESSEL
    return label


def _check(c: VesselControls) -> None:
    from ..errors import SynthguiError

    if c.eye not in (None, "left", "right"):
        raise SynthguiError(f"eye must be 'left' or 'right', not {c.eye!r}")
    for name in ("density", "calibre", "tortuosity"):
        value = getattr(c, name)
        if not 0 <= value <= 4:
            raise SynthguiError(f"vessel {name} is a multiple of the fitted value (0 to 4), not {value}")


# --- fitting from real masks ----------------------------------------------------------------------


def field_of_view(image_rgb: np.ndarray, threshold: int = 20) -> np.ndarray:
    """The bright disc of a fundus photograph (the dark border is below a low red-channel threshold)."""
    fov = (image_rgb[..., 0] > threshold).astype(np.uint8)
    fov = cv2.morphologyEx(fov, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, labels, st, _ = cv2.connectedComponentsWithStats(fov, connectivity=8)
    if n <= 1:
        return fov.astype(bool)
    keep = labels == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours(keep.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(fov)
    cv2.drawContours(filled, contours, -1, 1, -1)
    return filled.astype(bool)


def fov_circle(fov: np.ndarray) -> tuple[float, float, float]:
    """Centre (x, y) and radius of the field of view; its width, since HRF cuts the top and bottom."""
    ys, xs = np.nonzero(fov)
    return (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2, (xs.max() - xs.min()) / 2


def locate_disc(vessels: np.ndarray, fov: np.ndarray) -> tuple[float, float]:
    """Where the thick vessels converge (the optic disc), in FOV radii from its centre."""
    v = (vessels > 0).astype(np.uint8)
    width = cv2.distanceTransform(v, cv2.DIST_L2, 3)
    cx, cy, r = fov_circle(fov)
    thick = (width >= np.quantile(width[width > 0], 0.9)).astype(np.float32)
    density = cv2.GaussianBlur(thick, (0, 0), sigmaX=r * 0.08)
    y, x = np.unravel_index(int(np.argmax(density)), density.shape)
    return (x - cx) / r, (y - cy) / r


def fit_vessels(real: dict[str, dict], discs: list[tuple[float, float]], fov_radii: list[float],
                grid: dict[str, tuple[float, ...]] | None = None, n: int = 8) -> tuple[VesselParams, list[dict]]:
    """Fitted parameters: disc position and FOV size measured directly, calibre and branching by search.

    ``real`` holds the real masks' summaries per measure (``stats.summarise``). Trunk width,
    branch rate and the thinnest calibre are chosen on a grid to minimise the summed normalised W1 distance of the
    generated measures from the real ones (``n`` trees per grid point); the search is returned.
    """
    from .stats import VESSEL_ANALYSIS_SIZE, VESSEL_MEASURES, compare_to_summary, vessel_measures

    d = np.asarray(discs, np.float64)
    base = VesselParams(
        fov_radius=float(np.median(fov_radii)),
        disc_x=float(np.mean(np.abs(d[:, 0]))),
        disc_x_sd=float(np.std(np.abs(d[:, 0]))),
        disc_y=float(np.mean(d[:, 1])),
        disc_y_sd=float(np.std(d[:, 1])),
    )
    grid = grid or {"trunk_width": (0.018, 0.02, 0.022), "branch_rate": (3.5, 4.5), "min_width": (0.0025, 0.003),
                    "taper": (0.004, 0.007), "gap_rate": (8.0, 15.0, 20.0), "gap_length": (0.04, 0.08)}
    names = list(grid)
    search = []
    for values in itertools.product(*(grid[k] for k in names)):
        chosen = dict(zip(names, values))
        params = VesselParams(**{**asdict(base), **chosen})
        gen = []
        for seed in range(n):
            lm = propose_vessels(VESSEL_ANALYSIS_SIZE, 10_000 + seed, params)
            gen.append(vessel_measures(lm == VESSEL, lm != OUTSIDE))
        cost = sum(compare_to_summary(m, [g[m] for g in gen], real[m]).normalised for m in VESSEL_MEASURES)
        search.append({**chosen, "cost": round(float(cost), 4)})
    best = min(search, key=lambda r: r["cost"])
    chosen = {k: best[k] for k in names}
    return VesselParams(**{**asdict(base), **chosen}), search
