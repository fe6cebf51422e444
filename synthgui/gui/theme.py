"""Colours that must stay legible on the system's light or dark palette: text on a class or skin-tone
swatch, and the red of an error or the amber of a warning (WCAG 2 contrast)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ERROR = ("#c62828", "#ff8a80")  # for a light ground, for a dark ground
WARNING = ("#9a4a00", "#ffb74d")


def _channel(v: float) -> float:
    return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4


def luminance(colour) -> float:
    """WCAG relative luminance of a QColor, a '#rrggbb' string or an (r, g, b) tuple."""
    c = QColor(*colour) if isinstance(colour, (tuple, list)) else QColor(colour)
    return 0.2126 * _channel(c.redF()) + 0.7152 * _channel(c.greenF()) + 0.0722 * _channel(c.blueF())


def contrast_ratio(a, b) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on(rgb) -> str:
    """Black or white, whichever reads better on ``rgb`` (bright green takes black, dark brown white)."""
    return "#000000" if contrast_ratio(rgb, "#000000") >= contrast_ratio(rgb, "#ffffff") else "#ffffff"


def _ground(role: QPalette.ColorRole, palette: QPalette | None) -> QColor:
    if palette is None:
        app = QApplication.instance()
        palette = app.palette() if app is not None else QPalette()
    return palette.color(role)


def _pick(pair: tuple[str, str], role: QPalette.ColorRole, palette: QPalette | None) -> str:
    ground = _ground(role, palette)
    return max(pair, key=lambda c: contrast_ratio(c, ground))


def error_colour(palette: QPalette | None = None, role: QPalette.ColorRole = QPalette.ColorRole.Window) -> str:
    """The red of an error message, legible on ``role`` of the palette (the application's by default)."""
    return _pick(ERROR, role, palette)


def warning_colour(palette: QPalette | None = None, role: QPalette.ColorRole = QPalette.ColorRole.Base) -> str:
    return _pick(WARNING, role, palette)
