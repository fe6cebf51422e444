"""The studio's file work: projects, mask import, underlays (photo or DICOM with window/level),
exports, and the menu hooks that open the export, study and rating windows."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from synthgui.core.card import generic_card
from synthgui.core.errors import SynthguiError

from .settings import push_recent, recent
from .views import qimage_rgb

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp);;DICOM (*.dcm *.dicom);;All files (*)"
PROJECT_FILTER = "synthgui project (*.synthgui)"


class StudioFiles:
    """Mixed into ``StudioWindow``; every method reports problems through ``show_error`` and keeps the work."""

    # --- files ----------------------------------------------------------------------------------

    def new_document(self) -> None:
        if not self._confirm_discard():
            return
        from synthgui.core.masks import blank_mask

        size = self.card.resolution if self.card is not None else 256
        self.doc.load_clean(blank_mask(self.card, size))
        self.project_path = None
        self.clear_underlay()
        self._mark_saved()

    def settings_key(self) -> tuple:
        """What ``is_modified`` compares besides the mask: the settings that change an image. The
        view (opacities, split) is kept in a project too, but moving a slider to look is not an
        edit to be asked about."""
        proj = self.project(with_mask=False)
        window = tuple(round(float(v), 8) for v in proj.underlay_window) if proj.underlay_window else None
        tone = tuple(proj.skin_tone) if proj.skin_tone is not None else None
        return tone, proj.condition, int(proj.seed), proj.mode, proj.underlay, window

    def _mark_saved(self) -> None:
        self._saved_settings = self.settings_key()
        self._update_title()

    def project(self, with_mask: bool = True):
        from synthgui.core.project import Project

        missing, missing_window = self._missing_underlay or (None, None)
        return Project(
            label_map=self.doc.label_map.copy() if with_mask else self.doc.label_map,
            model=self.model.identity() if self.model is not None else None,
            skin_tone=tuple(self.tone_panel.tone) if self.card is None or self.card.uses_skin_tone else None,
            condition=self.render_panel.condition.currentData(),
            seed=self.render_panel.seed.value(),
            mode=self.render_panel.mode.currentData(),
            # a project's underlay that was not found stays in the project until replaced or cleared
            underlay=self.underlay_path or missing,
            underlay_window=((self.window_centre.value(), self.window_width.value()) if self._dicom is not None
                             else missing_window if self.underlay_path is None else None),
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
        self._mark_saved()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def open_project(self, path: str | Path, load_model: bool = True) -> bool:
        """Open a project; unless told not to, load the model it was made with when that is not the current one."""
        from synthgui.core.project import load_project

        try:
            proj = load_project(path)
        except SynthguiError as exc:
            self.show_error("Project not opened", str(exc))
            return False
        wanted = (proj.model or {}).get("path")
        own_load = False
        if load_model and wanted and (self.model is None or str(self.model.entry.weights) != wanted):
            if Path(wanted).is_file():
                self.load_model_path(wanted, project=proj)  # its parameters win over the new card's defaults
                own_load = True
            else:
                now = f"with the current model ({self.model.name})" if self.model is not None else "once you load a model"
                self.show_error("Project's model not found", f"The project was made with {Path(wanted).name}, which is "
                                f"not at {wanted} any more. The mask and settings are opened; it renders {now}.")
        elif load_model:
            self.check_project_model(proj)
        if not own_load and self._project_load_token == self._load_token:
            self._load_token += 1  # a model still loading for the project opened before this one is not this one's
        label_map = proj.label_map
        if not own_load and self.card is not None:  # the model stays: fit the mask to it now
            from .studio_models import fitted_to_card

            label_map = fitted_to_card(label_map, self.card, self.card.resolution)
        self.doc.load_clean(label_map)
        self._apply_parameters(proj)
        self.clear_underlay()
        if proj.underlay:
            self._open_project_underlay(proj, Path(path))
        self.project_path = Path(path)
        self.loaded_project = proj
        push_recent("recent/projects", str(path))
        self._mark_saved()  # as shown: a setting the file lacks has taken the model's default
        self.request_render()
        return True

    def check_project_model(self, proj) -> None:
        """Say so when the model file the project names has other weights than when it was saved
        (retrained or replaced in place): its renders will not be the project's."""
        saved = (proj.model or {}).get("sha256")
        if not saved or self.model is None or str(self.model.entry.weights) != (proj.model or {}).get("path"):
            return
        if self.model.sha256 != saved:
            self.show_error("Model changed since the project was saved",
                            f"{self.model.entry.weights} has other weights than when this project was saved (SHA-256 "
                            f"{saved[:12]}... then, {self.model.sha256[:12]}... now): its renders will differ from "
                            "the ones made then.")

    def _open_project_underlay(self, proj, project_path: Path) -> None:
        """The underlay where the project says, else beside the project (a folder moved with its
        files); not found, it is kept in the project, so a save does not drop it."""
        candidates = [Path(proj.underlay), project_path.parent / Path(proj.underlay).name]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            self._missing_underlay = (proj.underlay, proj.underlay_window)
            self.show_error("Underlay not found", f"The project's underlay {proj.underlay} is not there (nor beside "
                            "the project). The project keeps its reference; File > Open underlay replaces it.")
            return
        keep = self.mask_opacity.value()
        if not self.open_underlay(str(found), proj.underlay_window):  # there but unreadable: said, and kept
            self._missing_underlay = (proj.underlay, proj.underlay_window)
        self.mask_opacity.setValue(keep)  # the project's own opacity, not the first-underlay default

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
            self.set_background(self.tone_panel.tone)

    def import_mask(self, path: str | Path) -> bool:
        from synthgui.core.masks import centre_square, load_mask, on_context, resize_label_map

        card = self.card or generic_card("no model")
        try:
            lm = load_mask(path, card)
        except SynthguiError as exc:
            self.show_error("Mask not imported", str(exc))
            return False
        h, w = lm.shape
        if h != w:  # as the underlay shows a photo: its centred square, so a mask lines up with its photo
            lm = centre_square(lm)
            self.statusBar().showMessage(f"The mask is {w} x {h}: its centred {lm.shape[0]} x {lm.shape[0]} square was "
                                         "imported, as an underlay of that size is shown", 10000)
        size = self.doc.label_map.shape[::-1]
        lm = resize_label_map(lm, size)
        if self.card is not None:
            lm = on_context(lm, self.card)  # a non-square vessel mask gets its retina once squared
        self.doc.replace(lm, "Import mask")
        return True

    def open_underlay(self, path: str, window: tuple[float, float] | None = None) -> bool:
        from synthgui.core.dicom import is_dicom, read_dicom, window_decimals
        from synthgui.core.masks import read_image_rgb

        try:
            if is_dicom(path) or Path(path).suffix.lower() in (".dcm", ".dicom"):
                self._dicom = read_dicom(path)
                grey = self._dicom.is_grey
                c, w = window or self._dicom.window or _auto_window(self._dicom.pixels)
                decimals = window_decimals(self._dicom.pixels) if grey else 1
                for s, v in ((self.window_centre, c), (self.window_width, w)):
                    s.blockSignals(True)
                    s.setDecimals(decimals)
                    s.setSingleStep(10.0 ** (1 - decimals))
                    s.setValue(v)
                    s.setEnabled(grey)
                    s.blockSignals(False)
                rgb = self._dicom.to_uint8(c, w) if grey else self._dicom.to_uint8()
            else:
                rgb = read_image_rgb(path, stretch_wide=True)
                self._dicom = None
                self.window_centre.setEnabled(False)
                self.window_width.setEnabled(False)
        except SynthguiError as exc:
            self.show_error("Underlay not opened", str(exc))
            return False
        self._show_underlay(rgb)
        self.underlay_path = str(path)
        self._missing_underlay = None
        if self.mask_opacity.value() == 100:
            self.mask_opacity.setValue(60)
        self._update_title()
        return True

    def _show_underlay(self, pixels: np.ndarray) -> None:
        """Show the centred square of the image: the mask is square, and a stretched photo would
        distort the lesion being traced."""
        from synthgui.core.masks import centre_square

        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        pixels = centre_square(pixels)
        self.canvas.underlay = qimage_rgb(np.ascontiguousarray(pixels[..., :3]))
        self.canvas.update()

    def _window_changed(self) -> None:
        if self._dicom is not None and self._dicom.is_grey:
            self._show_underlay(self._dicom.to_uint8(self.window_centre.value(), self.window_width.value()))

    def clear_underlay(self) -> None:
        self.canvas.underlay = None
        self._dicom = None
        self.underlay_path = None
        self._missing_underlay = None
        self.window_centre.setEnabled(False)
        self.window_width.setEnabled(False)
        self.canvas.update()

    def export(self, kind: str, path: str | Path) -> bool:
        from synthgui.core.imagefiles import save_image, synthetic_note
        from synthgui.core.masks import save_mask

        path = Path(path)
        try:
            if kind in ("image", "both"):
                if self.last_image is None:
                    raise SynthguiError("there is no rendered image yet (load a model first)")
                if self.preview.image is None:  # the lesion was erased, or the last render failed
                    raise SynthguiError("the preview shows no image of the mask as it is now")
                if (self._dirty_since is not None or not self.bridge.idle_for_gui()
                        or self.preview.image_id != self.bridge.latest_id):
                    raise SynthguiError("the preview does not show the latest edit yet; export again in a moment, "
                                        "so the image shows the mask as it is now")
                save_image(path, self.last_image, note=synthetic_note(self.model.name, self.model.card.version))
            if kind == "mask":
                if not path.suffix:
                    path = path.with_name(path.name + ".png")
                if path.suffix.lower() != ".png":  # written exactly where asked: never beside it, never over another file
                    raise SynthguiError(f"masks are saved as PNG (class ids in a paletted image): give a name ending "
                                        f"in .png, not {path.name}")
                save_mask(path, self.doc.label_map, self.card or generic_card("mask"))
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
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._default_dir("projects"), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def _save(self) -> bool:
        return self.save_project(self.project_path) if self.project_path else self._save_as()

    def _save_as(self) -> bool:
        suggested = self.project_path or Path(self._default_dir("projects")) / "untitled.synthgui"
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(suggested), PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".synthgui"):
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
        name = "render.png" if kind != "mask" else "mask.png"
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(self._default_dir("exports")) / name),
                                              "PNG (*.png);;TIFF (*.tif *.tiff);;JPEG (*.jpg)")
        if path:
            self.export(kind, path)

    @staticmethod
    def _default_dir(kind: str) -> str:
        """Where a file dialog opens: the folder the welcome page names for projects or exports."""
        from synthgui.core.locations import app_locations, ensure_dir

        return str(ensure_dir(getattr(app_locations(), kind)))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in recent("recent/projects"):
            # "&&": a folder named "R&D" is shown as it is, not with an underlined D
            action = self.recent_menu.addAction(p.replace("&", "&&"), lambda p=p: self._confirm_discard() and self.open_project(p))
            if not Path(p).is_file():  # moved or deleted since: shown, so the user knows where it was, but not offered
                action.setEnabled(False)
                action.setToolTip("The file is not there any more")
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
        ExportDialog(self, str(self.model.entry.weights), self.doc.label_map.copy(), tone, self.render_panel.seed.value()).exec()

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

    def propose(self, controls: dict | None = None, seed: int | None = None) -> None:
        """A new mask from the geometry generator (one undo step, when it arrives); controls as in
        ``propose``. It is drawn on a pool thread; a newer request supersedes one still running."""
        try:
            import synthgui.core.geometry  # noqa: F401 (present in this build?)
        except ImportError as exc:
            self.act_propose.setEnabled(False)
            self.show_error("Proposals not available", str(exc))
            return
        from PySide6.QtCore import QThreadPool

        from .proposing import ProposeTask

        self._propose_token += 1
        task = ProposeTask(self._propose_token, self._geometry_domain(), self.doc.label_map.shape[0],
                           random.randrange(2**31) if seed is None else seed, controls or {})
        task.signals.done.connect(self._proposed)
        task.signals.failed.connect(self._propose_failed)
        self._propose_task = task  # the newest only: an older one's answer is dropped by its token
        self.statusBar().showMessage("Proposing...")
        QThreadPool.globalInstance().start(task)

    @property
    def proposing(self) -> bool:
        """A proposal asked for has not arrived yet."""
        return self._propose_task is not None

    def _propose_failed(self, token: int, message: str) -> None:
        if self._take_proposal(token) is None:
            return
        self.show_error("No proposal", message)

    def _take_proposal(self, token: int):
        """The task whose answer this is, if it is the newest request (then no longer pending), else None."""
        task = self._propose_task
        if task is None or token != task.token:
            return None  # superseded by a newer request
        self._propose_task = None
        self.statusBar().clearMessage()
        return task

    def _proposed(self, token: int, lm: np.ndarray) -> None:
        task = self._take_proposal(token)
        if task is None:
            return
        domain = task.domain
        if domain != self._geometry_domain() or lm.shape != self.doc.label_map.shape:
            return  # another model or mask size came meanwhile: this proposal is for neither
        unknown = sorted(set(np.unique(lm).tolist()) - {c.id for c in self.card.classes}) if self.card is not None else []
        if unknown:  # e.g. nested tumour classes for a card without them: such a mask cannot be rendered
            from synthgui.core.geometry import CLASSES

            names = ", ".join(f"{i} ({CLASSES[domain].get(i, 'unnamed')})" for i in unknown)
            self.show_error("No proposal", f"The proposal has classes {names} that model {self.card.name} does not "
                            "know; propose without the controls that ask for them (e.g. nested).")
            return
        if np.array_equal(lm, self.doc.label_map):  # the same seed and controls again: no step, nothing modified
            self.statusBar().showMessage("The same mask as on the canvas: change the seed or a control for another", 5000)
            return
        self.doc.replace(lm, "Propose")

    def _geometry_domain(self) -> str:
        return self.card.domain if self.card is not None else "skin"

    def _propose_with_controls(self):
        """The controls form, opened window-modal with ``open()``: the call returns at once and the
        event loop (and the preview) keeps running behind it."""
        from .propose_dialog import ProposeDialog

        try:
            domain = self._geometry_domain()
            class_ids = frozenset(c.id for c in self.card.classes) if self.card is not None else None
            key = (domain, class_ids)
            dialogs = self._propose_dialogs
            dialog = dialogs.get(key)
            if dialog is None:  # one form per domain and class set: it keeps its settings and seed between openings
                dialog = ProposeDialog(domain, self, class_ids=set(class_ids) if class_ids is not None else None)
                dialog.accepted.connect(lambda: self.propose(dialog.controls(), dialog.seed.value()))
                dialogs[key] = dialog
        except SynthguiError as exc:
            self.show_error("No proposal", str(exc))
            return None
        dialog.open()
        return dialog


def _auto_window(pixels: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.percentile(pixels, 0.5)), float(np.percentile(pixels, 99.5))
    return (lo + hi) / 2.0, (hi - lo) if hi > lo else 1.0
