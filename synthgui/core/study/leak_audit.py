"""Leak audit: could file-level properties tell real from synthetic without looking at the lesion?

Readers (and a curious reader with a file browser) must not be able to separate the classes by
byte size, dimensions, format, metadata or global colour statistics, nor by how much the pipeline
enlarged one class (enlarged images look soft). For each feature we ask
whether it separates the classes better than chance (Mann-Whitney AUC with a Bonferroni-corrected
p-value), and whether all features together do (cross-validated nearest-centroid classifier
against the majority-class rate, exact binomial test). The audit runs on the input files (to show
what the pipeline had to remove) and on the study's own images (the verdict that matters).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..dicom import is_dicom
from .normalise import read_pixels

FEATURES = ("bytes", "width", "height", "format", "metadata_items", "mean_r", "mean_g", "mean_b", "std_luma",
            "enlargement")  # the last for study images only: see ``enlargement``
FORMAT_CODES = {"PNG": 0, "JPEG": 1, "TIFF": 2, "BMP": 3, "WEBP": 4, "DICOM": 5}
ALPHA = 0.05
MIN_EFFECT = 0.15  # |AUC - 0.5| below this is not worth a warning even when "significant"


@dataclass
class FeatureResult:
    name: str
    auc: float  # P(feature of a synthetic > feature of a real), ties half
    p_value: float  # two-sided Mann-Whitney
    p_adjusted: float  # Bonferroni over the features
    mean_real: float
    mean_synthetic: float
    leaks: bool


@dataclass
class LeakAudit:
    stage: str  # "input files" or "study images"
    n_real: int
    n_synthetic: int
    features: list[FeatureResult] = field(default_factory=list)
    classifier_accuracy: float | None = None
    chance_rate: float | None = None
    classifier_p: float | None = None
    classifier_leaks: bool = False

    @property
    def leaks(self) -> bool:
        return self.classifier_leaks or any(f.leaks for f in self.features)

    @property
    def conclusive(self) -> bool:
        """Whether a leak could have shown at all: with very few images even a perfect split of the
        classes is as likely as chance, so finding none says nothing."""
        n = self.n_real + self.n_synthetic
        if min(self.n_real, self.n_synthetic) < 2:
            return False
        return (max(self.n_real, self.n_synthetic) / n) ** n < ALPHA  # the classifier's p for a perfect split

    def all_clear(self) -> str | None:
        """What to tell the coordinator when no feature leaks (None when one does): the all-clear only
        when the audit could have seen a leak."""
        if self.leaks:
            return None
        if self.conclusive:
            return "no file-level feature of the study images separates real from synthetic"
        return (f"too few scored images ({self.n_real} real, {self.n_synthetic} synthetic) to tell whether file "
                "features separate real from synthetic")

    def warnings(self) -> list[str]:
        out = [f"{self.stage}: '{f.name}' separates real from synthetic (AUC {f.auc:.2f}, "
               f"adjusted p={f.p_adjusted:.2g}; mean real {f.mean_real:.4g}, synthetic {f.mean_synthetic:.4g})"
               for f in self.features if f.leaks]
        if self.classifier_leaks:
            out.append(f"{self.stage}: file features together classify real/synthetic with cross-validated accuracy "
                       f"{self.classifier_accuracy:.2f} against chance {self.chance_rate:.2f} (p={self.classifier_p:.2g})")
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["leaks"] = self.leaks
        d["conclusive"] = self.conclusive
        d["warnings"] = self.warnings()
        return d


def file_features(path: str | Path) -> dict[str, float]:
    """The properties of one file that a reader's computer could reveal without any expertise."""
    from PIL import Image

    path = Path(path)
    feats: dict[str, float] = {"bytes": float(path.stat().st_size)}
    if is_dicom(path):
        import pydicom

        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        feats.update(width=float(ds.get("Columns", 0)), height=float(ds.get("Rows", 0)),
                     format=float(FORMAT_CODES["DICOM"]), metadata_items=float(len(ds)))
    else:
        with Image.open(path) as img:
            exif = img.getexif()
            meta = len(exif) + len([k for k in img.info if k not in ("dpi",)])
            feats.update(width=float(img.width), height=float(img.height),
                         format=float(FORMAT_CODES.get(img.format or "", 9)), metadata_items=float(meta))
    rgb = read_pixels(path).astype(np.float32)
    feats["mean_r"], feats["mean_g"], feats["mean_b"] = (float(rgb[..., i].mean()) for i in range(3))
    feats["std_luma"] = float((rgb @ np.array([0.299, 0.587, 0.114], np.float32)).std())
    return feats


