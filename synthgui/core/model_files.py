"""Where models live and how a name or path becomes a weights file and its card.

Kept free of torch so the studio can fill its model picker before torch is imported; loading the
weights is ``synthgui.core.models.load_model``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import SynthguiError

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors")


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
    if declared and isinstance(declared, str):  # a hand-edited card may name anything here
        candidate = card_path.parent / declared
        if candidate.is_file():
            return candidate
    for suffix in WEIGHT_SUFFIXES:
        candidate = card_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def list_models() -> list[ModelEntry]:
    """Bundled, then user models; a folder that cannot be read lists nothing rather than failing
    the picker (and with it the window) or the CLI."""
    entries: list[ModelEntry] = []
    for source, folder in (("bundled", bundled_models_dir()), ("user", user_models_dir())):
        try:
            entries.extend(_models_in(folder, source))
        except OSError:
            continue
    return entries


def _models_in(folder: Path, source: str) -> list[ModelEntry]:
    if not folder.is_dir():
        return []
    entries: list[ModelEntry] = []
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
            # a reference run folder holds the discriminator beside the generator: never take it
            found = [p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES and not p.stem.endswith("net_D")]
            if not found:
                raise SynthguiError(f"no weights file (.pth, .pt, .safetensors) in folder {path}")
            path = sorted(found, key=lambda p: (not p.stem.endswith("net_G"), not p.name.startswith("latest"), p.name))[0]
        if not path.is_file():
            raise SynthguiError(f"model file not found: {path}")
        return ModelEntry(path.stem, path, card_path_for(path), "file")
    for entry in list_models():
        if entry.name == str(name_or_path):
            return entry
    known = ", ".join(e.name for e in list_models()) or "none installed"
    raise SynthguiError(f"no model named {str(name_or_path)!r} (known: {known}); give a path to a .pth or .safetensors file")
