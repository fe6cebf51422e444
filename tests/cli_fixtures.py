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
