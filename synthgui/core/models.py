"""Loading models with their cards (finding them is ``model_files``, re-exported here).

A model is a weights file plus, beside it, a card ``<stem>.json``. Without a card a checkpoint still
loads, with a generic RGB encoding and a warning, so any reference ``latest_net_G.pth`` works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .card import ModelCard, generic_card
from .checkpoints import infer_spec, load_into, read_state_dict, sha256_of
from .errors import CheckpointError
from .model_files import (  # noqa: F401  (re-exported: callers find and load models from one module)
    WEIGHT_SUFFIXES,
    ModelEntry,
    bundled_models_dir,
    card_path_for,
    default_model_name,
    list_models,
    resolve_model,
    resources_dir,
    user_data_dir,
    user_models_dir,
)
from .networks import GeneratorSpec, build_generator


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
    if isinstance(card.architecture, dict):
        overrides = card.architecture
    else:  # "inferred", or a reference --netG name such as "unet_256" that the weights must match
        overrides = {} if card.architecture in ("inferred", "") else {"netG": card.architecture}
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
    if card.resolution < spec.min_size:
        raise CheckpointError(f"{card.name}: resolution {card.resolution} is below the {spec.min_size} that {spec.name} needs")
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
