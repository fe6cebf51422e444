"""The case image on a neutral background, fit to the screen, zoomable; reports its first paint.

Response time starts at the first paint of a fully decoded image, not when the file was opened,
so a slow-to-decode image does not lengthen (or reveal itself through) the reader's time.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

ZOOM_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0)


class ImageView(QWidget):
    first_painted = Signal(float)  # time.perf_counter() of the first paint of the current image
    zoomed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._image: QImage | None = None
        self._zoom_index = 0
        self.zoom_allowed = True
        self.painted_at: float | None = None

    @property
    def zoom(self) -> float:
        return ZOOM_STEPS[self._zoom_index]

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self._zoom_index = 0
        self.painted_at = None
        self.update()

    def step_zoom(self, step: int) -> None:
        if not self.zoom_allowed or self._image is None:
            return
        index = max(0, min(len(ZOOM_STEPS) - 1, self._zoom_index + step))
        if index != self._zoom_index:
            self._zoom_index = index
            self.zoomed.emit(self.zoom)
            self.update()

    def reset_zoom(self) -> None:
        if self._zoom_index:
            self._zoom_index = 0
            self.zoomed.emit(self.zoom)
            self.update()

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.step_zoom(1 if event.angleDelta().y() > 0 else -1)
            event.accept()
        else:
            event.ignore()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(32, 32, 32))
        if self._image is not None and not self._image.isNull():
            side = min(self.width(), self.height()) * 0.92 * self.zoom
            scale = side / max(self._image.width(), self._image.height())
            w, h = self._image.width() * scale, self._image.height() * scale
            target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(target, self._image)
            if self.painted_at is None:
                self.painted_at = time.perf_counter()
                self.first_painted.emit(self.painted_at)
        p.end()
