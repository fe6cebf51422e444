"""The studio window, offscreen: drawing, live preview, undo, lesion controls, tone, projects, errors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from tests.gui_input import screen_of, send_mouse, stroke  # noqa: E402
from tests.studio_fixtures import wait_proposed, wait_rendered  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("temp_settings")  # fixtures: tests/studio_fixtures.py


def fresh_python(code: str) -> list[str]:
    """Run ``code`` in a new interpreter (start-up and environment as a user's), its printed words back."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_window_opens_without_a_model_and_without_torch():
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from synthgui.gui.studio import StudioWindow\n"
        "w = StudioWindow(); w.show(); app.processEvents()\n"
        "print('torch' in sys.modules, w.model is None, 'Open model' in w.preview.placeholder)\n"
    )
    assert fresh_python(code) == ["False", "True", "True"]


def test_stroke_paints_the_mask_and_the_preview_follows(loaded, qtbot):
    w = loaded
    w.set_tool("brush")
    w.set_brush_size(6)
    first = w.preview.image_id
    # a skin model on an empty mask renders nothing (it never saw skin without a lesion): a hint instead
    assert w.preview.image is None and "Draw a lesion" in w.preview.placeholder
    stroke(w.canvas, [(60, 60), (90, 70), (120, 100), (140, 140)])
    lm = w.doc.label_map
    assert lm[60, 60] == 1 and lm[140, 140] == 1 and lm[100, 120] == 1 and lm[10, 10] == 0
    assert w.doc.undo_stack.count() == 1  # one drag = one step
    wait_rendered(w, qtbot)
    assert w.preview.image_id > first and w.preview.image is not None
    assert w.stale_label.text() == ""
    w.doc.undo_stack.undo()  # the lesion is gone again: back to the hint, no stale render left on screen
    qtbot.waitUntil(lambda: w.preview.image is None, timeout=10000)
    assert "Draw a lesion" in w.preview.placeholder


def test_undo_redo_restore_exact_masks(loaded, qtbot):
    w = loaded
    w.set_tool("brush")
    w.set_brush_size(4)
    empty = w.doc.label_map.copy()
    stroke(w.canvas, [(30, 30), (80, 30)])
    one = w.doc.label_map.copy()
    w.set_tool("eraser")
    stroke(w.canvas, [(50, 30), (50, 31)])
    two = w.doc.label_map.copy()
    assert two[30, 50] == 0 and one[30, 50] == 1
    w.doc.undo_stack.undo()
    assert np.array_equal(w.doc.label_map, one)
    w.doc.undo_stack.undo()
    assert np.array_equal(w.doc.label_map, empty)
    w.doc.undo_stack.redo()
    w.doc.undo_stack.redo()
    assert np.array_equal(w.doc.label_map, two)
    # steps hold only their region
    for i in range(w.doc.undo_stack.count()):
        for atom in w.doc.undo_stack.command(i).atoms:
            assert atom.old.size < empty.size / 4


def _disk(w, r=20, centre=(128, 128)):
    import cv2

    lm = np.zeros_like(w.doc.label_map)
    cv2.ellipse(lm, centre, (r * 2, r), 0, 0, 360, 1, -1)
    w.doc.replace(lm, "test")
    assert w.select_lesion()


def test_lesion_size_location_rotation(loaded):
    w = loaded
    _disk(w)
    area = np.count_nonzero(w.doc.label_map)
    w.lesion_panel.size.setValue(200)
    assert 3.6 < np.count_nonzero(w.doc.label_map) / area < 4.4
    w.lesion_panel.size.setValue(100)
    assert abs(np.count_nonzero(w.doc.label_map) / area - 1) < 0.05
    w.lesion_panel.x.setValue(w.lesion_panel.x.value() + 30)
    ys, xs = np.nonzero(w.doc.label_map)
    assert abs(xs.mean() - 158) < 1.5 and abs(ys.mean() - 128) < 1.5
    w.lesion_panel.rotation.setValue(90)
    ys, xs = np.nonzero(w.doc.label_map)
    assert (ys.max() - ys.min()) > 1.7 * (xs.max() - xs.min())  # the wide ellipse now stands up
    steps = w.doc.undo_stack.count()
    w.doc.undo_stack.undo()  # rotation is one step
    ys, xs = np.nonzero(w.doc.label_map)
    assert (xs.max() - xs.min()) > 1.7 * (ys.max() - ys.min())
    assert w.doc.undo_stack.index() == steps - 1


def test_move_tool_drags_a_lesion(loaded):
    w = loaded
    _disk(w, 10, (60, 60))
    w.set_tool("move")
    stroke(w.canvas, [(60, 60), (80, 70), (100, 90)])
    ys, xs = np.nonzero(w.doc.label_map)
    assert abs(xs.mean() - 100) < 1.5 and abs(ys.mean() - 90) < 1.5
    w.doc.undo_stack.undo()
    ys, xs = np.nonzero(w.doc.label_map)
    assert abs(xs.mean() - 60) < 1.5


def test_a_click_with_the_move_tool_selects_the_lesion(loaded):
    w = loaded
    _disk(w, 10, (60, 60))
    assert not w.doc.select_at(200, 200)  # skin
    w._selection_changed()
    assert not w.lesion_panel.size.isEnabled()
    w.set_tool("move")
    stroke(w.canvas, [(60, 60)])  # press and release, no drag
    assert w.doc.selected is not None and w.doc.selected[60, 60]
    assert w.lesion_panel.size.isEnabled()
    stroke(w.canvas, [(200, 200)])  # a click on skin clears it
    assert w.doc.selected is None


