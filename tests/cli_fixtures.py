"""Fixtures shared by the CLI test modules (registered in conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def pairs(tmp_path):
    """Three 32 px mask/image pairs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub in ("masks", "images"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "pairs" / "images" / f"{i}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 8:20] = 255
        Image.fromarray(mask).save(tmp_path / "pairs" / "masks" / f"{i}.png")
    return tmp_path / "pairs"


@pytest.fixture
def raw_skin(tmp_path):
    """One ISIC-style image with its segmentation."""
    import numpy as np
    from PIL import Image

    raw = tmp_path / "raw"
    for sub in ("images", "masks"):
        (raw / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(raw / "images" / "ISIC_1.jpg")
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    Image.fromarray(mask).save(raw / "masks" / "ISIC_1_segmentation.png")
    return raw
