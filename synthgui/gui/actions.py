"""One factory for every QAction, so menus, toolbars, shortcuts and tooltips stay consistent."""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from .icons import icon


def make_action(
    parent: QWidget,
    text: str,
    slot: Callable | None = None,
    shortcut: str | Sequence[str] | QKeySequence.StandardKey | None = None,
    icon_name: str | None = None,
    tip: str | None = None,
    checkable: bool = False,
) -> QAction:
    """A QAction whose tooltip names its shortcuts (e.g. "Brush (1, B)")."""
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
        action.setProperty("icon_name", icon_name)  # for re-tinting when the palette changes
    if shortcut is not None:
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)
        elif isinstance(shortcut, str):
            action.setShortcut(QKeySequence(shortcut))
        else:
            action.setShortcuts([QKeySequence(s) for s in shortcut])
    keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
    plain = text.replace("&", "").rstrip(".")
    tip = tip or plain
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    return action


def retint(actions: Sequence[QAction]) -> None:
    """Re-create icons in the palette's current text colour (light/dark switch)."""
    for action in actions:
        name = action.property("icon_name")
        if name:
            action.setIcon(icon(str(name)))
