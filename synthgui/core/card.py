"""The model card: a JSON file beside the weights that says what the generator expects and may be used for.

A reference pix2pix checkpoint is a bare state dict, so everything a user needs to trust a render
(which data, which licence, which colours mean what) lives here. See README "Model cards".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .errors import SynthguiError

ENCODINGS = ("skin", "palette", "onehot", "channels", "rgb", "noise")
MODES = ("reference", "deterministic", "eval")
# The class a domain's drawing lies on, by name, in order of preference: a fundus mask's field of
# view, an MRI slice's brain. ``synthgui prepare mri`` has no brain class: its "head" (the brain with
# the skull around it, as LGG slices are not skull-stripped) is then what a tumour lies on. A card
# with both has its tumours on the brain, and its head is the skull and scalp around the brain:
# anatomy too, so neither a lesion class (a condition) nor the class a brush paints first, and
# ground for every pixel operation (``ModelCard.anatomy_ids``, ``masks.lesion_pixels``).
CONTEXT_NAMES = {
    "fundus": ("retina", "fov", "field of view", "field-of-view"),
    "mri": ("brain", "brain tissue", "tissue", "parenchyma", "head"),
}


@dataclass
class LabelClass:
    id: int
    name: str
    color: tuple[int, int, int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LabelClass":
        color = data.get("color", (255, 255, 255))
        if isinstance(color, str):
            from .skin_tones import parse_color

            color = parse_color(color)
        class_id, color = int(data["id"]), tuple(int(c) for c in color)
        if not 0 <= class_id <= 255:  # label maps are uint8
            raise ValueError(f"class id {class_id} is not in 0..255")
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(f"class colour {list(color)} is not three values in 0..255")
        return cls(id=class_id, name=str(data["name"]), color=color)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        from .skin_tones import to_hex

        return {"id": self.id, "name": self.name, "color": to_hex(self.color)}


@dataclass
class Encoding:
    """How a label map becomes the generator input.

    kind:
      - ``skin``: RGB semantic map (DermGAN); class 0 is filled with the chosen skin tone.
      - ``palette``: each class drawn in its colour (grey levels when the input has one channel).
      - ``onehot``: one channel per class, +1 where the pixel has that class, -1 elsewhere.
      - ``channels``: one channel per entry of ``channels``, each the union of the listed class ids
        (a fundus model: vessel mask plus field-of-view mask).
      - ``rgb``: generic fallback for a card-less checkpoint: the mask image as RGB.
      - ``noise``: an unconditional generator (no mask).
    """

    kind: str = "rgb"
    channels: list[list[int]] = field(default_factory=list)
    noise_dim: int = 100

    @classmethod
    def from_json(cls, data: Any) -> "Encoding":
        if isinstance(data, str):
            data = {"kind": data}
        kind = str(data.get("kind", "rgb"))
        if kind not in ENCODINGS:
            raise SynthguiError(f"model card: unknown input encoding {kind!r} (expected {', '.join(ENCODINGS)})")
        return cls(
            kind=kind,
            channels=[list(map(int, c)) for c in data.get("channels", [])],
            noise_dim=int(data.get("noise_dim", 100)),
        )


@dataclass
class ModelCard:
    name: str
    version: str = "0"
    domain: str = "generic"  # skin, fundus, mri, ...
    architecture: dict[str, Any] | str = "inferred"
    encoding: Encoding = field(default_factory=Encoding)
    classes: list[LabelClass] = field(default_factory=list)
    background: dict[str, Any] = field(default_factory=dict)  # {"meaning": "skin tone", "default": "#c49e89"}
    resolution: int = 256
    normalisation: str = "[-1, 1]: x / 127.5 - 1"
    default_mode: str = "reference"
    training_data: list[dict[str, Any]] = field(default_factory=list)
    licence: str = "unknown"
    metrics: dict[str, Any] = field(default_factory=dict)
    intended_use: str = ""
    limits: str = ""
    training_command: str = ""
    description: str = ""
    weights: str = ""  # file name of the weights beside the card
    generic: bool = False  # True when no card was found and this one was made up

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "model card") -> "ModelCard":
        if not isinstance(data, dict) or "name" not in data:
            raise SynthguiError(f"{source}: not a model card (a JSON object with at least a 'name')")
        try:
            card = cls(
                name=str(data["name"]),
                version=str(data.get("version", "0")),
                domain=str(data.get("domain", "generic")),
                architecture=data.get("architecture", "inferred"),
                encoding=Encoding.from_json(data.get("encoding", "rgb")),
                classes=[LabelClass.from_json(c) for c in data.get("classes", [])],
                background=dict(data.get("background", {})),
                resolution=int(data.get("resolution", 256)),
                normalisation=str(data.get("normalisation", "[-1, 1]: x / 127.5 - 1")),
                default_mode=str(data.get("default_mode", "reference")),
                training_data=list(data.get("training_data", [])),
                licence=str(data.get("licence", "unknown")),
                metrics=dict(data.get("metrics", {})),
                intended_use=str(data.get("intended_use", "")),
                limits=str(data.get("limits", "")),
                training_command=str(data.get("training_command", "")),
                description=str(data.get("description", "")),
                weights=str(data.get("weights", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SynthguiError(f"{source}: malformed field ({exc})") from exc
        if card.default_mode not in MODES:
            raise SynthguiError(f"{source}: default_mode must be one of {', '.join(MODES)}")
        ids = [c.id for c in card.classes]
        if len(set(ids)) != len(ids):
            raise SynthguiError(f"{source}: class ids repeat")
        return card

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("generic")
        data["classes"] = [c.to_json() for c in self.classes]
        return data

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SynthguiError(f"model card not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SynthguiError(f"cannot read model card {path}: {exc}") from exc
        return cls.from_json(data, source=str(path))

    def save(self, path: str | Path) -> None:
        write_text_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")

    # --- what the rest of the app asks of a card -------------------------------------------------

    def class_by_name(self, name: str) -> LabelClass:
        for c in self.classes:
            if c.name.lower() == name.lower() or str(c.id) == name:
                return c
        known = ", ".join(c.name for c in self.classes) or "none"
        raise SynthguiError(f"model {self.name!r} has no class {name!r} (classes: {known})")

    @property
    def foreground_classes(self) -> list[LabelClass]:
        return [c for c in self.classes if c.id != 0]

    @property
    def lesion_classes(self) -> list[LabelClass]:
        """The foreground classes a lesion may have (the conditions to render it as): all of them
        but the anatomy (the context class, and a head around a brain)."""
        return [c for c in self.foreground_classes if not self._is_anatomy(c)]

    @property
    def context_class(self) -> LabelClass | None:
        """The foreground class that the lesions or vessels lie on (retina, brain), or None: what
        an eraser gives back, what a moved lesion uncovers, and never itself a lesion. Of several
        (a brain and a head), the one ``CONTEXT_NAMES`` names first, in whatever order the card
        lists them."""
        anatomy = self.anatomy_classes
        return anatomy[0] if anatomy else None

    @property
    def anatomy_classes(self) -> list[LabelClass]:
        """The classes ``CONTEXT_NAMES`` names for the domain, in its order: the context class first
        (a brain), then anatomy around it (the head). None of them is a lesion."""
        names = CONTEXT_NAMES.get(self.domain, ())
        return sorted((c for c in self.foreground_classes if self._is_anatomy(c)), key=lambda c: names.index(c.name.lower()))

    @property
    def anatomy_ids(self) -> tuple[int, ...]:
        """``anatomy_classes``' ids, the context's first; empty on a card without a context (skin).
        What the pixel operations (``masks.lesion_pixels``, ``masks.ground``, the sweeps, the
        studio's selection) take as ground, never as a lesion."""
        return tuple(c.id for c in self.anatomy_classes)

    def _is_anatomy(self, c: LabelClass) -> bool:
        return c.name.lower() in CONTEXT_NAMES.get(self.domain, ())

    @property
    def context_id(self) -> int:
        """The context class's id, or 0 (the background) when there is none."""
        context = self.context_class
        return context.id if context is not None else 0

    @property
    def drawn_class(self) -> LabelClass | None:
        """The class a brush paints first and a binary mask's white means: vessels on a fundus model,
        the abnormality on an MRI model (not its brain or head), else the first foreground class."""
        fg = self.foreground_classes
        if self.domain == "fundus":
            vessel = next((c for c in fg if "vessel" in c.name.lower()), None)
            if vessel is not None:
                return vessel
        return next((c for c in fg if not self._is_anatomy(c)), fg[0] if fg else None)

    @property
    def uses_skin_tone(self) -> bool:
        return self.encoding.kind == "skin"

    @property
    def default_skin_tone(self) -> tuple[int, int, int]:
        from .skin_tones import parse_skin_tone

        return parse_skin_tone(str(self.background.get("default", "II")))


def generic_card(name: str) -> ModelCard:
    """What a card-less checkpoint gets: the mask image goes in as RGB, 0 = black, 1 = white."""
    return ModelCard(
        name=name,
        description="No model card was found; the mask is fed to the generator as an RGB image.",
        encoding=Encoding(kind="rgb"),
        classes=[LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "foreground", (255, 255, 255))],
        generic=True,
    )
