"""Help for a first-time user: the welcome page, the keyboard shortcuts and the About box.

The shortcut list is read from the window's own actions, so it cannot drift from what the keys do;
the licences come from the model cards (``synthgui.core.licences``).
"""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox, QHeaderView, QMenu, QMenuBar, QPushButton,
    QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout, QWidget,
)

from synthgui import __version__
from synthgui.core.licences import model_terms
from synthgui.core.locations import app_locations, ensure_dir

from .settings import app_settings

SEEN_KEY = "welcome/seen"
EVERY_START_KEY = "welcome/show_at_start"

# What the mouse and keys do on the canvas beyond the menu actions.
GESTURES = (
    ("Zoom about the cursor", "Ctrl+Wheel"),
    ("Pan", "Middle-drag, Space+drag or Wheel"),
    ("Window/level of a grey DICOM underlay", "Right-drag"),
    ("Close a polygon", "Double-click or Enter"),
    ("Cancel a polygon", "Esc"),
    ("Select a lesion (move tool)", "Click on it"),
    ("New variation (render panel)", "N"),
)


def _flag(key: str) -> bool:
    return app_settings().value(key, False) in (True, "true", "1", 1)


def welcome_wanted() -> bool:
    """At the first start, then only for users who asked to see it every time."""
    return not _flag(SEEN_KEY) or _flag(EVERY_START_KEY)


def _typable(keys: QKeySequence) -> bool:
    """False for the multimedia keys (XF86 New, Save, Exit...) that Qt adds to standard shortcuts on X11."""
    return keys.count() > 0 and keys[0].key().value < Qt.Key.Key_Back.value


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, title: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), title)
                continue
            # once each: a standard key may repeat one added beside it (Redo is Ctrl+Y on Windows)
            keys = ", ".join(dict.fromkeys(k.toString(QKeySequence.SequenceFormat.NativeText)
                                           for k in action.shortcuts() if _typable(k)))
            if keys and not action.isSeparator():
                rows.append((title, action.text().replace("&", "").rstrip("."), keys))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(menu_bar) + [("Canvas", what, keys) for what, keys in GESTURES]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Keys"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        _with_close_button(self, self.table, 560, 640)


def _with_close_button(dialog: QDialog, content: QWidget, width: int, height: int) -> None:
    """A read-only help page: its content above a Close button."""
    layout = QVBoxLayout(dialog)
    layout.addWidget(content)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.resize(width, height)


def _versions() -> list[tuple[str, str]]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    torch = sys.modules.get("torch")  # never imported here just to print a number
    return [
        ("synthgui", __version__),
        ("Python", platform.python_version()),
        ("Qt / PySide6", f"{qVersion()} / {pyside_version}"),
        ("PyTorch", getattr(torch, "__version__", None) or version("torch")),
        ("Platform", platform.platform()),
    ]


def about_html() -> str:
    esc = html.escape
    parts = [
        f"<h2>synthgui {esc(__version__)}</h2>",
        "<p>Synthetic medical images you can trust and share: draw a mask, render it with a locally loaded "
        "pix2pix generator, export image sets with provenance, run blinded Turing tests. Nothing leaves this "
        "computer.</p><p><b>Synthetic images are not for diagnosis.</b></p>",
        "<table cellspacing='4'>",
        *(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _versions()),
        "</table><h3>Models and their terms</h3>",
    ]
    terms = model_terms()
    if not terms:
        parts.append("<p>No model is installed.</p>")
    for t in terms:
        parts.append(f"<p><b>{esc(t.name)}</b> {esc(t.version)} ({esc(t.source)})<br>Licence: {esc(t.licence)}")
        if t.intended_use:
            parts.append(f"<br>Intended use: {esc(t.intended_use)}")
        for d in t.data:
            cite = f" Cite: {esc(d.citation)}" if d.citation else ""
            parts.append(f"<br>Training data: {esc(d.name)} ({esc(d.licence)}).{cite}")
        parts.append("</p>")
    parts.append("<h3>Software</h3><p>synthgui is MIT-licensed. It runs on PySide6 / Qt (LGPLv3), PyTorch (BSD), "
                 "NumPy, SciPy, statsmodels, scikit-image (BSD), OpenCV (Apache 2.0), pydicom (MIT), Pillow (MIT-CMU) "
                 "and QtAwesome (MIT, with the Material Design Icons under Apache 2.0).</p>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About synthgui")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html())
        _with_close_button(self, self.text, 640, 620)


def welcome_html() -> str:
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(what)}</td><td><code>{esc(str(where))}</code></td></tr>"
                   for what, where in app_locations().rows())
    return (
        "<h2>Welcome to synthgui</h2>"
        "<p>Draw a lesion on the left; the bundled generator renders it on the right as you draw, on this "
        "computer, with no network. Set its size, location and rotation and the skin tone in the panel on the "
        "right. Every image it makes is synthetic and is labelled so when exported.</p>"
        "<h3>Where things live</h3>"
        f"<table cellspacing='4'>{rows}</table>"
        "<h3>Your own generator</h3>"
        "<p><b>Model &gt; Open model...</b> (Ctrl+M) loads any pix2pix generator: a <code>latest_net_G.pth</code> "
        "of the reference implementation (U-Net or ResNet; the architecture is read from the weights) or a "
        "<code>.safetensors</code> file. Put a model card (<code>&lt;name&gt;.json</code>: classes and colours, "
        "encoding, training data, licence) beside it, or copy both into <i>Your models</i> to have it listed "
        "in the picker. Checkpoints are loaded without running any code they might hold.</p>"
        "<h3>Next steps</h3>"
        "<p><b>File &gt; Export image set...</b> writes sweeps over sizes, locations, skin tones and seeds with a "
        "manifest; <b>Study &gt; New Turing-test study...</b> builds a blinded reader study. "
        "<b>Help &gt; Keyboard shortcuts</b> lists every key.</p>"
    )


class WelcomeDialog(QDialog):
    """Shown at the first start (and from Help); says where things live and how to bring one's own model."""

    def __init__(self, parent: QWidget | None = None, open_model: QAction | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to synthgui")
        layout = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setHtml(welcome_html())
        layout.addWidget(self.text)
        app_settings().setValue(SEEN_KEY, True)
        self.show_at_start = QCheckBox("Show this page every time synthgui starts")
        self.show_at_start.setChecked(_flag(EVERY_START_KEY))
        self.show_at_start.toggled.connect(lambda on: app_settings().setValue(EVERY_START_KEY, bool(on)))
        layout.addWidget(self.show_at_start)
        buttons = QDialogButtonBox()
        folder = QPushButton("Open my models folder")
        folder.setAutoDefault(False)  # Enter means "Start drawing"
        folder.clicked.connect(self.open_models_folder)
        buttons.addButton(folder, QDialogButtonBox.ButtonRole.ActionRole)
        if open_model is not None:
            own = QPushButton("Open a model...")
            own.setAutoDefault(False)
            own.clicked.connect(lambda: (self.accept(), open_model.trigger()))
            buttons.addButton(own, QDialogButtonBox.ButtonRole.ActionRole)
        start = buttons.addButton("Start drawing", QDialogButtonBox.ButtonRole.AcceptRole)
        start.setDefault(True)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.resize(640, 600)

    @staticmethod
    def open_models_folder() -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(ensure_dir(app_locations().user_models))))

