"""Label map + skin tone + condition -> the generator's input, as the model card prescribes.

Everything returns numpy float32 CHW in [-1, 1] (the reference's ``Normalize(0.5, 0.5)``), so the
same code feeds the studio, export, studies and training without importing torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .card import ModelCard
from .errors import SynthguiError
from .masks import lesion_pixels, resize_label_map

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class EncodeRequest:
    """What a render is conditioned on, besides the label map."""

    skin_tone: RGB | None = None  # skin models: the background colour
    condition: str | None = None  # class name/id: every foreground pixel takes this class


def apply_condition(label_map: np.ndarray, card: ModelCard, condition: str | None) -> np.ndarray:
    """Every lesion pixel rendered as the class ``condition`` names; the anatomy they lie on (the
    retina, a brain and the head around it: ``ModelCard.anatomy_ids``) stays as it is, and is
    never a condition."""
    if not condition:
        return label_map
    target = card.class_by_name(condition)
    anatomy = card.anatomy_ids
    if target.id == 0:
        raise SynthguiError("the condition must be a foreground class, not the background")
    if target.id in anatomy:
        what = "the lesions lie on" if target.id == anatomy[0] else f"around the {card.anatomy_classes[0].name}"
        lesions = ", ".join(c.name for c in card.lesion_classes) or "none"
        raise SynthguiError(f"the condition must be a lesion class ({lesions}), not the {target.name} {what}")
    return np.where(lesion_pixels(label_map, anatomy), target.id, label_map).astype(np.uint8)


def semantic_rgb(label_map: np.ndarray, card: ModelCard, skin_tone: RGB | None = None) -> np.ndarray:
    """The RGB semantic map (uint8 HxWx3) a palette/skin model sees; also what users look at."""
    return _semantic_lut(label_map, card, skin_tone)[label_map]


def _semantic_lut(label_map: np.ndarray, card: ModelCard, skin_tone: RGB | None) -> np.ndarray:
    """Class id -> RGB (256x3 uint8), after checking that the map holds only the card's classes."""
    lut = np.zeros((256, 3), np.uint8)
    for c in card.classes:
        lut[c.id] = c.color
    if card.encoding.kind == "rgb" and not card.classes:
        lut[1:] = 255
    if card.uses_skin_tone:
        lut[0] = skin_tone if skin_tone is not None else card.default_skin_tone
    _check_classes(label_map, card)
    return lut


def _check_classes(label_map: np.ndarray, card: ModelCard) -> None:
    present = np.flatnonzero(np.bincount(label_map.ravel(), minlength=256))  # uint8: faster than np.unique
    unknown = np.setdiff1d(present, [c.id for c in card.classes] or [0, 1])
    if unknown.size:
        raise SynthguiError(f"label map has class ids {unknown.tolist()} that model {card.name!r} does not know")


def _to_unit_range(channels_uint8: np.ndarray) -> np.ndarray:
    return channels_uint8.astype(np.float32) / 127.5 - 1.0


def encode(
    label_map: np.ndarray,
    card: ModelCard,
    request: EncodeRequest = EncodeRequest(),
    input_nc: int = 3,
) -> np.ndarray:
    """float32 array (input_nc, R, R) for a label map of any size (resized nearest to R)."""
    if label_map.ndim != 2:
        raise SynthguiError("a label map must be a 2-D array of class ids")
    lm = resize_label_map(label_map.astype(np.uint8), card.resolution)
    lm = apply_condition(lm, card, request.condition)
    kind = card.encoding.kind
    if kind in ("skin", "palette", "rgb"):
        lut = _semantic_lut(lm, card, request.skin_tone)
        if input_nc == 3:
            # One gather from a float table straight into CHW: the same values as converting the
            # uint8 map, without the HxWx3 intermediates (the export's producer encodes every image).
            return np.take(_to_unit_range(lut).T, lm, axis=1)
        rgb = lut[lm]
        if input_nc == 1:
            # PIL 'L' conversion (its fixed-point ITU-R 601 weights), as the reference's Grayscale(1) does.
            c = rgb.astype(np.uint32)
            grey = (c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16
            return _to_unit_range(grey.astype(np.uint8))[None]
        raise SynthguiError(f"a {kind} encoding makes 1 or 3 channels, the generator takes {input_nc}")
    if kind in ("onehot", "channels"):
        _check_classes(lm, card)
    if kind == "onehot":
        ids = [c.id for c in sorted(card.classes, key=lambda c: c.id)]
        if len(ids) != input_nc:
            raise SynthguiError(f"one-hot encoding has {len(ids)} classes but the generator takes {input_nc} channels")
        planes = np.stack([lm == i for i in ids]).astype(np.float32)
        return planes * 2.0 - 1.0
    if kind == "channels":
        groups = card.encoding.channels
        if len(groups) != input_nc:
            raise SynthguiError(f"the card lists {len(groups)} input channels but the generator takes {input_nc}")
        planes = np.stack([np.isin(lm, g) for g in groups]).astype(np.float32)
        return planes * 2.0 - 1.0
    raise SynthguiError(f"encoding {kind!r} takes no label map")


def encode_batch(label_maps: list[np.ndarray], card: ModelCard, requests: list[EncodeRequest], input_nc: int) -> np.ndarray:
    return np.stack([encode(lm, card, rq, input_nc) for lm, rq in zip(label_maps, requests)])


def to_uint8_image(output: np.ndarray) -> np.ndarray:
    """Generator output (C, H, W) in [-1, 1] to an RGB uint8 image (H, W, 3).

    Rounds instead of the reference's truncation, and clips, so a half-precision overshoot cannot wrap.
    """
    img = np.clip((output + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    return img[:3].transpose(1, 2, 0).copy()


def from_uint8_image(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) to float32 (3, H, W) in [-1, 1]; the training target side."""
    return _to_unit_range(image).transpose(2, 0, 1).copy()