def test_the_selection_outline_follows_a_scaled_and_rotated_lesion(loaded):
    w = loaded
    _disk(w, 10, (60, 60))
    w.set_tool("move")
    w.lesion_panel.size.setValue(200)
    w.lesion_panel.rotation.setValue(90)
    outline = w.doc.selection_now
    assert outline is not None and np.array_equal(outline, w.doc.label_map > 0)
    ys, xs = np.nonzero(outline)
    assert ys.max() - ys.min() > xs.max() - xs.min()  # stands up, twice as big: not the first box


def test_skin_tone_changes_the_generator_input(loaded, qtbot):
    from synthgui.core.skin_tones import FITZPATRICK_RGB

    w = loaded
    stroke(w.canvas, [(100, 100), (140, 120)])
    wait_rendered(w, qtbot)
    w.tone_panel.buttons["V"].click()
    job = w.render_job()
    assert job.request.skin_tone == FITZPATRICK_RGB["V"]
    x = w.bridge.engine.encode(job.label_map, job.request)
    expected = np.array(FITZPATRICK_RGB["V"]) / 127.5 - 1
    assert np.allclose(x[:, 0, 0], expected)
    assert w._dirty_since is not None or not w.bridge.idle_for_gui()  # a render is on its way
    before = w.last_image.copy()
    wait_rendered(w, qtbot)
    assert not np.array_equal(before, w.last_image)


def test_project_round_trip_is_exact(loaded, qtbot, tmp_path):
    from synthgui.gui.studio import StudioWindow

    w = loaded
    w.set_tool("brush")
    stroke(w.canvas, [(40, 40), (100, 120)])
    w.tone_panel.set_tone((120, 80, 60))
    w.render_panel.seed.setValue(1234)
    w.render_panel.set_mode("eval")
    w.view_mode.setCurrentIndex(2)
    path = tmp_path / "case.synthgui"
    assert w.save_project(path)
    assert w.doc.undo_stack.isClean()
    w2 = StudioWindow()
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.model_ready, timeout=60000):
        assert w2.open_project(path)
    assert np.array_equal(w2.doc.label_map, w.doc.label_map)
    assert w2.project().parameters() == w.project().parameters()
    w2.shutdown()


def test_closing_during_a_render_exits_cleanly(loaded, qtbot):
    w = loaded
    started = threading.Event()
    release = threading.Event()
    real = w.bridge.engine.render

    def slow(*args, **kw):
        started.set()
        release.wait(5)
        return real(*args, **kw)

    w.bridge.engine.render = slow
    stroke(w.canvas, [(20, 20), (40, 40)])
    qtbot.waitUntil(started.is_set, timeout=10000)
    threading.Timer(0.3, release.set).start()
    t0 = time.perf_counter()
    assert w.close()
    assert time.perf_counter() - t0 < 10
    assert not w.bridge._worker._thread.is_alive()


def test_corrupt_model_gives_a_message_and_keeps_the_work(window, qtbot, tmp_path):
    w = window
    w.set_tool("brush")
    stroke(w.canvas, [(50, 50), (60, 60)])
    before = w.doc.label_map.copy()
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with qtbot.waitSignal(w.model_failed, timeout=60000) as blocker:
        w.load_model_path(str(bad))
    assert "broken.pth" in w.last_error or "checkpoint" in blocker.args[0]
    assert np.array_equal(w.doc.label_map, before)
    assert w.model is None


def test_unreadable_files_give_messages(window, tmp_path):
    w = window
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"nope")
    assert not w.import_mask(junk) and "not an image" in w.last_error
    assert not w.open_project(junk)
    assert not w.open_underlay(str(junk))


def test_settings_persist(window, qtbot):
    from synthgui.gui.studio import StudioWindow

    window.set_tool("ellipse")
    window.set_brush_size(17)
    window.save_settings()
    w2 = StudioWindow()
    qtbot.addWidget(w2)
    assert w2.canvas.tool == "ellipse" and w2.brush_size.value() == 17


def test_tools_have_shortcuts_in_tooltips(window):
    keys = set()
    for tool, act in window.tool_actions.items():
        shortcuts = [s.toString() for s in act.shortcuts()]
        assert len(shortcuts) == 2 and shortcuts[0] in "1234567"
        assert shortcuts[0] in act.toolTip()
        keys.update(shortcuts)
    assert len(keys) == 14


def test_fill_polygon_ellipse_and_eyedropper(loaded):
    w = loaded
    w.set_tool("ellipse")
    stroke(w.canvas, [(20, 20), (60, 40)])
    assert w.doc.label_map[30, 40] == 1
    w.set_tool("polygon")
    for pt in [(100, 100), (150, 100), (150, 150)]:
        send_mouse(w.canvas, "press", screen_of(w.canvas, *pt))
        send_mouse(w.canvas, "release", screen_of(w.canvas, *pt))
    w.canvas.finish_polygon()
    assert w.doc.label_map[110, 140] == 1 and w.doc.label_map[140, 110] == 0
    w.palette_panel.select(2)
    w.canvas.label = 2
    w.set_tool("fill")
    stroke(w.canvas, [(40, 30)])
    assert w.doc.label_map[30, 40] == 2 and w.doc.label_map[30, 25] == 2 and w.doc.label_map[110, 140] == 1
    w.canvas.label = 1
    w.set_tool("eyedropper")
    stroke(w.canvas, [(40, 30)])
    assert w.canvas.label == 2


