"""The studio's model handling: the picker, loading on a worker, and fitting the window to a card
(palette, canvas size, tools and panels follow the model's domain and classes)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QFileDialog

from synthgui.core.card import ModelCard, generic_card
from synthgui.core.masks import blank_mask

from .model_index import display_name
from .rendering import ModelLoader, RenderBridge, start_loading
from .settings import app_settings, push_recent, recent

DOMAIN_BRUSH = {"skin": 10, "fundus": 2, "mri": 6}
DEVICES = (("auto", "Automatic (GPU when there is one)"), ("cpu", "CPU"), ("cuda", "NVIDIA GPU (CUDA)"),
           ("mps", "Apple GPU (Metal)"))


def chosen_device() -> str:
    """The device the user picked in Model > Device; listed without importing torch (start-up)."""
    value = str(app_settings().value("studio/device", "auto"))
    return value if value in dict(DEVICES) else "auto"


class StudioModels:
    """Mixed into ``StudioWindow``; uses its widgets and document."""

    # --- models ---------------------------------------------------------------------------------

    def load_model_path(self, path: str, device: str | None = None, project=None) -> None:
        """Load a model on a worker; the window stays usable and keeps the current model meanwhile.
        ``device`` None means the user's choice in Model > Device. ``project``: the project being
        opened with this model, whose settings are applied once it is loaded (and only then: a
        newer load replaces this one, project and all)."""
        device = device or chosen_device()
        self.statusBar().showMessage(f"Loading model {Path(path).name}...")
        loader = ModelLoader(str(path), device)
        self._load_token += 1
        loader.signals.token = self._load_token
        loader.signals.project = project
        self._pending_load = (self._load_token, str(path), project)  # what a device change reloads meanwhile
        if project is not None:
            self._project_load_token = self._load_token
        loader.signals.loaded.connect(self._model_loaded, Qt.ConnectionType.QueuedConnection)
        loader.signals.failed.connect(self._model_load_failed, Qt.ConnectionType.QueuedConnection)
        self._loader = loader  # kept: the pool thread may still be returning from run() when its signal lands
        self._loading += 1
        start_loading(loader)

    @property
    def model_loading(self) -> bool:
        return self._loading > 0

    def _superseded(self) -> bool:
        """The answer of a load that a newer load (or a project opened since) has replaced."""
        token = getattr(self.sender(), "token", None)
        return token is not None and token != self._load_token

    def _model_loaded(self, model, engine) -> None:
        self._loading -= 1
        if self._superseded():
            self._fill_model_combo()
            return
        self._pending_load = None
        old = self.bridge
        if old is not None:
            old.rendered.disconnect(self._rendered)
            old.failed.disconnect(self._render_failed)
            old.stop(0.0)  # its current render finishes on its own and is dropped
        pending = getattr(self.sender(), "project", None)
        same = pending is None and self.model is not None and self.model.entry.weights == model.entry.weights
        keep = self.project(with_mask=False) if same else None  # another device: the same settings
        self.model = model
        self.bridge = RenderBridge(engine, self)
        self.bridge.rendered.connect(self._rendered)
        self.bridge.failed.connect(self._render_failed)
        self._apply_card(model.card, opened_project=pending is not None)
        if pending is not None:
            self._apply_parameters(pending)
            self.check_project_model(pending)
            self._mark_saved()  # the project as its own model shows it
        elif keep is not None:
            self._apply_parameters(keep)
        self.card_panel.show_card(model.card, model.identity(), model.warnings)
        device = str(engine.device) + (" fp16" if getattr(engine, "half", False) else "")
        self.device_label.setText(f"device: {device}")
        self._show_engine_tip()
        push_recent("recent/models", str(model.entry.weights))
        app_settings().setValue("studio/last_model", str(model.entry.weights))
        self._fill_model_combo()
        note, self._domain_note = getattr(self, "_domain_note", ""), ""
        self.statusBar().showMessage(f"Model {model.name} loaded" + (f" ({'; '.join(model.warnings)})" if model.warnings else "")
                                     + (f". {note}" if note else ""), 20000 if note else 8000)
        self.preview.placeholder = "Rendering..."
        self._dirty_since = time.perf_counter()
        self.request_render()
        self._update_title()
        self.model_ready.emit()

    def _model_load_failed(self, path: str, message: str) -> None:
        self._loading -= 1
        previous = getattr(self.sender(), "previous_device", None)
        if previous is not None and chosen_device() == getattr(self.sender(), "device", None):
            app_settings().setValue("studio/device", previous)  # the model stays where it runs; so does the menu
        if self._superseded():
            return
        self._pending_load = None
        name = Path(path).name
        self.show_error("Model could not be loaded", message if message.startswith(name) else f"{name}: {message}")
        self.model_failed.emit(message)
        self._fill_model_combo()

    def _apply_card(self, card: ModelCard | None, opened_project: bool = False) -> None:
        """Palette, canvas size, tools and panels follow the model's domain and classes.
        ``opened_project``: the model of a project just opened, which brings its own mask."""
        previous, self.card = getattr(self, "card", None), card
        old_size = self.doc.size
        display = card if card is not None else generic_card("no model")
        size = display.resolution if card is not None else 256
        same_domain = previous is not None and card is not None and previous.domain == card.domain
        lm = fitted_to_card(self.doc.label_map, display, size, previous if same_domain and not opened_project else None)
        self.doc.set_card(display)
        other_domain = (previous is not None and card is not None and previous.domain != card.domain
                        and not opened_project)
        if not lm.any():
            blank = blank_mask(card, size)
            if self.doc.undo_stack.count() == 0:
                self.doc.load_clean(blank)  # a fresh document starts as the model's blank mask
            elif not np.array_equal(blank, self.doc.label_map):
                # never a fresh history here: the redo steps and the saved state are the user's
                self.doc.replace(blank, f"New {card.domain} mask" if card is not None else "New mask")
        elif other_domain:
            # A lesion's class id would silently mean "retina" to a fundus model: start the new
            # domain's mask as an undoable step instead, and say how to get the drawing back.
            self.doc.replace(blank_mask(card, size), f"New {card.domain} mask")
            self._domain_note = (f"{card.name} works on {card.domain} masks, so a new one was started; "
                                 f"Edit > Undo brings back the {previous.domain} drawing.")
        elif lm is not self.doc.label_map:
            if self.doc.undo_stack.count() == 0:
                self.doc.load_clean(lm)  # a document just opened: fitting it is not an edit of the user's
            else:
                self.doc.replace(lm, "Fit mask to model")
        self.palette_panel.set_card(display)
        self.canvas.label = default_label(display)
        self.palette_panel.select(self.canvas.label)
        self.render_panel.set_card(card)
        self.lesion_panel.setTitle("Selected lesion" if card is None or card.domain == "skin" else "Selected region")
        skin = card is not None and card.uses_skin_tone
        self.tone_panel.setVisible(skin or card is None)
        if skin:
            self.tone_panel.set_tone(card.default_skin_tone, emit=False)
        zero = next((c.color for c in display.classes if c.id == 0), (0, 0, 0))
        self.set_background(self.tone_panel.tone if skin else zero)
        if card is not None:  # the domain's brush, unless the last session left one for this domain
            remembered, self._remembered_brush = self._remembered_brush, None
            same = remembered is not None and remembered[0] == card.domain
            self.set_brush_size(remembered[1] if same else DOMAIN_BRUSH.get(card.domain, self.brush_size.value()))
        self._keep_view(old_size)
        if card is None:
            self.statusBar().showMessage("No model loaded: use Model > Open model... to load a generator")

    def _keep_view(self, old_size: tuple[int, int]) -> None:
        """A fitted view stays fitted; a zoomed one keeps showing the same part of the image as large
        (a device switch, or a model of another resolution), instead of jumping back to fit."""
        if self.sync.fitted:
            self.canvas.fit()
            return
        ratio = self.doc.size[0] / old_size[0]
        if ratio != 1:
            self.sync.set(self.sync.scale / ratio, self.sync.centre * ratio)

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
                self.model_combo.addItem(f"{display_name(path)} (recent)", path)
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
            self.model_menu.addAction(f"{name} ({source})".replace("&", "&&"), lambda p=path: self.load_model_path(p))
        recent_models = [p for p in recent("recent/models") if Path(p).is_file()]
        if recent_models:
            self.model_menu.addSeparator()
            for p in recent_models:
                self.model_menu.addAction(f"{display_name(p)} - {p}".replace("&", "&&"), lambda p=p: self.load_model_path(p))
        self.model_menu.addSeparator()
        devices = self.model_menu.addMenu("&Device")
        group = QActionGroup(devices)  # one device at a time: shown as radio items
        current = chosen_device()
        for key, label in DEVICES:
            act = devices.addAction(label, lambda k=key: self.set_device(k))
            act.setCheckable(True)
            act.setChecked(key == current)
            group.addAction(act)

    def set_device(self, device: str) -> None:
        """Remember the device and reload the current model there (e.g. the CPU after a GPU runs out of memory);
        a model still loading is the current one, and is loaded there instead. A device this machine lacks
        gives the loader's message and keeps the model that is loaded, and the device it runs on."""
        previous = chosen_device()
        app_settings().setValue("studio/device", device)
        pending = self._pending_load
        if pending is not None and pending[0] == self._load_token:
            self.load_model_path(pending[1], device, project=pending[2])
        elif self.model is not None:
            self.load_model_path(str(self.model.entry.weights), device)
        else:
            return
        self._loader.signals.device = device
        self._loader.signals.previous_device = previous

    def _open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "Generators (*.pth *.pt *.safetensors *.json);;All files (*)")
        if path:
            self.load_model_path(path)
        else:
            self._fill_model_combo()


