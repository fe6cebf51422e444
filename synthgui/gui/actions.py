"""One factory for every QAction, so menus, toolbars, shortcuts and tooltips stay consistent."""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from .icons import retint, themed_icon

__all__ = ["make_action", "retint", "shortcut_text", "set_tip"]


def typable(keys: QKeySequence) -> bool:
    """False for the multimedia keys (XF86 New, Save, Exit...) that Qt adds to standard shortcuts on X11:
    a tooltip that says "(Ctrl+N, New)" names a key no keyboard on a clinician's desk has."""
    return keys.count() > 0 and keys[0].key().value < Qt.Key.Key_Back.value


def shortcut_text(action: QAction) -> str:
    """The action's keys as a user types them, e.g. "Ctrl+Shift+Z, Ctrl+Y"."""
    return ", ".join(dict.fromkeys(k.toString(QKeySequence.SequenceFormat.NativeText)
                                   for k in action.shortcuts() if typable(k)))


def set_tip(action: QAction, tip: str) -> None:
    """Tooltip "tip (keys)" and status tip "tip"."""
    keys = shortcut_text(action)
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
    action.setStatusTip(tip)


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
        themed_icon(action, icon_name)  # re-tinted when the palette changes
    if shortcut is not None:
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)
        elif isinstance(shortcut, str):
            action.setShortcut(QKeySequence(shortcut))
        else:
            action.setShortcuts([QKeySequence(s) for s in shortcut])
    set_tip(action, tip or text.replace("&", "").rstrip("."))
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    return action

