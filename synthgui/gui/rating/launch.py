"""Starting a rating session: choose the study, ask the reader's pseudonym, open the viewer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from synthgui.core.errors import SynthguiError
from synthgui.core.study.design import load_study
from synthgui.core.study.session_log import SessionLog, check_reader_id

_open_windows: list = []  # keeps viewers alive when launched from the studio


def ask_reader_id(parent: QWidget | None) -> str | None:
    while True:
        text, ok = QInputDialog.getText(parent, "Reader ID", "Your pseudonymous reader ID (no real name):",
                                        QLineEdit.EchoMode.Normal)
        if not ok:
            return None
        try:
            return check_reader_id(text)
        except SynthguiError as exc:
            QMessageBox.warning(parent, "Reader ID", str(exc))


def open_viewer(study_dir: str | Path, reader_id: str, sessions: str | Path | None = None,
                fullscreen: bool = True, parent: QWidget | None = None, backup: str | Path | None = None):
    """Open (or resume) ``reader_id``'s session on a study and show the viewer; raises SynthguiError."""
    from .viewer import RatingWindow

    study = load_study(study_dir, require_images=False)  # the viewer says which images it cannot show
    log = SessionLog(study, reader_id, sessions, backup)
    try:
        window = RatingWindow(study, log, fullscreen=fullscreen, parent=None)
    except BaseException:
        log.close()
        raise
    _open_windows.append(window)
    window.destroyed.connect(lambda *_: _open_windows.remove(window) if window in _open_windows else None)
    return window


def launch_rating(parent: QWidget | None, study_dir: str | None):
    """From the studio's menu: pick a study folder if none is given, ask the reader ID, open the viewer."""
    if study_dir is None:
        study_dir = QFileDialog.getExistingDirectory(parent, "Choose a study folder (the one with study.json)")
        if not study_dir:
            return None
    reader = ask_reader_id(parent)
    if reader is None:
        return None
    try:
        return open_viewer(study_dir, reader, parent=parent)
    except SynthguiError as exc:
        QMessageBox.critical(parent, "Cannot start the rating session", str(exc))
        return None
