"""Studio fixtures shared by the GUI test modules (registered in conftest.py): a window, a window
with a tiny model loaded, and QSettings in a temporary folder. Qt is imported inside them, so
collecting the core tests does not load it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def temp_settings(tmp_path):
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    folder = tmp_path_factory.mktemp("models")
    return write_model(folder, GeneratorSpec(ngf=4, num_downs=8), skin_card("tiny-skin", 256), name="tiny")


@pytest.fixture
def window(qtbot):
    from synthgui.gui.studio import StudioWindow

    w = StudioWindow()
    w._confirm_discard = lambda: True  # no modal prompt in tests
    qtbot.addWidget(w)
    w.resize(1200, 700)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


@pytest.fixture
def loaded(window, qtbot, tiny_model):
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.load_model_path(str(tiny_model))
    wait_rendered(window, qtbot)
    return window


def wait_rendered(window, qtbot, timeout=30000):
    qtbot.waitUntil(lambda: window.bridge is not None and window.preview.image_id == window.bridge.latest_id
                    and window._dirty_since is None and window.bridge.idle_for_gui(), timeout=timeout)


def wait_proposed(window, qtbot, timeout=30000):
    """Propose draws on a pool thread: wait until its answer has reached the canvas."""
    qtbot.waitUntil(lambda: not window.proposing, timeout=timeout)
