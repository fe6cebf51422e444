"""The studio's project file: one ``.synthgui`` zip holding the mask, the underlay reference, every
render parameter and the identity of the model, so a project reopens exactly as it was saved.

The mask is a lossless 8-bit PNG of class ids; everything else is ``project.json``. The file is
written atomically, so a crash while saving leaves the previous version intact.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_with_atomic
from .errors import SynthguiError

FORMAT = "synthgui-project"
FORMAT_VERSION = 1
SUFFIX = ".synthgui"


@dataclass
class Project:
    """Everything that determines what the studio shows and renders."""

    label_map: np.ndarray
    model: dict[str, str] | None = None  # LoadedModel.identity()
    skin_tone: tuple[int, int, int] | None = None
    condition: str | None = None
    seed: int = 0
    mode: str | None = None
    underlay: str | None = None  # path of the traced photo or DICOM, not its pixels
    underlay_window: tuple[float, float] | None = None  # (centre, width) for grey DICOM
    extra: dict[str, Any] = field(default_factory=dict)  # view settings and the like

    def parameters(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("label_map")
        return data


def save_project(path: str | Path, project: Project) -> None:
    from PIL import Image

    lm = np.ascontiguousarray(project.label_map, dtype=np.uint8)
    if lm.ndim != 2:
        raise SynthguiError("a project mask must be a 2-D label map")
    png = io.BytesIO()
    Image.fromarray(lm, mode="L").save(png, format="PNG")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "shape": list(lm.shape), **project.parameters()}
    text = json.dumps(meta, indent=2)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.json", text)
            zf.writestr("mask.png", png.getvalue())

    write_with_atomic(path, write)


def load_project(path: str | Path) -> Project:
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("project.json").decode("utf-8"))
            mask_bytes = zf.read("mask.png")
    except FileNotFoundError:
        raise SynthguiError(f"project not found: {path}") from None
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError, json.JSONDecodeError, zlib.error) as exc:
        raise SynthguiError(f"not a readable synthgui project: {path.name} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SynthguiError(f"{path.name} is not a synthgui project file")
    try:
        version = int(meta.get("version", 0))
    except (TypeError, ValueError):
        raise SynthguiError(f"{path.name}: unknown project version {meta.get('version')!r} "
                            "(written by another synthgui?)") from None
    if version > FORMAT_VERSION:
        raise SynthguiError(f"{path.name} was written by a newer synthgui (project version {meta['version']})")
    try:
        with Image.open(io.BytesIO(mask_bytes)) as img:
            lm = np.asarray(img.convert("L") if img.mode != "L" else img).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise SynthguiError(f"{path.name}: the mask inside is unreadable ({exc})") from None
    shape = meta.get("shape", list(lm.shape))
    if not isinstance(shape, list) or list(lm.shape) != shape:
        raise SynthguiError(f"{path.name}: mask size {lm.shape} does not match the recorded {shape!r}")

    def pair(v: Any) -> tuple | None:
        return tuple(v) if v is not None else None

    try:
        return Project(
            label_map=lm,
            model=dict(meta["model"]) if meta.get("model") else None,
            skin_tone=pair(meta.get("skin_tone")),  # type: ignore[arg-type]
            condition=meta.get("condition"),
            seed=int(meta.get("seed", 0)),
            mode=meta.get("mode"),
            underlay=meta.get("underlay"),
            underlay_window=pair(meta.get("underlay_window")),  # type: ignore[arg-type]
            extra=dict(meta.get("extra", {})),
        )
    except (TypeError, ValueError) as exc:
        raise SynthguiError(f"{path.name}: malformed project field ({exc})") from None
