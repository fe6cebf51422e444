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
    pixels: np.ndarray  # float32 after rescale slope/intercept; (H, W) or (H, W, 3)
    window: tuple[float, float] | None  # (centre, width) from the file, or None
    photometric: str
    modality: str

    @property
    def is_grey(self) -> bool:
        return self.pixels.ndim == 2

    def to_uint8(self, centre: float | None = None, width: float | None = None) -> np.ndarray:
        """Display image: greys through the window (the file's, else min..max); colour as is."""
        if not self.is_grey:
            px = self.pixels
            return np.clip(px if px.max(initial=0) > 1 else px * 255, 0, 255).astype(np.uint8)
        if centre is None or width is None:
            if self.window is not None:
                centre, width = self.window
            else:
                lo, hi = float(self.pixels.min()), float(self.pixels.max())
                centre, width = (lo + hi) / 2.0, max(hi - lo, 1.0)
        width = max(float(width), 1.0)
        lo = centre - width / 2.0
        out = (self.pixels - lo) / width * 255.0
        if self.photometric == "MONOCHROME1":
            out = 255.0 - out
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


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
    if photometric in ("YBR_FULL", "YBR_FULL_422") and arr.ndim == 3:
        from pydicom.pixels import convert_color_space

        arr = convert_color_space(arr, photometric, "RGB")
        photometric = "RGB"
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
