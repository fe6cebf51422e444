"""The export's records on disk: the plan (``export.json``), the journal (``manifest.jsonl``, one
row per finished image, appended only after the image's files are in place), the CSV twin written
from it, and the dataset card (``README.md``).

The journal is what makes an export resumable: a row exists only for an item whose files were
renamed into place, so after a crash the rows name exactly the finished items. A crash can leave
at most a torn last line (dropped on resume) and files without a row (rendered again and replaced,
which gives the same bytes because rendering is deterministic).
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from ..atomic import sync_folder, write_text_atomic
from ..errors import SynthguiError

PLAN = "export.json"
JOURNAL = "manifest.jsonl"
CSV = "manifest.csv"
CARD = "README.md"
PRIVACY_CSV = "privacy.csv"
PRIVACY_JSON = "privacy.json"

CSV_COLUMNS = [
    "id", "image", "mask", "aligned", "source", "source_kind", "skin_tone", "skin_tone_rgb", "condition",
    "size", "location", "offset", "rotation", "seed", "mode", "format", "model", "model_version",
    "model_sha256", "synthgui_version", "device", "time", "image_sha256",
]


PLAN_KEYS = ("model", "sources", "sweep", "options", "total")


def read_plan(out_dir: Path) -> dict[str, Any]:
    try:
        plan = json.loads((out_dir / PLAN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SynthguiError(f"{out_dir} holds no export to resume ({PLAN} is missing)") from None
    except (OSError, ValueError) as exc:
        raise SynthguiError(f"cannot read {out_dir / PLAN}: {exc}") from None
    # another program's export.json (a common name) would otherwise end in a KeyError
    if not (isinstance(plan, dict) and all(k in plan for k in PLAN_KEYS) and isinstance(plan["model"], dict)
            and all(k in plan["model"] for k in ("path", "sha256"))):
        raise SynthguiError(f"{out_dir / PLAN} is not a synthgui export plan: choose another folder")
    return plan


def write_plan(out_dir: Path, plan: dict[str, Any]) -> None:
    write_text_atomic(out_dir / PLAN, json.dumps(plan, indent=2) + "\n")


def read_journal(out_dir: Path) -> list[dict[str, Any]]:
    """Rows of the journal; a torn or unparsable line (a crash mid-append) is left out."""
    path = out_dir / JOURNAL
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "id" in row:
            rows.append(row)
    return rows


def rewrite_journal(out_dir: Path, rows: Iterable[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    write_text_atomic(out_dir / JOURNAL, text)


class Journal:
    """Appends rows under a lock; each row is flushed to the OS (it survives a killed process) and
    the file is fsynced every ``sync_every`` rows and on close (it survives a power cut up to there)."""

    def __init__(self, out_dir: Path, sync_every: int = 32, folders: tuple[Path, ...] = ()) -> None:
        self._fh = open(out_dir / JOURNAL, "ab")
        self._lock = threading.Lock()
        self._since_sync = 0
        self._sync_every = sync_every
        self._folders = folders  # synced before the journal: a row that survives a power cut has its files

    def _sync(self) -> None:
        for folder in self._folders:
            if folder.is_dir():
                sync_folder(folder)
        os.fsync(self._fh.fileno())

    def append(self, row: dict[str, Any]) -> None:
        data = (json.dumps(row, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            self._fh.write(data)
            self._fh.flush()
            self._since_sync += 1
            if self._since_sync >= self._sync_every:
                self._sync()
                self._since_sync = 0

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                self._sync()
                self._fh.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def write_csv(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in sorted(rows, key=lambda r: r["id"]):
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    write_text_atomic(out_dir / CSV, buffer.getvalue())


def _distinct(rows: list[dict[str, Any]], key: str) -> str:
    values = sorted({_cell(r.get(key)) or "as drawn / default" for r in rows})
    return ", ".join(values[:12]) + (f" (+{len(values) - 12} more)" if len(values) > 12 else "")


def write_card(out_dir: Path, plan: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The dataset card: what the set is, how it was made, what it may be used for, what is missing."""
    model = plan["model"]
    total, done = plan["total"], len(rows)
    opts = plan["options"]
    status = "complete" if done >= total - plan.get("skipped_items", 0) and done else "INCOMPLETE"
    lines = [
        f"# Synthetic image set: {model['name']} {model['version']}",
        "",
        "**Every image in this folder is synthetic**: rendered by a generative model from a mask, not taken of a patient.",
        "",
        f"- Status: {status}: {done} of {total} images"
        + (f" ({plan['skipped_items']} not made: their masks were skipped, see below)" if plan.get("skipped_items") else "")
        + ("" if status == "complete" else
            " (finish it with `synthgui export --out " + str(out_dir) + " --resume`)"),
        f"- Made with synthgui {plan['synthgui_version']} on {plan['created']}",
        f"- Model: {model['name']} version {model['version']}, weights SHA-256 `{model['sha256']}`",
        f"- Test-time mode: {opts['mode']}; device of the first run: {plan.get('device', '?')}",
        f"- Format: {opts['format']}" + (f" (quality {opts['quality']})" if opts["format"] == "jpeg" else "")
        + ("; aligned mask|image pairs in `aligned/train/` (pix2pix `--dataroot aligned`)" if opts.get("aligned") else ""),
        f"- Mask sources: {len(plan['sources'])}; sweep: {'random sample of ' + str(plan['sweep']['sample']) if plan['sweep'].get('sample') else 'full product'}",
        "",
        "## Parameters in this set",
        "",
        f"- Skin tones: {_distinct(rows, 'skin_tone')}",
        f"- Conditions: {_distinct(rows, 'condition')}",
        f"- Lesion sizes (scale factors): {_distinct(rows, 'size')}",
        f"- Locations (dx dy in pixels or random): {_distinct(rows, 'location')}",
        f"- Rotations (degrees): {_distinct(rows, 'rotation')}",
        f"- Seeds: {_distinct(rows, 'seed')}",
        *(f"- Note: {note}" for note in plan.get("notes", [])),
        "",
        "## Files",
        "",
        "- `images/`: the rendered images; `masks/`: the exact conditioning label map of each (paletted PNG, pixel value = class id; items that share a mask share one file through hard links where the disk allows them, so editing one in place edits them all)",
        f"- `{CSV}` / `{JOURNAL}`: one row per image with every parameter, the seed, the model identity and the image's SHA-256",
        f"- `{PLAN}`: the export's plan (used by `--resume`)",
        "",
        "Images are byte-identical when the same command is run again on the CPU. On a GPU, convolution kernels and "
        "half precision may change pixel values by a few levels between machines or driver versions, and between "
        "a fresh run and a resumed one (images are rendered in batches, and a resumed run batches them otherwise).",
    ]
    if model.get("training_data"):
        lines += ["", "## Model training data", ""]
        lines += [f"- {d.get('name', '?')} ({d.get('licence', 'licence unknown')}) {d.get('citation', '')}".rstrip() for d in model["training_data"]]
    lines += ["", "## Privacy check (nearest training image)", ""]
    privacy = out_dir / PRIVACY_JSON
    if privacy.exists():
        try:
            lines += json.loads(privacy.read_text(encoding="utf-8")).get("summary", [])
            lines.append(f"Per-image distances: `{PRIVACY_CSV}`.")
        except (OSError, ValueError):
            lines.append("The privacy report could not be read.")
    else:
        lines.append("Not run. Run `synthgui export --out DIR --resume --privacy-check TRAINING_DIR` to compare every image "
                     "with the model's training images before sharing this set.")
    skipped = plan.get("skipped") or []
    if skipped:
        lines += ["", "## Skipped masks", ""] + [f"- {s}" for s in skipped]
    write_text_atomic(out_dir / CARD, "\n".join(lines) + "\n")
