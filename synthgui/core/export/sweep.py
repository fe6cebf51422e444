"""Sweeps: which variants of each mask an export renders, and how one variant is made.

An export is the product of mask sources and a parameter grid (skin tones x conditions x sizes x
locations x rotations x seeds), or a seeded random sample of that product. Items are addressed by
an index into it, so the list is never held in memory and a resumed export finds the same items
under the same names.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import SynthguiError
from ..masks import Anatomy, anatomy_ids, find_lesions, lesion_pixels, resize_label_map, rotate_all, scale_all, shift_all
from ..skin_tones import FITZPATRICK_RGB, parse_skin_tone, to_hex

if TYPE_CHECKING:
    from ..card import ModelCard

RANDOM = "random"
Offset = tuple[float, float] | str  # (dx, dy) in pixels at the model's resolution, or "random"


@dataclass
class Sweep:
    """The parameter grid. ``None`` in a list means "as drawn" / "the model's default"."""

    skin_tones: list[str | None] = field(default_factory=lambda: [None])
    conditions: list[str | None] = field(default_factory=lambda: [None])
    sizes: list[float] = field(default_factory=lambda: [1.0])
    locations: list[Offset] = field(default_factory=lambda: [(0.0, 0.0)])
    rotations: list[float] = field(default_factory=lambda: [0.0])
    seeds: int = 1
    seed_base: int = 0
    sample: int | None = None  # draw this many items at random from the product instead of all
    sample_seed: int = 0

    def validate(self) -> None:
        for name in ("skin_tones", "conditions", "sizes", "locations", "rotations"):
            if not getattr(self, name):
                raise SynthguiError(f"the sweep's {name.replace('_', ' ')} list is empty")
        for tone in self.skin_tones:
            if tone is not None:
                parse_skin_tone(tone)
        for s in self.sizes:
            if not (s > 0 and math.isfinite(s)):
                raise SynthguiError(f"a lesion size factor must be a positive number, got {s}")
        for r in self.rotations:
            if not math.isfinite(r):
                raise SynthguiError(f"a rotation must be a finite number of degrees, got {r}")
        for loc in self.locations:
            if loc != RANDOM and not all(math.isfinite(c) for c in loc):
                raise SynthguiError(f"a location must be finite 'dx,dy' pixels or 'random', got {loc}")
        if self.seeds < 1:
            raise SynthguiError("--seeds must be at least 1")
        if self.sample is not None and self.sample < 1:
            raise SynthguiError("the random sample size must be at least 1")

    def axes(self) -> tuple[Sequence, ...]:
        """The grid's axes for one mask, seeds last (so seeds of one setting sit together)."""
        seeds = range(self.seed_base, self.seed_base + self.seeds)
        return (self.skin_tones, self.conditions, self.sizes, self.locations, self.rotations, seeds)

    def grid(self) -> list[tuple]:
        """Every parameter combination for one mask, in item order (``Plan`` never builds this list)."""
        return list(itertools.product(*self.axes()))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["locations"] = [loc if isinstance(loc, str) else list(loc) for loc in self.locations]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Sweep":
        data = dict(data)
        data["locations"] = [loc if isinstance(loc, str) else tuple(loc) for loc in data.get("locations", [(0.0, 0.0)])]
        return cls(**data)


@dataclass(frozen=True)
class Variant:
    """One item of an export: which mask and which parameters."""

    index: int
    source: int  # index into the export's mask sources
    skin_tone: str | None
    condition: str | None
    size: float
    location: Offset
    rotation: float
    seed: int

    @property
    def id(self) -> str:
        return f"{self.index:06d}"

    def params(self) -> dict[str, Any]:
        tone = None if self.skin_tone is None else to_hex(parse_skin_tone(self.skin_tone))
        return {
            "skin_tone": self.skin_tone,
            "skin_tone_rgb": tone,
            "condition": self.condition,
            "size": self.size,
            "location": self.location if isinstance(self.location, str) else list(self.location),
            "rotation": self.rotation,
            "seed": self.seed,
        }


