"""Writing images (PNG, TIFF, JPEG) atomically, by file suffix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import write_with_atomic
from .errors import SynthguiError

FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}


def save_image(path: str | Path, image: np.ndarray, quality: int = 95) -> None:
    """``image`` is HxWx3 (or HxW) uint8. PNG/TIFF are lossless; JPEG uses ``quality``."""
    from PIL import Image

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SynthguiError(f"cannot tell the image format of {path.name}: use .png, .tif or .jpg")
    pil = Image.fromarray(np.ascontiguousarray(image))
    options = {"quality": int(quality)} if fmt == "JPEG" else {}
    if fmt == "TIFF":
        options["compression"] = "tiff_deflate"
    write_with_atomic(path, lambda tmp: pil.save(tmp, format=fmt, **options))
