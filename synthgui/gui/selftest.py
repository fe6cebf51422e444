"""The windowed half of ``synthgui selftest``: the studio draws and renders, a reader rates a study.

Drives the real windows with real input events, as a user would, so that an installation (and the
desktop bundle, whose hidden imports and plugins are the usual failures) is proven end to end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from synthgui.core.errors import SynthguiError


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SynthguiError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.005)


def _mouse(widget: QWidget, kind: QEvent.Type, pos: QPointF, buttons: Qt.MouseButton) -> None:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def studio_check(model: str, timeout_s: float = 120.0) -> str:
    """Open the studio, load ``model``, draw one brush stroke and wait until the preview shows it."""
    from .studio import StudioWindow

    window = StudioWindow()
    window._confirm_discard = lambda: True  # a scripted check has nothing to save
    try:
        window.resize(1200, 760)
        window.show()
        window.load_model_path(model)
        wait_until(lambda: window.bridge is not None or window.last_error is not None, timeout_s, "the model to load")
        if window.bridge is None:
            raise SynthguiError(f"the studio could not load {model}: {window.last_error}")
        window.set_tool("brush")
        window.set_brush_size(12)
        before = window.doc.label_map.copy()
        canvas = window.canvas
        side = window.doc.label_map.shape[0]
        points = [canvas.transform().map(QPointF(side * f, side * 0.5)) for f in (0.35, 0.45, 0.55, 0.65)]
        _mouse(canvas, QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
        for p in points[1:]:
            _mouse(canvas, QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
        _mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)
        painted = int((window.doc.label_map != before).sum())
        if painted == 0:
            raise SynthguiError("a brush stroke on the canvas changed no mask pixel")
        wait_until(lambda: window.preview.image_id == window.bridge.latest_id and window._dirty_since is None
                   and window.bridge.idle_for_gui(), timeout_s, "the preview to show the stroke")
        if window.last_error:
            raise SynthguiError(f"render failed: {window.last_error}")
        return f"{painted} px stroke rendered in {window.render_seconds * 1000:.0f} ms on {window.bridge.engine.describe()}"
    finally:
        window.shutdown()
        _dispose(window)


def rating_check(study_dir: Path, reader: str, truth: Callable[[str], str], timeout_s: float = 60.0) -> str:
    """Rate every case of a study by keyboard, always correctly, and check each judgment was logged."""
    from .rating.launch import open_viewer

    window = open_viewer(study_dir, reader, fullscreen=False)
    try:
        window.resize(900, 700)
        window.show()
        QTest.keyClick(window, Qt.Key.Key_Space)
        total = len(window.log.order)
        for _ in range(total):
            wait_until(lambda: window.state == "case" and window.view.painted_at is not None, timeout_s,
                       "the next image to be shown")
            case_id = window.log.order[window.position][1]
            QTest.keyClick(window, "s" if truth(case_id) == "synthetic" else "r")
            QTest.keyClick(window, "5")
            QTest.keyClick(window, Qt.Key.Key_Return)
        wait_until(lambda: window.state == "done", timeout_s, "the end of the session")
        logged = len(window.log.judgments())
        if logged != total:
            raise SynthguiError(f"the session log holds {logged} judgments for {total} answered cases")
        return f"{total} cases answered by keyboard, {logged} judgments in the session log"
    finally:
        _dispose(window)


def _dispose(window: QWidget) -> None:
    window.close()
    window.deleteLater()
    QApplication.processEvents()
