"""Per-image diagnoses for skin datasets that have them, as lesion classes of a DermGAN map.

DermGAN and MelanoGANs condition the generator on the diagnosis by the lesion's colour in the input
map. Two public CSV layouts are read: HAM10000's metadata (``image_id``, ``dx``, ``lesion_id``) and
the ISIC 2018 task 3 ground truth (``image`` plus one 0/1 column per class).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .card import LabelClass
from .errors import SynthguiError

# Saturated colours far from every skin tone in Lab; the first is the single-class lesion green.
DIAGNOSIS_COLOURS = ((0, 255, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0), (255, 0, 0),
                     (128, 0, 255), (0, 128, 255), (255, 128, 0), (128, 255, 0), (0, 255, 128), (255, 0, 128))
IMAGE_COLUMNS = ("image_id", "image", "isic_id", "name")


@dataclass(frozen=True)
class Diagnosis:
    dx: str
    case: str | None = None  # lesion or patient id, when the table has one (HAM10000's lesion_id)


def read_diagnoses(path: str | Path) -> dict[str, Diagnosis]:
    """Image stem -> diagnosis, from either CSV layout; a clear error for anything else."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SynthguiError(f"cannot read diagnosis table {path}: {exc}") from None
    if not rows:
        raise SynthguiError(f"diagnosis table {path} has no rows")
    columns = list(rows[0])
    image_col = next((c for c in IMAGE_COLUMNS if c in columns), None)
    if image_col is None:
        raise SynthguiError(f"diagnosis table {path}: no image column (one of {', '.join(IMAGE_COLUMNS)})")
    out: dict[str, Diagnosis] = {}
    if "dx" in columns:
        for r in rows:
            out[Path(r[image_col]).stem] = Diagnosis(r["dx"].strip(), (r.get("lesion_id") or r.get("patient_id") or None))
        return out
    classes = [c for c in columns if c != image_col]
    for r in rows:
        try:
            scores = [float(r[c]) for c in classes]
        except (TypeError, ValueError):
            raise SynthguiError(f"diagnosis table {path}: expected a 'dx' column or 0/1 class columns "
                                f"({', '.join(classes)})") from None
        if max(scores) <= 0:
            continue
        out[Path(r[image_col]).stem] = Diagnosis(classes[scores.index(max(scores))])
    return out


def diagnosis_classes(names: list[str]) -> list[LabelClass]:
    """Class 1.. in the order given, each in its own colour."""
    if len(names) > len(DIAGNOSIS_COLOURS):
        raise SynthguiError(f"{len(names)} diagnoses; at most {len(DIAGNOSIS_COLOURS)} lesion classes are supported")
    return [LabelClass(i + 1, name, DIAGNOSIS_COLOURS[i]) for i, name in enumerate(names)]
