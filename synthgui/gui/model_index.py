"""The models the picker offers, from ``synthgui.core.model_files`` (which imports no torch, so the
window can list models before torch is loaded). Loading still goes through ``synthgui.core.models``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from synthgui.core.model_files import (  # noqa: F401
    ModelEntry, card_path_for, default_model_name, list_models, resources_dir,
)


@dataclass(frozen=True)
class ModelChoice:
    name: str
    weights: str
    source: str  # bundled or user


def list_choices() -> list[ModelChoice]:
    return _choices(list_models())


def _choices(entries: list[ModelEntry]) -> list[ModelChoice]:
    """Each model under its card's name, as the app shows it once loaded (``model_card.json`` beside a
    reference ``latest_net_G.pth`` is not "model_card"); two that would read alike add their file name."""
    named = [(_card_name(e.card_path) or e.name, e) for e in entries]
    alike = Counter((name, e.source) for name, e in named)
    return [ModelChoice(f"{name} - {e.weights.name}" if alike[(name, e.source)] > 1 else name, str(e.weights), e.source)
            for name, e in named]


def default_choice() -> ModelChoice | None:
    """The bundled skin-lesion model when present, else the first bundled one."""
    name = default_model_name()
    entries = list_models()
    return next((c for e, c in zip(entries, _choices(entries)) if e.source == "bundled" and e.name == name), None)


def _card_name(card: Path | None) -> str | None:
    if card is None:
        return None
    try:
        name = json.loads(card.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return str(name) if name else None


def display_name(weights: str | Path) -> str:
    """The card's name for a weights file (what the picker shows), else the file name."""
    weights = Path(weights)
    return _card_name(card_path_for(weights)) or weights.name