class Plan:
    """Maps item indices to variants for ``n_sources`` masks and a sweep, product or sample."""

    def __init__(self, n_sources: int, sweep: Sweep) -> None:
        sweep.validate()
        self.sweep = sweep
        self.n_sources = n_sources
        self._axes = sweep.axes()
        self._combos = math.prod(len(axis) for axis in self._axes)  # per mask; a range of seeds is never listed
        full = self.full = n_sources * self._combos
        self._picks: np.ndarray | None = None
        if sweep.sample is not None and full:
            rng = np.random.default_rng(sweep.sample_seed)
            replace = sweep.sample > full
            picks = rng.choice(full, size=sweep.sample, replace=replace)
            self._picks = picks if replace else np.sort(picks)
        self.total = full if self._picks is None else len(self._picks)

    def variant(self, index: int) -> Variant:
        flat = index if self._picks is None else int(self._picks[index])
        source, combo = divmod(flat, self._combos)
        picked = []
        for axis in reversed(self._axes):  # itertools.product's order: the last axis varies fastest
            combo, i = divmod(combo, len(axis))
            picked.append(axis[i])
        seed, rot, loc, size, cond, tone = picked
        return Variant(index, source, tone, cond, float(size), loc, float(rot), int(seed))

    def __iter__(self) -> Iterator[Variant]:
        return (self.variant(i) for i in range(self.total))


def random_offset(label_map: np.ndarray, rng: np.random.Generator, context: Anatomy = 0, tries: int = 200,
                  draws_first: int = 20) -> tuple[float, float]:
    """A random location: one shift of all the lesions that keeps them inside the image and, with
    a ``context`` class, on it (an MRI slice's tumour stays in the brain, not on the head around
    it: the first of ``context``'s anatomy ids). (0, 0) only when no other shift fits, so an item
    under "random" with offset 0,0 is one that could not be moved (``unmoved_note``): lesions that
    fill the image, or a fundus mask's vessel tree, which runs out to the edge of the retina, so
    that any shift takes vessels off it. A vessel tree has no location to vary, and taking it off
    the retina would not be one.

    Random draws over the shifts that stay in the image find a fit in most masks at once. Only when
    the first ``draws_first`` miss is every shift checked (``_shifts_that_fit``, a full-image
    correlation): a mask that fits nowhere then costs no more draws, the rest of the ``tries`` are
    looked up, and one whose few fits the tries miss still gets one of them. The draws are those
    of every earlier version, so an export gets the same offsets as before."""
    lesions = lesion_pixels(label_map, context)
    ys, xs = np.nonzero(lesions)
    if len(xs) == 0:
        return (0.0, 0.0)
    h, w = label_map.shape
    ids = anatomy_ids(context)
    ground = lesions | (label_map == ids[0]) if ids else None
    top, left = int(ys.min()), int(xs.min())
    fits: np.ndarray | None = None  # by the lesions' top-left corner once every shift is checked
    for k in range(tries):
        if k == draws_first:
            fits = _shifts_that_fit(lesions, ground)
            if not fits.any():
                return (0.0, 0.0)
        dx = int(rng.integers(-left, w - int(xs.max())))
        dy = int(rng.integers(-top, h - int(ys.max())))
        if fits is not None:
            fit = bool(fits[top + dy, left + dx])
        else:
            fit = bool(dx or dy) and (ground is None or bool(ground[ys + dy, xs + dx].all()))
        if fit:
            return (float(dx), float(dy))
    if fits is None:
        fits = _shifts_that_fit(lesions, ground)
    i, j = np.nonzero(fits)
    if len(i) == 0:
        return (0.0, 0.0)
    pick = int(rng.integers(len(i)))
    return (float(j[pick] - left), float(i[pick] - top))


def _shifts_that_fit(lesions: np.ndarray, ground: np.ndarray | None) -> np.ndarray:
    """Which shifts keep all ``lesions`` pixels inside the image and on ``ground`` (anywhere in the
    image when None), as a boolean array indexed by where the shift puts the lesions' top-left
    corner, (dy + top, dx + left); no shift, (0, 0), is False. For each shift the lesion pixels
    that would land off the ground are counted at once, by a correlation in the Fourier domain."""
    ys, xs = np.nonzero(lesions)
    y0, x0, y1, x1 = int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1
    h, w = lesions.shape
    if ground is None:
        fits = np.ones((h - (y1 - y0) + 1, w - (x1 - x0) + 1), bool)
    else:
        stamp = lesions[y0:y1, x0:x1].astype(np.float64)
        off = (~ground).astype(np.float64)
        # Circular, but the shifts read (top-left corner (i, j), i <= h - lesion height) never wrap.
        landed_off = np.fft.irfft2(np.fft.rfft2(off) * np.conj(np.fft.rfft2(stamp, s=(h, w))), s=(h, w))
        fits = landed_off[: h - (y1 - y0) + 1, : w - (x1 - x0) + 1] < 0.5
    fits[y0, x0] = False
    return fits


