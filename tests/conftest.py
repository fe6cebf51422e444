"""Shared fixtures: no test touches the user's settings, models or home folder, and Qt runs offscreen."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ("tests.studio_fixtures", "tests.cli_fixtures", "tests.export_fixtures")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Point HOME, XDG folders and SYNTHGUI_HOME into a temporary folder for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("SYNTHGUI_HOME", str(home / "synthgui"))
    return home


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    return SHARED_DATA


_APP = None  # held for the whole session, as pytest-qt does, so the QApplication is never destroyed


@pytest.fixture(scope="session")
def qapp(qapp_args):
    """pytest-qt's application, with the app's own rule that cyclic garbage is collected on the GUI
    thread only: a worker thread that frees a widget left over from an earlier test crashes the run."""
    global _APP
    from PySide6.QtWidgets import QApplication

    from synthgui.gui import main_thread_gc

    _APP = QApplication.instance() or QApplication(qapp_args)
    main_thread_gc.install(_APP)
    return _APP


@pytest.fixture(autouse=True)
def collect_on_the_main_thread():
    """Between tests the event loop may not have run the collector's timer; check it here, on the
    main thread, so garbage from one test is not left for the next test's worker threads."""
    yield
    if "synthgui.gui.main_thread_gc" in sys.modules:
        collector = sys.modules["synthgui.gui.main_thread_gc"].installed()
        if collector is not None:
            collector.check()
