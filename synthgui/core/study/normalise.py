"""One pipeline that every study image goes through, real and synthetic alike.

Readers must judge pixels, not files: EXIF orientation is baked in, colour is converted to sRGB
through the embedded ICC profile, DICOMs pass through one window preset, every image is centre
cropped to a square and resized with the same resampler, and the result is re-encoded as a PNG
built from the bare pixel array, so no EXIF/ICC/XMP/text chunk or DICOM header survives.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..dicom import is_dicom, read_dicom
from ..errors import SynthguiError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".webp"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files in a folder (not recursive), sorted; DICOMs are recognised by content too."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthguiError(f"not a folder: {folder}")
    found = [p for p in sorted(folder.iterdir())
             if p.is_file() and not p.name.startswith(".") and (p.suffix.lower() in IMAGE_SUFFIXES or is_dicom(p))]
    if not found:
        raise SynthguiError(f"no images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))} and DICOM)")
    return found


def read_pixels(path: str | Path, dicom_window: tuple[float, float] | None = None) -> np.ndarray:
    """Decode a file to sRGB uint8 (H, W, 3): orientation applied, colour managed, metadata gone."""
    path = Path(path)
    if is_dicom(path):
        centre, width = dicom_window if dicom_window is not None else (None, None)
        grey = read_dicom(path).to_uint8(centre, width)
        return np.repeat(grey[..., None], 3, axis=2) if grey.ndim == 2 else grey[..., :3]
    from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img = _to_srgb(img, ImageCms)
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                # the nominal 16-bit range, as Pillow reads 16-bit RGB: a per-image stretch would give
                # every 16-bit file (a scanner's, say) full contrast and leave the 8-bit ones as they are
                arr = np.asarray(img, dtype=np.float32) / 257.0
                img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
            elif img.mode == "F":  # floating point has no nominal range
                arr = np.asarray(img, dtype=np.float32)
                lo, hi = float(arr.min()), float(arr.max())
                arr = (arr - lo) / max(hi - lo, 1e-6) * 255.0
                img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                img = img.convert("RGBA")
                flat = Image.new("RGB", img.size, (0, 0, 0))
                flat.paste(img, mask=img.getchannel("A"))
                img = flat
            return np.array(img.convert("RGB"))
    except FileNotFoundError:
        raise SynthguiError(f"file not found: {path}") from None
    except UnidentifiedImageError:
        raise SynthguiError(f"not an image (or an unsupported format): {path}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SynthguiError(f"cannot read image {path}: {exc}") from None


def _to_srgb(img, ImageCms):
    """Apply an embedded ICC profile so that stripping it does not shift colours."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "L", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        mode = "RGB" if img.mode != "RGBA" else "RGBA"
        return ImageCms.profileToProfile(img, src, dst, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # a broken profile: the pixels as stored are the best we have


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square, then resize with area averaging (down) or Lanczos (up)."""
    import cv2

    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = rgb[top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LANCZOS4
    return cv2.resize(square, (size, size), interpolation=interp)


def encode_png(rgb: np.ndarray) -> bytes:
    """A PNG made from the bare pixels: fixed settings, no chunks besides IHDR/IDAT/IEND."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def normalise(path: str | Path, size: int, dicom_window: tuple[float, float] | None = None) -> bytes:
    """The whole pipeline: any supported file in, the study's PNG bytes out."""
    return encode_png(square_resize(read_pixels(path, dicom_window), size))
