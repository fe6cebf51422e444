"""A scroll area that is as large as its content where there is room, and scrolls where there is not."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QStyle, QWidget


class FittingScrollArea(QScrollArea):
    """Asks for its content's full size (a plain QScrollArea caps its size hint at 36x24 lines) and
    for the content's width but only a few lines of height as its minimum: a dialog or a dock holding
    it opens at full size on a tall screen and still fits a 1366x768 one, scrolling vertically."""

    MIN_LINES = 8

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)

    def _bar(self) -> int:
        return self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)

    def sizeHint(self) -> QSize:  # noqa: N802
        content = self.widget().sizeHint() if self.widget() is not None else QSize(0, 0)
        f = 2 * self.frameWidth()
        return QSize(content.width() + f + self._bar(), content.height() + f)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        content = self.widget().minimumSizeHint() if self.widget() is not None else QSize(0, 0)
        f = 2 * self.frameWidth()
        lines = self.fontMetrics().height() * self.MIN_LINES
        return QSize(content.width() + f + self._bar(), min(content.height(), lines) + f)


def fit_to_screen(window: QWidget, size: QSize | None = None, frame: QSize = QSize(16, 64)) -> QSize:
    """``size`` (the window's size hint by default) made small enough for the window's screen, room
    left for the window manager's title bar and frame; Qt's own first size stops at 2/3 of the screen."""
    from PySide6.QtGui import QGuiApplication

    size = QSize(size if size is not None else window.sizeHint())
    parent = window.parentWidget()
    screen = (parent.screen() if parent is not None else None) or window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return size
    free = screen.availableGeometry().size() - frame
    return size.boundedTo(free).expandedTo(window.minimumSizeHint())
