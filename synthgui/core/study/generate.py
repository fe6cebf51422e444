"""Synthetic study images made with the one inference engine, with provenance per image."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import SynthguiError


@dataclass
class Generated:
    path: Path
    provenance: dict


def generate_images(model_name: str, count: int, out_dir: Path, masks_dir: Path | None = None, seed: int = 0,
                    device: str = "auto", progress: Callable[[int, int], None] | None = None) -> list[Generated]:
    """Render ``count`` images: from the given masks (cycled in sorted order) or proposed masks, or,
    for an unconditional (noise to image) generator such as a DCGAN, sample them by seed."""
    from ..encoding import EncodeRequest
    from ..engine import Engine
    from ..imagefiles import save_image
    from ..masks import load_mask
    from ..models import load_model
    from .normalise import list_images

    if count < 1:
        raise SynthguiError("--count must be at least 1")
    model = load_model(model_name)
    if model.card.encoding.kind == "noise":
        if masks_dir is not None:
            raise SynthguiError(f"model {model.card.name!r} samples from noise; it takes no masks (drop --masks)")
        return _sample_images(Engine(model, device=device), count, out_dir, seed, progress)
    masks = list_images(masks_dir) if masks_dir is not None else None
    propose = None
    if masks is None:
        try:
            propose = importlib.import_module("synthgui.core.geometry").propose
        except (ModuleNotFoundError, AttributeError):
            raise SynthguiError("no mask generator is available in this version: pass --masks DIR "
                                "with the real images' masks") from None
    engine = Engine(model, device=device)
    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[Generated] = []
    for i in range(count):
        image_seed = seed + i
        if masks is not None:
            mask_path = masks[i % len(masks)]
            label_map, mask_source = load_mask(mask_path, model.card), mask_path.name
        else:
            label_map, mask_source = propose(model.card.domain, model.card.resolution, image_seed), "proposed"
        image = engine.render(label_map, EncodeRequest(), seed=image_seed)
        path = out_dir / f"generated_{i:05d}.png"
        save_image(path, image)
        made.append(Generated(path, {"model": model.identity(), "seed": image_seed, "mask": mask_source,
                                     "device": str(engine.device)}))
        if progress:
            progress(i + 1, count)
    return made


def _sample_images(engine, count: int, out_dir: Path, seed: int,
                   progress: Callable[[int, int], None] | None) -> list[Generated]:
    """Image ``i`` from seed ``seed + i``, in chunks so memory stays bounded."""
    from ..imagefiles import save_image

    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[Generated] = []
    for start in range(0, count, 64):
        result = engine.sample(min(64, count - start), seed + start)
        for image, image_seed in zip(result.images, result.seeds):
            path = out_dir / f"generated_{len(made):05d}.png"
            save_image(path, image)
            made.append(Generated(path, {"model": engine.model.identity(), "seed": image_seed, "mask": "none (noise)",
                                         "device": str(engine.device)}))
        if progress:
            progress(len(made), count)
    return made
