"""Turning raw datasets into training pairs: semantic maps (generator input) beside real images.

Skin follows DermGAN: the background of the map is the patient's own skin colour, estimated from
non-lesion skin, and the lesion is filled with its class colour. Because ISIC shows mostly light skin,
pairs can be re-toned (non-lesion skin moved to another tone along the ITA axis in Lab, lesion pigment
darkened with it) so that a model learns to follow the requested tone instead of ignoring it.
Fundus pairs carry vessel and field-of-view masks; MRI pairs carry brain/abnormality label maps.
Splits are made per patient (a case id), never per image or slice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .card import Encoding, LabelClass, ModelCard
from .encoding import semantic_rgb
from .errors import SynthguiError
from .skin_tones import FITZPATRICK_LAB, ita_degrees, lab_to_rgb, rgb_to_lab

LESION_COLOUR = (0, 255, 0)  # saturated green: far from every skin tone in Lab
SKIN_DOMAINS = ("skin", "fundus", "mri")


# --- cards the prepared pairs are meant for ------------------------------------------------------


def skin_card_template(name: str = "skin-lesion", diagnoses: list[str] | None = None) -> ModelCard:
    """The classes and encoding the skin pairs are drawn with: one lesion class, or one per diagnosis
    when the dataset has them (ISIC 2018 task 1 has none)."""
    from .diagnoses import diagnosis_classes

    lesions = diagnosis_classes(diagnoses) if diagnoses else [LabelClass(1, "lesion", LESION_COLOUR)]
    return ModelCard(
        name=name,
        domain="skin",
        encoding=Encoding(kind="skin"),
        classes=[LabelClass(0, "skin", (196, 158, 137)), *lesions],
        background={"meaning": "skin tone", "default": "II"},
        resolution=256,
    )


def fundus_card_template(name: str = "fundus") -> ModelCard:
    """Two input planes: the vessel mask and the field of view (the retina's disc)."""
    return ModelCard(
        name=name,
        domain="fundus",
        encoding=Encoding(kind="channels", channels=[[2], [1, 2]]),
        classes=[
            LabelClass(0, "outside", (0, 0, 0)),
            LabelClass(1, "retina", (200, 90, 50)),  # not grey, so a paletted mask file reads back exactly
            LabelClass(2, "vessel", (255, 255, 255)),
        ],
        resolution=256,
    )


def mri_card_template(name: str = "brain-mri") -> ModelCard:
    return ModelCard(
        name=name,
        domain="mri",
        encoding=Encoding(kind="palette"),
        classes=[
            LabelClass(0, "background", (0, 0, 0)),
            LabelClass(1, "head", (128, 128, 128)),
            LabelClass(2, "abnormality", (255, 255, 255)),
        ],
        resolution=256,
    )


# --- skin colour ---------------------------------------------------------------------------------


def _central_disc(shape: tuple[int, int], radius_frac: float) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2))
    return r <= radius_frac


