"""The canvas (mask editing) and the preview (the render), sharing one zoom and pan.

Both are plain widgets that draw a QImage through a shared ``ViewSync`` transform; the canvas turns
mouse events into ``MaskDocument`` calls and repaints only the box that changed.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal, QObject
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QTransform, QWheelEvent, QKeyEvent
from PySide6.QtWidgets import QWidget

from .document import MaskDocument

TOOLS = ("brush", "eraser", "fill", "polygon", "ellipse", "move", "eyedropper")


def qimage_rgba(arr: np.ndarray) -> QImage:
    """A QImage over a contiguous HxWx4 uint8 array (no copy: keep ``arr`` alive while it is drawn)."""
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGBA8888)


def qimage_rgb(arr: np.ndarray) -> QImage:
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888).copy()


def qcolor(rgb) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))


class ViewSync(QObject):
    """Zoom and pan shared by the canvas and the preview: a scale and the image point at the centre."""

    changed = Signal()
    MIN_SCALE, MAX_SCALE = 0.05, 64.0

    def __init__(self) -> None:
        super().__init__()
        self.scale = 1.0
        self.centre = QPointF(128, 128)
        self.fitted = True
        self.views: list[ImageView] = []  # the views drawn through this transform
        self.space = False  # Space held: a left drag on either view pans (the keys go to one of them)

    def set_space(self, held: bool) -> None:
        self.space = held
        for view in self.views:
            if held:
                view.setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                view.unsetCursor()

    @classmethod
    def clamped(cls, scale: float) -> float:
        return float(min(cls.MAX_SCALE, max(cls.MIN_SCALE, scale)))

    def set(self, scale: float, centre: QPointF, fitted: bool = False) -> None:
        self.scale = self.clamped(scale)
        self.centre = QPointF(centre)
        self.fitted = fitted
        self.changed.emit()


class ImageView(QWidget):
    """Draws an image of ``image_size`` through the shared transform; Ctrl+wheel zooms, middle-drag or
    Space+drag pans."""

    def __init__(self, sync: ViewSync, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sync = sync
        sync.views.append(self)
        self.image_size = (256, 256)
        self._pan_from: QPointF | None = None
        self._pan_button = Qt.MouseButton.NoButton
        sync.changed.connect(self.update)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)

    # --- geometry -------------------------------------------------------------------------------

    def transform(self) -> QTransform:
        s = self.sync.scale
        t = QTransform()
        t.translate(self.width() / 2.0, self.height() / 2.0)
        t.scale(s, s)
        t.translate(-self.sync.centre.x(), -self.sync.centre.y())
        return t

    def to_image(self, pos: QPointF) -> QPointF:
        inv, _ = self.transform().inverted()
        return inv.map(QPointF(pos))

    def fit(self) -> None:
        """The whole image in every view sharing the transform (the canvas and the preview may differ in size)."""
        w, h = self.image_size
        if self.width() <= 1:
            return
        views = [v for v in self.sync.views if v is self or (not v.isHidden() and v.width() > 1)]
        scale = 0.96 * min(min(v.width() / w, v.height() / h) for v in views)
        self.sync.set(scale, QPointF(w / 2.0, h / 2.0), fitted=True)

    def actual_size(self) -> None:
        self.sync.set(1.0, self.sync.centre)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.sync.fitted:
            self.fit()

    # --- zoom and pan ---------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            # plain wheel / two-finger scroll pans, as in image viewers
            d = QPointF(event.pixelDelta() if not event.pixelDelta().isNull() else event.angleDelta() / 4)
            self.sync.set(self.sync.scale, self.sync.centre - d / self.sync.scale)
            event.accept()
            return
        s = self.sync.clamped(self.sync.scale * 1.2 ** (event.angleDelta().y() / 120.0))
        factor = s / self.sync.scale  # at the zoom limits the point under the cursor stays put too
        anchor = self.to_image(event.position())
        c = self.sync.centre
        centre = QPointF(anchor.x() - (anchor.x() - c.x()) / factor, anchor.y() - (anchor.y() - c.y()) / factor)
        self.sync.set(s, centre)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.sync.set_space(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.sync.set_space(False)
            return
        super().keyReleaseEvent(event)

    def enterEvent(self, event) -> None:  # noqa: N802
        """The pointer over the image takes the keys, so that Space+drag pans: after a click on New
        variation or the view-mode box, Space pressed the button again (a new seed) or opened the box,
        and the drag painted. A field being typed in keeps them, as do the other image view and
        another window."""
        from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit

        focus = QApplication.focusWidget()
        typing = isinstance(focus, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)) and \
            not (isinstance(focus, (QTextEdit, QPlainTextEdit)) and focus.isReadOnly())
        # Not from the other image view: Space pans both (their views are synced), and the canvas
        # keeps Enter and Esc for a polygon while the pointer crosses the preview.
        if self.isActiveWindow() and not typing and not isinstance(focus, ImageView):
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().enterEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        """Space released elsewhere (after Alt+Tab, or a click on a panel) never reaches this view:
        without this every later drag would pan instead of paint."""
        from PySide6.QtWidgets import QApplication

        if self.sync.space and not isinstance(QApplication.focusWidget(), ImageView):  # to the other view: still held
            self.sync.set_space(False)
        super().focusOutEvent(event)

    def _pan_press(self, event: QMouseEvent) -> bool:
        if event.button() == Qt.MouseButton.MiddleButton or (self.sync.space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = event.position()
            self._pan_button = event.button()
            return True
        return False

    def _pan_move(self, event: QMouseEvent) -> bool:
        if self._pan_from is None:
            return False
        d = (event.position() - self._pan_from) / self.sync.scale
        self._pan_from = event.position()
        self.sync.set(self.sync.scale, self.sync.centre - d)
        return True

    def _pan_release(self, event: QMouseEvent) -> bool:
        """Only the pan's own button ends it: the left button let go during a middle-button pan
        still ends its stroke."""
        if self._pan_from is None or event.button() != self._pan_button:
            return False
        self._pan_from = None
        return True

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._pan_press(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._pan_move(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._pan_release(event)

    # --- drawing --------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(115))
        p.setTransform(self.transform())
        w, h = self.image_size
        self.draw_image(p, QRectF(0, 0, w, h))
        p.end()

    def draw_image(self, p: QPainter, target: QRectF) -> None:
        raise NotImplementedError


class CanvasView(ImageView):
    """The mask editor: underlay (photo or DICOM) plus the label map in class colours."""

    label_picked = Signal(int)
    lesion_selected = Signal(bool)
    edited = Signal()  # a mouse edit happened (for latency measurements)
    window_dragged = Signal(float, float)  # right-drag: (dx, dy) screen pixels, for DICOM window/level

    def __init__(self, doc: MaskDocument, sync: ViewSync, parent: QWidget | None = None) -> None:
        super().__init__(sync, parent)
        self.doc = doc
        self.tool = "brush"
        self.radius = 8
        self.label = 1
        self.background = QColor(0, 0, 0)  # class 0's colour when there is no underlay
        self.underlay: QImage | None = None
        self.mask_opacity = 1.0
        self._last: tuple[float, float] | None = None
        self._drag_start: QPointF | None = None
        self._drag_now: QPointF | None = None
        self._poly: list[tuple[float, float]] = []
        self._hover: QPointF | None = None
        self._window_from: QPointF | None = None
        doc.changed.connect(self._on_region)
        doc.reset.connect(self._on_reset)
        doc.selection_changed.connect(self.update)
        self._on_reset()

    def _on_reset(self) -> None:
        """A new map or palette (Propose, Import, a model switch) in mid-drag: the document has
        ended the stroke or move itself, as a step of the map it was drawn on (no step may be
        pushed from here: this can run inside the stack's own push), and later moves of the same
        drag draw nothing."""
        self._last = None
        self._drag_start = self._drag_now = None
        self.image_size = self.doc.size
        if self.sync.fitted:
            self.fit()
        self.update()

    def _on_region(self, rect: QRect) -> None:
        self.update(self.transform().mapRect(QRectF(rect).adjusted(-1, -1, 1, 1)).toAlignedRect())

    @property
    def dragging(self) -> bool:
        return self._drag_start is not None or self._last is not None

    def finish_drag(self) -> None:
        """End a drag under way as its release would: a tool switch or an undo in mid-drag must
        not leave a stroke outside the history, or a move half done. An ellipse is only drawn on
        release, so its drag is dropped."""
        if self._last is not None:
            self.doc.end_stroke()
            self._last = None
        if self._drag_start is not None:
            if self.tool == "move":
                self.doc.end_transform()
            self._drag_start = self._drag_now = None
            self.update()

    @property
    def moving_lesion(self) -> bool:
        """A Move drag under way: its steps transform the selection, which must stay as it is."""
        return self.tool == "move" and self._drag_start is not None

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(tool)
        self.finish_drag()
        self.tool = tool
        self._poly = []
        self.update()

    # --- painting -------------------------------------------------------------------------------

    def draw_image(self, p: QPainter, target: QRectF) -> None:
        if self.underlay is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(target, self.underlay)
        else:
            p.fillRect(target, self.background)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        rgba = self.doc.rgba
        p.setOpacity(self.mask_opacity)
        p.drawImage(target, qimage_rgba(rgba))
        p.setOpacity(1.0)
        selection = self.doc.selection_now
        if selection is not None and self.tool == "move":
            ys, xs = np.nonzero(selection)
            if xs.size:
                box = QRectF(xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
                self._outlined(p, lambda: p.drawRect(box), dashed=True)
        if self.tool in ("brush", "eraser") and self._hover is not None:
            hover = QPointF(self._hover)
            self._outlined(p, lambda: p.drawEllipse(hover, self.radius + 0.5, self.radius + 0.5))
        if self.tool == "polygon" and self._poly:
            path = QPainterPath(QPointF(*self._poly[0]))
            for pt in self._poly[1:]:
                path.lineTo(QPointF(*pt))
            if self._hover is not None:
                path.lineTo(self._hover)
            self._outlined(p, lambda: p.drawPath(path))
        if self.tool == "ellipse" and self._drag_start is not None and self._drag_now is not None:
            rect = QRectF(self._drag_start, self._drag_now).normalized()
            self._outlined(p, lambda: p.drawEllipse(rect))

    @staticmethod
    def _outlined(p: QPainter, draw, dashed: bool = False) -> None:
        """An outline (brush ring, polygon, ellipse, selection) as a light line on a dark one: it shows on
        any skin tone, class colour or underlay. A line in the palette's text colour alone vanished on
        type VI skin with a light palette, and on type I skin with a dark one."""
        p.save()
        p.setBrush(Qt.BrushStyle.NoBrush)
        for colour, width in ((QColor(0, 0, 0), 3.0), (QColor(255, 255, 255), 1.0)):
            pen = QPen(colour, width)
            pen.setCosmetic(True)
            if dashed and width == 1.0:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            draw()
        p.restore()

    # --- mouse ----------------------------------------------------------------------------------

    def _pt(self, event: QMouseEvent) -> tuple[float, float]:
        q = self.to_image(event.position())
        return (q.x() - 0.5, q.y() - 0.5)

    def _paint_value(self) -> tuple[int, int | None]:
        """(value, class left alone) of a brush or eraser dab: an eraser that gives back the retina
        or brain leaves the background (outside the eye or head) as it is."""
        if self.tool != "eraser":
            return self.label, None
        context = self.doc.context  # the background, or a fundus or MRI mask's retina or brain
        return context, (0 if context else None)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton:
            self._window_from = event.position()
            return
        if self._pan_press(event) or event.button() != Qt.MouseButton.LeftButton:
            return
        x, y = self._pt(event)
        tool = self.tool
        if tool in ("brush", "eraser"):
            self.doc.begin_stroke("Erase" if tool == "eraser" else "Brush stroke")
            self.doc.stroke_segment((x, y), (x, y), self.radius, *self._paint_value())
            self._last = (x, y)
        elif tool == "fill":
            self.doc.fill(int(round(x)), int(round(y)), self.label)
        elif tool == "polygon":
            if len(self._poly) >= 3 and np.hypot(x - self._poly[0][0], y - self._poly[0][1]) * self.sync.scale < 8:
                self.finish_polygon()
            else:
                self._poly.append((x, y))
        elif tool == "ellipse":
            self._drag_start = self._drag_now = self.to_image(event.position())
        elif tool == "move":
            found = self.doc.select_at(int(round(x)), int(round(y)))
            self.lesion_selected.emit(found)
            if found:
                self.doc.begin_transform()
                self._drag_start = QPointF(x, y)
        elif tool == "eyedropper":
            h, w = self.doc.label_map.shape
            xi, yi = int(round(x)), int(round(y))
            if 0 <= xi < w and 0 <= yi < h:
                self.label_picked.emit(int(self.doc.label_map[yi, xi]))
        self.edited.emit()
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_move(event):
            return
        if self._window_from is not None and event.buttons() & Qt.MouseButton.RightButton:
            d = event.position() - self._window_from
            self._window_from = event.position()
            self.window_dragged.emit(d.x(), d.y())
            return
        old_hover = self._hover
        self._hover = self.to_image(event.position()) - QPointF(0.5, 0.5)
        x, y = self._hover.x(), self._hover.y()
        if event.buttons() & Qt.MouseButton.LeftButton:
            if self.tool in ("brush", "eraser") and self._last is not None:
                self.doc.stroke_segment(self._last, (x, y), self.radius, *self._paint_value())
                self._last = (x, y)
                self.edited.emit()
            elif self.tool == "ellipse" and self._drag_start is not None:
                self._drag_now = self.to_image(event.position())
                self.update()
            elif self.tool == "move" and self._drag_start is not None:
                self.doc.transform(offset=(x - self._drag_start.x(), y - self._drag_start.y()), text="Move lesion",
                                   push=False)
                self.edited.emit()
        if self.tool in ("brush", "eraser", "polygon"):
            r = self.radius + 2
            for c in (old_hover, self._hover):
                if c is not None:
                    box = QRectF(c.x() - r, c.y() - r, 2 * r + 1, 2 * r + 1)
                    self.update(self.transform().mapRect(box).toAlignedRect().adjusted(-2, -2, 2, 2))
            if self.tool == "polygon":
                self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton:
            self._window_from = None
            return
        if self._pan_release(event) or event.button() != Qt.MouseButton.LeftButton:
            return
        if self.tool in ("brush", "eraser"):
            self.doc.end_stroke()
            self._last = None
        elif self.tool == "ellipse" and self._drag_start is not None:
            a, b = self._drag_start, self.to_image(event.position())
            self.doc.ellipse((a.x() - 0.5, a.y() - 0.5), (b.x() - 0.5, b.y() - 0.5), self.label)
            self._drag_start = self._drag_now = None
        elif self.tool == "move" and self._drag_start is not None:
            self.doc.end_transform()
            self._drag_start = None
        self.edited.emit()
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.tool == "polygon":
            self.finish_polygon()
        else:
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self.tool == "polygon" and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish_polygon()
        elif self.tool == "polygon" and event.key() == Qt.Key.Key_Escape:
            self._poly = []
            self.update()
        else:
            super().keyPressEvent(event)

    def finish_polygon(self) -> None:
        if len(self._poly) >= 3:
            self.doc.polygon(self._poly, self.label)
        self._poly = []
        self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()


class PreviewView(ImageView):
    """The render, alone, with the mask over it (overlay), or split with the mask by a slider."""

    MODES = ("side", "overlay", "split")
    frame_shown = Signal(int, float)  # render id, time.perf_counter() when painted

    def __init__(self, doc: MaskDocument, sync: ViewSync, parent: QWidget | None = None) -> None:
        super().__init__(sync, parent)
        self.doc = doc
        self.image: QImage | None = None
        self.image_id = 0
        self._shown_id = 0
        self.mode = "side"
        self.opacity = 0.5
        self.split = 0.5
        self.background = QColor(0, 0, 0)
        self.placeholder = "No model loaded: Model > Open model..."
        doc.reset.connect(self._on_reset)
        doc.changed.connect(self._on_region)
        self._on_reset()

    def _on_reset(self) -> None:
        self.image_size = self.doc.size
        if self.sync.fitted:
            self.fit()
        self.update()

    def _on_region(self, rect: QRect) -> None:
        if self.mode != "side":
            self.update(self.transform().mapRect(QRectF(rect).adjusted(-1, -1, 1, 1)).toAlignedRect())

    def set_image(self, rgb: np.ndarray, render_id: int) -> None:
        """Show a new render at the next event-loop pass: the window has just handed the worker its
        next job, and returning to the loop first lets the worker take the interpreter lock and
        start at once instead of waiting for this paint."""
        self.image = qimage_rgb(rgb)
        self.image_id = render_id
        self.update()

    def show_hint(self, text: str) -> None:
        """No image, a line of text in its place (no model yet, or nothing this model can render)."""
        self.image = None
        self.placeholder = text
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.update()

    def draw_image(self, p: QPainter, target: QRectF) -> None:
        if self.image is None:
            p.resetTransform()
            p.setPen(self.palette().color(self.foregroundRole()))
            margin = self.fontMetrics().height()  # the text never touches the splitter or the window edge
            p.drawText(self.rect().adjusted(margin, margin, -margin, -margin),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self.image)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self.mode == "overlay":
            p.setOpacity(self.opacity)
            p.drawImage(target, qimage_rgba(self.doc.rgba))
            p.setOpacity(1.0)
        elif self.mode == "split":
            x = target.width() * self.split
            p.save()
            p.setClipRect(QRectF(x, 0, target.width() - x, target.height()))
            p.fillRect(target, self.background)
            p.drawImage(target, qimage_rgba(self.doc.rgba))
            p.restore()
            pen = QPen(QColor(255, 255, 255))
            pen.setCosmetic(True)
            p.setPen(pen)
            p.drawLine(QPointF(x, 0), QPointF(x, target.height()))
        if self.image_id != self._shown_id:
            self._shown_id = self.image_id
            self.frame_shown.emit(self.image_id, time.perf_counter())
