"""Reading DICOM images for display: pixel data with rescale and window/level applied.

Used for the studio underlay and the study normaliser, so both show a DICOM the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SynthguiError


@dataclass
class DicomImage:
    pixels: np.ndarray  # float32: grey (H, W) after rescale slope/intercept; colour (H, W, 3) on 0..255
    window: tuple[float, float] | None  # (centre, width) from the file, or None
    photometric: str
    modality: str

    @property
    def is_grey(self) -> bool:
        return self.pixels.ndim == 2

    def to_uint8(self, centre: float | None = None, width: float | None = None) -> np.ndarray:
        """Display image: greys through the window (the file's, else min..max); colour as is."""
        if not self.is_grey:
            return np.clip(self.pixels + 0.5, 0, 255).astype(np.uint8)
        if centre is None or width is None:
            if self.window is not None:
                centre, width = self.window
            else:
                lo, hi = float(self.pixels.min()), float(self.pixels.max())
                centre, width = (lo + hi) / 2.0, (hi - lo) if hi > lo else 1.0
        width = max(float(width), MIN_WIDTH)
        lo = centre - width / 2.0
        out = (self.pixels - lo) / width * 255.0
        if self.photometric == "MONOCHROME1":
            out = 255.0 - out
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


MIN_WIDTH = 1e-9  # parametric maps hold values far below 1: a window of at least 1 would show them flat grey


def window_decimals(pixels: np.ndarray) -> int:
    """Decimals a window/level control needs for this image's value range: 1 for CT or MR
    numbers, more for a map whose values span 0.1 (so such a map can be windowed at all)."""
    finite = pixels[np.isfinite(pixels)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    if span <= 0:
        return 1
    return int(min(8, max(1, 3 - np.floor(np.log10(span)))))


def is_dicom(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def read_dicom(path: str | Path, frame: int = 0) -> DicomImage:
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(str(path))
    except FileNotFoundError:
        raise SynthguiError(f"file not found: {path}") from None
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise SynthguiError(f"not a readable DICOM file: {path.name} ({exc})") from None
    if "PixelData" not in ds:
        raise SynthguiError(f"{path.name}: DICOM file holds no image (no PixelData)")
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for unsupported transfer syntaxes
        raise SynthguiError(f"{path.name}: cannot decode the DICOM pixel data ({exc})") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[min(frame, arr.shape[0] - 1)]
    if photometric.startswith("YBR") and arr.ndim == 3:
        if _pixel_array_converts_ybr():
            photometric = "RGB"  # pydicom 3 returns RGB already: converting again turns red green
        elif photometric in ("YBR_FULL", "YBR_FULL_422"):
            from pydicom.pixel_data_handlers.util import convert_color_space

            arr = convert_color_space(arr, photometric, "RGB")
            photometric = "RGB"
    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        arr, photometric = _palette_to_rgb(arr, ds), "RGB"
    elif arr.ndim == 3 and arr.dtype.itemsize > 1:  # 16-bit colour: to 0..255 over the stored bits
        bits = int(ds.get("BitsStored", 8 * arr.dtype.itemsize) or 8 * arr.dtype.itemsize)
        arr = arr.astype(np.float32) * (255.0 / float(2 ** bits - 1))
    pixels = arr.astype(np.float32)
    if pixels.ndim == 2:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        pixels = pixels * slope + intercept
    window = None
    if "WindowCenter" in ds and "WindowWidth" in ds:
        centre, width = ds.WindowCenter, ds.WindowWidth
        centre = float(centre[0] if isinstance(centre, pydicom.multival.MultiValue) else centre)
        width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
        window = (centre, width)
    return DicomImage(pixels, window, photometric, str(ds.get("Modality", "")))


def _pixel_array_converts_ybr() -> bool:
    import pydicom

    return int(pydicom.__version__.split(".")[0]) >= 3


def _palette_to_rgb(arr: np.ndarray, ds) -> np.ndarray:
    """Palette indices through the file's colour table, to 0..255 RGB (the table's entries are 8
    or 16 bits): windowing the indices as grey would show nonsense."""
    try:
        from pydicom.pixels import apply_color_lut
    except ImportError:  # pydicom 2
        from pydicom.pixel_data_handlers.util import apply_color_lut
    rgb = apply_color_lut(arr, ds)
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2]) if "RedPaletteColorLookupTableDescriptor" in ds else 16
    return rgb.astype(np.float32) * (255.0 / float(2 ** bits - 1))
