"""The models the picker offers, from ``synthgui.core.model_files`` (which imports no torch, so the
window can list models before torch is loaded). Loading still goes through ``synthgui.core.models``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthgui.core.model_files import card_path_for, default_model_name, list_models, resources_dir  # noqa: F401


@dataclass(frozen=True)
class ModelChoice:
    name: str
    weights: str
    source: str  # bundled or user


def list_choices() -> list[ModelChoice]:
    return [ModelChoice(e.name, str(e.weights), e.source) for e in list_models()]


def default_choice() -> ModelChoice | None:
    """The bundled skin-lesion model when present, else the first bundled one."""
    name = default_model_name()
    return next((c for c in list_choices() if c.source == "bundled" and c.name == name), None)


def display_name(weights: str | Path) -> str:
    """The card's name for a weights file (what the picker shows), else the file name."""
    weights = Path(weights)
    card = card_path_for(weights)
    if card is not None:
        try:
            name = json.loads(card.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            name = None
        if name:
            return str(name)
    return weights.name
