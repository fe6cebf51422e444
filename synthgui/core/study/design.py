"""What a study is: its options, its cases, and the reader-facing ``study.json``.

The reader-facing file holds case ids and image names only (plus the truth of practice cases,
which readers are shown as feedback anyway). The truth of scored cases lives in the answer key,
a separate file written outside the study folder (see ``build.py`` and ``key.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import SynthguiError

STUDY_FILE = "study.json"
FORMAT_VERSION = 1
PIPELINE_VERSION = "normalise-1"
CALLS = ("real", "synthetic")
POSITIVE_CLASS = "synthetic"


@dataclass
class StudyOptions:
    """Coordinator choices that shape what readers see and are asked."""

    confidence: bool = True  # ask a 1-5 confidence after the real/synthetic call
    diagnoses: list[str] = field(default_factory=list)  # optional diagnosis question (empty = off)
    note: bool = False  # optional free-text note per case
    disclose_ratio: bool = False  # tell readers how many cases are synthetic
    time_limit_s: float | None = None  # per case; None = no limit
    blank_ms: int = 500  # blank screen between cases, so one image never primes the next
    practice_feedback: bool = True  # practice cases show the right answer after each call
    allow_back: bool = False  # revisiting a case invites second-guessing: off unless asked for
    allow_zoom: bool = True  # zoom is allowed and logged
    size: int = 512  # every case image is size x size after normalisation
    dicom_window: tuple[float, float] | None = None  # one (centre, width) preset for every DICOM

    def validate(self) -> None:
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise SynthguiError("the time limit per case must be positive (or none)")
        if self.blank_ms < 0 or self.blank_ms > 10_000:
            raise SynthguiError("the blank interval must be between 0 and 10000 ms")
        if not 16 <= self.size <= 4096:
            raise SynthguiError("the study image size must be between 16 and 4096 pixels")
        if len(self.diagnoses) > 9:
            raise SynthguiError("at most 9 diagnoses (they are chosen with the keys 1-9)")

    @classmethod
    def from_dict(cls, data: dict) -> "StudyOptions":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("dicom_window") is not None:
            known["dicom_window"] = tuple(known["dicom_window"])
        return cls(**known)


@dataclass
class Case:
    """One image a reader sees. ``truth`` is set for practice cases only."""

    case_id: str
    image: str  # file name inside the study's images/ folder
    phase: str = "main"  # "practice" or "main"
    truth: str | None = None


@dataclass
class Study:
    """The reader-facing study: everything the rating session may open."""

    study_id: str
    title: str
    created: str
    options: StudyOptions
    cases: list[Case]
    ratio_text: str | None = None
    pipeline: str = PIPELINE_VERSION
    folder: Path | None = None
    missing: list[str] = field(default_factory=list)  # case images not in images/ (opened without requiring them)

    def phase_cases(self, phase: str) -> list[Case]:
        return [c for c in self.cases if c.phase == phase]

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.case_id == case_id:
                return c
        raise SynthguiError(f"case {case_id} is not in study {self.study_id}")

    def image_path(self, case: Case) -> Path:
        if self.folder is None:
            raise SynthguiError("study has no folder")
        return self.folder / "images" / case.image

    def to_json(self) -> str:
        data = {
            "format": FORMAT_VERSION,
            "study_id": self.study_id,
            "title": self.title,
            "created": self.created,
            "pipeline": self.pipeline,
            "options": asdict(self.options),
            "ratio_text": self.ratio_text,
            "cases": [
                {k: v for k, v in asdict(c).items() if not (k == "truth" and c.phase != "practice")}
                for c in self.cases
            ],
        }
        return json.dumps(data, indent=1)

    def save(self, folder: Path) -> None:
        if any(c.phase != "practice" and c.truth is not None for c in self.cases):
            raise SynthguiError("internal: a scored case carries its truth into the reader-facing study")
        write_text_atomic(Path(folder) / STUDY_FILE, self.to_json())


def load_study(folder: str | Path, require_images: bool = True) -> Study:
    """Open a reader-facing study folder; a clear error when it is not one. ``require_images=False``
    (the rating viewer) lists missing case images in ``missing`` instead: one lost file must not
    stop every reader, who are told and go on past that case."""
    folder = Path(folder)
    if folder.is_file() and folder.name == STUDY_FILE:
        folder = folder.parent
    path = folder / STUDY_FILE
    if not path.is_file():
        raise SynthguiError(f"{folder} is not a study folder (no {STUDY_FILE}); build one with 'synthgui study build'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = [Case(**c) for c in data["cases"]]
        study = Study(
            study_id=str(data["study_id"]),
            title=str(data.get("title", "")),
            created=str(data.get("created", "")),
            options=StudyOptions.from_dict(data.get("options", {})),
            cases=cases,
            ratio_text=data.get("ratio_text"),
            pipeline=str(data.get("pipeline", "")),
            folder=folder,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SynthguiError(f"{path} is damaged or not a synthgui study ({exc})") from None
    missing = [c.image for c in cases if not (folder / "images" / c.image).is_file()]
    if missing and require_images:
        raise SynthguiError(f"study {folder} lacks {len(missing)} case image(s), e.g. images/{missing[0]}")
    study.missing = missing
    return study
