"""The one registry from semantic icon names to qtawesome glyphs: nothing else names a glyph.

Icons take the palette's text colour, so they read on light and dark themes alike; one set with
``themed_icon`` is drawn again in the new colour when the palette changes (``retint``).
"""

from __future__ import annotations

from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QApplication

_GLYPHS = {
    "brush": "mdi6.brush",
    "eraser": "mdi6.eraser",
    "fill": "mdi6.format-color-fill",
    "polygon": "mdi6.vector-polygon",
    "ellipse": "mdi6.ellipse-outline",
    "move": "mdi6.cursor-move",
    "eyedropper": "mdi6.eyedropper",
    "undo": "mdi6.undo",
    "redo": "mdi6.redo",
    "new": "mdi6.file-outline",
    "open": "mdi6.folder-open",
    "save": "mdi6.content-save",
    "export": "mdi6.export",
    "export_set": "mdi6.image-multiple",
    "import": "mdi6.file-import",
    "model": "mdi6.cube-outline",
    "variation": "mdi6.dice-5",
    "fit": "mdi6.fit-to-screen",
    "zoom_100": "mdi6.magnify",
    "underlay": "mdi6.image",
    "underlay_off": "mdi6.image-off",
    "study": "mdi6.account-group",
    "rate": "mdi6.star-check",
    "propose": "mdi6.auto-fix",
    "colour": "mdi6.palette",
    "info": "mdi6.information-outline",
    "help": "mdi6.help-circle-outline",
    "keyboard": "mdi6.keyboard-outline",
    "folder": "mdi6.folder-account-outline",
}


def icon(name: str) -> QIcon:
    import qtawesome as qta

    app = QApplication.instance()
    colour = app.palette().color(QPalette.ColorRole.WindowText) if app is not None else None
    options = {"color": colour.name()} if colour is not None else {}
    return qta.icon(_GLYPHS[name], **options)


def themed_icon(target, name: str) -> None:
    """Give an action or a button the icon ``name``, and mark it for ``retint`` on a light/dark switch."""
    target.setIcon(icon(name))
    target.setProperty("icon_name", name)


def retint(targets) -> None:
    """Draw the icons of actions and buttons marked by ``themed_icon`` in the palette's current text colour."""
    for target in targets:
        name = target.property("icon_name")
        if name:
            target.setIcon(icon(str(name)))
