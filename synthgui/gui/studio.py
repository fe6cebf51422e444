"""The studio window: draw a mask on the canvas, see the generator render it live beside it."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton, QComboBox, QDockWidget, QDoubleSpinBox, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
    QSlider, QSplitter, QToolBar, QWidget,
)

from synthgui.core.card import ModelCard

from .actions import make_action, retint, set_tip
from .icons import themed_icon
from .document import MaskDocument
from .edit_cadence import EditCadence
from .panels import CardPanel, LesionPanel, ModelCombo, PalettePanel, RenderPanel, TonePanel, stacked
from .rendering import ModelLoader, RenderBridge
from .scrolling import FittingScrollArea, fit_to_screen
from .settings import app_settings, int_value
from .studio_files import StudioFiles
from .studio_models import StudioModels
from .views import TOOLS, CanvasView, PreviewView, ViewSync, qcolor

TOOL_KEYS = {"brush": ("1", "B"), "eraser": ("2", "E"), "fill": ("3", "F"), "polygon": ("4", "P"),
             "ellipse": ("5", "O"), "move": ("6", "M"), "eyedropper": ("7", "I")}


NO_LESION_HINT = ("Draw a lesion to see it rendered: brush (B), ellipse (O), or Studio > Propose (Ctrl+R).\n\n"
                  "This model learned from images that all show a lesion, so it renders nothing useful without one.")


class StudioWindow(StudioModels, StudioFiles, QMainWindow):
    model_ready = Signal()
    model_failed = Signal(str)
    render_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("synthgui studio")
        self.model = None  # LoadedModel
        self.card: ModelCard | None = None
        self.bridge: RenderBridge | None = None
        self._loader: ModelLoader | None = None
        self._loading = 0  # model loads in flight
        self.project_path: Path | None = None
        self.underlay_path: str | None = None
        self._missing_underlay: tuple[str, tuple[float, float] | None] | None = None  # a project's, not found
        self._saved_settings: tuple | None = None  # the project's settings as saved or opened
        self._load_token = 0  # the newest model load; an older one that finishes later is dropped
        self._project_load_token = -1  # the newest load started by opening a project
        self._pending_load: tuple | None = None  # (token, path, project) of the newest load until it ends
        self._propose_token = 0  # the newest Propose request; an older answer is dropped
        self._propose_task = None  # the newest Propose still drawing on a pool thread
        self._propose_dialogs: dict = {}  # (domain, class ids) -> its Propose form, kept with its settings
        self._remembered_brush: tuple[str, int] | None = None  # (domain, size) from the last session, for its first model
        self._dicom = None
        self.last_image: np.ndarray | None = None
        self.last_error: str | None = None
        self._render_error_shown: str | None = None  # the render failure last shown in a dialog
        self.edit_times: dict[int, tuple[float, float, float]] = {}  # render id -> (oldest, newest) edit it shows, submit time
        self.render_seconds = 0.0  # worker time of the render on screen
        self._dirty_since: float | None = None
        self._render_scheduled = False
        self._cadence = EditCadence()  # holds a render back briefly for a fresher edit while edits stream
        self._late_submit = QTimer(self)
        self._late_submit.setSingleShot(True)
        self._late_submit.setTimerType(Qt.TimerType.PreciseTimer)
        self._late_submit.timeout.connect(lambda: self._submit_if_idle(hold=False))
        self._lesion_control = ""
        self.doc = MaskDocument(256, None, self)
        self.sync = ViewSync()
        self.canvas = CanvasView(self.doc, self.sync)
        self.preview = PreviewView(self.doc, self.sync)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.preview)
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self._build_panels()
        self._build_actions()
        self._build_menus_and_toolbars()
        self._build_status()
        self._connect()
        self._apply_card(None)
        self._view_mode_changed()
        self._restore_settings()
        self._update_title()

    # --- construction ---------------------------------------------------------------------------

    def _build_panels(self) -> None:
        self.palette_panel = PalettePanel()
        self.lesion_panel = LesionPanel()
        self.tone_panel = TonePanel()
        self.render_panel = RenderPanel()
        self.underlay_panel = self._underlay_controls()
        dock = QDockWidget("Controls", self)  # labels, the selected lesion or region, tone, render, underlay
        dock.setObjectName("lesion_dock")
        # scrolled when the screen is short (1366x768): the window may be made lower than the panel
        dock.setWidget(FittingScrollArea(stacked(self.palette_panel, self.lesion_panel, self.tone_panel,
                                                 self.render_panel, self.underlay_panel)))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.card_panel = CardPanel()
        card_dock = QDockWidget("Model card", self)
        card_dock.setObjectName("card_dock")
        card_dock.setWidget(self.card_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, card_dock)
        self.docks = [dock, card_dock]

    def _underlay_controls(self) -> QWidget:
        from PySide6.QtWidgets import QFormLayout, QGroupBox

        box = QGroupBox("Underlay")
        form = QFormLayout(box)
        self.mask_opacity = QSlider(Qt.Orientation.Horizontal)
        self.mask_opacity.setRange(10, 100)
        self.mask_opacity.setValue(100)
        self.mask_opacity.setToolTip("Opacity of the mask over the underlay")
        form.addRow("Mask opacity", self.mask_opacity)
        self.window_centre = QDoubleSpinBox()
        self.window_width = QDoubleSpinBox()
        for s in (self.window_centre, self.window_width):
            s.setRange(-100000, 100000)
            s.setDecimals(1)
            s.setKeyboardTracking(False)
        self.window_centre.setToolTip("DICOM window centre (level)")
        self.window_width.setToolTip("DICOM window width")
        row = QHBoxLayout()
        row.addWidget(self.window_centre)
        row.addWidget(self.window_width)
        form.addRow("Window C/W", row)
        self.window_centre.setEnabled(False)
        self.window_width.setEnabled(False)
        return box

    def _build_actions(self) -> None:
        a = make_action
        self.act_new = a(self, "&New", self.new_document, QKeySequence.StandardKey.New, "new", "New empty mask")
        self.act_open = a(self, "&Open project...", self._open_project_dialog, QKeySequence.StandardKey.Open, "open")
        self.act_save = a(self, "&Save project", self._save, QKeySequence.StandardKey.Save, "save")
        self.act_save_as = a(self, "Save project &as...", self._save_as, QKeySequence.StandardKey.SaveAs)
        self.act_import_mask = a(self, "&Import mask PNG...", self._import_mask_dialog, "Ctrl+I", "import")
        self.act_underlay = a(self, "Open &underlay (photo or DICOM)...", self._underlay_dialog, "Ctrl+U", "underlay")
        self.act_clear_underlay = a(self, "&Clear underlay", self.clear_underlay, None, "underlay_off")
        self.act_export_image = a(self, "&Export image...", lambda: self._export_dialog("image"), "Ctrl+E", "export")
        self.act_export_mask = a(self, "Export &mask...", lambda: self._export_dialog("mask"), "Ctrl+Shift+M")
        self.act_export_both = a(self, "Export image an&d mask...", lambda: self._export_dialog("both"), "Ctrl+Shift+E")
        self.act_export_set = a(self, "Export image se&t...", self._open_export_set, None, "export_set")
        self.act_quit = a(self, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")])
        # The stack's actions keep their text and enabled state, but trigger through the window, so
        # that a drag under way (Ctrl+Z with the pen down) ends as a step before the undo.
        for action, slot in ((self.act_undo, self.undo), (self.act_redo, self.redo)):
            action.triggered.disconnect()
            action.triggered.connect(slot)
        themed_icon(self.act_undo, "undo")
        themed_icon(self.act_redo, "redo")
        # The stack renames them ("Undo Brush stroke"); the tooltip keeps naming the keys.
        stack = self.doc.undo_stack
        stack.undoTextChanged.connect(self._undo_tips)
        stack.redoTextChanged.connect(self._undo_tips)
        self._undo_tips()
        self.act_fit = a(self, "&Fit", self.canvas.fit, "Ctrl+0", "fit", "Fit the image to the view")
        self.act_100 = a(self, "&100%", self.canvas.actual_size, "Ctrl+1", "zoom_100", "Show the image at 100%")
        self.act_smaller = a(self, "Smaller brush", lambda: self.set_brush_size(self.brush_size.value() - 1), "[")
        self.act_larger = a(self, "Larger brush", lambda: self.set_brush_size(self.brush_size.value() + 1), "]")
        self.act_open_model = a(self, "&Open model...", self._open_model_dialog, "Ctrl+M", "model",
                                "Load any pix2pix generator (.pth, .pt, .safetensors)")
        self.act_propose = a(self, "&Propose lesion/vessels", self.propose, "Ctrl+R", "propose",
                             "Draw a random plausible lesion or vessel tree for this model's domain")
        self.act_propose_controls = a(self, "Propose &with controls...", self._propose_with_controls, "Ctrl+Shift+R",
                                      None, "Propose with diameter, asymmetry, border irregularity, lesions, satellites")
        self.act_new_study = a(self, "&New Turing-test study...", self._open_study_wizard, None, "study")
        self.act_rate = a(self, "&Rate a study...", self._open_rating, None, "rate")
        self.act_welcome = a(self, "&Getting started", self.show_welcome, QKeySequence.StandardKey.HelpContents, "help",
                             "Where models, projects and exports live; how to open your own model")
        self.act_shortcuts = a(self, "&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/", "keyboard")
        self.act_models_folder = a(self, "Open my &models folder", self._open_models_folder, None, "folder",
                                   "Copy a checkpoint and its model card here to list it in the picker")
        self.act_about = a(self, "&About synthgui", self.show_about, None, "info",
                           "Version, and the licences of every installed model")
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for tool in TOOLS:
            keys = TOOL_KEYS[tool]
            act = a(self, tool.capitalize(), lambda _=False, t=tool: self.set_tool(t), list(keys), tool, checkable=True)
            group.addAction(act)
            self.tool_actions[tool] = act
        self.act_propose.setEnabled(self._module_exists("synthgui.core.geometry"))
        self.act_propose_controls.setEnabled(self.act_propose.isEnabled())
        self.act_export_set.setEnabled(self._module_exists("synthgui.gui.export_dialog"))
        self.act_new_study.setEnabled(self._module_exists("synthgui.gui.study_wizard"))
        self.act_rate.setEnabled(self._module_exists("synthgui.gui.rating"))

    def _undo_tips(self, *_args) -> None:
        from shiboken6 import isValid

        for action, verb, text in ((self.act_undo, "Undo", self.doc.undo_stack.undoText()),
                                    (self.act_redo, "Redo", self.doc.undo_stack.redoText())):
            if isValid(action):  # not during teardown
                set_tip(action, f"{verb} {text}".strip())

    @staticmethod
    def _module_exists(name: str) -> bool:
        import importlib.util

        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    def _build_menus_and_toolbars(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        file.addActions([self.act_new, self.act_open])
        self.recent_menu = file.addMenu("Open &recent")
        file.addActions([self.act_save, self.act_save_as])
        file.addSeparator()
        file.addActions([self.act_import_mask, self.act_underlay, self.act_clear_underlay])
        file.addSeparator()
        file.addActions([self.act_export_image, self.act_export_mask, self.act_export_both, self.act_export_set])
        file.addSeparator()
        file.addAction(self.act_quit)
        edit = mb.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo])
        view = mb.addMenu("&View")
        view.addActions([self.act_fit, self.act_100])
        view.addSeparator()
        view.addActions([dock.toggleViewAction() for dock in self.docks])  # a closed panel stays closed across starts
        self.model_menu = mb.addMenu("&Model")
        studio = mb.addMenu("&Studio")
        studio.addActions(list(self.tool_actions.values()))
        studio.addSeparator()
        studio.addActions([self.act_smaller, self.act_larger, self.act_propose, self.act_propose_controls])
        study = mb.addMenu("Stud&y")
        study.addActions([self.act_new_study, self.act_rate])
        help_menu = mb.addMenu("&Help")
        help_menu.addActions([self.act_welcome, self.act_shortcuts, self.act_models_folder])
        help_menu.addSeparator()
        help_menu.addAction(self.act_about)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self._fill_model_menu()

        tools = QToolBar("Tools", self)
        tools.setObjectName("tools_toolbar")
        tools.addActions(list(self.tool_actions.values()))
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tools)

        top = QToolBar("Main", self)
        top.setObjectName("main_toolbar")
        top.addActions([self.act_new, self.act_open, self.act_save])
        top.addSeparator()
        top.addActions([self.act_undo, self.act_redo])
        top.addSeparator()
        self.model_combo = ModelCombo()
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setToolTip("Bundled and recent models; the last entry opens any checkpoint")
        self.model_combo.activated.connect(self._model_combo_activated)
        self.model_combo.about_to_show.connect(self._fill_model_combo)
        top.addWidget(QLabel(" Model "))
        top.addWidget(self.model_combo)
        top.addSeparator()
        top.addWidget(QLabel(" Brush "))
        self.brush_size = QSlider(Qt.Orientation.Horizontal)
        self.brush_size.setRange(0, 100)
        self.brush_size.setFixedWidth(110)
        self.brush_size.setToolTip("Brush radius in mask pixels ([ smaller, ] larger)")
        self.brush_size_label = QLabel()
        # as wide as its widest text: the toolbar does not shift while [ and ] change the size
        self.brush_size_label.setMinimumWidth(self.brush_size_label.fontMetrics().horizontalAdvance("100 px"))
        top.addWidget(self.brush_size)
        top.addWidget(self.brush_size_label)
        top.addSeparator()
        self.view_mode = QComboBox()
        for text, mode in (("Side by side", "side"), ("Overlay", "overlay"), ("Split", "split")):
            self.view_mode.addItem(text, mode)
        self.view_mode.setToolTip("Preview: render alone, mask over the render, or split by a slider")
        top.addWidget(self.view_mode)
        self.overlay_opacity = QSlider(Qt.Orientation.Horizontal)
        self.overlay_opacity.setRange(0, 100)
        self.overlay_opacity.setValue(50)
        self.overlay_opacity.setFixedWidth(80)
        self.overlay_opacity.setToolTip("Overlay opacity of the mask over the render")
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 100)
        self.split_slider.setValue(50)
        self.split_slider.setFixedWidth(80)
        self.split_slider.setToolTip("Split position: render on the left, mask on the right")
        top.addWidget(QLabel(" Opacity "))
        top.addWidget(self.overlay_opacity)
        top.addWidget(QLabel(" Split "))
        top.addWidget(self.split_slider)
        top.addSeparator()
        top.addActions([self.act_fit, self.act_100])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, top)
        self._fill_model_combo()

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.device_label = QLabel("device: -")
        self.time_label = QLabel("render: -")
        self.stale_label = QLabel("")
        self.stale_label.setToolTip("The preview is behind the mask while this shows")
        for w in (self.stale_label, self.time_label, self.device_label):
            sb.addPermanentWidget(w)

    def _connect(self) -> None:
        self.doc.changed.connect(self._mask_edited)
        self.doc.reset.connect(self._mask_edited)
        self.doc.undo_stack.cleanChanged.connect(self._update_title)
        self.doc.undo_stack.indexChanged.connect(self._undo_index_changed)
        self.doc.selection_changed.connect(self._selection_changed)
        self.canvas.label_picked.connect(self._label_picked)
        self.palette_panel.label_chosen.connect(self._set_label)
        self.lesion_panel.transform_requested.connect(self._transform_lesion)
        self.tone_panel.tone_changed.connect(self._tone_changed)
        self.render_panel.changed.connect(self.request_render)
        self.render_panel.changed.connect(self._update_title)
        self.tone_panel.tone_changed.connect(self._update_title)
        self.window_centre.valueChanged.connect(self._update_title)
        self.window_width.valueChanged.connect(self._update_title)
        self.render_panel.new_variation.clicked.connect(self.new_variation)
        self.brush_size.valueChanged.connect(self._brush_changed)
        self.view_mode.currentIndexChanged.connect(self._view_mode_changed)
        self.overlay_opacity.valueChanged.connect(lambda v: self._set_preview("opacity", v / 100.0))
        self.split_slider.valueChanged.connect(lambda v: self._set_preview("split", v / 100.0))
        self.mask_opacity.valueChanged.connect(self._mask_opacity_changed)
        self.window_centre.valueChanged.connect(self._window_changed)
        self.window_width.valueChanged.connect(self._window_changed)
        self.canvas.window_dragged.connect(self._drag_window)
        self.preview.frame_shown.connect(self._frame_shown)

    def _view_mode_changed(self, *_args) -> None:
        mode = self.view_mode.currentData()
        self.preview.set_mode(mode)
        self.overlay_opacity.setEnabled(mode == "overlay")
        self.split_slider.setEnabled(mode == "split")

    def _drag_window(self, dx: float, dy: float) -> None:
        """Right-drag on a grey DICOM underlay: sideways widens the window, up/down moves the level."""
        if not self.window_width.isEnabled():
            return
        smallest = 10.0 ** -self.window_width.decimals()
        step = max(self.window_width.value(), smallest) / 200.0
        self.window_width.setValue(max(smallest, self.window_width.value() + dx * step))
        self.window_centre.setValue(self.window_centre.value() - dy * step)

    def _set_preview(self, attr: str, value: float) -> None:
        setattr(self.preview, attr, value)
        self.preview.update()

    def _mask_opacity_changed(self, v: int) -> None:
        self.canvas.mask_opacity = v / 100.0
        self.canvas.update()

    # --- settings -------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # the first start: as large as suits the studio, but never beyond the screen (1366x768)
            self.resize(self._first_size())
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        tool = str(s.value("studio/tool", "brush"))
        self.set_tool(tool if tool in TOOLS else "brush")
        self.set_brush_size(int_value("studio/brush_size", 10, s))
        self._remembered_brush = (str(s.value("studio/brush_domain", "")), self.brush_size.value())
        self.view_mode.setCurrentIndex(max(0, self.view_mode.findData(str(s.value("studio/view_mode", "side")))))
        self.overlay_opacity.setValue(int_value("studio/overlay_opacity", self.overlay_opacity.value(), s))
        self.split_slider.setValue(int_value("studio/split", self.split_slider.value(), s))

    def _first_size(self) -> QSize:
        # room for the title bar and frame the window manager adds
        return fit_to_screen(self, QSize(1400, 820), frame=QSize(16, 48))

    def save_settings(self) -> None:
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("studio/tool", self.canvas.tool)
        s.setValue("studio/brush_size", self.brush_size.value())
        s.setValue("studio/brush_domain", self.card.domain if self.card is not None else "")
        s.setValue("studio/view_mode", self.view_mode.currentData())
        s.setValue("studio/overlay_opacity", self.overlay_opacity.value())
        s.setValue("studio/split", self.split_slider.value())
        if self.model is not None:
            s.setValue("studio/last_model", str(self.model.entry.weights))
        s.sync()

    # --- tools ----------------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        if tool == "move" and self.doc.selected is None:
            self.doc.select_largest()

    def set_brush_size(self, radius: int) -> None:
        self.brush_size.setValue(max(0, min(100, int(radius))))
        self._brush_changed(self.brush_size.value())

    def _brush_changed(self, value: int) -> None:
        self.canvas.radius = value
        self.brush_size_label.setText(f"{value} px")
        self.canvas.update()  # the brush ring under the pointer takes the new size at once

    def undo(self) -> None:
        self.canvas.finish_drag()
        self.doc.undo_stack.undo()

    def redo(self) -> None:
        self.canvas.finish_drag()
        self.doc.undo_stack.redo()

    def _set_label(self, label: int) -> None:
        self.canvas.label = label

    def _label_picked(self, label: int) -> None:
        if label > 0:
            self.canvas.label = label
            self.palette_panel.select(label)
        self.statusBar().showMessage(f"Picked class {label}", 2000)

    # --- lesion geometry ------------------------------------------------------------------------

    def _selection_changed(self) -> None:
        sel = self.doc.selected
        if sel is None or not sel.any():
            self.lesion_panel.reset(None)
        else:
            ys, xs = np.nonzero(sel)
            self.lesion_panel.reset((float(xs.mean()), float(ys.mean())))
        self._lesion_control = ""

    def select_lesion(self, x: int | None = None, y: int | None = None) -> bool:
        return self.doc.select_largest() if x is None else self.doc.select_at(x, y)

    def _transform_lesion(self, scale: float, rotation: float, dx: float, dy: float, which: str) -> None:
        if self.doc.selected is None:
            return
        if which != self._lesion_control:
            self._lesion_control = which
            self.doc.new_transform_step()  # a different control is a new undo step
        self._own_push = True
        try:
            self.doc.transform(scale, rotation, (dx, dy), text=f"Lesion {which}")
        finally:
            self._own_push = False

    def _undo_index_changed(self, *_args) -> None:
        """Any step but the selected lesion's own transform (an undo, a redo, a stroke) ends that
        transform, and the selection moves to the lesion now under it: the controls restart from
        the mask as it is."""
        from shiboken6 import isValid

        if not isValid(self.doc.undo_stack) or getattr(self, "_own_push", False) or self.canvas.moving_lesion:
            return
        self._edits_paused()
        transforming = self.doc.transforming
        if not self.doc.settle_selection() and transforming:
            self._selection_changed()

    # --- rendering ------------------------------------------------------------------------------

    def _edits_paused(self) -> None:
        """A step landed outside a drag (the pen lifted, an undo, a fill): no fresher edit is coming,
        so a render held back for one starts now."""
        self._cadence.paused()
        if self._late_submit.isActive():
            self._submit_if_idle(hold=False)

    def _mask_edited(self, *args) -> None:
        self.request_render()

    def request_render(self) -> None:
        """Mark the preview stale and render as soon as the worker is free (latest wins)."""
        now = time.perf_counter()
        self._cadence.edited(now)  # also the newest edit's time, for edit_times
        if self._dirty_since is None:
            self._dirty_since = now
        if self.bridge is None:
            return
        self.stale_label.setText("● stale")
        if not self._render_scheduled:
            self._render_scheduled = True
            QTimer.singleShot(0, self._submit_if_idle)

    def _submit_if_idle(self, hold: bool = True) -> None:
        """Start a render of the mask as it is now, if one is wanted and the worker is free.

        While edits stream in, ``hold`` lets ``EditCadence`` hold the render back until the next edit
        (due within one event interval) or a deadline just past it: the frame then shows the pen
        where it is, not where it was up to an interval ago."""
        self._render_scheduled = False
        if self.bridge is None or self._dirty_since is None or self.bridge.busy():
            return
        wait = self._cadence.wait_before_render(time.perf_counter()) if hold else 0.0
        if wait > 0:
            if not self._late_submit.isActive():
                self._late_submit.start(max(1, math.ceil(wait * 1000)))
            return
        self._late_submit.stop()
        if self.nothing_to_render():
            self._show_no_lesion_hint()
            return
        job = self.render_job()
        edit_time, self._dirty_since = self._dirty_since, None
        job_id = self.bridge.submit(job)
        self.edit_times[job_id] = (edit_time, self._cadence.last, time.perf_counter())
        self.edit_times.pop(job_id - 64, None)

    def nothing_to_render(self) -> bool:
        """A skin model on a mask without a lesion: every training image showed one, so such a
        render is noise in a frame; a hint says what to do instead."""
        return self.card is not None and self.card.uses_skin_tone and not self.doc.label_map.any()

    def _show_no_lesion_hint(self) -> None:
        self._dirty_since = None
        self.stale_label.setText("")
        self.preview.show_hint(NO_LESION_HINT)

    def render_job(self):
        """What the preview renders now: the mask, tone, condition, seed and mode."""
        from synthgui.core.encoding import EncodeRequest
        from synthgui.core.engine import RenderJob

        card = self.card
        tone = self.tone_panel.tone if card is not None and card.uses_skin_tone else None
        request = EncodeRequest(skin_tone=tone, condition=self.render_panel.condition.currentData())
        return RenderJob(self.doc.label_map.copy(), request, self.render_panel.seed.value(), self.render_panel.mode.currentData())

    def _rendered(self, job, image: np.ndarray, seconds: float) -> None:
        if self.bridge is None or self.sender() not in (None, self.bridge) or job.id != self.bridge.latest_id:
            return  # stale, or from the engine of a model replaced meanwhile
        if self.nothing_to_render():
            self._show_no_lesion_hint()  # the lesion was erased while this rendered
            return
        self.last_image = image
        self.render_seconds = seconds
        self._render_error_shown = None  # a later failure is news again
        if self._dirty_since is not None:
            self._submit_if_idle()  # before painting: the worker starts on the newest mask while this frame is drawn
        else:
            self.stale_label.setText("")
        self.preview.set_image(image, job.id)
        self.time_label.setText(f"render: {seconds * 1000:.0f} ms")
        self._show_engine_tip()  # it changes when tracing is given up on a new input shape

    def _show_engine_tip(self) -> None:
        tip = f"The generator runs on {self.bridge.engine.describe()}"
        if tip != self.device_label.toolTip():
            self.device_label.setToolTip(tip)

    def _render_failed(self, job, message: str) -> None:
        if self.sender() not in (None, self.bridge):
            return
        self.stale_label.setText("● render failed")
        if message != self._render_error_shown:  # once per distinct failure, not once per edit of a stroke
            self._render_error_shown = message
            self.show_error("Render failed", f"{message}\n\nThe mask is kept. Try another device (Model menu), "
                            "a smaller model, or save the project and restart.")
        else:
            self.statusBar().showMessage(f"Render failed: {message}", 10000)
        self.last_error = message
        if self._dirty_since is not None:
            self._submit_if_idle()

    def _frame_shown(self, render_id: int, when: float) -> None:
        self.render_shown.emit(render_id)

    def _tone_changed(self, tone) -> None:
        if self.card is not None and self.card.uses_skin_tone:
            self.set_background(tone)
        self.request_render()

    def set_background(self, rgb) -> None:
        """Class 0's colour (the skin tone on skin models) behind the mask, on the canvas and in the split view."""
        self.canvas.background = self.preview.background = qcolor(rgb)
        self.canvas.update()
        self.preview.update()

    def new_variation(self) -> None:
        self.render_panel.seed.setValue(random.randrange(0, 2**31 - 1))

    # --- help ---------------------------------------------------------------------------------------

    def show_welcome(self):
        from .help import WelcomeDialog

        dialog = WelcomeDialog(self, self.act_open_model)
        dialog.accepted.connect(self._start_drawing)
        return self._show_dialog(dialog)

    def _start_drawing(self) -> None:
        """After the welcome page the keys go to the canvas (tools, brush size, Ctrl+R), not nowhere."""
        self.activateWindow()
        self.raise_()
        self.canvas.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def show_shortcuts(self):
        from .help import ShortcutsDialog

        return self._show_dialog(ShortcutsDialog(self.menuBar(), self))

    def show_about(self):
        from .help import AboutDialog

        return self._show_dialog(AboutDialog(self))

    def _open_models_folder(self) -> None:
        from .help import WelcomeDialog

        if not WelcomeDialog.open_models_folder():
            self.statusBar().showMessage("Could not open the models folder in a file manager", 5000)

    @staticmethod
    def _show_dialog(dialog):
        """Non-modal: the studio keeps rendering while help is open."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # --- messages and closing -----------------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        """A non-blocking message box; the work stays as it was."""
        self.last_error = message
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def is_modified(self) -> bool:
        """The mask differs from its saved state, or (for a saved or opened project) a setting the
        project keeps does: tone, condition, seed, mode, underlay and its window."""
        if not self.doc.undo_stack.isClean():
            return True
        return self.project_path is not None and self._saved_settings is not None and \
            self.settings_key() != self._saved_settings

    def _confirm_discard(self) -> bool:
        """Ask before unsaved work is lost; True when it is fine to go on."""
        if not self.is_modified():
            return True
        what = "The mask has" if not self.doc.undo_stack.isClean() else "The project's settings have"
        answer = QMessageBox.question(
            self, "Unsaved changes", f"{what} unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self._save()
        return answer == QMessageBox.StandardButton.Discard

    def changeEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange:
            retint(self.findChildren(QAction) + self.findChildren(QAbstractButton))
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._confirm_discard():
            event.ignore()
            return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the render worker (it finishes at most the render it is in) and wait for loaders."""
        from PySide6.QtCore import QThreadPool

        if self.bridge is not None:
            self.bridge.stop(30.0)
        QThreadPool.globalInstance().waitForDone(60000)

    def _update_title(self, *_args) -> None:
        from shiboken6 import isValid

        if not (isValid(self) and isValid(self.doc.undo_stack)):
            return  # during teardown
        name = self.project_path.name if self.project_path else "untitled"
        self.setWindowModified(self.is_modified())
        self.setWindowTitle(f"{name}[*] - synthgui studio")
