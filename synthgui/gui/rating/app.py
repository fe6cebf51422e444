"""``synthgui rate``: the viewer as a program of its own."""

from __future__ import annotations

from pathlib import Path


def run_rating_app(study_dir: str | Path, reader: str | None, sessions: str | Path | None, fullscreen: bool = True,
                   backup: str | Path | None = None) -> int:
    from PySide6.QtCore import Qt

    from synthgui.core.study.session_log import check_reader_id

    from ..app import make_app
    from .launch import ask_reader_id, open_viewer

    reader = check_reader_id(reader) if reader else None
    app = make_app()
    if reader is None:
        reader = ask_reader_id(None)
        if reader is None:
            return 1
    window = open_viewer(study_dir, reader, sessions, fullscreen=fullscreen, backup=backup)  # SynthguiError reaches the CLI
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    app.exec()
    return 0
