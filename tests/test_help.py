"""First run and Help: the welcome page once, shortcuts read from the real actions, licences from the cards."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from synthgui.core.licences import model_terms  # noqa: E402
from synthgui.core.locations import app_locations, documents_dir  # noqa: E402


@pytest.fixture(autouse=True)
def temp_settings(tmp_path):
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def window(qtbot):
    from synthgui.gui.studio import StudioWindow

    w = StudioWindow()
    w._confirm_discard = lambda: True
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def fake_models(root: Path) -> Path:
    """A resources folder with one carded NC model and one bare checkpoint."""
    models = root / "models"
    models.mkdir(parents=True)
    (models / "brainy.pth").write_bytes(b"x")
    (models / "brainy.json").write_text(json.dumps({
        "name": "brainy", "version": "2.1", "weights": "brainy.pth", "licence": "CC BY-NC-SA 4.0",
        "intended_use": "research only",
        "training_data": [{"name": "LGG", "licence": "CC BY-NC-SA 4.0", "citation": "Buda et al. 2019"}]}))
    (models / "bare.pth").write_bytes(b"x")
    return root


def test_terms_come_from_the_cards(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHGUI_RESOURCES", str(fake_models(tmp_path / "res")))
    terms = {t.name: t for t in model_terms()}
    assert terms["brainy"].licence == "CC BY-NC-SA 4.0" and terms["brainy"].version == "2.1"
    assert terms["brainy"].data[0].citation == "Buda et al. 2019"
    assert terms["bare"].licence.startswith("unknown: no model card")


def test_about_lists_every_model_licence(tmp_path, monkeypatch):
    from synthgui.gui.help import about_html

    monkeypatch.setenv("SYNTHGUI_RESOURCES", str(fake_models(tmp_path / "res")))
    text = about_html()
    assert "brainy" in text and "CC BY-NC-SA 4.0" in text and "Buda et al. 2019" in text
    assert "bare" in text and "unknown" in text
    assert "not for diagnosis" in text.lower()


def test_about_reads_the_torch_version_without_importing_torch():
    import subprocess
    import sys

    code = ("import sys; from synthgui.gui.help import about_html; text = about_html(); "
            "print('torch' in sys.modules, 'PyTorch' in text)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_bundled_models_show_their_data_licences():
    from synthgui.gui.help import about_html

    text = about_html()
    for t in model_terms():
        if t.source == "bundled":
            assert t.name in text and t.licence in text
    assert any("CC0" in d.licence for t in model_terms() for d in t.data)  # ISIC's terms reach the user


def test_welcome_names_the_folders(tmp_path, monkeypatch):
    from synthgui.gui.help import welcome_html

    monkeypatch.setenv("SYNTHGUI_DOCUMENTS", str(tmp_path / "docs"))
    text = welcome_html()
    locations = app_locations()
    assert locations.projects == tmp_path / "docs" / "projects"
    for _, where in locations.rows():
        assert str(where) in text
    assert "latest_net_G.pth" in text and "Open model" in text


def test_documents_default_is_visible_in_documents(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHGUI_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert documents_dir() == tmp_path / "synthgui"
    (tmp_path / "Documents").mkdir()
    assert documents_dir() == tmp_path / "Documents" / "synthgui"


def test_help_menu_and_shortcuts_from_the_actions(window):
    from synthgui.gui.help import GESTURES, ShortcutsDialog, shortcut_rows

    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[-1] == "Help"
    rows = shortcut_rows(window.menuBar())
    by_action = {(menu, action): keys for menu, action, keys in rows}
    assert by_action[("Studio", "Brush")] == "1, B"
    assert by_action[("Studio", "Polygon")] == "4, P"
    assert by_action[("Edit", "Undo")] == "Ctrl+Z"
    assert ("Help", "Keyboard shortcuts") in by_action
    # every action with a shortcut anywhere in the menus is listed
    dialog = ShortcutsDialog(window.menuBar(), window)
    assert dialog.table.rowCount() == len(rows) + len(GESTURES)
    listed = {dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert {"Brush", "Eraser", "Fill", "Ellipse", "Move", "Eyedropper", "Smaller brush", "Larger brush"} <= listed


def test_shortcuts_leave_out_multimedia_keys(qtbot):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QMenuBar

    from synthgui.gui.help import shortcut_rows

    bar = QMenuBar()
    qtbot.addWidget(bar)
    quit_action = QAction("&Quit", bar)
    quit_action.setShortcuts([QKeySequence("Ctrl+Q"), QKeySequence(Qt.Key.Key_Exit)])  # as X11 gives for Quit
    bar.addMenu("&File").addAction(quit_action)
    assert shortcut_rows(bar) == [("File", "Quit", "Ctrl+Q")]


def test_help_dialogs_open_without_blocking(window, qtbot):
    from synthgui.gui.help import AboutDialog, ShortcutsDialog, WelcomeDialog

    for trigger, kind in ((window.act_about, AboutDialog), (window.act_shortcuts, ShortcutsDialog),
                          (window.act_welcome, WelcomeDialog)):
        trigger.trigger()  # returns at once: the dialogs are not modal
        shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
        assert len(shown) == 1
        shown[0].close()


def test_welcome_once_at_first_start(qtbot, monkeypatch):
    from synthgui.commands import gui
    from synthgui.gui.help import WelcomeDialog, welcome_wanted

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(QApplication, "exec", lambda *a: 0)
    opened = []

    def start() -> WelcomeDialog | None:
        widgets = QApplication.topLevelWidgets()  # held, so no new wrapper can reuse one of their ids
        before = set(map(id, widgets))
        assert gui.launch_args(argparse.Namespace(project=None, model="no-such-model")) == 0
        new = [w for w in QApplication.topLevelWidgets() if id(w) not in before]
        for w in new:
            opened.append(w)
            qtbot.addWidget(w)
        return next((w for w in new if isinstance(w, WelcomeDialog) and w.isVisible()), None)

    try:
        assert welcome_wanted()
        first = start()
        assert first is not None
        first.close()
        assert not welcome_wanted()
        assert start() is None  # seen once is enough
        # unless the user asks for it every time
        dialog = WelcomeDialog()
        qtbot.addWidget(dialog)
        dialog.show_at_start.setChecked(True)
        assert welcome_wanted()
        assert start() is not None
    finally:
        for w in opened:
            if hasattr(w, "shutdown"):
                w.shutdown()
            w.close()


def test_file_dialogs_start_in_the_named_folders(window, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHGUI_DOCUMENTS", str(tmp_path / "docs"))
    assert window._default_dir("projects") == str(tmp_path / "docs" / "projects")
    assert (tmp_path / "docs" / "projects").is_dir()


def test_start_drawing_gives_the_keys_to_the_canvas(window, qtbot):
    """Closing the welcome page left no widget with the keyboard (under a bare X server Ctrl+R and the
    tool keys did nothing until a click): "Start drawing" hands the keys to the canvas."""
    from synthgui.gui.help import WelcomeDialog

    window.render_panel.seed.setFocus()
    window.act_welcome.trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, WelcomeDialog) and w.isVisible())
    dialog.accept()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