def write_grey_dicom(path: Path) -> Path:
    """A 32 x 48 16-bit MONOCHROME2 image with a window of 500 / 1000."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = 32, 48
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.WindowCenter, ds.WindowWidth = 500, 1000
    ds.PixelData = (np.arange(32 * 48, dtype=np.uint16)).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def test_dicom_underlay_with_window(window, tmp_path):
    pytest.importorskip("pydicom")
    write_grey_dicom(tmp_path / "x.dcm")
    assert window.open_underlay(str(tmp_path / "x.dcm"))
    assert window.window_centre.isEnabled() and window.window_centre.value() == 500
    window.window_width.setValue(100)
    right = Qt.MouseButton.RightButton
    c = window.canvas
    send_mouse(c, "press", QPointF(100, 100), right, right)
    send_mouse(c, "move", QPointF(140, 80), right, right)
    send_mouse(c, "release", QPointF(140, 80), right, right)
    assert window.window_width.value() > 100 and window.window_centre.value() > 500  # wider, higher level
    img = window.canvas.underlay
    assert img is not None and img.width() == img.height() == 32  # centred square, not stretched
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(np.full((30, 60, 3), 200, np.uint8)).save(photo)
    assert window.open_underlay(str(photo)) and not window.window_centre.isEnabled()
    assert window.canvas.underlay.width() == 30


def test_undo_history_is_bounded(window):
    from synthgui.gui.document import UNDO_LIMIT

    w = window
    w.set_tool("brush")
    w.set_brush_size(1)
    for i in range(UNDO_LIMIT + 20):
        x = 5 + (i % 60) * 4
        y = 5 + (i // 60) * 6
        stroke(w.canvas, [(x, y)])
    assert w.doc.undo_stack.count() == UNDO_LIMIT
    total = sum(a.nbytes for i in range(w.doc.undo_stack.count()) for a in w.doc.undo_stack.command(i).atoms)
    assert total <= UNDO_LIMIT * 2 * 8 * 8  # each step holds only its dab's box, not the 256x256 mask


def test_zoom_and_pan_are_shared(window):
    w = window
    w.canvas.fit()
    before = w.sync.scale
    w.canvas.actual_size()
    assert w.sync.scale == 1.0
    centre = lambda v: v.to_image(QPointF(v.width() / 2, v.height() / 2))  # noqa: E731
    assert centre(w.canvas) == centre(w.preview)
    w.sync.set(3.0, QPointF(40, 50))
    assert centre(w.canvas) == centre(w.preview) == QPointF(40, 50)
    w.canvas.fit()
    assert abs(w.sync.scale - before) < 1e-9


def test_propose_fills_the_canvas_undoably(loaded, qtbot):
    geometry = pytest.importorskip("synthgui.core.geometry")
    from synthgui.core.errors import SynthguiError

    try:
        geometry.propose("skin", 64, 0)
    except SynthguiError as exc:
        pytest.skip(f"geometry not ready here: {exc}")
    w = loaded
    assert w.act_propose.isEnabled()
    w.propose()
    wait_proposed(w, qtbot)
    assert w.last_error is None, w.last_error
    assert w.doc.label_map.any() and w.doc.label_map.shape == (256, 256)
    w.doc.undo_stack.undo()
    assert not w.doc.label_map.any()


def test_fundus_model_switches_palette_tools_and_canvas(window, qtbot, tmp_path):
    from synthgui.core.card import Encoding, LabelClass, ModelCard
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    card = ModelCard(name="tiny-fundus", domain="fundus", encoding=Encoding("channels", [[2], [1, 2]]), resolution=256,
                     classes=[LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "retina", (128, 128, 128)),
                              LabelClass(2, "vessel", (255, 255, 255))])
    path = write_model(tmp_path, GeneratorSpec(input_nc=2, ngf=4), card, name="fundus")
    w = window
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(path))
    assert not w.tone_panel.isVisible()
    assert w.canvas.label == 2 and w.brush_size.value() == 2
    lm = w.doc.label_map
    assert lm[128, 128] == 1 and lm[2, 2] == 0  # a field of view to draw vessels in
    qtbot.waitUntil(lambda: w.preview.image is not None and w.last_error is None, timeout=30000)


def test_mri_model_starts_with_a_brain_outline_and_paints_the_abnormality(window, qtbot, tmp_path):
    from synthgui.core.card import Encoding, LabelClass, ModelCard
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    card = ModelCard(name="tiny-mri", domain="mri", encoding=Encoding("palette"), resolution=256,
                     classes=[LabelClass(0, "background", (0, 0, 0)), LabelClass(1, "brain", (90, 90, 90)),
                              LabelClass(2, "abnormality", (255, 255, 255))])
    path = write_model(tmp_path, GeneratorSpec(ngf=4), card, name="mri")
    w = window
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(path))
    lm = w.doc.label_map
    assert set(np.unique(lm).tolist()) == {0, 1} and 0.2 < (lm == 1).mean() < 0.8  # a brain, no tumour yet
    assert lm[128, 128] == 1 and lm[0, 0] == 0
    assert w.canvas.label == 2 and w.brush_size.value() == 6 and not w.tone_panel.isVisible()
    assert w.doc.undo_stack.isClean()  # a fresh canvas, not an edit


def test_switching_models_drops_the_old_engines_results(loaded, qtbot, tiny_model):
    w = loaded
    old = w.bridge
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(tiny_model))
    assert w.bridge is not old and not old._worker._thread.is_alive() or old._worker._stopped
    from synthgui.core.engine import RenderJob

    stale = RenderJob(w.doc.label_map.copy(), id=w.bridge.latest_id)
    shown = w.preview.image_id
    old.rendered.emit(stale, np.zeros((256, 256, 3), np.uint8), 0.01)  # a late answer from the old engine
    qtbot.wait(50)
    assert w.preview.image_id == shown or w.preview.image_id == w.bridge.latest_id
    assert w.last_image is None or w.last_image.any()


def test_export_image_mask_and_both(loaded, qtbot, tmp_path):
    from synthgui.core.masks import load_mask

    w = loaded
    stroke(w.canvas, [(100, 100), (150, 120)])
    wait_rendered(w, qtbot)
    assert w.export("mask", tmp_path / "m.png")
    assert np.array_equal(load_mask(tmp_path / "m.png", w.card), w.doc.label_map)
    assert w.export("both", tmp_path / "case.png")
    assert (tmp_path / "case.png").is_file() and (tmp_path / "case_mask.png").is_file()
    assert not w.export("image", tmp_path / "bad.xyz") and "format" in w.last_error


def test_each_mouse_event_touches_only_the_brush_box(window):
    w = window
    w.set_tool("brush")
    w.set_brush_size(5)
    rects = []
    w.doc.changed.connect(lambda r: rects.append(r))
    stroke(w.canvas, [(20 + 3 * i, 100) for i in range(40)])
    assert len(rects) >= 20
    assert max(r.width() * r.height() for r in rects) <= 20 * 20  # a dab plus one step, never the 256x256 mask


def test_ctrl_wheel_zooms_about_the_cursor_in_both_views(window):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    w = window
    w.canvas.fit()
    s0 = w.sync.scale
    pos = screen_of(w.canvas, 60, 80)
    anchor = w.canvas.to_image(pos)
    ev = QWheelEvent(pos, w.canvas.mapToGlobal(pos), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(w.canvas, ev)
    assert abs(w.sync.scale / s0 - 1.2) < 1e-6
    after = w.canvas.to_image(pos)
    assert abs(after.x() - anchor.x()) < 1e-6 and abs(after.y() - anchor.y()) < 1e-6
    assert w.preview.sync is w.canvas.sync


def test_preview_updates_during_a_stroke_and_after_it(loaded, qtbot):
    w = loaded
    w.set_tool("brush")
    w.set_brush_size(5)
    before = w.preview.image_id
    send_mouse(w.canvas, "press", screen_of(w.canvas, 30, 30))
    for i in range(1, 6):
        send_mouse(w.canvas, "move", screen_of(w.canvas, 30 + 10 * i, 30))
    qtbot.waitUntil(lambda: w.preview.image_id > before, timeout=30000)  # pen still down
    assert w.canvas.dragging
    send_mouse(w.canvas, "move", screen_of(w.canvas, 200, 200))
    send_mouse(w.canvas, "release", screen_of(w.canvas, 200, 200))
    wait_rendered(w, qtbot)
    job = w.render_job()
    assert job.label_map[200, 200] == 1  # the final render includes the last dab


def test_unsaved_changes_can_cancel_closing(window, qtbot):
    w = window
    stroke(w.canvas, [(10, 10)])
    assert not w.doc.undo_stack.isClean() and w.isWindowModified()
    w._confirm_discard = lambda: False
    assert not w.close() and w.isVisible()
    w._confirm_discard = lambda: True


def test_inference_error_is_reported_and_the_mask_kept(loaded, qtbot):
    w = loaded

    def broken(*args, **kw):
        raise RuntimeError("CUDA out of memory (simulated)")

    w.bridge.engine.render = broken
    stroke(w.canvas, [(70, 70), (90, 90)])
    painted = w.doc.label_map.copy()
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=10000)
    assert "out of memory" in w.last_error and "failed" in w.stale_label.text()
    assert np.array_equal(w.doc.label_map, painted) and painted[80, 80] == 1
    boxes = [b for b in w.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1 and "out of memory" in boxes[0].text() and "mask is kept" in boxes[0].text()
    stroke(w.canvas, [(20, 20), (30, 30)])  # the same failure again: the status bar, not a second dialog
    qtbot.waitUntil(lambda: w.bridge.idle_for_gui() and w._dirty_since is None, timeout=10000)
    assert len([b for b in w.findChildren(QMessageBox) if b.isVisible()]) == 1


def test_propose_with_controls_follows_the_form(loaded, qtbot):
    from scipy import ndimage

    w = loaded
    dialog = w._propose_with_controls()
    assert dialog is not None and dialog.isVisible() and not w.act_propose_controls.shortcut().isEmpty()
    rows = {row.name: row for row in dialog.rows}
    assert set(rows) >= {"diameter", "asymmetry", "border_irregularity", "lesions", "satellites"}
    assert dialog.controls() == {"asymmetry": 1.0, "elongation": 1.0, "border_irregularity": 1.0, "lesions": 1}
    rows["diameter"].fit.setChecked(False)
    rows["diameter"].editor.setValue(0.5)
    rows["satellites"].fit.setChecked(False)
    rows["satellites"].editor.setValue(0)
    rows["lesions"].editor.setValue(2)
    dialog.seed.setValue(5)
    dialog.accept()
    wait_proposed(w, qtbot)
    assert w.last_error is None, w.last_error
    lesion = w.doc.label_map > 0
    assert ndimage.label(lesion)[1] == 2  # two lesions, no satellites
    assert 0.5 * 0.196 < lesion.mean() < 2.2 * 0.196  # two discs of diameter 0.5 cover about 2 x 0.196 of the image
    first = w.doc.label_map.copy()
    w.doc.undo_stack.undo()
    w.propose(dialog.controls(), 5)  # the same seed and controls propose the same mask
    wait_proposed(w, qtbot)
    assert np.array_equal(w.doc.label_map, first)


def test_undo_history_is_bounded_in_bytes_for_large_maps(window, monkeypatch):
    from synthgui.gui import document

    assert window.doc.undo_stack.undoLimit() == document.UNDO_LIMIT  # 256 x 256: the step limit binds
    monkeypatch.setattr(document, "UNDO_BUDGET_BYTES", 16 * 2**20)
    big = np.zeros((1024, 1024), np.uint8)
    window.doc.load_clean(big)
    limit = window.doc.undo_stack.undoLimit()
    assert limit == 8  # 16 MB / (2 x 1 MB) per whole-map step
    for i in range(limit + 5):
        window.doc.replace(np.full((1024, 1024), i % 2, np.uint8), "Replace")
    stack = window.doc.undo_stack
    assert stack.count() == limit
    held = sum(stack.command(i)._old.nbytes + stack.command(i)._new.nbytes for i in range(stack.count()))
    assert held <= 16 * 2**20


def test_bracket_keys_change_the_brush_size(window, qtbot):
    window.set_brush_size(10)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.brush_size.value() == 12
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert window.brush_size.value() == 11 and window.canvas.radius == 11


def test_recent_projects_menu_reopens_a_saved_project(loaded, qtbot, tmp_path):
    w = loaded
    stroke(w.canvas, [(60, 60), (80, 90)])
    path = tmp_path / "recent.synthgui"
    assert w.save_project(path)
    drawn = w.doc.label_map.copy()
    w.doc.load_clean(np.zeros_like(drawn))
    w._fill_recent_menu()
    entries = [a for a in w.recent_menu.actions() if a.text() == str(path)]
    assert len(entries) == 1
    entries[0].trigger()
    qtbot.waitUntil(lambda: np.array_equal(w.doc.label_map, drawn), timeout=30000)
    assert w.project_path == path


def test_project_keeps_the_dicom_underlay_and_its_window(loaded, qtbot, tmp_path):
    from synthgui.gui.studio import StudioWindow

    w = loaded
    dcm = write_grey_dicom(tmp_path / "scan.dcm")
    assert w.open_underlay(str(dcm))
    w.window_centre.setValue(700)
    w.window_width.setValue(300)
    path = tmp_path / "traced.synthgui"
    assert w.save_project(path)
    w2 = StudioWindow()
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.model_ready, timeout=60000):
        assert w2.open_project(path)
    assert w2.underlay_path == str(dcm)
    assert (w2.window_centre.value(), w2.window_width.value()) == (700, 300)
    assert w2.canvas.underlay is not None and w2.canvas.underlay.width() == 32  # centred square crop
    assert w2.project().parameters() == w.project().parameters()
    w2.shutdown()


def test_device_menu_remembers_the_choice_and_reloads(loaded, qtbot):
    import torch

    from synthgui.gui.settings import app_settings

    w = loaded
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.set_device("cpu")
    assert app_settings().value("studio/device") == "cpu" and "cpu" in w.device_label.text()
    w._fill_model_menu()
    device_menu = next(a.menu() for a in w.model_menu.actions() if a.menu() is not None)
    checked = [a.text() for a in device_menu.actions() if a.isChecked()]
    assert checked == ["CPU"]
    if not torch.cuda.is_available():
        name = w.model.name
        with qtbot.waitSignal(w.model_failed, timeout=60000) as failed:
            w.set_device("cuda")
        assert "CUDA" in failed.args[0] and w.model.name == name and w.bridge is not None  # the loaded model stays


def test_icons_follow_a_palette_switch(window, qtbot):
    from PySide6.QtGui import QColor, QPalette

    def ink(action) -> float:
        img = action.icon().pixmap(32, 32).toImage()
        values = [QColor(img.pixel(x, y)).lightness() for x in range(32) for y in range(32) if QColor.fromRgba(img.pixel(x, y)).alpha() > 200]
        return float(np.mean(values))

    brush = window.tool_actions["brush"]
    app = QApplication.instance()
    old = app.palette()
    dark = QPalette(old)
    dark.setColor(QPalette.ColorRole.WindowText, QColor(240, 240, 240))
    dark.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    light = QPalette(old)
    light.setColor(QPalette.ColorRole.WindowText, QColor(10, 10, 10))
    try:
        app.setPalette(light)
        qtbot.waitUntil(lambda: ink(brush) < 60, timeout=5000)
        app.setPalette(dark)
        qtbot.waitUntil(lambda: ink(brush) > 200, timeout=5000)  # light glyphs on the dark theme
    finally:
        app.setPalette(old)


def test_high_dpi_canvas_maps_clicks_to_the_right_pixels():
    """At a device pixel ratio of 2 a click still lands on the image pixel under it, and the canvas
    is painted at full device resolution (no blurry upscaled backing store)."""
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen'; os.environ['QT_SCALE_FACTOR']='2'\n"
        "from PySide6.QtCore import QEvent, QPointF, Qt\n"
        "from PySide6.QtGui import QMouseEvent\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from synthgui.gui.studio import StudioWindow\n"
        "w = StudioWindow(); w._confirm_discard = lambda: True; w.resize(1000, 600); w.show(); app.processEvents()\n"
        "c = w.canvas; c.fit(); w.set_tool('brush'); w.set_brush_size(0)\n"
        "p = c.transform().map(QPointF(40.5, 70.5))\n"
        "for kind, b in ((QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton), (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):\n"
        "    QApplication.sendEvent(c, QMouseEvent(kind, p, c.mapToGlobal(p), Qt.MouseButton.LeftButton, b, Qt.KeyboardModifier.NoModifier))\n"
        "lm = w.doc.label_map\n"
        "grab = c.grab()\n"
        "print(c.devicePixelRatioF(), int(lm[70, 40]), int(lm.sum()), grab.devicePixelRatio(), grab.width() == 2 * c.width())\n"
    )
    dpr, hit, total, grab_dpr, full = fresh_python(code)
    assert float(dpr) == 2.0 and float(grab_dpr) == 2.0 and full == "True"
    assert hit == "1" and total == "1"  # exactly the pixel under the pointer


def test_lesion_erased_while_rendering_leaves_the_hint_not_a_stale_render(loaded, qtbot):
    w = loaded
    real_render = w.bridge.engine.render

    def slow(*args, **kw):
        time.sleep(0.4)
        return real_render(*args, **kw)

    w.bridge.engine.render = slow
    stroke(w.canvas, [(60, 60), (90, 90)])
    qtbot.waitUntil(lambda: w.bridge.busy(), timeout=5000)
    w.doc.undo_stack.undo()  # the lesion goes while its render is still running
    qtbot.waitUntil(lambda: w.bridge.idle_for_gui(), timeout=10000)
    qtbot.waitUntil(lambda: w._dirty_since is None, timeout=5000)
    assert w.preview.image is None and "Draw a lesion" in w.preview.placeholder
    assert w.stale_label.text() == ""


def test_the_model_card_shows_white_and_black_class_colours():
    from synthgui.core.card import ModelCard
    from synthgui.core.model_files import resources_dir
    from synthgui.gui.panels import card_html

    html = card_html(ModelCard.load(resources_dir() / "models" / "fundus.json"))
    squares = html.split("<b>Classes:</b>")[1].split("</p>")[0].split("&#9632;")
    grounds = ["background-color" in part for part in squares[:-1]]
    assert grounds == [True, False, True]  # outside (black), retina, vessel (white)


def test_switching_to_another_domain_starts_its_mask_and_undo_brings_the_drawing_back(loaded, qtbot):
    from synthgui.core.model_files import resources_dir

    w = loaded
    stroke(w.canvas, [(100, 100), (140, 120)])
    drawing = w.doc.label_map.copy()
    assert drawing.any()
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(resources_dir() / "models" / "fundus.pth"))
    retina = next(c.id for c in w.card.classes if c.name == "retina")
    assert not np.array_equal(w.doc.label_map, drawing) and (w.doc.label_map == retina).any()
    assert "Undo" in w.statusBar().currentMessage()
    w.doc.undo_stack.undo()
    assert np.array_equal(w.doc.label_map, drawing)


def test_undo_and_redo_of_a_move_take_the_selection_with_the_lesion(loaded):
    """A finished drag re-selects the lesion where it landed; undo takes the lesion back, and a
    selection left there would outline empty skin, where the size control scales nothing."""
    w = loaded
    _disk(w, 10, (60, 60))
    w.set_tool("move")
    stroke(w.canvas, [(60, 60), (80, 70), (100, 90)])
    w.doc.undo_stack.undo()
    assert np.array_equal(w.doc.selection_now, w.doc.label_map > 0)
    assert w.lesion_panel.isEnabled() and abs(w.lesion_panel.x.value() - 60) <= 1
    w.doc.undo_stack.redo()
    assert np.array_equal(w.doc.selection_now, w.doc.label_map > 0)
    assert abs(w.lesion_panel.x.value() - 100) <= 1
    area = np.count_nonzero(w.doc.label_map)
    w.lesion_panel.size.setValue(150)
    assert np.count_nonzero(w.doc.label_map) > 2 * area  # the lesion itself grew


def test_the_selection_follows_the_lesion_through_undo_and_strokes(loaded):
    w = loaded
    _disk(w, 10, (60, 60))
    w.lesion_panel.size.setValue(200)
    w.doc.undo_stack.undo()  # back to the first shape, still selected, controls at 100 %
    assert w.doc.selected is not None and np.array_equal(w.doc.selected, w.doc.label_map > 0)
    assert w.lesion_panel.size.value() == 100
    w.set_tool("brush")
    w.set_brush_size(4)
    stroke(w.canvas, [(78, 60), (95, 60)])  # grow the lesion to the right
    assert np.array_equal(w.doc.selected, w.doc.label_map > 0)  # the selection took the new part in
    area = np.count_nonzero(w.doc.label_map)
    w.lesion_panel.size.setValue(50)  # scales the whole lesion, stroke included, from the mask as it is
    assert np.count_nonzero(w.doc.label_map) < 0.4 * area
    assert not w.doc.label_map[:, 90:].any()  # no tail of the stroke left behind


# --- editing edge cases: drags cut short, selection after whole-map steps, no-op steps -----------

def _two_lesions(w, b=(180, 180)):
    import cv2

    lm = np.zeros_like(w.doc.label_map)
    cv2.ellipse(lm, (60, 60), (12, 8), 0, 0, 360, 1, -1)
    cv2.ellipse(lm, b, (25, 20), 0, 0, 360, 1, -1)
    w.doc.replace(lm, "test")


def _mouse(widget, kind, x, y, button, buttons):
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove, "release": QEvent.Type.MouseButtonRelease}
    p = screen_of(widget, x, y)
    QApplication.sendEvent(widget, QMouseEvent(types[kind], p, widget.mapToGlobal(p), button, buttons,
                                               Qt.KeyboardModifier.NoModifier))


def test_a_move_click_after_a_panel_edit_selects_the_clicked_lesion(window):
    w = window
    _two_lesions(w)
    w.doc.select_at(60, 60)
    w.lesion_panel.size.setValue(150)
    w.set_tool("move")
    stroke(w.canvas, [(180, 180)])
    assert w.doc.selected[180, 180] and not w.doc.selected[60, 60]
    stroke(w.canvas, [(240, 20)])  # skin: nothing selected, no outline left behind
    assert w.doc.selection_now is None


def test_a_whole_map_step_disables_the_lesion_controls(window, qtbot):
    w = window
    _two_lesions(w)
    w.doc.select_at(180, 180)
    w._selection_changed()
    assert w.lesion_panel.isEnabled()
    w.propose(seed=3)
    wait_proposed(w, qtbot)
    assert not w.lesion_panel.isEnabled()


def test_letting_go_of_the_left_button_during_a_middle_pan_ends_the_stroke(window):
    w = window
    w.set_tool("brush")
    w.set_brush_size(4)
    c, L, M, NO = w.canvas, Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.NoButton
    _mouse(c, "press", 30, 30, L, L)
    _mouse(c, "move", 60, 30, NO, L)
    _mouse(c, "press", 60, 30, M, L | M)
    _mouse(c, "release", 60, 30, L, M)
    _mouse(c, "release", 60, 30, M, NO)
    assert w.doc.label_map[30, 45] == 1
    assert w.doc.undo_stack.count() == 1 and not w.doc.undo_stack.isClean()
    assert not w.canvas.dragging


def test_a_tool_shortcut_in_mid_drag_ends_the_stroke_or_move_as_a_step(window):
    w = window
    w.set_tool("brush")
    w.set_brush_size(4)
    c = w.canvas
    send_mouse(c, "press", screen_of(c, 30, 30))
    send_mouse(c, "move", screen_of(c, 70, 30))
    w.tool_actions["fill"].trigger()
    send_mouse(c, "release", screen_of(c, 70, 30))
    assert w.doc.undo_stack.count() == 1
    w.doc.undo_stack.undo()
    assert not w.doc.label_map.any()
    _disk(w, 10, (60, 60))
    w.set_tool("move")
    send_mouse(c, "press", screen_of(c, 60, 60))
    send_mouse(c, "move", screen_of(c, 90, 60))
    w.tool_actions["brush"].trigger()
    send_mouse(c, "release", screen_of(c, 90, 60))
    assert not w.doc.transforming and w.doc.selected is not None and w.doc.selected[60, 90]


def test_undo_of_a_bridge_stroke_keeps_the_lesion_that_was_selected(window):
    w = window
    _two_lesions(w, b=(120, 60))
    w.doc.select_at(60, 60)
    w.set_tool("brush")
    w.set_brush_size(3)
    stroke(w.canvas, [(70, 60), (98, 60)])
    assert w.doc.selected[60, 60] and w.doc.selected[60, 120]  # one lesion now
    w.doc.undo_stack.undo()
    assert w.doc.selected[60, 60] and not w.doc.selected[60, 120]


def test_a_model_switch_on_an_empty_mask_keeps_the_history(loaded, qtbot, tiny_model):
    w = loaded
    w.set_tool("brush")
    stroke(w.canvas, [(60, 60), (160, 160)])
    w.doc.undo_stack.undo()
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(tiny_model))
    assert w.doc.undo_stack.canRedo()
    w.doc.undo_stack.redo()
    assert w.doc.label_map[110, 110] == 1  # the drawing is still there to bring back


def test_space_pan_ends_when_the_canvas_loses_focus(window):
    from PySide6.QtGui import QKeyEvent

    w = window
    c = w.canvas
    w.set_tool("brush")
    c.setFocus()
    QApplication.sendEvent(c, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " "))
    w.brush_size.setFocus()  # Space is let go elsewhere
    QApplication.sendEvent(w.brush_size, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " "))
    stroke(c, [(100, 100), (120, 100)])
    assert w.doc.label_map[100, 110] == 1


def test_undo_with_the_pen_down_ends_the_stroke_first(window):
    w = window
    w.set_tool("brush")
    w.set_brush_size(5)
    c = w.canvas
    stroke(c, [(40, 40), (80, 40)])
    send_mouse(c, "press", screen_of(c, 60, 35))
    w.act_undo.trigger()  # the stroke under way becomes a step, and that step is undone
    assert w.doc.undo_stack.count() == 2 and w.doc.undo_stack.index() == 1
    assert not w.canvas.dragging
    send_mouse(c, "move", screen_of(c, 60, 60))
    send_mouse(c, "release", screen_of(c, 60, 60))
    while w.doc.undo_stack.canUndo():
        w.act_undo.trigger()
    assert not w.doc.label_map.any()
    while w.doc.undo_stack.canRedo():
        w.act_redo.trigger()
    assert w.doc.label_map[40, 60] == 1


def test_a_control_moved_and_put_back_leaves_the_document_clean(window):
    w = window
    _two_lesions(w)
    w.doc.undo_stack.setClean()
    w.doc.select_at(60, 60)
    w.lesion_panel.rotation.setValue(30)
    assert not w.doc.undo_stack.isClean()
    w.lesion_panel.rotation.setValue(0)
    assert w.doc.undo_stack.isClean()
    w.set_tool("move")  # a lesion dragged home is no step either
    stroke(w.canvas, [(60, 60), (90, 80), (60, 60)])
    assert w.doc.undo_stack.isClean()


def test_propose_in_mid_stroke_ends_the_stroke_as_a_step_of_the_old_mask(window, qtbot):
    w = window
    w.set_tool("brush")
    w.set_brush_size(4)
    c = w.canvas
    send_mouse(c, "press", screen_of(c, 30, 128))
    send_mouse(c, "move", screen_of(c, 220, 128))
    w.act_propose.trigger()
    wait_proposed(w, qtbot)  # the proposal lands while the pen is still down
    proposal = w.doc.label_map.copy()
    send_mouse(c, "move", screen_of(c, 225, 100))  # the same drag goes on: it draws nothing now
    send_mouse(c, "release", screen_of(c, 225, 100))
    assert np.array_equal(w.doc.label_map, proposal)
    w.act_undo.trigger()
    assert w.doc.label_map[128, 30:220].all() and w.doc.label_map.sum() == w.doc.label_map[120:137].sum()
    w.act_undo.trigger()
    assert not w.doc.label_map.any() and w.doc.undo_stack.isClean()


def test_a_domain_switch_on_an_empty_mask_is_an_undoable_step(loaded, qtbot, tmp_path):
    from synthgui.core.card import Encoding, LabelClass, ModelCard
    from synthgui.core.networks import GeneratorSpec
    from tests.helpers import write_model

    w = loaded
    w.set_tool("brush")
    stroke(w.canvas, [(60, 60), (160, 160)])
    w.doc.undo_stack.undo()
    card = ModelCard(name="tiny-fundus", domain="fundus", encoding=Encoding("channels", [[2], [1, 2]]), resolution=256,
                     classes=[LabelClass(0, "outside", (0, 0, 0)), LabelClass(1, "retina", (200, 80, 40)),
                              LabelClass(2, "vessel", (255, 255, 255))])
    path = write_model(tmp_path, GeneratorSpec(input_nc=2, ngf=4), card, name="fundus")
    with qtbot.waitSignal(w.model_ready, timeout=60000):
        w.load_model_path(str(path))
    assert w.doc.label_map.any()  # the field of view of a new fundus mask
    w.doc.undo_stack.undo()
    assert not w.doc.label_map.any()
    w.doc.undo_stack.undo()
    w.doc.undo_stack.redo()  # the redo of the skin drawing survived the switch
    assert w.doc.label_map[110, 110] == 1


def test_merged_drag_steps_do_not_keep_every_event(window):
    """Qt deletes a merged command, but its Python side stays with the stack: without emptying
    it, every mouse event of a size drag would keep its region until the window closed."""
    import gc

    from synthgui.gui.document import AtomCommand

    w = window
    _disk(w, 30, (128, 128))
    for v in list(range(100, 200, 5)) + list(range(200, 100, -5)):
        w.lesion_panel.size.setValue(v)
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is AtomCommand and o.atoms]
    assert len(alive) <= w.doc.undo_stack.count()


def test_a_model_loaded_in_mid_move_ends_the_move(loaded):
    """The palette changes under a Move drag (a model finished loading): the move so far is the
    step, and the lesion controls start from where the lesion is, not from before the drag."""
    w = loaded
    _disk(w, 10, (60, 60))
    w.set_tool("move")
    c = w.canvas
    send_mouse(c, "press", screen_of(c, 60, 60))
    send_mouse(c, "move", screen_of(c, 90, 60))
    w.doc.set_card(w.card)  # what a model that finishes loading does to the document
    send_mouse(c, "move", screen_of(c, 120, 60))
    send_mouse(c, "release", screen_of(c, 120, 60))
    assert not w.doc.transforming and w.doc.selected is not None and w.doc.selected[60, 90]
    w.lesion_panel.size.setValue(120)  # grows the lesion where it is
    assert w.doc.label_map[60, 90] and not w.doc.label_map[60, 60]


def test_a_move_drag_is_one_step_pushed_when_it_ends(window):
    """Like a stroke: a lesion dragged home is no step, so it keeps the redo steps."""
    w = window
    _disk(w, 10, (60, 60))
    w.set_tool("brush")
    stroke(w.canvas, [(200, 200), (210, 200)])
    w.doc.undo_stack.undo()
    assert w.doc.undo_stack.canRedo()
    w.set_tool("move")
    c = w.canvas
    send_mouse(c, "press", screen_of(c, 60, 60))
    for x in (70, 80, 90):
        send_mouse(c, "move", screen_of(c, x, 60))
    count = w.doc.undo_stack.count()
    send_mouse(c, "move", screen_of(c, 60, 60))
    send_mouse(c, "release", screen_of(c, 60, 60))
    assert w.doc.undo_stack.count() == count and w.doc.undo_stack.canRedo()
    stroke(c, [(60, 60), (100, 60)])  # a real move: one step, and the redo steps give way to it
    assert w.doc.undo_stack.count() == count and w.doc.undo_stack.undoText() == "Move lesion"
    assert not w.doc.undo_stack.canRedo()
    w.doc.undo_stack.undo()
    assert w.doc.label_map[60, 60] and not w.doc.label_map[60, 100]
