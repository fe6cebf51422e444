"""Realism measures for masks themselves, and distances between their distributions.

Stage 1 of the dual GAN pipeline is only useful if its masks look like real ones before any
image is rendered, so generated lesion and vessel masks are compared with the ISIC and
CHASE_DB1/HRF masks on shape statistics a reader would notice: size, border, elongation and
asymmetry for lesions; density, calibre and branching of the vessel tree for fundus. Every mask
is measured at a fixed analysis size, because perimeters and skeleton counts depend on resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LESION_ANALYSIS_SIZE = 256
VESSEL_ANALYSIS_SIZE = 512
LESION_MEASURES = ("area_fraction", "compactness", "eccentricity", "asymmetry", "components")
VESSEL_MEASURES = ("density", "mean_width", "branch_points", "end_points", "skeleton_length")
QUANTILE_LEVELS = tuple(np.round(np.linspace(0.05, 0.95, 19), 2).tolist())


def _binary_at(mask: np.ndarray, size: int) -> np.ndarray:
    """A boolean mask resampled to size x size by area averaging (thin structures survive better than nearest)."""
    m = (np.asarray(mask) > 0).astype(np.float32)
    if m.shape != (size, size):
        m = cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA)
    return m >= 0.5


def largest_component(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    return labels == (1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))


def asymmetry_index(region: np.ndarray) -> float:
    """Mean, over both principal axes, of the area not covered by the region's mirror image, over its area.

    The ISIC/ABCD notion of asymmetry: 0 for a shape symmetric about both axes, growing with lobes.
    """
    ys, xs = np.nonzero(region)
    if len(xs) < 3:
        return 0.0
    cx, cy = xs.mean(), ys.mean()
    _, vecs = np.linalg.eigh(np.cov(np.stack([xs - cx, ys - cy])))
    img = region.astype(np.uint8)
    scores = []
    for u in vecs.T:  # reflect about the line through the centroid along each principal axis
        m = 2 * np.outer(u, u) - np.eye(2)
        t = np.array([cx, cy]) - m @ np.array([cx, cy])
        mirrored = cv2.warpAffine(img, np.hstack([m, t[:, None]]), img.shape[::-1], flags=cv2.INTER_NEAREST)
        scores.append(np.count_nonzero(mirrored != img) / (2.0 * len(xs)))
    return float(np.mean(scores))


def lesion_measures(mask: np.ndarray, size: int = LESION_ANALYSIS_SIZE) -> dict[str, float]:
    """Area fraction, compactness (perimeter^2 / 4 pi area, 1 for a disc), eccentricity, asymmetry, component count."""
    m = _binary_at(mask, size)
    region = largest_component(m)
    area = float(region.sum())
    if area < 4:
        return dict(area_fraction=0.0, compactness=1.0, eccentricity=0.0, asymmetry=0.0, components=0.0)
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = float(sum(cv2.arcLength(c, True) for c in contours))
    ys, xs = np.nonzero(region)
    evals = np.sort(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64))))
    ecc = float(np.sqrt(max(0.0, 1.0 - evals[0] / evals[1]))) if evals[1] > 0 else 0.0
    n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    components = int((stats[1:, cv2.CC_STAT_AREA] >= 0.001 * size * size).sum()) if n > 1 else 0
    return dict(
        area_fraction=area / (size * size),
        compactness=perimeter**2 / (4 * np.pi * area),
        eccentricity=ecc,
        asymmetry=asymmetry_index(region),
        components=float(components),
    )


def skeleton_points(skeleton: np.ndarray) -> tuple[int, int]:
    """Branch points (3+ skeleton neighbours) and end points (1 neighbour), counting adjacent branch pixels once."""
    sk = skeleton.astype(np.uint8)
    neighbours = cv2.filter2D(sk, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT) - sk
    ends = int(((neighbours == 1) & (sk == 1)).sum())
    branch = ((neighbours >= 3) & (sk == 1)).astype(np.uint8)
    n_branch = cv2.connectedComponents(branch, connectivity=8)[0] - 1
    return int(n_branch), ends


def vessel_measures(vessels: np.ndarray, fov: np.ndarray, size: int = VESSEL_ANALYSIS_SIZE) -> dict[str, float]:
    """Vessel density in the field of view, mean calibre, branch and end points, skeleton length.

    Both masks are cropped to the field of view's bounding box and resampled so that it spans
    ``size`` pixels; counts are per field of view of that size, so any input resolution compares.
    """
    from skimage.morphology import skeletonize

    fov_b = np.asarray(fov) > 0
    ys, xs = np.nonzero(fov_b)
    if len(xs) == 0:
        raise ValueError("empty field of view")
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    side = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
    # pad to a square so the aspect ratio is kept (HRF's field of view is cut at the top and bottom)
    def square(a: np.ndarray) -> np.ndarray:
        a = a[box].astype(np.float32)
        out = np.zeros((side, side), np.float32)
        oy, ox = (side - a.shape[0]) // 2, (side - a.shape[1]) // 2
        out[oy : oy + a.shape[0], ox : ox + a.shape[1]] = a
        return out

    f = _binary_at(square(fov_b), size)
    v = _binary_at(square((np.asarray(vessels) > 0) & fov_b), size) & f
    fov_area = max(1.0, float(f.sum()))
    skeleton = skeletonize(v)
    length = float(skeleton.sum())
    branch, ends = skeleton_points(skeleton)
    return dict(
        density=float(v.sum()) / fov_area,
        mean_width=float(v.sum()) / max(1.0, length),
        branch_points=float(branch),
        end_points=float(ends),
        skeleton_length=length / fov_area,
    )


@dataclass
class Comparison:
    """How far one measure's generated distribution lies from the real one."""

    measure: str
    real_median: float
    generated_median: float
    wasserstein: float  # W1 in the measure's units
    normalised: float  # W1 over the real distribution's spread (interquantile range 5-95 % / 3.29)
    ks: float | None = None  # two-sample Kolmogorov-Smirnov statistic, when both samples are at hand


