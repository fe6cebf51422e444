"""The privacy check applied to a finished (or partial) export folder: reads the images named in
the manifest, writes ``privacy.csv`` / ``privacy.json`` and puts the summary into the dataset card."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_text_atomic
from ..errors import SynthguiError
from ..privacy import DEFAULT_THRESHOLD, PrivacyReport, TrainingIndex, check_images, image_files, read_rgb
from . import manifest


def _read_exported(path: Path) -> np.ndarray | None:
    if path.suffix == ".dcm":
        import pydicom

        return pydicom.dcmread(str(path)).pixel_array
    return read_rgb(path) if path.suffix.lower() not in (".jpg", ".jpeg") else _read_full(path)


def _read_full(path: Path) -> np.ndarray | None:
    import cv2

    img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else img[..., ::-1]


def training_dir_from_card(plan: dict) -> str | None:
    """A training-image folder named in the model card (``training_data[].path``), if any exists."""
    weights = Path(plan["model"].get("path", ""))
    for entry in plan["model"].get("training_data", []) or []:
        raw = entry.get("path") or entry.get("images") if isinstance(entry, dict) else None
        if raw:
            candidate = Path(raw) if Path(raw).is_absolute() else weights.parent / raw
            if candidate.is_dir():
                return str(candidate)
    return None


def check_training_folder(training_dir: str | Path | None, model: dict) -> str:
    """The folder a privacy check compares with (``training_dir``, or the one the model card names;
    ``model`` as an export plan records it), checked before an export renders anything: it exists,
    can be read and holds at least one image that decodes. Returns it."""
    folder = training_dir or training_dir_from_card({"model": model})
    if not folder:
        raise SynthguiError("no training images to compare with: the model card names no training folder; "
                            "give one (--privacy-check DIR)")
    path = Path(folder)
    if not path.is_dir():
        raise SynthguiError(f"training image folder not found: {folder}" if not path.exists()
                            else f"training image folder {folder} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise SynthguiError(f"training image folder {folder} cannot be read (permission denied)")
    files = image_files(path)
    if not any(read_rgb(f) is not None for f in files):  # stops at the first that decodes
        raise SynthguiError(f"none of the {len(files)} images in training folder {folder} can be read")
    return str(path)


def run_privacy_check(
    out_dir: str | Path,
    training_dir: str | Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[str, int, int], None] | None = None,
) -> PrivacyReport:
    out_dir = Path(out_dir)
    plan = manifest.read_plan(out_dir)
    training_dir = training_dir or training_dir_from_card(plan)
    if not training_dir:
        raise SynthguiError("no training images to compare with: the model card names no training folder; give one")
    files = image_files(training_dir)
    index = TrainingIndex.build(files, (lambda i, n: progress("indexing training images", i, n)) if progress else None)
    rows = sorted(manifest.read_journal(out_dir), key=lambda r: r["id"])

    def exported():
        for i, row in enumerate(rows):
            img = _read_exported(out_dir / row["image"])
            if progress:
                progress("comparing", i + 1, len(rows))
            if img is not None:
                yield row["image"], img

    report = check_images(exported(), index, str(training_dir), threshold)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "nearest_training_image", "distance", "flagged"])
    for r in report.rows:
        writer.writerow([r.image, r.nearest_training_image, f"{r.distance:.4f}", "yes" if r.flagged else "no"])
    write_text_atomic(out_dir / manifest.PRIVACY_CSV, buffer.getvalue())
    summary = {"threshold": threshold, "training_dir": str(training_dir), "checked": len(report.rows),
               "flagged": [asdict(r) for r in report.flagged], "summary": report.summary_lines()}
    write_text_atomic(out_dir / manifest.PRIVACY_JSON, json.dumps(summary, indent=2) + "\n")
    manifest.write_card(out_dir, plan, rows)
    return report
