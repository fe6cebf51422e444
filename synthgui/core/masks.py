"""Label maps: reading and writing mask files, resizing, and geometric edits of a lesion.

A label map is a 2-D ``uint8`` array of class ids (0 = background). It is never interpolated:
every resize and warp here uses nearest-neighbour sampling so no invented class appears at an edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import write_bytes_atomic
from .card import ModelCard
from .errors import MaskError


def read_image_rgb(path: str | Path, stretch_wide: bool = False) -> np.ndarray:
    """Any image file as an RGB uint8 array, EXIF orientation applied; a clear error otherwise.
    ``stretch_wide`` (for display) maps a 16-bit or float grey image's own range to 0..255; without
    it the values are kept (a 16-bit label mask keeps its class ids)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if stretch_wide and img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return _wide_grey_to_rgb(np.asarray(img))
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise MaskError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise MaskError(f"expected an image file, got a folder: {path}") from None
    except UnidentifiedImageError:
        raise MaskError(f"not an image (or an unsupported format): {path}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MaskError(f"cannot read image {path}: {exc}") from None


def _wide_grey_to_rgb(values: np.ndarray) -> np.ndarray:
    """16-bit or float grey (a scanner's or a microscope's export) to 8 bits over its own range:
    PIL's own conversion clips everything above 255, so most such images would show white."""
    v = values.astype(np.float64)
    lo, hi = float(v.min(initial=0)), float(v.max(initial=0))
    grey = np.zeros(v.shape, np.uint8) if hi <= lo else np.clip((v - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def label_map_from_array(arr: np.ndarray, card: ModelCard, source: str = "mask") -> np.ndarray:
    """Turn a mask image into class ids using the card's colours.

    Grey images: values that are all class ids are taken as ids, values that are all the card's grey
    class colours (an MRI card's, say) as those classes; otherwise >= 128 is the class a brush
    paints first (``ModelCard.drawn_class``: a fundus card's vessels, not its retina; binary masks,
    also JPEG-blurred or antialiased ones). Colour images must use the card's
    class colours exactly; any other colour is an error that names it.
    """
    drawn = card.drawn_class
    first_fg = drawn.id if drawn is not None else 1
    if arr.ndim == 3 and arr.shape[2] >= 3:
        rgb = arr[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            arr = rgb[..., 0]
        else:
            return _map_colours(rgb, card, source)
    grey = arr.astype(np.uint8)
    ids = {c.id for c in card.classes} or {0, first_fg}
    values = np.unique(grey)
    if values.max(initial=0) < 128 and set(values.tolist()) <= ids:
        return grey.copy()
    by_grey = {c.color[0]: c.id for c in card.classes if c.color[0] == c.color[1] == c.color[2]}
    if len(values) > 1 and set(values.tolist()) <= set(by_grey):  # drawn in the card's own grey class colours
        lut = np.zeros(256, np.uint8)
        for level, class_id in by_grey.items():
            lut[level] = class_id
        return lut[grey]
    if values.max(initial=0) < 128 and len(values) > 1:  # ids, not all this model's: a threshold would empty it
        unknown = sorted(set(values.tolist()) - ids)
        y, x = np.argwhere(grey == unknown[0])[0]
        known = ", ".join(f"{c.id} {c.name}" for c in card.classes)
        raise MaskError(f"{source}: class id(s) {', '.join(map(str, unknown))} (e.g. at x={x}, y={y}) are not "
                        f"classes of model {card.name!r}, which knows {known}")
    return np.where(grey >= 128, first_fg, 0).astype(np.uint8)


def _map_colours(rgb: np.ndarray, card: ModelCard, source: str) -> np.ndarray:
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    lut = {(c.color[0] << 16) | (c.color[1] << 8) | c.color[2]: c.id for c in card.classes}
    colours, inverse = np.unique(packed, return_inverse=True)
    out_ids = np.zeros(len(colours), np.uint8)
    for i, colour in enumerate(colours.tolist()):
        if colour not in lut:
            y, x = np.argwhere(packed == colour)[0]
            hex_colour = "#%06x" % colour
            known = ", ".join(f"{c.name} #{(c.color[0] << 16) | (c.color[1] << 8) | c.color[2]:06x}" for c in card.classes)
            raise MaskError(
                f"{source}: unknown class colour {hex_colour} at x={x}, y={y}; model {card.name!r} knows {known}"
            )
        out_ids[i] = lut[colour]
    return out_ids[inverse.reshape(packed.shape)]


def load_mask(path: str | Path, card: ModelCard) -> np.ndarray:
    return on_context(label_map_from_array(read_image_rgb(path), card, source=str(path)), card)


def blank_mask(card: ModelCard | None, size: int) -> np.ndarray:
    """A new mask for the model's domain: empty skin, a fundus field of view ready for vessels, or
    an MRI slice's brain outline (from the fitted brain shapes) ready for a tumour."""
    context = card.context_class if card is not None else None
    if context is None:
        return np.zeros((size, size), np.uint8)
    if card.domain == "fundus":
        return disk_label_map(size, 0.46, context.id)
    from .geometry import propose

    outline = propose("mri", size, 0, tumour=False) > 0
    return np.where(outline, context.id, 0).astype(np.uint8)


def on_context(label_map: np.ndarray, card: ModelCard) -> np.ndarray:
    """Vessels or a tumour alone (a CHASE_DB1 vessel mask, say) drawn onto a new mask's retina or
    brain: the generator never saw them on the outside of an eye or a head. The same in the studio,
    an export and ``synthgui render``; a mask that has its retina or brain is left as it is."""
    context = card.context_class
    h, w = label_map.shape
    if context is None or h != w or not label_map.any() or (label_map == context.id).any():
        return label_map
    return np.where(label_map > 0, label_map, blank_mask(card, h)).astype(np.uint8)


def colourise(label_map: np.ndarray, card: ModelCard) -> np.ndarray:
    """RGB picture of a label map in the card's class colours (unknown ids in magenta)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = (255, 0, 255)
    for c in card.classes:
        lut[c.id] = c.color
    return lut[label_map]


def save_mask(path: str | Path, label_map: np.ndarray, card: ModelCard) -> None:
    """Write a paletted PNG: pixel values are class ids and the palette shows the class colours."""
    write_bytes_atomic(path, mask_png(label_map, card))


def mask_png(label_map: np.ndarray, card: ModelCard) -> bytes:
    """``save_mask``'s file as bytes (an export writes and links them itself)."""
    import io

    from PIL import Image

    img = Image.fromarray(label_map.astype(np.uint8), mode="P")
    palette = np.zeros((256, 3), np.uint8)
    for c in card.classes:
        palette[c.id] = c.color
    img.putpalette(palette.flatten().tolist())
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def resize_label_map(label_map: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    import cv2

    w, h = (size, size) if isinstance(size, int) else size
    if label_map.shape[:2] == (h, w):
        return label_map
    return cv2.resize(label_map, (w, h), interpolation=cv2.INTER_NEAREST)


# --- lesion geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lesion:
    """One connected foreground region of a label map."""

    index: int
    area: int
    centroid: tuple[float, float]  # (x, y)
    bbox: tuple[int, int, int, int]  # x, y, w, h


Anatomy = int | Sequence[int]
"""The anatomy a lesion operation takes as ground, never as a lesion: one class id (0 for none),
or ids with the class the lesions lie on first (``ModelCard.anatomy_ids``: an MRI card's brain,
then the head around it)."""


def anatomy_ids(context: Anatomy) -> tuple[int, ...]:
    """``context`` as a tuple of class ids, without the background."""
    ids = (context,) if isinstance(context, (int, np.integer)) else tuple(context)
    return tuple(int(i) for i in ids if i)


def lesion_pixels(label_map: np.ndarray, context: Anatomy = 0) -> np.ndarray:
    """Where the lesions are: the foreground, less the anatomy they lie on (``context``: a fundus
    mask's retina, an MRI slice's brain and a head around it; see ``ModelCard.anatomy_ids``)."""
    fg = label_map > 0
    ids = anatomy_ids(context)
    if len(ids) > 1:
        return fg & ~np.isin(label_map, ids)
    return fg & (label_map != ids[0]) if ids else fg


def find_lesions(label_map: np.ndarray, min_area: int = 1, context: Anatomy = 0) -> tuple[list[Lesion], np.ndarray]:
    """Connected lesion regions (8-connectivity; ``context`` as in ``lesion_pixels``), largest
    first, and the component image."""
    import cv2

    fg = lesion_pixels(label_map, context).astype(np.uint8)
    n, comp, stats, centroids = cv2.connectedComponentsWithStats(fg, connectivity=8)
    lesions = [
        Lesion(i, int(stats[i, cv2.CC_STAT_AREA]), (float(centroids[i][0]), float(centroids[i][1])), tuple(int(v) for v in stats[i, :4]))  # type: ignore[arg-type]
        for i in range(1, n)
        if stats[i, cv2.CC_STAT_AREA] >= min_area
    ]
    lesions.sort(key=lambda l: -l.area)
    return lesions, comp


def region_centroid(region: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        h, w = region.shape
        return (w / 2.0, h / 2.0)
    return (float(xs.mean()), float(ys.mean()))


def ground(label_map: np.ndarray, context: Anatomy) -> np.ndarray | int:
    """What the lesions lie on, pixel by pixel: the ``context`` class (retina, brain) inside the
    convex hull of its pixels, which takes in the vessels or tumour inside it, and the background
    outside. Erasing or moving a vessel that overshot the edge of the eye then gives back outside,
    not a bump of retina. Without a context class it is the background, 0.

    Of several anatomy classes (``Anatomy``: a brain, then the head around it), each fills its own
    hull, the first on top, and their own pixels stay as they are: a tumour drawn across the edge
    of the brain gives back brain in the brain's hull and head in the skull around it, and an
    eraser leaves the head where it was."""
    ids = anatomy_ids(context)
    if not ids:
        return 0
    import cv2

    out = np.zeros_like(label_map)
    for class_id in reversed(ids):
        points = cv2.findNonZero((label_map == class_id).astype(np.uint8))
        if points is not None:
            cv2.fillConvexPoly(out, cv2.convexHull(points), class_id)
    if len(ids) > 1:
        anatomy = np.isin(label_map, ids)
        out[anatomy] = label_map[anatomy]
    return out


def transform_region(
    label_map: np.ndarray,
    region: np.ndarray,
    scale: float = 1.0,
    rotation_deg: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.0),
    centre: tuple[float, float] | None = None,
    background: int | np.ndarray = 0,
) -> np.ndarray:
    """Scale and rotate the pixels of ``region`` about its centroid, then move them by ``offset``.

    The old footprint becomes ``background`` (a class, or a map of them such as ``ground``); the
    moved labels are painted over the rest. Pixels that leave the image are cut off.
    Nearest-neighbour only, so class ids stay exact.
    """
    import cv2

    if scale <= 0:
        raise ValueError("scale must be positive")
    region = region.astype(bool)
    if not region.any():
        return label_map.copy()
    cx, cy = centre if centre is not None else region_centroid(region)
    h, w = label_map.shape
    matrix = cv2.getRotationMatrix2D((cx, cy), rotation_deg, scale)
    matrix[0, 2] += offset[0]
    matrix[1, 2] += offset[1]
    shifted = np.where(region, label_map, 0).astype(np.uint8)
    moved = cv2.warpAffine(shifted, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    moved_mask = cv2.warpAffine(region.astype(np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    out = label_map.copy()
    out[region] = background[region] if isinstance(background, np.ndarray) else background
    out[moved_mask] = moved[moved_mask]
    return out


def scale_all(label_map: np.ndarray, scale: float, context: Anatomy = 0) -> np.ndarray:
    """Scale every lesion about its own centre (the export's 'size' sweep); what they uncover
    becomes their ``ground`` (the brain a tumour lay in), as in ``lesion_pixels``."""
    lesions, comp = find_lesions(label_map, context=context)
    out, under = label_map.copy(), ground(label_map, context)
    for lesion in lesions:
        out = transform_region(out, comp == lesion.index, scale=scale, background=under)
    return out


def shift_all(label_map: np.ndarray, dx: float, dy: float, context: Anatomy = 0) -> np.ndarray:
    return transform_region(label_map, lesion_pixels(label_map, context), offset=(dx, dy),
                            background=ground(label_map, context))


def rotate_all(label_map: np.ndarray, degrees: float, context: Anatomy = 0) -> np.ndarray:
    return transform_region(label_map, lesion_pixels(label_map, context), rotation_deg=degrees,
                            background=ground(label_map, context))


def disk_label_map(size: int, radius_frac: float = 0.25, label: int = 1) -> np.ndarray:
    """A round lesion in the middle: the blank-canvas default and a handy test mask."""
    import cv2

    lm = np.zeros((size, size), np.uint8)
    cv2.circle(lm, (size // 2, size // 2), max(1, int(round(size * radius_frac))), int(label), thickness=-1)
    return lm


def ellipse_label_map(size: int, axes: tuple[float, float], angle: float = 0.0, label: int = 1) -> np.ndarray:
    import cv2

    lm = np.zeros((size, size), np.uint8)
    ax = (max(1, int(round(axes[0]))), max(1, int(round(axes[1]))))
    cv2.ellipse(lm, (size // 2, size // 2), ax, angle, 0, 360, int(label), thickness=-1)
    return lm


def lesion_diameter(region: np.ndarray) -> float:
    """Equivalent-circle diameter in pixels."""
    return 2.0 * math.sqrt(float(np.count_nonzero(region)) / math.pi)


def centre_square(image: np.ndarray) -> np.ndarray:
    """The centred square of an image: what the studio's square canvas shows of a photo, and so
    what of a mask drawn on that photo belongs on the canvas (stretching would misalign them)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