def summarise(values: list[float] | np.ndarray) -> dict[str, object]:
    """What a test keeps of a real distribution: quantiles, mean and spread (small enough to commit)."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "quantiles": [float(q) for q in np.quantile(v, QUANTILE_LEVELS)],
    }


def _spread(quantiles: np.ndarray, std: float) -> float:
    spread = (quantiles[-1] - quantiles[0]) / 3.29  # the 5-95 % range of a normal is 3.29 sigma
    return float(spread if spread > 1e-9 else max(std, 1e-9))


def compare_to_summary(measure: str, generated: list[float] | np.ndarray, real: dict) -> Comparison:
    """W1 between generated values and a real distribution known only by its quantiles.

    W1 is the mean distance between the two quantile functions; on matching quantile levels it
    is approximated by the mean absolute difference of the quantiles.
    """
    gq = np.quantile(np.asarray(generated, np.float64), QUANTILE_LEVELS)
    rq = np.asarray(real["quantiles"], np.float64)
    w = float(np.mean(np.abs(gq - rq)))
    return Comparison(measure, float(rq[len(rq) // 2]), float(gq[len(gq) // 2]), w, w / _spread(rq, real["std"]))


def compare_samples(measure: str, generated: list[float] | np.ndarray, real: list[float] | np.ndarray) -> Comparison:
    """W1 (scipy) and the two-sample KS statistic, with both samples in full."""
    from scipy.stats import ks_2samp, wasserstein_distance

    g, r = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    w = float(wasserstein_distance(g, r))
    rq = np.quantile(r, QUANTILE_LEVELS)
    return Comparison(measure, float(np.median(r)), float(np.median(g)), w, w / _spread(rq, float(r.std())),
                      float(ks_2samp(g, r).statistic))
