"""Fixtures shared by the export test modules (registered in conftest.py): a tiny skin model and its engine."""

from __future__ import annotations

import pytest


@pytest.fixture
def model_path(tmp_path):
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    return write_model(tmp_path / "model", GeneratorSpec(ngf=4), skin_card())


@pytest.fixture
def engine(model_path):
    from synthgui.core.engine import Engine
    from synthgui.core.models import load_model

    return Engine(load_model(model_path), device="cpu", threads=1)
