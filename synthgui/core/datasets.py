"""Paired training data held in memory, and the per-sample input a generator is trained on.

Pairs come from a folder of masks and a folder of images with matching names, or from the
reference's "aligned" layout (one image per pair, A on the left half, B on the right). They are
decoded once at the training resolution, so the loop does no JPEG/PNG work. How a mask becomes the
generator input follows the model card, the same code the app renders with (``core.encoding``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .card import ModelCard
from .encoding import EncodeRequest, encode, from_uint8_image
from .errors import SynthguiError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def host_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its container's limit if lower (None
    where the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def check_decoded_fits(count: int, size: int, bytes_per_pixel: int, what: str, lower: str) -> None:
    """Every image is held decoded at the training size: a set that cannot fit is refused before the
    first is decoded, not when the machine runs out of memory part-way."""
    need = count * size * size * bytes_per_pixel
    have = host_memory()
    if have is not None and need > have:
        raise SynthguiError(f"{count} {what} decoded at {size} px need at least {memory_text(need)} of memory; this "
                            f"machine has {memory_text(have)}: {lower}")


def memory_text(n: int) -> str:
    """Bytes for a message: '1.3 GB', '12.0 MB'; astronomical amounts in powers of ten."""
    if n >= 10**15:
        return f"{n / 1e9:.1e} GB"
    return f"{n / 1e9:,.1f} GB" if n >= 10**8 else f"{n / 1e6:,.1f} MB"


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise SynthguiError(f"not a folder: {folder}")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def _read(path: Path, size: int, nearest: bool) -> np.ndarray:
    """A mask (``nearest``: its values kept) or a real image (a 16-bit or float grey one over its own
    range, as the app shows it; clipped at 255 it would be all white) at the training size."""
    import cv2

    from .masks import read_image_rgb

    img = read_image_rgb(path, stretch_wide=not nearest)
    if img.shape[:2] != (size, size):
        interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC)
        img = cv2.resize(img, (size, size), interpolation=interp)
    return img


@dataclass
class PairSet:
    """N pairs: ``masks`` are mask/semantic images (uint8 RGB), ``images`` the real ones."""

    names: list[str]
    masks: np.ndarray
    images: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, idx: list[int]) -> "PairSet":
        return PairSet([self.names[i] for i in idx], self.masks[idx], self.images[idx])


def load_pair_folders(masks_dir: str | Path, images_dir: str | Path, size: int) -> PairSet:
    """Pairs whose mask and image share a file stem; names without a partner are an error."""
    masks, images = _files(Path(masks_dir)), _files(Path(images_dir))
    common = sorted(set(masks) & set(images))
    if not common:
        raise SynthguiError(f"no mask in {masks_dir} has an image with the same name in {images_dir}")
    lonely = sorted(set(masks) ^ set(images))
    if lonely:
        raise SynthguiError(f"{len(lonely)} files have no partner (first: {lonely[0]}); masks and images must match by name")
    check_decoded_fits(len(common), size, 6, "pairs", "train at a lower --resolution or on fewer pairs")
    m = np.stack([_read(masks[n], size, nearest=True) for n in common])
    i = np.stack([_read(images[n], size, nearest=False) for n in common])
    return PairSet(common, m, i)


def load_aligned(folder: str | Path, size: int) -> PairSet:
    """The reference layout: each file is A|B side by side (A = input on the left)."""
    import cv2

    from .masks import read_image_rgb

    files = _files(Path(folder))
    if not files:
        raise SynthguiError(f"no images in {folder}")
    check_decoded_fits(len(files), size, 6, "pairs", "train at a lower --resolution or on fewer pairs")
    names, ms, ims = [], [], []
    for name, path in files.items():
        ab = read_image_rgb(path)
        w = ab.shape[1] // 2
        if w == 0:
            raise SynthguiError(f"{path}: too narrow for an A|B pair")
        ms.append(cv2.resize(ab[:, :w], (size, size), interpolation=cv2.INTER_NEAREST))
        ims.append(cv2.resize(ab[:, w:2 * w], (size, size), interpolation=cv2.INTER_AREA))
        names.append(name)
    return PairSet(names, np.stack(ms), np.stack(ims))


def sibling_val_dir(masks_dir: Path) -> tuple[Path, Path] | None:
    """``prepare`` writes ``<out>/train/masks`` and ``<out>/val/masks``: find the held-out pair folders."""
    masks_dir = Path(masks_dir)
    split = masks_dir.parent
    if split.name == "train":
        val = split.parent / "val"
        if (val / "masks").is_dir() and (val / "images").is_dir():
            return val / "masks", val / "images"
    return None


def flip_augment(rng: np.random.Generator, rotate: bool, *arrays: np.ndarray) -> list[np.ndarray]:
    """The same random flips (and quarter turns for orientation-free images) on every array."""
    k = int(rng.integers(4)) if rotate else 0
    fh, fv = bool(rng.integers(2)), bool(rng.integers(2)) if rotate else False
    out = []
    for a in arrays:
        if k:
            a = np.rot90(a, k, axes=(0, 1))
        if fh:
            a = a[:, ::-1]
        if fv:
            a = a[::-1]
        out.append(np.ascontiguousarray(a))
    return out


def jitter_crop(rng: np.random.Generator, load_size: int, labels: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``resize_and_crop``: scale up to ``load_size`` and cut a random crop of the
    original size at the same place in both; labels by nearest neighbour so no new classes appear."""
    import cv2

    size = image.shape[0]
    if load_size <= size:
        return labels, image
    y, x = (int(v) for v in rng.integers(0, load_size - size + 1, 2))
    big_labels = cv2.resize(labels, (load_size, load_size), interpolation=cv2.INTER_NEAREST)
    big_image = cv2.resize(image, (load_size, load_size), interpolation=cv2.INTER_CUBIC)
    return (np.ascontiguousarray(big_labels[y : y + size, x : x + size]),
            np.ascontiguousarray(big_image[y : y + size, x : x + size]))