def unmoved_note(rows: Iterable[dict[str, Any]], card: "ModelCard | None" = None) -> str | None:
    """The export report's line on random locations that could not move their masks, or None when
    every one moved (or none was asked for). ``rows``: the manifest's, where each item's offset is
    recorded; ``card``: the model's, to say what the lesions lie on."""
    located = [r for r in rows if r.get("location") == RANDOM]
    unmoved = sum(1 for r in located if [float(v) for v in r.get("offset", ())] == [0.0, 0.0])
    if not unmoved:
        return None
    context = card.context_class if card is not None else None
    if card is not None and card.domain == "fundus" and context is not None:
        why = (f"no shift keeps every vessel on the {context.name.lower()} (a vessel tree fills its field of "
               "view, so it has no location to vary)")
    elif context is not None:
        why = f"no shift keeps their lesions inside the image and on the {context.name.lower()}"
    else:
        why = "their lesions fill the image, so no shift keeps them inside it"
    return f"{unmoved} of {len(located)} images with a random location are as drawn (offset 0,0): {why}"


def apply_variant(label_map: np.ndarray, variant: Variant, resolution: int, export_seed: int = 0,
                  context: Anatomy = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """The variant's mask at the model's resolution: scaled, rotated, then moved. Returns the offset used.

    Working at the model's resolution makes offsets mean the same pixels for masks of any size and
    makes the saved mask exactly the one the generator saw. ``context`` (``ModelCard.anatomy_ids``):
    the anatomy the lesions lie on, which stays where it is (an MRI slice's brain under its tumour,
    and the head around it).
    """
    lm = resize_label_map(label_map, resolution)
    if variant.size != 1.0:
        lm = scale_all(lm, variant.size, context)
    if variant.rotation % 360:
        lm = rotate_all(lm, variant.rotation, context)
    if variant.location == RANDOM:
        rng = np.random.default_rng([export_seed, variant.index])
        offset = random_offset(lm, rng, context)
    else:
        offset = (float(variant.location[0]), float(variant.location[1]))  # type: ignore[index]
    if offset != (0.0, 0.0):
        lm = shift_all(lm, *offset, context=context)
    return lm, offset


# --- parsing the command line / dialog values ----------------------------------------------------------


def parse_skin_tones(values: Sequence[str]) -> list[str | None]:
    """``I..VI``, ``all``, ``#rrggbb``; validated now so a typo fails before any rendering."""
    out: list[str | None] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() == "all":
                out.extend(FITZPATRICK_RGB)
                continue
            rgb = parse_skin_tone(part)
            named = [k for k, v in FITZPATRICK_RGB.items() if v == rgb and not part.startswith("#")]
            out.append(named[0] if named else to_hex(rgb))
    return _unique(out) or [None]


def parse_floats(values: Sequence[str], what: str) -> list[float]:
    out = []
    for value in values:
        for part in str(value).split(","):
            if part.strip():
                try:
                    out.append(float(part))
                except ValueError:
                    raise SynthguiError(f"not a number for {what}: {part.strip()!r}") from None
    return _unique(out)


def parse_locations(values: Sequence[str]) -> list[Offset]:
    """``dx,dy`` pairs in pixels (``0,0`` = as drawn) or ``random``."""
    out: list[Offset] = []
    for value in values:
        if value.strip().lower() == RANDOM:
            out.append(RANDOM)
            continue
        parts = value.replace(":", ",").split(",")
        try:
            dx, dy = (float(p) for p in parts)
        except ValueError:
            raise SynthguiError(f"a location is 'dx,dy' in pixels or 'random', got {value!r}") from None
        if (dx, dy) not in out:  # each "random" is a placement of its own; a repeated offset only repeats images
            out.append((dx, dy))
    return out or [(0.0, 0.0)]


def _unique(values: list) -> list:
    """``values`` without repeats, in order: a value given twice would render every image twice."""
    return list(dict.fromkeys(values))


def lesion_count(label_map: np.ndarray) -> int:
    return len(find_lesions(label_map)[0])