def skin_pixels(image: np.ndarray, lesion: np.ndarray, margin_frac: float = 0.03) -> np.ndarray:
    """Mask of pixels that are plausibly plain skin.

    Excludes the lesion and a margin around it (its blurred border), the dark vignette corners of
    dermoscopes (outside the central disc), and the darkest quarter of what is left (hair, shadows).
    """
    import cv2

    h, w = lesion.shape
    k = max(3, int(round(margin_frac * max(h, w))) * 2 + 1)
    grown = cv2.dilate((lesion > 0).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    candidate = ~grown & _central_disc((h, w), 0.95)
    if candidate.sum() < 64:
        candidate = ~grown
    if candidate.sum() < 64:
        candidate = ~(lesion > 0)
    if candidate.sum() < 16:
        candidate = np.ones_like(candidate)
    lum = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    floor = np.percentile(lum[candidate], 25)
    ceiling = np.percentile(lum[candidate], 99)
    keep = candidate & (lum >= floor) & (lum <= ceiling)
    return keep if keep.sum() >= 16 else candidate


def estimate_skin_lab(image: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """Robust (median) CIELAB colour of the non-lesion skin of one image."""
    lab = rgb_to_lab(image[..., :3])
    return np.median(lab[skin_pixels(image, lesion)], axis=0).astype(np.float32)


# --- re-toning -----------------------------------------------------------------------------------

_PRESETS_BY_ITA = sorted(FITZPATRICK_LAB.values(), key=lambda lab: float(ita_degrees(np.array(lab))))
_PRESET_ITA = np.array([float(ita_degrees(np.array(lab))) for lab in _PRESETS_BY_ITA])
_PRESET_LAB = np.array(_PRESETS_BY_ITA, np.float64)


def tone_lab_for_ita(ita: float) -> np.ndarray:
    """A plausible skin Lab colour of a given ITA, interpolated between the Fitzpatrick presets."""
    return np.array([np.interp(ita, _PRESET_ITA, _PRESET_LAB[:, i]) for i in range(3)], np.float32)


def random_target_lab(rng: np.random.Generator, jitter: float = 2.0) -> np.ndarray:
    """A target tone spread evenly over the ITA range of types I-VI, so dark skin is not rare."""
    ita = rng.uniform(_PRESET_ITA[0] - 5.0, _PRESET_ITA[-1] + 5.0)
    return tone_lab_for_ita(ita) + rng.normal(0.0, jitter, 3).astype(np.float32) * np.array([1.0, 0.5, 0.5], np.float32)


def retone(image: np.ndarray, source_lab: np.ndarray, target_lab: np.ndarray) -> np.ndarray:
    """Move an image's skin from ``source_lab`` to ``target_lab``.

    Lightness is scaled (not shifted), so everything keeps its order: a lesion darker than the skin
    stays darker, and its pigment darkens in proportion on darker skin. Chroma is shifted by the
    skin's difference, weighted by lightness so black vignette corners do not turn coloured.
    """
    lab = rgb_to_lab(image[..., :3]).astype(np.float32)
    src = np.asarray(source_lab, np.float32)
    dst = np.asarray(target_lab, np.float32)
    ratio = dst[0] / max(float(src[0]), 1.0)
    weight = np.clip(lab[..., 0] / max(float(src[0]), 1.0), 0.0, 1.0)
    lab[..., 0] = np.clip(lab[..., 0] * ratio, 0.0, 100.0)
    lab[..., 1] += (dst[1] - src[1]) * weight
    lab[..., 2] += (dst[2] - src[2]) * weight
    return lab_to_rgb(lab)


def skin_semantic_map(label_map: np.ndarray, skin_lab: np.ndarray, card: ModelCard | None = None) -> np.ndarray:
    """DermGAN input: skin colour everywhere but the lesion, which takes its class colour."""
    card = card or skin_card_template()
    rgb = tuple(int(c) for c in lab_to_rgb(np.asarray(skin_lab, np.float32)))
    return semantic_rgb(label_map, card, rgb)  # type: ignore[arg-type]


def skin_lab_of_semantic_map(semantic: np.ndarray, card: ModelCard | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`skin_semantic_map`: (label map of the card's lesion classes, skin Lab)."""
    card = card or skin_card_template()
    labels = np.zeros(semantic.shape[:2], np.uint8)
    for c in card.foreground_classes:
        labels[np.all(semantic[..., :3] == np.array(c.color, np.uint8), axis=-1)] = c.id
    background = semantic[..., :3][labels == 0]
    if background.size == 0:
        raise SynthguiError("semantic map has no skin pixels")
    rgb = np.median(background, axis=0).astype(np.uint8)
    return labels, rgb_to_lab(rgb).astype(np.float32)


# --- fundus / MRI ----------------------------------------------------------------------------------


def fundus_fov(image: np.ndarray, threshold: int = 20) -> np.ndarray:
    """Field of view: the retina is where the red channel rises above the dark border."""
    import cv2

    red = cv2.medianBlur(np.ascontiguousarray(image[..., 0]), 5)  # removes JPEG noise, keeps the disc's edge
    fov = (red > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fov, 8)
    if n > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        fov = (labels == biggest).astype(np.uint8)
    fov = cv2.morphologyEx(fov, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    return _fill_holes(fov > 0)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_fill_holes(mask)


def square_around(mask: np.ndarray) -> tuple[int, int, int]:
    """(top, left, side) of the smallest square holding the mask's bounding box, centred on it."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        side = min(mask.shape)
        return (mask.shape[0] - side) // 2, (mask.shape[1] - side) // 2, side
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(max(bottom - top, right - left))
    cy, cx = (top + bottom) // 2, (left + right) // 2
    return int(cy - side // 2), int(cx - side // 2), side


def crop_square(arr: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """Crop a square, padding with zeros where it leaves the array (fundus discs touch the edges)."""
    h, w = arr.shape[:2]
    out = np.zeros((side, side) + arr.shape[2:], arr.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, h), min(left + side, w)
    out[y0 - top:y1 - top, x0 - left:x1 - left] = arr[y0:y1, x0:x1]
    return out


def fundus_label_map(vessels: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """0 outside the retina, 1 retina, 2 vessel (vessels are clipped to the field of view)."""
    lm = np.where(fov, 1, 0).astype(np.uint8)
    lm[(vessels > 127) & fov] = 2
    return lm


def brain_mask(flair: np.ndarray, threshold: int = 12) -> np.ndarray:
    """Head region of a slice (brain and skull; LGG slices are not skull-stripped): the largest bright component, holes filled."""
    import cv2

    fg = (cv2.GaussianBlur(flair, (5, 5), 0) > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, 8)
    if n > 1:
        fg = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    return _fill_holes(fg > 0)


def mri_label_map(flair: np.ndarray, abnormality: np.ndarray) -> np.ndarray:
    lm = np.where(brain_mask(flair), 1, 0).astype(np.uint8)
    lm[abnormality > 127] = 2
    return lm


# --- splits ----------------------------------------------------------------------------------------


def case_id_isic(name: str) -> str:
    """ISIC 2018 task 1 gives one image per lesion and no patient ids: the image id is the case."""
    match = re.match(r"(ISIC_\d+)", name)
    return match.group(1) if match else Path(name).stem


def case_id_lgg(name: str) -> str:
    """LGG slices are ``<case>_<slice>``: everything before the slice number is the patient."""
    stem = Path(name).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def case_id_fundus(name: str) -> str:
    """CHASE_DB1 has both eyes of each child (Image_05L/R): the child is the case. HRF: one per subject."""
    stem = Path(name).stem
    match = re.match(r"(Image_\d+)[LR]$", stem)
    return match.group(1) if match else stem


def is_held_out(case_id: str, val_fraction: float, salt: str = "synthgui") -> bool:
    """Stable split: a hash of the case id, so adding data never moves a case between splits."""
    digest = hashlib.sha1(f"{salt}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


def split_by_case(names: Iterable[str], case_of: Callable[[str], str], val_fraction: float) -> tuple[list[str], list[str]]:
    """(train, val) names; all images of one case land on the same side."""
    train, val = [], []
    for name in names:
        (val if is_held_out(case_of(name), val_fraction) else train).append(name)
    return train, val


# --- whole datasets --------------------------------------------------------------------------------


@dataclass
class PreparedPair:
    """One training pair as written: generator input, real image, class-id map, and its case."""

    name: str
    case: str
    semantic: np.ndarray
    image: np.ndarray
    label_map: np.ndarray
    extra: dict = field(default_factory=dict)


def _resize_rgb(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)


def _resize_nearest(mask: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)


def _read_rgb(path: Path) -> np.ndarray:
    """A real image; a 16-bit or float grey one over its own range (clipped at 255 it would be white)."""
    from .masks import read_image_rgb

    return read_image_rgb(path, stretch_wide=True)


def _read_grey(path: Path) -> np.ndarray:
    """A mask as grey 0..255; one stored as class ids (0 and 1) is scaled so that 1 is foreground, not background."""
    from PIL import Image

    with Image.open(path) as img:
        grey = np.asarray(img.convert("L"))
    return grey * np.uint8(255) if grey.max(initial=0) == 1 else grey


def fit_mask_to_image(mask: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A mask saved at another size than its image (e.g. half resolution) scaled onto it, nearest
    neighbour; one of another aspect ratio belongs to another picture and is an error."""
    import cv2

    (h, w), (mh, mw) = image.shape[:2], mask.shape[:2]
    if (mh, mw) == (h, w):
        return mask
    if abs(mw / mh - w / h) > 0.02 * w / h:
        raise SynthguiError(f"the mask is {mw}x{mh} but the image is {w}x{h}")
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)


def prepare_skin_pair(image: np.ndarray, mask: np.ndarray, size: int, name: str = "", card: ModelCard | None = None,
                      class_id: int = 1, case: str | None = None) -> PreparedPair:
    """Square-crop, resize, estimate skin colour, draw the semantic map with the lesion in ``class_id``'s colour."""
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    image = _resize_rgb(image[top:top + side, left:left + side], size)
    lesion = (_resize_nearest(mask[top:top + side, left:left + side], size) > 127).astype(np.uint8)
    skin = estimate_skin_lab(image, lesion)
    label_map = lesion * np.uint8(class_id)
    semantic = skin_semantic_map(label_map, skin, card)
    return PreparedPair(name, case or case_id_isic(name), semantic, image, label_map, {"skin_lab": skin.tolist()})


def skin_sources(data: Path) -> list[tuple[str, Path, Path]]:
    """(name, image, mask) for an ISIC-style folder: images/X.jpg with masks/X_segmentation.png."""
    images, masks = data / "images", data / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise SynthguiError(f"{data}: expected 'images/' and 'masks/' folders (ISIC layout)")
    out = []
    for img in sorted(images.iterdir()):
        if img.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        for candidate in (masks / f"{img.stem}_segmentation.png", masks / f"{img.stem}.png"):
            if candidate.is_file():
                out.append((img.stem, img, candidate))
                break
    if not out:
        raise SynthguiError(f"{data}: no image has a matching mask (masks/<name>_segmentation.png)")
    return out


def fundus_sources(data: Path) -> list[tuple[str, Path, Path]]:
    """(name, image, vessel mask) for CHASE/HRF-style folders: images/X.jpg with vessels/X.png."""
    images, vessels = data / "images", data / "vessels"
    if not images.is_dir() or not vessels.is_dir():
        raise SynthguiError(f"{data}: expected 'images/' and 'vessels/' folders")
    out = []
    for img in sorted(images.iterdir()):
        mask = vessels / f"{img.stem}.png"
        if img.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif") and mask.is_file():
            out.append((img.stem, img, mask))
    if not out:
        raise SynthguiError(f"{data}: no fundus image has a vessel mask (vessels/<name>.png)")
    return out


def prepare_fundus_pair(image: np.ndarray, vessels: np.ndarray, size: int, name: str = "") -> PreparedPair:
    """Crop a square around the field of view, resize, and build the label map and input planes."""
    fov = fundus_fov(image)
    top, left, side = square_around(fov)
    image = _resize_rgb(crop_square(image, top, left, side), size)
    fov = _resize_nearest(crop_square(fov.astype(np.uint8), top, left, side), size) > 0
    vessels = _resize_nearest(crop_square(vessels, top, left, side), size)
    lm = fundus_label_map(vessels, fov)
    semantic = semantic_rgb(lm, fundus_card_template())
    return PreparedPair(name, case_id_fundus(name), semantic, image, lm)


def prepare_mri_pair(image: np.ndarray, mask: np.ndarray, size: int, name: str = "") -> PreparedPair:
    """FLAIR (the middle channel of the LGG PNGs) as a grey target; brain/abnormality label map."""
    flair = image[..., 1] if image.ndim == 3 else image
    flair = _resize_rgb(flair, size)
    mask = _resize_nearest(mask, size)
    lm = mri_label_map(flair, mask)
    semantic = semantic_rgb(lm, mri_card_template())
    return PreparedPair(name, case_id_lgg(name), semantic, np.repeat(flair[..., None], 3, axis=2), lm)


def mri_sources(data: Path) -> list[tuple[str, Path, Path]]:
    images, masks = data / "images", data / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise SynthguiError(f"{data}: expected 'images/' and 'masks/' folders (LGG layout)")
    out = [(p.stem, p, masks / p.name) for p in sorted(images.glob("*.png")) if (masks / p.name).is_file()]
    if not out:
        raise SynthguiError(f"{data}: no slice has a matching mask (masks/<name>.png)")
    return out


def write_pair(out: Path, split: str, pair: PreparedPair) -> None:
    """``<out>/<split>/{masks,images,labels}/<name>.png``: masks are the generator inputs."""
    from PIL import Image

    from .atomic import write_with_atomic

    for sub, arr in (("masks", pair.semantic), ("images", pair.image), ("labels", pair.label_map)):
        folder = out / split / sub
        folder.mkdir(parents=True, exist_ok=True)
        write_with_atomic(folder / f"{pair.name}.png", lambda tmp, a=arr: Image.fromarray(a).save(tmp, format="PNG"))


CARD_TEMPLATE = "card-template.json"


def write_card_template(out: Path, template: ModelCard, data_dirs: list[Path], pairs: int) -> Path:
    """The card the pairs were drawn for (classes, colours, encoding), for ``train`` to start from.

    The data's licence and citation cannot be read from a folder: the template says so, and whoever
    ships the model fills them in."""
    template.training_data = [{"name": Path(d).name, "source": str(Path(d).resolve()), "pairs_prepared": pairs,
                               "licence": "unknown: give the dataset's licence and citation"} for d in data_dirs]
    template.save(out / CARD_TEMPLATE)
    return out / CARD_TEMPLATE


def card_template_for(masks_dir: Path) -> Path | None:
    """``prepare`` writes ``<out>/card-template.json`` beside ``<out>/train/masks``."""
    candidate = Path(masks_dir).parent.parent / CARD_TEMPLATE
    return candidate if candidate.is_file() else None


@dataclass
class PrepareSummary:
    domain: str
    train: int
    val: int
    cases_train: int
    cases_val: int
    skipped: list[str]


def prepare_dataset(
    domain: str,
    data_dirs: list[Path],
    out: Path,
    size: int = 256,
    val_fraction: float = 0.1,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    labels: Path | None = None,
) -> PrepareSummary:
    """Prepare every pair of one or more raw folders into ``out`` with a per-case split.

    ``labels`` (skin only): a diagnosis table; each lesion is drawn in its diagnosis' class colour and
    images without a diagnosis are skipped."""
    import csv

    from .atomic import write_text_atomic

    if domain not in SKIN_DOMAINS:
        raise SynthguiError(f"unknown domain {domain!r}; expected one of {', '.join(SKIN_DOMAINS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise SynthguiError("--val-fraction must be in [0, 1)")
    finder = {"skin": skin_sources, "fundus": fundus_sources, "mri": mri_sources}[domain]
    sources = [s for d in data_dirs for s in finder(Path(d))]
    diagnoses = None
    skipped: list[str] = []
    if labels is not None:
        if domain != "skin":
            raise SynthguiError("--labels (a diagnosis table) is for skin datasets")
        from .diagnoses import read_diagnoses

        diagnoses = read_diagnoses(labels)
        skipped = [f"{name}: no diagnosis in {labels}" for name, _, _ in sources if name not in diagnoses]
        sources = [s for s in sources if s[0] in diagnoses]
        if not sources:
            raise SynthguiError(f"no image of the dataset has a diagnosis in {labels}")
    if limit:
        sources = sources[:limit]
    template = {"skin": skin_card_template, "fundus": fundus_card_template, "mri": mri_card_template}[domain]()
    if diagnoses is not None:
        template = skin_card_template(diagnoses=sorted({diagnoses[name].dx for name, _, _ in sources}))
    rows = []
    for i, (name, img_path, mask_path) in enumerate(sources):
        try:
            image, mask = _read_rgb(img_path), _read_grey(mask_path)
            mask = fit_mask_to_image(mask, image)
        except (OSError, SynthguiError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        dx = diagnoses.get(name) if diagnoses is not None else None
        if domain == "skin":
            class_id = template.class_by_name(dx.dx).id if dx else 1
            pair = prepare_skin_pair(image, mask, size, name, template, class_id, dx.case if dx else None)
        elif domain == "fundus":
            pair = prepare_fundus_pair(image, mask, size, name)
        else:
            pair = prepare_mri_pair(image, mask, size, name)
        split = "val" if is_held_out(pair.case, val_fraction) else "train"
        write_pair(out, split, pair)
        rows.append({"name": name, "case": pair.case, "split": split, "source": str(img_path), **{
            k: " ".join(f"{v:.2f}" for v in val) for k, val in pair.extra.items()
        }})
        if dx is not None:
            rows[-1]["diagnosis"] = dx.dx
        if progress:
            progress(i + 1, len(sources))
    if not rows:
        raise SynthguiError("no pair could be prepared")
    fields = sorted({k for r in rows for k in r}, key=lambda k: ["name", "case", "split", "source"].index(k) if k in ("name", "case", "split", "source") else 9)
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "pairs.csv", buf.getvalue())
    write_card_template(out, template, data_dirs, len(rows))
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    return PrepareSummary(domain, len(train), len(val), len({r["case"] for r in train}), len({r["case"] for r in val}), skipped)
