"""Small models and masks that tests build on the fly (no trained weights needed)."""

from __future__ import annotations

from pathlib import Path

import torch

from synthgui.core.card import Encoding, LabelClass, ModelCard
from synthgui.core.checkpoints import save_state_dict
from synthgui.core.networks import GeneratorSpec, build_generator, init_weights


def randomise(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BatchNorm statistics, so every layer matters to the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return net


def skin_card(name: str = "tiny-skin", resolution: int = 256, **extra) -> ModelCard:
    return ModelCard(
        name=name,
        version="1",
        domain="skin",
        encoding=Encoding("skin"),
        classes=[LabelClass(0, "skin", (0, 0, 0)), LabelClass(1, "lesion", (40, 200, 60)), LabelClass(2, "nevus", (30, 60, 220))],
        background={"meaning": "skin tone", "default": "II"},
        resolution=resolution,
        **extra,
    )


def write_model(folder: Path, spec: GeneratorSpec = GeneratorSpec(ngf=4), card: ModelCard | None = None,
                name: str = "tiny", suffix: str = ".pth", half: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    net = build_generator(spec)
    init_weights(net)
    randomise(net)
    path = folder / f"{name}{suffix}"
    save_state_dict(net, path, half=half)
    if card is not None:
        card.weights = path.name
        card.save(path.with_suffix(".json"))
    return path


def write_image_folders(root: Path, n: int, names: tuple[str, ...] = ("real", "syn"), size: int = 24) -> dict[str, list[Path]]:
    """``root/<name>/<i>.png``: ``n`` random RGB images per folder from one seeded generator, the
    real and synthetic folders a study is built from."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths: dict[str, list[Path]] = {}
    for name in names:
        (root / name).mkdir(parents=True)
        paths[name] = []
        for i in range(n):
            p = root / name / f"{i}.png"
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(p)
            paths[name].append(p)
    return paths


def fundus_card(name: str = "tiny-fundus", resolution: int = 256) -> ModelCard:
    """As resources/models/fundus.json: outside 0, retina 1, vessel 2."""
    return ModelCard(name=name, domain="fundus", encoding=Encoding("channels", [[2], [1, 2]]), resolution=resolution,
                     classes=[LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "retina", (200, 90, 50)),
                              LabelClass(2, "vessel", (255, 255, 255))])
