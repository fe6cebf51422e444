"""The models the picker offers, found without importing torch (``synthgui.core.models`` imports it
at load time, and the window must appear before torch is loaded). Same folders and rules as
``synthgui.core.models.list_models``; loading still goes through ``synthgui.core.models``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors")
DEFAULT_MODEL = "skin-lesion"


@dataclass(frozen=True)
class ModelChoice:
    name: str
    weights: str
    source: str  # bundled or user


def resources_dir() -> Path:
    env = os.environ.get("SYNTHGUI_RESOURCES")
    if env:
        return Path(env)
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def _user_models_dir() -> Path:
    env = os.environ.get("SYNTHGUI_HOME")
    if env:
        return Path(env) / "models"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "synthgui" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "synthgui" / "models"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "synthgui" / "models"


def _weights_for_card(card: Path) -> Path | None:
    try:
        declared = json.loads(card.read_text(encoding="utf-8")).get("weights", "")
    except (OSError, ValueError, AttributeError):
        declared = ""
    candidates = [card.parent / declared] if declared else []
    candidates += [card.with_suffix(s) for s in WEIGHT_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def list_choices() -> list[ModelChoice]:
    out: list[ModelChoice] = []
    for source, folder in (("bundled", resources_dir() / "models"), ("user", _user_models_dir())):
        if not folder.is_dir():
            continue
        seen: set[Path] = set()
        for card in sorted(folder.glob("*.json")):
            weights = _weights_for_card(card)
            if weights is not None:
                seen.add(weights)
                out.append(ModelChoice(card.stem, str(weights), source))
        for weights in sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p not in seen):
            out.append(ModelChoice(weights.stem, str(weights), source))
    return out


def default_choice() -> ModelChoice | None:
    """The bundled skin-lesion model when present, else the first bundled one."""
    bundled = [c for c in list_choices() if c.source == "bundled"]
    return next((c for c in bundled if c.name == DEFAULT_MODEL), bundled[0] if bundled else None)


def display_name(weights: str | Path) -> str:
    """The card's name for a weights file (what the picker shows), else the file name."""
    weights = Path(weights)
    for card in (weights.with_suffix(".json"), weights.parent / "model_card.json", weights.parent / "card.json"):
        try:
            name = json.loads(card.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            continue
        if name:
            return str(name)
    return weights.name
