"""Memorisation check: how close each exported image is to its nearest training image.

Synthetic sets are sold as anonymised data (Shin et al., US-DCGAN); that only holds if the
generator does not reproduce its training images. Each image is reduced to a fingerprint: a
32x32 colour thumbnail (area-averaged, which removes noise and JPEG artefacts), standardised to
zero mean and unit variance so global brightness or contrast changes do not hide a copy. The
distance between two fingerprints is their RMS difference, ``sqrt(2 * (1 - r))`` for the Pearson
correlation ``r`` of the thumbnails: 0 for a copy, about 1.4 for unrelated images.
Training images are also compared flipped and rotated by 180 degrees, as training augments them.

``DEFAULT_THRESHOLD`` = 0.15 (r > 0.989): a JPEG-recompressed, noised (sigma 8/255) or slightly
re-toned copy stays below about 0.1, while among 400 ISIC 2018 dermoscopy images no two distinct ones
came closer than 0.29 (5th percentile of nearest distances 0.34, flips included; measured 2026-11-22).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .errors import SynthguiError

DEFAULT_THRESHOLD = 0.15
THUMB = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def fingerprint(image: np.ndarray) -> np.ndarray:
    """Standardised 32x32x3 thumbnail as a flat float32 vector of unit RMS."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    thumb = cv2.resize(img[..., :3].astype(np.float32), (THUMB, THUMB), interpolation=cv2.INTER_AREA).ravel()
    thumb -= thumb.mean()
    norm = float(np.sqrt((thumb**2).mean()))
    return (thumb / norm if norm > 1e-6 else thumb).astype(np.float32)


def _variants(image: np.ndarray) -> list[np.ndarray]:
    return [image, image[:, ::-1], image[::-1, :], image[::-1, ::-1]]


def read_rgb(path: Path) -> np.ndarray | None:
    """An image as RGB, decoded at reduced size where the format allows (JPEG); None if unreadable."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_4) if path.suffix.lower() in (".jpg", ".jpeg") else None
    if img is None:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        return None
    return img[..., ::-1]


def image_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthguiError(f"training image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SynthguiError(f"no images in training folder {folder}")
    return files


@dataclass
class TrainingIndex:
    """Fingerprints of the training images (each in its 4 flip/rotation variants)."""

    names: list[str]
    prints: np.ndarray  # (4 * len(names), D)

    @classmethod
    def build(cls, files: Sequence[Path], progress: Callable[[int, int], None] | None = None) -> "TrainingIndex":
        names, prints = [], []
        for i, path in enumerate(files):
            img = read_rgb(path)
            if img is not None:
                names.append(str(path))
                prints.extend(fingerprint(v) for v in _variants(img))
            if progress is not None:
                progress(i + 1, len(files))
        if not names:
            raise SynthguiError("none of the training images could be read")
        return cls(names, np.stack(prints))

    def nearest(self, images: Iterable[np.ndarray]) -> list[tuple[float, str]]:
        """(distance, training file) of the nearest training image for each image."""
        out = []
        dim = self.prints.shape[1]
        for img in images:
            fp = fingerprint(img)
            corr = self.prints @ fp / dim
            best = int(np.argmax(corr))
            distance = float(np.sqrt(max(0.0, 2.0 * (1.0 - corr[best]))))
            out.append((distance, self.names[best // 4]))
        return out


@dataclass
class PrivacyRow:
    image: str
    nearest_training_image: str
    distance: float
    flagged: bool


@dataclass
class PrivacyReport:
    rows: list[PrivacyRow]
    threshold: float
    training_dir: str
    training_count: int

    @property
    def flagged(self) -> list[PrivacyRow]:
        return [r for r in self.rows if r.flagged]

    def summary_lines(self) -> list[str]:
        if not self.rows:
            return ["No images were checked."]
        d = np.array([r.distance for r in self.rows])
        lines = [
            f"Checked {len(self.rows)} exported images against {self.training_count} training images in `{self.training_dir}` "
            f"(fingerprint distance, 0 = identical, ~1.4 = unrelated; near-copy threshold {self.threshold}).",
            f"Nearest-training-image distance: min {d.min():.3f}, median {np.median(d):.3f}, max {d.max():.3f}.",
            f"**{len(self.flagged)} near-copies flagged.**" if self.flagged else "No near-copies of training images found.",
        ]
        for r in self.flagged[:50]:
            lines.append(f"- `{r.image}` is {r.distance:.3f} from training image `{r.nearest_training_image}`")
        if len(self.flagged) > 50:
            lines.append(f"- ... and {len(self.flagged) - 50} more (see privacy.csv)")
        return lines


def check_images(
    images: Sequence[tuple[str, np.ndarray]] | Iterable[tuple[str, np.ndarray]],
    index: TrainingIndex,
    training_dir: str,
    threshold: float = DEFAULT_THRESHOLD,
) -> PrivacyReport:
    rows = []
    for name, img in images:
        (distance, nearest), = index.nearest([img])
        rows.append(PrivacyRow(name, nearest, round(distance, 4), distance < threshold))
    return PrivacyReport(rows, threshold, training_dir, len(index.names))
