"""Metrics for a model card: how close renders are to the real image of the same mask, whether the
generated set has the real set's colours, whether outputs copy training images, and whether a skin
model renders the skin tone it was asked for.

Everything takes RGB uint8 arrays (H, W, 3) of equal size; nothing here renders (the engine does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .skin_tones import delta_e76, ita_degrees, rgb_to_lab


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference on the [0, 1] scale (the training loss without its weight)."""
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))) / 255.0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(a, b, data_range=255))


@dataclass
class PairedScores:
    """Means over held-out pairs (generated vs the real image of the same mask)."""

    n: int
    l1: float
    ssim: float
    psnr: float


def paired_scores(generated: list[np.ndarray], real: list[np.ndarray]) -> PairedScores:
    if len(generated) != len(real) or not generated:
        raise ValueError("need the same, non-zero number of generated and real images")
    return PairedScores(
        n=len(generated),
        l1=float(np.mean([l1(g, r) for g, r in zip(generated, real)])),
        ssim=float(np.mean([ssim(g, r) for g, r in zip(generated, real)])),
        psnr=float(np.mean([psnr(g, r) for g, r in zip(generated, real)])),
    )


def colour_histogram(images: list[np.ndarray], bins: int = 8) -> np.ndarray:
    """Pooled, normalised joint RGB histogram of a set of images (bins^3 cells)."""
    pixels = np.concatenate([im[..., :3].reshape(-1, 3) for im in images]).astype(np.int64)
    idx = (pixels * bins // 256)
    flat = (idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2]
    hist = np.bincount(flat, minlength=bins**3).astype(np.float64)
    return hist / hist.sum()


def histogram_distance(set_a: list[np.ndarray], set_b: list[np.ndarray], bins: int = 8) -> float:
    """Hellinger distance between the sets' colour histograms: 0 = same colours, 1 = disjoint."""
    ha, hb = colour_histogram(set_a, bins), colour_histogram(set_b, bins)
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(ha * hb)))))


def _thumbs(images: list[np.ndarray], side: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA) for im in images]).astype(np.float32) / 255.0


def nearest_distances(queries: list[np.ndarray], references: list[np.ndarray], side: int = 64) -> np.ndarray:
    """For each query, the mean absolute difference to its nearest reference (thumbnails, [0, 1])."""
    q = _thumbs(queries, side).reshape(len(queries), -1)
    r = _thumbs(references, side).reshape(len(references), -1)
    best = np.full(len(q), np.inf)
    for start in range(0, len(r), 256):
        chunk = r[start:start + 256]
        d = np.abs(q[:, None, :] - chunk[None, :, :]).mean(axis=2)
        best = np.minimum(best, d.min(axis=1))
    return best


@dataclass
class MemorisationScores:
    """Nearest-training-image distance of generated images, against the same for real held-out images.

    A ratio well below 1 would mean outputs sit closer to training images than unseen real images do:
    a sign of copying. ``min_generated`` flags a single near-copy.
    """

    median_generated: float
    median_real_heldout: float
    ratio: float
    min_generated: float


def memorisation(generated: list[np.ndarray], real_heldout: list[np.ndarray], training: list[np.ndarray]) -> MemorisationScores:
    g = nearest_distances(generated, training)
    r = nearest_distances(real_heldout, training)
    return MemorisationScores(float(np.median(g)), float(np.median(r)), float(np.median(g) / max(np.median(r), 1e-9)), float(g.min()))


def rendered_skin_lab(image: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """Median Lab of the plain skin of a render (the same estimator that prepared the training maps)."""
    from .prepare import estimate_skin_lab

    return estimate_skin_lab(image, lesion)


@dataclass
class ToneRow:
    tone: str
    requested_lab: tuple[float, float, float]
    rendered_lab: tuple[float, float, float]
    delta_e: float  # mean CIE76 over the masks
    delta_e_max: float
    requested_ita: float
    rendered_ita: float


def tone_row(tone: str, requested_lab, renders: list[np.ndarray], lesions: list[np.ndarray]) -> ToneRow:
    """Colour difference between the requested tone and the skin of each render (non-lesion pixels)."""
    labs = np.stack([rendered_skin_lab(img, les) for img, les in zip(renders, lesions)])
    req = np.asarray(requested_lab, np.float64)
    de = delta_e76(labs, req[None])
    mean_lab = labs.mean(axis=0)
    return ToneRow(
        tone=tone,
        requested_lab=tuple(round(float(v), 1) for v in req),
        rendered_lab=tuple(round(float(v), 1) for v in mean_lab),
        delta_e=round(float(de.mean()), 2),
        delta_e_max=round(float(de.max()), 2),
        requested_ita=round(float(ita_degrees(req)), 1),
        rendered_ita=round(float(ita_degrees(mean_lab)), 1),
    )


def tone_table_markdown(rows: list[ToneRow]) -> str:
    lines = ["| tone | requested L*a*b* | rendered L*a*b* | Delta E (mean) | Delta E (max) | ITA requested | ITA rendered |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.tone} | {r.requested_lab} | {r.rendered_lab} | {r.delta_e} | {r.delta_e_max} | "
                     f"{r.requested_ita} | {r.rendered_ita} |")
    return "\n".join(lines)


def as_dict(obj) -> dict:
    return asdict(obj)


def skin_lab_of(image: np.ndarray) -> np.ndarray:
    """Lab of an RGB image (convenience for tests and reports)."""
    return rgb_to_lab(image)
