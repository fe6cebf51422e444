"""The studio window: draw a mask on the canvas, see the generator render it live beside it."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMenu, QMessageBox,
    QSlider, QSplitter, QToolBar, QWidget,
)

from synthgui.core.card import ModelCard, generic_card
from synthgui.core.errors import SynthguiError

from .actions import make_action
from .document import MaskDocument
from .panels import CardPanel, LesionPanel, PalettePanel, RenderPanel, TonePanel, stacked
from .rendering import ModelLoader, RenderBridge, start_loading
from .settings import app_settings, push_recent, recent
from .views import TOOLS, CanvasView, PreviewView, ViewSync, qimage_rgb

TOOL_KEYS = {"brush": ("1", "B"), "eraser": ("2", "E"), "fill": ("3", "F"), "polygon": ("4", "P"),
             "ellipse": ("5", "O"), "move": ("6", "M"), "eyedropper": ("7", "I")}
DOMAIN_BRUSH = {"skin": 10, "fundus": 2, "mri": 6}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp);;DICOM (*.dcm *.dicom);;All files (*)"
PROJECT_FILTER = "synthgui project (*.synthgui)"


class StudioWindow(QMainWindow):
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
        self.project_path: Path | None = None
        self.underlay_path: str | None = None
        self._dicom = None
        self.last_image: np.ndarray | None = None
        self.last_error: str | None = None
        self.edit_times: dict[int, tuple[float, float]] = {}  # render id -> (oldest, newest) edit it shows
        self._last_edit = 0.0
        self._dirty_since: float | None = None
        self._render_scheduled = False
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
        dock = QDockWidget("Lesion", self)
        dock.setObjectName("lesion_dock")
        dock.setWidget(stacked(self.palette_panel, self.lesion_panel, self.tone_panel, self.render_panel, self.underlay_panel))
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
        self.act_clear_underlay = a(self, "Clear underlay", self.clear_underlay, None, "underlay_off")
        self.act_export_image = a(self, "Export &image...", lambda: self._export_dialog("image"), "Ctrl+E", "export")
        self.act_export_mask = a(self, "Export &mask...", lambda: self._export_dialog("mask"), "Ctrl+Shift+M")
        self.act_export_both = a(self, "Export image &and mask...", lambda: self._export_dialog("both"), "Ctrl+Shift+E")
        self.act_export_set = a(self, "Export image &set...", self._open_export_set, None, "export_set")
        self.act_quit = a(self, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")])
        from .icons import icon

        self.act_undo.setIcon(icon("undo"))
        self.act_redo.setIcon(icon("redo"))
        self.act_fit = a(self, "&Fit", self.canvas.fit, "Ctrl+0", "fit", "Fit the image to the view")
        self.act_100 = a(self, "&100%", self.canvas.actual_size, "Ctrl+1", "zoom_100", "Show the image at 100%")
        self.act_smaller = a(self, "Smaller brush", lambda: self.set_brush_size(self.brush_size.value() - 1), "[")
        self.act_larger = a(self, "Larger brush", lambda: self.set_brush_size(self.brush_size.value() + 1), "]")
        self.act_open_model = a(self, "&Open model...", self._open_model_dialog, "Ctrl+M", "model",
                                "Load any pix2pix generator (.pth, .pt, .safetensors)")
        self.act_propose = a(self, "&Propose lesion/vessels", self.propose, "Ctrl+R", "propose",
                             "Draw a random plausible lesion or vessel tree for this model's domain")
        self.act_new_study = a(self, "&New Turing-test study...", self._open_study_wizard, None, "study")
        self.act_rate = a(self, "&Rate a study...", self._open_rating, None, "rate")
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for tool in TOOLS:
            keys = TOOL_KEYS[tool]
            act = a(self, tool.capitalize(), lambda _=False, t=tool: self.set_tool(t), list(keys), tool, checkable=True)
            group.addAction(act)
            self.tool_actions[tool] = act
        self.act_propose.setEnabled(self._module_exists("synthgui.core.geometry"))
        self.act_export_set.setEnabled(self._module_exists("synthgui.gui.export_dialog"))
        self.act_new_study.setEnabled(self._module_exists("synthgui.gui.study_wizard"))
        self.act_rate.setEnabled(self._module_exists("synthgui.gui.rating"))

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
        self.model_menu = mb.addMenu("&Model")
        studio = mb.addMenu("&Studio")
        studio.addActions(list(self.tool_actions.values()))
        studio.addSeparator()
        studio.addActions([self.act_smaller, self.act_larger, self.act_propose])
        study = mb.addMenu("Stud&y")
        study.addActions([self.act_new_study, self.act_rate])
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
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setToolTip("Bundled and recent models; the last entry opens any checkpoint")
        self.model_combo.activated.connect(self._model_combo_activated)
        top.addWidget(QLabel(" Model "))
        top.addWidget(self.model_combo)
        top.addSeparator()
        top.addWidget(QLabel(" Brush "))
        self.brush_size = QSlider(Qt.Orientation.Horizontal)
        self.brush_size.setRange(0, 100)
        self.brush_size.setFixedWidth(110)
        self.brush_size.setToolTip("Brush radius in mask pixels ([ smaller, ] larger)")
        self.brush_size_label = QLabel()
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
        self.render_panel.new_variation.clicked.connect(self.new_variation)
        self.brush_size.valueChanged.connect(self._brush_changed)
        self.view_mode.currentIndexChanged.connect(self._view_mode_changed)
        self.overlay_opacity.valueChanged.connect(lambda v: self._set_preview("opacity", v / 100.0))
        self.split_slider.valueChanged.connect(lambda v: self._set_preview("split", v / 100.0))
        self.mask_opacity.valueChanged.connect(self._mask_opacity_changed)
        self.window_centre.valueChanged.connect(self._window_changed)
        self.window_width.valueChanged.connect(self._window_changed)
        self.preview.frame_shown.connect(self._frame_shown)

    def _view_mode_changed(self, *_args) -> None:
        mode = self.view_mode.currentData()
        self.preview.set_mode(mode)
        self.overlay_opacity.setEnabled(mode == "overlay")
        self.split_slider.setEnabled(mode == "split")

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
        else:
            self.resize(1400, 820)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        tool = str(s.value("studio/tool", "brush"))
        self.set_tool(tool if tool in TOOLS else "brush")
        self.set_brush_size(int(s.value("studio/brush_size", 10)))

    def save_settings(self) -> None:
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("studio/tool", self.canvas.tool)
        s.setValue("studio/brush_size", self.brush_size.value())
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
            base = self.doc._transform_base
            self.doc.begin_transform() if base is None else None
            self.doc._merge_serial += 1
            self.doc._transform_merge = self.doc._merge_serial
        self._own_push = True
        try:
            self.doc.transform(scale, rotation, (dx, dy), text=f"Lesion {which}")
        finally:
            self._own_push = False

    def _undo_index_changed(self, *_args) -> None:
        from shiboken6 import isValid

        if not isValid(self.doc.undo_stack):
            return
        if not getattr(self, "_own_push", False) and self.doc._transform_base is not None and not self.canvas._drag_start:
            self.doc._transform_base = None
            self.doc.selected = None
            self._selection_changed()

    # --- rendering ------------------------------------------------------------------------------

    def _mask_edited(self, *args) -> None:
        self.request_render()

    def request_render(self) -> None:
        """Mark the preview stale and render as soon as the worker is free (latest wins)."""
        now = time.perf_counter()
        self._last_edit = now
        if self._dirty_since is None:
            self._dirty_since = now
        if self.bridge is None:
            return
        self.stale_label.setText("● stale")
        if not self._render_scheduled:
            self._render_scheduled = True
            QTimer.singleShot(0, self._submit_if_idle)

    def _submit_if_idle(self) -> None:
        self._render_scheduled = False
        if self.bridge is None or self._dirty_since is None or self.bridge.busy():
            return
        job = self.render_job()
        edit_time, self._dirty_since = self._dirty_since, None
        job_id = self.bridge.submit(job)
        self.edit_times[job_id] = (edit_time, self._last_edit)
        self.edit_times.pop(job_id - 64, None)

    def render_job(self):
        """What the preview renders now: the mask, tone, condition, seed and mode."""
        from synthgui.core.encoding import EncodeRequest
        from synthgui.core.engine import RenderJob

        card = self.card
        tone = self.tone_panel.tone if card is not None and card.uses_skin_tone else None
        request = EncodeRequest(skin_tone=tone, condition=self.render_panel.condition.currentData())
        return RenderJob(self.doc.label_map.copy(), request, self.render_panel.seed.value(), self.render_panel.mode.currentData())

    def _rendered(self, job, image: np.ndarray, seconds: float) -> None:
        if self.bridge is None or job.id != self.bridge.latest_id:
            return  # stale
        self.last_image = image
        self.preview.set_image(image, job.id)
        self.time_label.setText(f"render: {seconds * 1000:.0f} ms")
        if self._dirty_since is not None:
            self._submit_if_idle()
        else:
            self.stale_label.setText("")

    def _render_failed(self, job, message: str) -> None:
        self.last_error = message
        self.stale_label.setText("● render failed")
        self.statusBar().showMessage(f"Render failed: {message}", 10000)
        if self._dirty_since is not None:
            self._submit_if_idle()

    def _frame_shown(self, render_id: int, when: float) -> None:
        self.render_shown.emit(render_id)

    def _tone_changed(self, tone) -> None:
        if self.card is not None and self.card.uses_skin_tone:
            self.canvas.background = _qcolor(tone)
            self.canvas.update()
        self.request_render()

    def new_variation(self) -> None:
        self.render_panel.seed.setValue(random.randrange(0, 2**31 - 1))

    # --- models ---------------------------------------------------------------------------------

    def load_model_path(self, path: str, device: str | None = "auto") -> None:
        """Load a model on a worker; the window stays usable and keeps the current model meanwhile."""
        self.statusBar().showMessage(f"Loading model {Path(path).name}...")
        loader = ModelLoader(str(path), device)
        loader.signals.loaded.connect(self._model_loaded, Qt.ConnectionType.QueuedConnection)
        loader.signals.failed.connect(self._model_load_failed, Qt.ConnectionType.QueuedConnection)
        self._loader = loader
        start_loading(loader)

    def _model_loaded(self, model, engine) -> None:
        old = self.bridge
        if old is not None:
            old.stop(0.0)
        self.model = model
        self.bridge = RenderBridge(engine, self)
        self.bridge.rendered.connect(self._rendered)
        self.bridge.failed.connect(self._render_failed)
        self._apply_card(model.card)
        pending, self._pending_project = getattr(self, "_pending_project", None), None
        if pending is not None:
            self._apply_parameters(pending)
        self.card_panel.show_card(model.card, model.identity(), model.warnings)
        device = str(engine.device) + (" fp16" if getattr(engine, "half", False) else "")
        self.device_label.setText(f"device: {device}")
        push_recent("recent/models", str(model.entry.weights))
        app_settings().setValue("studio/last_model", str(model.entry.weights))
        self._fill_model_combo()
        self.statusBar().showMessage(f"Model {model.name} loaded" + (f" ({'; '.join(model.warnings)})" if model.warnings else ""), 8000)
        self.preview.placeholder = "Rendering..."
        self._dirty_since = time.perf_counter()
        self.request_render()
        self.model_ready.emit()

    def _model_load_failed(self, path: str, message: str) -> None:
        self.show_error("Model could not be loaded", f"{Path(path).name}: {message}")
        self.model_failed.emit(message)
        self._fill_model_combo()

    def _apply_card(self, card: ModelCard | None) -> None:
        """Palette, canvas size, tools and panels follow the model's domain and classes."""
        self.card = card
        display = card if card is not None else generic_card("no model")
        size = display.resolution if card is not None else 256
        lm = self.doc.label_map
        if lm.shape != (size, size):
            from synthgui.core.masks import resize_label_map

            lm = resize_label_map(lm, size)
        known = {c.id for c in display.classes}
        fg = display.foreground_classes[0].id if display.foreground_classes else 1
        if not set(np.unique(lm).tolist()) <= known:
            lm = np.where(np.isin(lm, list(known)), lm, fg).astype(np.uint8)
        self.doc.set_card(display)
        if lm is not self.doc.label_map:
            self.doc.replace(lm, "Fit mask to model")
        self.palette_panel.set_card(display)
        self.canvas.label = fg
        self.render_panel.set_card(card)
        skin = card is not None and card.uses_skin_tone
        self.tone_panel.setVisible(skin or card is None)
        if skin:
            self.tone_panel.set_tone(card.default_skin_tone, emit=False)
        self.canvas.background = _qcolor(self.tone_panel.tone) if skin else _qcolor((0, 0, 0))
        if card is not None:
            self.set_brush_size(DOMAIN_BRUSH.get(card.domain, self.brush_size.value()))
        self.canvas.fit()
        if card is None:
            self.statusBar().showMessage("No model loaded: use Model > Open model... to load a generator")

    def _fill_model_combo(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        current = str(self.model.entry.weights) if self.model is not None else None
        if current is None:
            self.model_combo.addItem("(no model)", None)
        for entry in _list_model_entries():
            self.model_combo.addItem(f"{entry[0]} ({entry[2]})", entry[1])
        for path in recent("recent/models"):
            if self.model_combo.findData(path) < 0 and Path(path).is_file():
                self.model_combo.addItem(f"{Path(path).name} (recent)", path)
        self.model_combo.addItem("Open model...", "__open__")
        if current is not None:
            i = self.model_combo.findData(current)
            if i < 0:
                self.model_combo.insertItem(0, f"{self.model.name} (file)", current)
                i = 0
            self.model_combo.setCurrentIndex(i)
        self.model_combo.blockSignals(False)

    def _model_combo_activated(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data == "__open__":
            self._open_model_dialog()
        elif data:
            self.load_model_path(data)

    def _fill_model_menu(self) -> None:
        self.model_menu.clear()
        self.model_menu.addAction(self.act_open_model)
        self.model_menu.addSeparator()
        for name, path, source in _list_model_entries():
            self.model_menu.addAction(f"{name} ({source})", lambda p=path: self.load_model_path(p))
        recent_models = [p for p in recent("recent/models") if Path(p).is_file()]
        if recent_models:
            self.model_menu.addSeparator()
            for p in recent_models:
                self.model_menu.addAction(Path(p).name, lambda p=p: self.load_model_path(p))

    def _open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "Generators (*.pth *.pt *.safetensors *.json);;All files (*)")
        if path:
            self.load_model_path(path)
        else:
            self._fill_model_combo()

    # --- files ----------------------------------------------------------------------------------

    def new_document(self) -> None:
        if not self._confirm_discard():
            return
        size = self.card.resolution if self.card is not None else 256
        self.doc.load_clean(np.zeros((size, size), np.uint8))
        self.project_path = None
        self.clear_underlay()
        self._update_title()

    def project(self):
        from synthgui.core.project import Project

        return Project(
            label_map=self.doc.label_map.copy(),
            model=self.model.identity() if self.model is not None else None,
            skin_tone=tuple(self.tone_panel.tone) if self.card is None or self.card.uses_skin_tone else None,
            condition=self.render_panel.condition.currentData(),
            seed=self.render_panel.seed.value(),
            mode=self.render_panel.mode.currentData(),
            underlay=self.underlay_path,
            underlay_window=(self.window_centre.value(), self.window_width.value()) if self._dicom is not None else None,
            extra={"view_mode": self.view_mode.currentData(), "overlay_opacity": self.overlay_opacity.value(),
                   "split": self.split_slider.value(), "mask_opacity": self.mask_opacity.value()},
        )

    def save_project(self, path: str | Path) -> bool:
        from synthgui.core.project import save_project

        try:
            save_project(path, self.project())
        except SynthguiError as exc:
            self.show_error("Project not saved", str(exc))
            return False
        self.project_path = Path(path)
        self.doc.undo_stack.setClean()
        push_recent("recent/projects", str(path))
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def open_project(self, path: str | Path) -> bool:
        from synthgui.core.project import load_project

        try:
            proj = load_project(path)
        except SynthguiError as exc:
            self.show_error("Project not opened", str(exc))
            return False
        wanted = (proj.model or {}).get("path")
        self._pending_project = None
        if wanted and (self.model is None or str(self.model.entry.weights) != wanted):
            if Path(wanted).is_file():
                self._pending_project = proj  # its parameters win over the new card's defaults
                self.load_model_path(wanted)
            else:
                self.statusBar().showMessage(f"The project's model {wanted} is not here; rendering with the current one", 10000)
        self.doc.load_clean(proj.label_map)
        self._apply_parameters(proj)
        self.clear_underlay()
        if proj.underlay:
            self.open_underlay(proj.underlay, proj.underlay_window)
        self.project_path = Path(path)
        self.loaded_project = proj
        push_recent("recent/projects", str(path))
        self._update_title()
        self.request_render()
        return True

    def _apply_parameters(self, proj) -> None:
        if proj.skin_tone is not None:
            self.tone_panel.set_tone(proj.skin_tone, emit=False)
        self.render_panel.set_condition(proj.condition)
        self.render_panel.seed.setValue(proj.seed)
        self.render_panel.set_mode(proj.mode)
        view = proj.extra or {}
        if "view_mode" in view:
            self.view_mode.setCurrentIndex(max(0, self.view_mode.findData(view["view_mode"])))
        for key, widget in (("overlay_opacity", self.overlay_opacity), ("split", self.split_slider), ("mask_opacity", self.mask_opacity)):
            if key in view:
                widget.setValue(int(view[key]))
        if self.card is not None and self.card.uses_skin_tone:
            self.canvas.background = _qcolor(self.tone_panel.tone)

    def import_mask(self, path: str | Path) -> bool:
        from synthgui.core.masks import load_mask, resize_label_map

        card = self.card or generic_card("no model")
        try:
            lm = load_mask(path, card)
        except SynthguiError as exc:
            self.show_error("Mask not imported", str(exc))
            return False
        size = self.doc.label_map.shape[::-1]
        self.doc.replace(resize_label_map(lm, size), "Import mask")
        return True

    def open_underlay(self, path: str, window: tuple[float, float] | None = None) -> bool:
        from synthgui.core.dicom import is_dicom, read_dicom
        from synthgui.core.masks import read_image_rgb

        try:
            if is_dicom(path) or Path(path).suffix.lower() in (".dcm", ".dicom"):
                self._dicom = read_dicom(path)
                grey = self._dicom.is_grey
                c, w = window or self._dicom.window or _auto_window(self._dicom.pixels)
                for s, v in ((self.window_centre, c), (self.window_width, w)):
                    s.blockSignals(True)
                    s.setValue(v)
                    s.setEnabled(grey)
                    s.blockSignals(False)
                rgb = self._dicom.to_uint8(c, w) if grey else self._dicom.to_uint8()
            else:
                self._dicom = None
                rgb = read_image_rgb(path)
        except SynthguiError as exc:
            self.show_error("Underlay not opened", str(exc))
            return False
        self._show_underlay(rgb)
        self.underlay_path = str(path)
        if self.mask_opacity.value() == 100:
            self.mask_opacity.setValue(60)
        return True

    def _show_underlay(self, pixels: np.ndarray) -> None:
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        self.canvas.underlay = qimage_rgb(pixels[..., :3])
        self.canvas.update()

    def _window_changed(self) -> None:
        if self._dicom is not None and self._dicom.is_grey:
            self._show_underlay(self._dicom.to_uint8(self.window_centre.value(), self.window_width.value()))

    def clear_underlay(self) -> None:
        self.canvas.underlay = None
        self._dicom = None
        self.underlay_path = None
        self.window_centre.setEnabled(False)
        self.window_width.setEnabled(False)
        self.canvas.update()

    def export(self, kind: str, path: str | Path) -> bool:
        from synthgui.core.imagefiles import save_image
        from synthgui.core.masks import save_mask

        path = Path(path)
        try:
            if kind in ("image", "both"):
                if self.last_image is None:
                    raise SynthguiError("there is no rendered image yet (load a model first)")
                save_image(path, self.last_image)
            if kind == "mask":
                save_mask(path.with_suffix(".png"), self.doc.label_map, self.card or generic_card("mask"))
            if kind == "both":
                save_mask(path.with_name(path.stem + "_mask.png"), self.doc.label_map, self.card or generic_card("mask"))
        except SynthguiError as exc:
            self.show_error("Export failed", str(exc))
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    # --- dialogs (thin wrappers the tests bypass) ---------------------------------------------------

    def _open_project_dialog(self) -> None:
        if not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project(path)

    def _save(self) -> bool:
        return self.save_project(self.project_path) if self.project_path else self._save_as()

    def _save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(self.project_path or "untitled.synthgui"), PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(".synthgui"):
            path += ".synthgui"
        return self.save_project(path)

    def _import_mask_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import mask", "", IMAGE_FILTER)
        if path:
            self.import_mask(path)

    def _underlay_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open underlay", "", IMAGE_FILTER)
        if path:
            self.open_underlay(path)

    def _export_dialog(self, kind: str) -> None:
        title = {"image": "Export image", "mask": "Export mask", "both": "Export image and mask"}[kind]
        path, _ = QFileDialog.getSaveFileName(self, title, "render.png" if kind != "mask" else "mask.png",
                                              "PNG (*.png);;TIFF (*.tif *.tiff);;JPEG (*.jpg)")
        if path:
            self.export(kind, path)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in recent("recent/projects"):
            self.recent_menu.addAction(p, lambda p=p: self._confirm_discard() and self.open_project(p))
        self.recent_menu.setEnabled(True)

    def _open_export_set(self) -> None:
        try:
            from .export_dialog import ExportDialog
        except ImportError as exc:
            self.act_export_set.setEnabled(False)
            self.show_error("Export not available", str(exc))
            return
        if self.model is None:
            self.show_error("No model", "Load a model before exporting an image set.")
            return
        tone = self.tone_panel.tone if self.card is not None and self.card.uses_skin_tone else None
        ExportDialog(self, str(self.model.entry.weights), self.doc.label_map.copy(), tone).exec()

    def _open_study_wizard(self) -> None:
        try:
            from .study_wizard import StudyWizard
        except ImportError as exc:
            self.act_new_study.setEnabled(False)
            self.show_error("Studies not available", str(exc))
            return
        StudyWizard(self).exec()

    def _open_rating(self) -> None:
        try:
            from .rating import launch_rating
        except ImportError as exc:
            self.act_rate.setEnabled(False)
            self.show_error("Rating not available", str(exc))
            return
        launch_rating(self, None)

    def propose(self) -> None:
        try:
            from synthgui.core.geometry import propose
        except ImportError as exc:
            self.act_propose.setEnabled(False)
            self.show_error("Proposals not available", str(exc))
            return
        domain = self.card.domain if self.card is not None else "skin"
        size = self.doc.label_map.shape[0]
        try:
            lm = np.asarray(propose(domain, size, random.randrange(2**31)), np.uint8)
        except SynthguiError as exc:
            self.show_error("No proposal", str(exc))
            return
        self.doc.replace(lm, "Propose")

    # --- messages and closing -----------------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        """A non-blocking message box; the work stays as it was."""
        self.last_error = message
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _confirm_discard(self) -> bool:
        """Ask before unsaved work is lost; True when it is fine to go on."""
        if self.doc.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The mask has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self._save()
        return answer == QMessageBox.StandardButton.Discard

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
        self.setWindowModified(not self.doc.undo_stack.isClean())
        self.setWindowTitle(f"{name}[*] - synthgui studio")


def _qcolor(rgb) -> "QColor":
    from PySide6.QtGui import QColor

    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))


def _auto_window(pixels: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.percentile(pixels, 0.5)), float(np.percentile(pixels, 99.5))
    return (lo + hi) / 2.0, max(hi - lo, 1.0)


def _list_model_entries() -> list[tuple[str, str, str]]:
    """(name, weights path, source) of bundled and user models, found without importing torch."""
    from .model_index import list_choices

    return [(c.name, c.weights, c.source) for c in list_choices()]
