"""Finding models (bundled, user-installed, or any file) and loading them with their cards.

A model is a weights file plus, beside it, a card ``<stem>.json``. Without a card a checkpoint still
loads, with a generic RGB encoding and a warning, so any reference ``latest_net_G.pth`` works.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .card import ModelCard, generic_card
from .checkpoints import WEIGHT_SUFFIXES, infer_spec, load_into, read_state_dict, sha256_of
from .errors import CheckpointError, SynthguiError
from .networks import GeneratorSpec, build_generator


def resources_dir() -> Path:
    """``resources/`` of a source checkout or editable install; the bundle sets SYNTHGUI_RESOURCES."""
    env = os.environ.get("SYNTHGUI_RESOURCES")
    if env:
        return Path(env)
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def user_data_dir() -> Path:
    """Where a user's own models, projects and exports live by default."""
    env = os.environ.get("SYNTHGUI_HOME")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "synthgui"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "synthgui"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "synthgui"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


@dataclass
class ModelEntry:
    """A model found on disk, before loading: enough for a picker or ``synthgui models``."""

    name: str
    weights: Path
    card_path: Path | None
    source: str  # "bundled", "user" or "file"


def card_path_for(weights: Path) -> Path | None:
    for candidate in (weights.with_suffix(".json"), weights.parent / "model_card.json", weights.parent / "card.json"):
        if candidate.is_file():
            return candidate
    return None


def _weights_for_card(card_path: Path) -> Path | None:
    try:
        declared = json.loads(card_path.read_text(encoding="utf-8")).get("weights", "")
    except (OSError, ValueError, AttributeError):
        declared = ""
    if declared:
        candidate = card_path.parent / declared
        if candidate.is_file():
            return candidate
    for suffix in WEIGHT_SUFFIXES:
        candidate = card_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def list_models() -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    for source, folder in (("bundled", bundled_models_dir()), ("user", user_models_dir())):
        if not folder.is_dir():
            continue
        seen: set[Path] = set()
        for card in sorted(folder.glob("*.json")):
            weights = _weights_for_card(card)
            if weights is not None:
                seen.add(weights)
                entries.append(ModelEntry(card.stem, weights, card, source))
        for weights in sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p not in seen):
            entries.append(ModelEntry(weights.stem, weights, None, source))
    return entries


def default_model_name() -> str | None:
    names = [e.name for e in list_models() if e.source == "bundled"]
    return "skin-lesion" if "skin-lesion" in names else (names[0] if names else None)


def resolve_model(name_or_path: str | os.PathLike) -> ModelEntry:
    """A bundled/user model by name, or a weights file (or a card) by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        weights = _weights_for_card(path)
        if weights is None:
            raise SynthguiError(f"model card {path} names no weights file that exists beside it")
        return ModelEntry(path.stem, weights, path, "file")
    if path.suffix in WEIGHT_SUFFIXES or path.exists():
        if path.is_dir():
            found = [p for p in path.iterdir() if p.name.endswith("net_G.pth") or p.suffix in WEIGHT_SUFFIXES]
            if not found:
                raise SynthguiError(f"no weights file (.pth, .pt, .safetensors) in folder {path}")
            path = sorted(found, key=lambda p: (not p.name.startswith("latest"), p.name))[0]
        if not path.is_file():
            raise SynthguiError(f"model file not found: {path}")
        return ModelEntry(path.stem, path, card_path_for(path), "file")
    for entry in list_models():
        if entry.name == str(name_or_path):
            return entry
    known = ", ".join(e.name for e in list_models()) or "none installed"
    raise SynthguiError(f"no model named {str(name_or_path)!r} (known: {known}); give a path to a .pth or .safetensors file")


@dataclass
class LoadedModel:
    """A generator ready for the engine: float32 on the CPU, in eval mode, never mutated afterwards."""

    entry: ModelEntry
    card: ModelCard
    spec: GeneratorSpec
    net: torch.nn.Module
    sha256: str
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.card.name

    def identity(self) -> dict[str, str]:
        """What a project, an export manifest or a study records to say which model made an image."""
        return {"name": self.card.name, "version": self.card.version, "sha256": self.sha256, "path": str(self.entry.weights)}


def load_model(name_or_path: str | os.PathLike) -> LoadedModel:
    entry = resolve_model(name_or_path)
    warnings: list[str] = []
    if entry.card_path is not None:
        card = ModelCard.load(entry.card_path)
    else:
        card = generic_card(entry.name)
        warnings.append(
            f"no model card beside {entry.weights.name}: the mask goes in as an RGB image "
            "(background black, lesion white); write a card to set classes, colours and skin tone"
        )
    state = read_state_dict(entry.weights)
    overrides = card.architecture if isinstance(card.architecture, dict) else {}
    spec = infer_spec(state, overrides)
    try:
        net = build_generator(spec)
    except ValueError as exc:
        raise CheckpointError(f"{entry.weights.name}: {exc}") from None
    load_into(net, state, entry.weights.name)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    if spec.kind == "dcgan" or card.encoding.kind == "noise":
        warnings = _fit_noise_card(card, spec, entry.weights.name, warnings)
    if card.generic and spec.kind != "dcgan":
        card.resolution = 256 if spec.kind == "unet" and spec.num_downs <= 8 else card.resolution
        if spec.kind == "unet":
            card.resolution = max(card.resolution, spec.size_multiple)
    if card.resolution % spec.size_multiple:
        raise CheckpointError(
            f"{card.name}: resolution {card.resolution} is not a multiple of {spec.size_multiple} as {spec.name} needs"
        )
    return LoadedModel(entry, card, spec, net, sha256_of(entry.weights), warnings)


def _fit_noise_card(card: ModelCard, spec: GeneratorSpec, weights_name: str, warnings: list[str]) -> list[str]:
    """Match an unconditional (noise to image) generator and its card, or say why they do not fit.

    A card-less DCGAN gets a noise encoding of the generator's own noise size; a card must say
    ``encoding: noise`` with that size. The resolution is the generator's output side.
    """
    from .card import Encoding
    from .dcgan import dcgan_output_size

    if spec.kind != "dcgan":
        raise CheckpointError(
            f"{weights_name}: the card says the input is noise (an unconditional generator) but the weights "
            f"are a {spec.name} image-to-image generator"
        )
    nz, size = spec.input_nc, dcgan_output_size(spec)
    if card.generic:
        card.encoding = Encoding(kind="noise", noise_dim=nz)
        card.classes = []
        card.description = "No model card was found; an unconditional DCGAN generator (noise to image)."
        warnings = [f"no model card beside {weights_name}: an unconditional generator of {size}x{size} images "
                    "with no stated training data, licence or intended use; write a card"]
    elif card.encoding.kind != "noise":
        raise CheckpointError(
            f"{weights_name}: the weights are an unconditional DCGAN generator (noise to image) but the card's "
            f"encoding is {card.encoding.kind!r}; set \"encoding\": {{\"kind\": \"noise\", \"noise_dim\": {nz}}}"
        )
    elif card.encoding.noise_dim != nz:
        raise CheckpointError(
            f"{weights_name}: the card says noise_dim {card.encoding.noise_dim} but the generator takes {nz} noise values"
        )
    if card.resolution != size:
        if not card.generic:
            warnings.append(f"card resolution {card.resolution} differs from the generator's output side {size}; using {size}")
        card.resolution = size
    return warnings