def _list_model_entries() -> list[tuple[str, str, str]]:
    """(name, weights path, source) of bundled and user models, found without importing torch."""
    from .model_index import list_choices

    return [(c.name, c.weights, c.source) for c in list_choices()]


def fitted_to_card(lm: np.ndarray, card: ModelCard, size: int, previous: ModelCard | None = None) -> np.ndarray:
    """The mask at the model's resolution with only the model's classes (an unknown class becomes
    the class a brush paints first: a tumour class the model lacks stays a tumour, not brain);
    the same array when it already fits. From a ``previous`` model's mask, classes go by role and
    name, not by number: its retina or brain becomes this model's (or outside, if it has none),
    a class of the same name that class."""
    if lm.shape != (size, size):
        from synthgui.core.masks import resize_label_map

        lm = resize_label_map(lm, size)
    if previous is not None and previous.classes:
        lut = np.arange(256, dtype=np.uint8)
        by_name = {c.name.lower(): c.id for c in card.classes}
        for c in previous.foreground_classes:
            lut[c.id] = card.context_id if c.id == previous.context_id else by_name.get(c.name.lower(), default_label(card))
        if not np.array_equal(lut, np.arange(256)):
            lm = lut[lm]
    known = {c.id for c in card.classes}
    fg = default_label(card)
    if not set(np.unique(lm).tolist()) <= known:
        lm = np.where(np.isin(lm, list(known)), lm, fg).astype(np.uint8)
    return lm


def default_label(card: ModelCard) -> int:
    """The class a brush paints first (see ``ModelCard.drawn_class``)."""
    drawn = card.drawn_class
    return drawn.id if drawn is not None else 1
