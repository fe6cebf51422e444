"""Mouse input and model loading for the studio's pytest-qt tests: real events through Qt, as a user's."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def send_mouse(widget, kind, pos, button=Qt.MouseButton.LeftButton, buttons=Qt.MouseButton.LeftButton):
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove, "release": QEvent.Type.MouseButtonRelease}
    p = QPointF(pos)
    ev = QMouseEvent(types[kind], p, widget.mapToGlobal(p), button if kind != "move" else Qt.MouseButton.NoButton,
                     buttons if kind != "release" else Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def screen_of(canvas, x, y):
    return canvas.transform().map(QPointF(x + 0.5, y + 0.5))


def stroke(canvas, points):
    """A left-button drag through the image points ``points`` (x, y)."""
    send_mouse(canvas, "press", screen_of(canvas, *points[0]))
    for pt in points[1:]:
        send_mouse(canvas, "move", screen_of(canvas, *pt))
    send_mouse(canvas, "release", screen_of(canvas, *points[-1]))


def load(window, qtbot, path):
    """Load a model into the studio and wait until it is ready."""
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.load_model_path(str(path))
    return window
