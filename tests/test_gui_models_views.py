"""The studio's model picker and model menu, its views (zoom, pan, fit, preview modes), the
settings it remembers and the shortcut list, offscreen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

pytestmark = pytest.mark.usefixtures("temp_settings")  # fixtures: tests/studio_fixtures.py


def combo_texts(window) -> list[str]:
    window._fill_model_combo()
    return [window.model_combo.itemText(i) for i in range(window.model_combo.count())]


def user_models() -> Path:
    from synthgui.core.model_files import user_models_dir

    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load(window, qtbot, path) -> None:
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.load_model_path(str(path))
    qtbot.waitUntil(lambda: not window.model_loading, timeout=60000)


def new_window(qtbot):
    from synthgui.gui.studio import StudioWindow

    w = StudioWindow()
    w._confirm_discard = lambda: True
    qtbot.addWidget(w)
    return w


def ctrl_wheel(view, pos: QPointF, steps: int = 1) -> None:
    ev = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)


# --- the model picker ------------------------------------------------------------------------------


def test_a_model_card_json_is_listed_under_the_card_s_name(window):
    """The README's layout, a reference ``latest_net_G.pth`` with ``model_card.json`` beside it,
    must be listed as the card names it, not as "model_card"; two models with one name stay apart."""
    folder = user_models()
    (folder / "latest_net_G.pth").write_bytes(b"x")
    (folder / "model_card.json").write_text(json.dumps({"name": "Melanoma GAN", "weights": "latest_net_G.pth"}))
    (folder / "mel2.pth").write_bytes(b"x")
    (folder / "mel2.json").write_text(json.dumps({"name": "Melanoma GAN", "weights": "mel2.pth"}))
    texts = combo_texts(window)
    named = [t for t in texts if t.startswith("Melanoma GAN")]
    assert len(named) == 2 and len(set(named)) == 2, texts
    assert not any(t.startswith("model_card") for t in texts)
    window._fill_model_menu()
    menu = [a.text() for a in window.model_menu.actions()]
    assert set(named) <= {t.replace("&", "") for t in menu}


def test_an_unreadable_models_folder_or_a_bad_card_does_not_stop_the_window(qtbot, monkeypatch):
    folder = user_models()
    (folder / "odd.pth").write_bytes(b"x")
    (folder / "odd.json").write_text(json.dumps({"name": "odd", "weights": 5}))  # a hand-edited card
    from synthgui.core.model_files import list_models

    assert [e.name for e in list_models() if e.source == "user"] == ["odd"]
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    w = new_window(qtbot)  # the picker is filled while the window is built
    texts = combo_texts(w)
    assert any("(bundled)" in t for t in texts) and texts[-1] == "Open model..."


def test_a_model_copied_into_my_models_folder_is_offered_when_the_picker_opens(window):
    """The welcome page says: copy a checkpoint and its card into your models folder to list it."""
    w = window
    assert not any("Copied GAN" in t for t in combo_texts(w))
    folder = user_models()
    (folder / "copied.pth").write_bytes(b"x")
    (folder / "copied.json").write_text(json.dumps({"name": "Copied GAN", "weights": "copied.pth"}))
    w.model_combo.showPopup()
    try:
        texts = [w.model_combo.itemText(i) for i in range(w.model_combo.count())]
    finally:
        w.model_combo.hidePopup()
    assert "Copied GAN (user)" in texts


def test_scrolling_over_the_model_picker_loads_nothing(loaded, qtbot, monkeypatch):
    """A wheel turn over the toolbar must not load the next model, nor open a file dialog at "Open model..."."""
    from PySide6.QtWidgets import QFileDialog

    w = loaded
    dialogs = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: dialogs.append(a) or ("", ""))
    token = w._load_token
    combo = w.model_combo
    pos = QPointF(combo.width() / 2, combo.height() / 2)
    for delta in (-120, -120, -120, 120):
        ev = QWheelEvent(pos, combo.mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt.MouseButton.NoButton,
                         Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(combo, ev)
    assert w._load_token == token and not w.model_loading and not dialogs


def test_a_device_change_while_another_model_loads_keeps_that_model(loaded, qtbot, tmp_path):
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    other = write_model(tmp_path, GeneratorSpec(ngf=4), skin_card("other-skin"), name="other")
    w = loaded
    w.load_model_path(str(other))  # picked in the combo; still loading when the device is changed
    w.set_device("cpu")
    qtbot.waitUntil(lambda: not w.model_loading, timeout=60000)
    assert w.model.entry.weights == other and w.model.name == "other-skin"


def test_a_device_this_machine_lacks_is_not_remembered(loaded, qtbot):
    import torch

    from synthgui.gui.studio_models import chosen_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    w = loaded
    before = chosen_device()
    with qtbot.waitSignal(w.model_failed, timeout=60000):
        w.set_device("cuda")
    assert chosen_device() == before  # the menu shows the device the model runs on, and the next model loads
    w._fill_model_menu()
    device_menu = next(a.menu() for a in w.model_menu.actions() if a.menu() is not None)
    assert [a.text() for a in device_menu.actions() if a.isChecked()] != ["NVIDIA GPU (CUDA)"]


# --- views -----------------------------------------------------------------------------------------


def test_ctrl_wheel_at_the_zoom_limit_keeps_the_point_under_the_cursor(window):
    w = window
    w.sync.set(60.0, QPointF(128, 128))
    pos = w.canvas.transform().map(QPointF(130.5, 129.5))
    anchor = w.canvas.to_image(pos)
    for _ in range(3):  # past the largest zoom: the image must not slide away
        ctrl_wheel(w.canvas, pos)
        after = w.canvas.to_image(pos)
        assert abs(after.x() - anchor.x()) < 1e-6 and abs(after.y() - anchor.y()) < 1e-6
    assert w.sync.scale == 64.0


def test_fit_fits_the_image_in_both_views(window, qtbot):
    w = window
    splitter = w.centralWidget()
    splitter.setSizes([800, 250])
    qtbot.waitUntil(lambda: w.preview.width() < 300)
    w.act_fit.trigger()
    for view in (w.canvas, w.preview):
        assert 256 * w.sync.scale <= min(view.width(), view.height()), (view, view.size(), w.sync.scale)
    splitter.setSizes([250, 800])  # resizing a fitted view keeps both fitted
    qtbot.waitUntil(lambda: w.canvas.width() < 300)
    assert 256 * w.sync.scale <= min(w.canvas.width(), w.canvas.height())


def test_zoom_and_pan_survive_a_device_switch_and_follow_another_resolution(loaded, qtbot, tmp_path):
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import skin_card, write_model

    w = loaded
    w.sync.set(4.0, QPointF(60, 70))
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.set_device("cpu")
    assert w.sync.scale == 4.0 and w.sync.centre == QPointF(60, 70)
    small = write_model(tmp_path, GeneratorSpec(ngf=4, num_downs=7), skin_card("small-skin", 128), name="small")
    load(w, qtbot, small)
    assert w.doc.size == (128, 128)
    assert w.sync.scale == 8.0 and w.sync.centre == QPointF(30, 35)  # the same part of the image, as large


def test_a_closed_panel_can_be_shown_again_from_the_view_menu(window, qtbot):
    """The window layout is remembered, closed panels too: the View menu must bring them back."""
    w = window
    w.docks[0].close()
    w.save_settings()
    w2 = new_window(qtbot)
    w2.show()
    qtbot.waitExposed(w2)
    dock = next(d for d in w2.docks if d.objectName() == "lesion_dock")
    assert not dock.isVisible()
    view = next(a.menu() for a in w2.menuBar().actions() if a.text().replace("&", "") == "View")
    toggle = next(a for a in view.actions() if a.text().replace("&", "") == dock.windowTitle())
    toggle.trigger()
    assert dock.isVisible()


# --- settings --------------------------------------------------------------------------------------


def test_a_corrupt_settings_value_does_not_stop_the_window(qtbot):
    from synthgui.gui.settings import app_settings

    s = app_settings()
    s.setValue("studio/brush_size", "big")  # a hand-edited config
    s.setValue("studio/view_mode", 7)
    s.sync()
    w = new_window(qtbot)
    assert w.brush_size.value() == 10 and w.view_mode.currentData() == "side"


def test_the_remembered_brush_size_survives_loading_the_startup_model(loaded, qtbot, tiny_model):
    w = loaded
    w.set_brush_size(17)
    w.save_settings()
    w2 = new_window(qtbot)
    assert w2.brush_size.value() == 17
    load(w2, qtbot, tiny_model)  # the last model, loaded at start as `synthgui` does
    assert w2.brush_size.value() == 17
    w2.shutdown()


def test_the_view_mode_and_its_sliders_are_remembered(window, qtbot):
    w = window
    w.view_mode.setCurrentIndex(w.view_mode.findData("split"))
    w.split_slider.setValue(30)
    w.overlay_opacity.setValue(70)
    w.save_settings()
    w2 = new_window(qtbot)
    assert w2.view_mode.currentData() == "split" and w2.preview.mode == "split"
    assert w2.split_slider.value() == 30 and abs(w2.preview.split - 0.3) < 1e-9
    assert w2.overlay_opacity.value() == 70 and abs(w2.preview.opacity - 0.7) < 1e-9
    assert w2.split_slider.isEnabled() and not w2.overlay_opacity.isEnabled()


# --- help ------------------------------------------------------------------------------------------


def test_the_shortcut_list_names_each_key_once(window):
    from synthgui.gui.help import shortcut_rows

    for menu, action, keys in shortcut_rows(window.menuBar()):
        listed = keys.split(", ")
        assert len(listed) == len(set(listed)), (menu, action, keys)


def test_the_shortcut_list_has_the_keys_the_canvas_reads(window):
    """Help > Keyboard shortcuts "lists every key": the polygon tool also cancels on Escape."""
    from synthgui.gui.help import GESTURES

    w = window
    w.set_tool("polygon")
    for x, y in ((10, 10), (60, 10), (60, 60)):
        w.canvas._poly.append((x, y))
    from PySide6.QtGui import QKeyEvent

    QApplication.sendEvent(w.canvas, QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier))
    assert w.canvas._poly == [] and not w.doc.label_map.any()  # what Escape does
    assert any("Esc" in keys for _what, keys in GESTURES)
