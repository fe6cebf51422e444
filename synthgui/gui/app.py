"""Creating the QApplication: Fusion style, the system's light or dark palette, high-DPI pixmaps."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from . import main_thread_gc
from .model_index import resources_dir


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is not None:
        main_thread_gc.install(app)  # type: ignore[arg-type]
        return app  # type: ignore[return-value]
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName("synthgui")
    QCoreApplication.setApplicationName("synthgui")
    app = QApplication(argv if argv is not None else sys.argv[:1])
    # Fusion follows the platform's colour scheme (light/dark) in Qt 6.5+ and looks the same everywhere.
    app.setStyle("Fusion")
    app.setDesktopFileName("synthgui")
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "synthgui.svg")))
    # Worker threads must never free Qt objects: cyclic garbage is collected on this thread only.
    main_thread_gc.install(app)
    return app
