"""Where the studio keeps its preferences (last model, tool, brush size, view mode, window layout).

An INI file in the user's config folder, so tests can point ``QSettings.setPath`` at a temporary one.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANISATION = "synthgui"
APPLICATION = "studio"
MAX_RECENT = 8


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def int_value(key: str, default: int, settings: QSettings | None = None) -> int:
    """An integer preference; a hand-edited or corrupt value gives the default instead of failing the start."""
    value = (settings or app_settings()).value(key, default)
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return default


def recent(key: str) -> list[str]:
    value = app_settings().value(key, [])
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in (value or [])]


def push_recent(key: str, path: str) -> list[str]:
    items = [path] + [p for p in recent(key) if p != path]
    items = items[:MAX_RECENT]
    app_settings().setValue(key, items)
    return items
