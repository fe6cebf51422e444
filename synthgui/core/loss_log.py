"""The CSV loss log of a training run: appended every few iterations, trimmed back on resume.

A run that resumes from a checkpoint repeats the iterations after it, so rows written past the
checkpoint are dropped first; otherwise the log would hold those iterations twice.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from .atomic import write_text_atomic


def append_row(path: Path, fields: Sequence[str], row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields))
        if new:
            writer.writeheader()
        writer.writerow(row)


def trim_after(path: Path, fields: Sequence[str], iteration: int) -> None:
    """Keep only the rows up to ``iteration`` (atomically)."""
    if not path.exists():
        return
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["iteration"]) <= iteration]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())