def enlargement(source: dict[str, float], size: int) -> float:
    """How many times the pipeline enlarged a file's square to ``size`` (1 when it shrank it). An
    enlarged image is visibly soft: enlarging one class only (a 256 px generator in a 512 px study of
    larger photos) is a tell that no property of the study file itself shows."""
    return max(1.0, size / max(1.0, min(source["width"], source["height"])))


def audit(real: list[dict[str, float]], synthetic: list[dict[str, float]], stage: str) -> LeakAudit:
    """Test every feature that all the files have, and all of them together, for a class difference."""
    from scipy.stats import binomtest, mannwhitneyu

    result = LeakAudit(stage, len(real), len(synthetic))
    if len(real) < 2 or len(synthetic) < 2:
        return result
    names = [k for k in FEATURES if all(k in f for f in real + synthetic)]
    xr = np.array([[f[k] for k in names] for f in real], dtype=np.float64)
    xs = np.array([[f[k] for k in names] for f in synthetic], dtype=np.float64)
    n_tests = len(names)
    for j, name in enumerate(names):
        a, b = xs[:, j], xr[:, j]
        if np.ptp(np.concatenate([a, b])) == 0:
            auc, p = 0.5, 1.0
        else:
            test = mannwhitneyu(a, b, alternative="two-sided")
            auc, p = float(test.statistic) / (len(a) * len(b)), float(test.pvalue)
        p_adj = min(1.0, p * n_tests)
        result.features.append(FeatureResult(name, auc, p, p_adj, float(b.mean()), float(a.mean()),
                                             bool(p_adj < ALPHA and abs(auc - 0.5) >= MIN_EFFECT)))
    x = np.vstack([xr, xs])
    y = np.concatenate([np.zeros(len(xr), int), np.ones(len(xs), int)])
    predicted = _cross_validated_nearest_centroid(x, y)
    correct = int((predicted == y).sum())
    chance = max(y.mean(), 1 - y.mean())
    test = binomtest(correct, len(y), chance, alternative="greater")
    result.classifier_accuracy = correct / len(y)
    result.chance_rate = float(chance)
    result.classifier_p = float(test.pvalue)
    result.classifier_leaks = bool(test.pvalue < ALPHA and result.classifier_accuracy - chance >= MIN_EFFECT)
    return result


def _cross_validated_nearest_centroid(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Predictions for each row from a model that never saw it: z-scored features, nearer class mean.

    Deliberately simple: if something this plain separates the classes, the study leaks.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    predicted = np.zeros(len(y), int)
    for k in range(min(folds, len(y))):
        test_idx = order[k::folds]
        train = np.setdiff1d(order, test_idx)
        xt, yt = x[train], y[train]
        if len(np.unique(yt)) < 2:
            predicted[test_idx] = int(round(yt.mean()))
            continue
        mu, sd = xt.mean(0), xt.std(0)
        sd[sd == 0] = 1.0
        z, zt = (xt - mu) / sd, (x[test_idx] - mu) / sd
        c0, c1 = z[yt == 0].mean(0), z[yt == 1].mean(0)
        d0 = ((zt - c0) ** 2).sum(1)
        d1 = ((zt - c1) ** 2).sum(1)
        predicted[test_idx] = (d1 < d0).astype(int)
    return predicted


def audit_files(real: list[Path], synthetic: list[Path], stage: str = "input files") -> LeakAudit:
    return audit([file_features(p) for p in real], [file_features(p) for p in synthetic], stage)
