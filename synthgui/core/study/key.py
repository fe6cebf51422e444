"""The answer key: which case is real and which synthetic, kept apart from the study folder.

The rating session never opens this file; only ``study analyze`` reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import SynthguiError
from .design import POSITIVE_CLASS


@dataclass
class KeyEntry:
    case_id: str
    truth: str  # "real" or "synthetic"
    phase: str
    source: str  # input file the case was made from
    sha256: str  # of the study image, so a swapped image is detected
    provenance: dict = field(default_factory=dict)  # generator identity, seed, mask for generated images


@dataclass
class AnswerKey:
    study_id: str
    entries: list[KeyEntry]
    leak_audit: list[dict] = field(default_factory=list)
    positive_class: str = POSITIVE_CLASS

    def truth(self) -> dict[str, str]:
        return {e.case_id: e.truth for e in self.entries}

    def save(self, path: Path) -> None:
        data = {"study_id": self.study_id, "positive_class": self.positive_class,
                "cases": [asdict(e) for e in self.entries], "leak_audit": self.leak_audit}
        write_text_atomic(path, json.dumps(data, indent=1))
        if os.name == "posix":
            os.chmod(path, 0o600)  # the coordinator's eyes only, on a shared workstation


def load_key(path: str | Path) -> AnswerKey:
    path = Path(path)
    if not path.is_file():
        raise SynthguiError(f"answer key not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [KeyEntry(**e) for e in data["cases"]]
        key = AnswerKey(str(data["study_id"]), entries, data.get("leak_audit", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise SynthguiError(f"{path} is not a synthgui answer key ({exc})") from None
    bad = [e.case_id for e in entries if e.truth not in ("real", "synthetic")]
    if bad:
        raise SynthguiError(f"{path}: case {bad[0]} has a truth other than real/synthetic")
    return key
