"""Where an export's masks come from: mask files (a folder, or the studio canvas saved into the
export folder) and random geometry. A source is a small record so the plan can be stored and
resumed; its label map is read only when an item needs it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..card import ModelCard
from ..errors import MaskError, SynthguiError
from ..masks import load_mask, save_mask

# Every random mask is a record of the export's plan (export.json, written when the export starts and
# again at the end of every run): 100,000 of them are 13 MB, listed and written in about two seconds
# before the first image. The export dialog offers as many.
MAX_RANDOM_MASKS = 100_000
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".gif", ".webp")
PROJECT_SUFFIXES = (".synthgui", ".sgproj")  # studio project files (synthgui.core.project)


@dataclass(frozen=True)
class MaskSource:
    kind: str  # "file", "random", "project", or "noise" (an unconditional generator: no mask)
    name: str  # what the manifest shows
    path: str = ""
    seed: int = 0
    controls: dict[str, Any] = field(default_factory=dict)  # random geometry: propose()'s controls

    def to_json(self) -> dict[str, Any]:
        # ``asdict``'s result without its deep copies (controls hold numbers and tuples): a plan can hold 100,000
        return {"kind": self.kind, "name": self.name, "path": self.path, "seed": self.seed, "controls": dict(self.controls)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MaskSource":
        controls = {k: tuple(v) if isinstance(v, list) else v for k, v in (data.get("controls") or {}).items()}
        return cls(**{**data, "controls": controls})


def folder_sources(folder: str | Path) -> list[MaskSource]:
    """Every image file in ``folder`` (sorted, so the order and the names are stable)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthguiError(f"mask folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MASK_SUFFIXES + PROJECT_SUFFIXES)
    if not files:
        raise SynthguiError(f"no mask images ({', '.join(MASK_SUFFIXES)}) in {folder}")
    return [MaskSource("project" if p.suffix.lower() in PROJECT_SUFFIXES else "file", p.name, str(p.resolve())) for p in files]


def canvas_source(label_map: np.ndarray, out_dir: Path, card: ModelCard) -> MaskSource:
    """The studio's current mask, saved into the export folder so the export can be resumed from disk."""
    path = out_dir / "sources" / "canvas.png"
    save_mask(path, label_map, card)
    return MaskSource("file", "canvas", str(path.resolve()))


def geometry_module():
    """``synthgui.core.geometry`` when it is installed, else None."""
    try:
        return importlib.import_module("synthgui.core.geometry")
    except ModuleNotFoundError as exc:
        if exc.name in ("synthgui.core.geometry",):
            return None
        raise


def noise_sources() -> list[MaskSource]:
    """The one source of an unconditional generator's export: every item is a seed, none has a mask."""
    return [MaskSource("noise", "noise")]


def random_sources(count: int, seed: int = 0, controls: dict[str, Any] | None = None) -> list[MaskSource]:
    geometry = geometry_module()
    if geometry is None or not hasattr(geometry, "propose"):
        raise SynthguiError("random masks need the geometry generators (synthgui.core.geometry), which are not available in this build; use --masks DIR")
    if count < 1:
        raise SynthguiError("--random needs a count of at least 1")
    if count > MAX_RANDOM_MASKS:
        raise SynthguiError(f"--random {count}: at most {MAX_RANDOM_MASKS:,} random masks (each is a record of the "
                            "export's plan); for more images, add --seeds or a parameter sweep")
    return [MaskSource("random", f"random-{seed + i}", seed=seed + i, controls=dict(controls or {})) for i in range(count)]


def project_loader():
    """A function path -> label map from ``synthgui.core.project``, if that module offers one."""
    try:
        project = importlib.import_module("synthgui.core.project")
    except ModuleNotFoundError:
        return None
    load = getattr(project, "load_project", None)
    if not callable(load):
        return None
    return lambda path: load(path).label_map


def load_source(source: MaskSource, card: ModelCard) -> np.ndarray:
    """The source's label map; a bad file, or one with classes the model lacks, raises ``MaskError``."""
    lm = _read_source(source, card)
    known = [c.id for c in card.classes] or [0, 1]
    unknown = np.setdiff1d(np.unique(lm), known)
    if lm.ndim != 2 or unknown.size:
        raise MaskError(f"{source.name}: class ids {unknown.tolist()} are unknown to model {card.name!r}" if unknown.size
                        else f"{source.name}: not a 2-D label map")
    return lm


def _read_source(source: MaskSource, card: ModelCard) -> np.ndarray:
    if source.kind == "file":
        from PIL import Image

        try:
            return load_mask(source.path, card)
        except Image.DecompressionBombError as exc:  # PIL's refusal of a huge image is no OSError
            raise MaskError(f"{source.name}: too large for a mask: {exc}") from None
    if source.kind == "random":
        geometry = geometry_module()
        if geometry is None:
            raise SynthguiError("random masks need synthgui.core.geometry, which is not available")
        lm = np.asarray(geometry.propose(card.domain, card.resolution, source.seed, **source.controls))
        return lm.astype(np.uint8)
    if source.kind == "project":
        loader = project_loader()
        if loader is None:
            raise MaskError(f"{source.name}: project files cannot be read by this build (no project loader)")
        try:
            return np.asarray(loader(source.path)).astype(np.uint8)
        except SynthguiError as exc:
            raise MaskError(f"{source.name}: {exc}") from None
    raise SynthguiError(f"unknown mask source kind {source.kind!r}")
