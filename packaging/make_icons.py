"""Render resources/icons/synthgui.svg to the PNG sizes desktops ask for, plus .ico (Windows) and .icns (macOS).

Run after changing the SVG: python3 packaging/make_icons.py. The outputs are committed, so a bundle
build needs neither Qt's SVG renderer nor this script.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int):
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(ICONS / "synthgui.svg"))
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([])  # noqa: F841 (fonts and image plugins need an application)
    images = {size: render(size) for size in SIZES}
    for size, image in images.items():
        image.save(ICONS / f"synthgui-{size}.png", optimize=True)
    images[256].save(ICONS / "synthgui.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    images[512].save(ICONS / "synthgui.icns")
    print(f"wrote {len(SIZES)} PNGs, synthgui.ico and synthgui.icns to {ICONS}")


if __name__ == "__main__":
    main()
