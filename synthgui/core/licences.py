"""The terms every installed model comes with, read from the model cards (no torch needed).

A generator inherits obligations from its training data (the brain MRI model is non-commercial
because its data is CC BY-NC-SA), so the About box lists them where a user sees them before sharing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .card import ModelCard
from .errors import SynthguiError
from .model_files import list_models


@dataclass(frozen=True)
class DataTerms:
    name: str
    licence: str
    citation: str


@dataclass(frozen=True)
class ModelTerms:
    name: str
    version: str
    source: str  # bundled or user
    licence: str
    intended_use: str
    data: list[DataTerms] = field(default_factory=list)


def model_terms() -> list[ModelTerms]:
    """One record per installed model; a model without a readable card says so instead of vanishing."""
    terms = []
    for entry in list_models():
        if entry.card_path is None:
            terms.append(ModelTerms(entry.name, "?", entry.source, "unknown: no model card beside the weights", ""))
            continue
        try:
            card = ModelCard.load(entry.card_path)
        except SynthguiError as exc:
            terms.append(ModelTerms(entry.name, "?", entry.source, f"unknown: {exc}", ""))
            continue
        data = [DataTerms(str(d.get("name", "?")), str(d.get("licence", "unknown")), str(d.get("citation", "")))
                for d in card.training_data if isinstance(d, dict)]
        terms.append(ModelTerms(card.name, card.version, entry.source, card.licence, card.intended_use, data))
    return terms