def labels_from_class_colours(mask: np.ndarray, card: ModelCard, name: str = "mask") -> np.ndarray:
    """Class ids of a prepared map drawn in the card's class colours.

    Exact colour matching comes first because grey palettes (retina 128, vessel 255) would otherwise
    be read as a binary mask; any other mask goes through the app's own reading rules.
    """
    from .masks import label_map_from_array

    rgb = mask[..., :3] if mask.ndim == 3 else np.repeat(mask[..., None], 3, axis=2)
    out = np.zeros(rgb.shape[:2], np.uint8)
    matched = np.zeros(rgb.shape[:2], bool)
    for c in card.classes:
        hit = np.all(rgb == np.array(c.color, np.uint8), axis=-1)
        out[hit] = c.id
        matched |= hit
    if matched.all():
        return out
    return label_map_from_array(mask, card, name)


class SampleMaker:
    """Turns pair ``i`` into (input CHW float32, target CHW float32) as the card prescribes.

    Skin cards: the mask is a DermGAN map; with ``retone_fraction`` > 0 that fraction of samples has
    its skin moved to a random tone across Fitzpatrick I-VI, image and map together. ``load_size``
    above the resolution adds the reference's random scale-and-crop jitter.
    """

    def __init__(self, pairs: PairSet, card: ModelCard | None, input_nc: int, retone_fraction: float = 0.0,
                 rotate: bool = False, flip: bool = True, load_size: int = 0) -> None:
        self.pairs, self.card, self.input_nc = pairs, card, input_nc
        self.retone_fraction = retone_fraction if card is not None and card.uses_skin_tone else 0.0
        self.rotate, self.flip, self.load_size = rotate, flip, load_size
        self._labels: list[np.ndarray] | None = None
        self._skin: list[np.ndarray] | None = None
        if card is not None and card.uses_skin_tone:
            from .prepare import skin_lab_of_semantic_map

            decoded = [skin_lab_of_semantic_map(m, card) for m in pairs.masks]
            self._labels = [d[0] for d in decoded]
            self._skin = [d[1] for d in decoded]
        elif card is not None and card.encoding.kind not in ("rgb",):
            self._labels = [labels_from_class_colours(m, card, pairs.names[i]) for i, m in enumerate(pairs.masks)]

    def __call__(self, i: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        image = self.pairs.images[i]
        source = self._labels[i] if self._labels is not None else self.pairs.masks[i]
        if rng is not None and self.load_size:
            source, image = jitter_crop(rng, self.load_size, source, image)
        if rng is not None and self.flip:
            source, image = flip_augment(rng, self.rotate, source, image)
        if self.card is None or self.card.encoding.kind == "rgb":
            return from_uint8_image(source), from_uint8_image(image)
        if self.card.uses_skin_tone:
            from .prepare import random_target_lab, retone, skin_semantic_map

            skin = self._skin[i]
            if rng is not None and self.retone_fraction > 0 and rng.random() < self.retone_fraction:
                target = random_target_lab(rng)
                image = retone(image, skin, target)
                skin = target
            semantic = skin_semantic_map(source, skin, self.card)
            return from_uint8_image(semantic), from_uint8_image(image)
        return encode(source, self.card, EncodeRequest(), self.input_nc), from_uint8_image(image)

    def batch(self, idx: list[int], rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        pairs = [self(i, rng) for i in idx]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
