"""File > Export image set...: choose masks, sweep, format and folder; the export runs on a worker
thread with progress, rate and ETA, and can be cancelled (the folder stays resumable)."""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget,
)
from PySide6.QtCore import Qt

from ..core.export.run import MAX_IMAGES
from ..core.export.sources import MAX_RANDOM_MASKS
from ..core.locations import app_locations, suggested_folder
from .scrolling import FittingScrollArea, fit_to_screen
from .theme import error_colour

FITZPATRICK = ("I", "II", "III", "IV", "V", "VI")


class ExportWorker(QObject):
    """Loads the model, builds or reopens the export and runs it; lives on its own QThread."""

    progress = Signal(int, int, float, float)  # done, total, images/s, eta seconds (-1 unknown)
    warning = Signal(str)
    finished = Signal(str)  # summary
    failed = Signal(str)

    def __init__(self, model_path: str, out_dir: str, make_job, device: str = "auto", privacy_dir: str = "") -> None:
        super().__init__()
        self.model_path = model_path
        self.out_dir = out_dir
        self.make_job = make_job  # (model) -> ExportJob, called on the worker thread
        self.device = device
        self.privacy_dir = privacy_dir  # training images to compare the finished set with, if any
        self.cancel = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            from ..core.engine import Engine
            from ..core.models import load_model

            model = load_model(self.model_path)
            job = self.make_job(model)
            engine = Engine(model, device=self.device)
            result = job.run(
                engine,
                progress=lambda p: self.progress.emit(p.done, p.total, p.rate, -1.0 if p.eta is None else p.eta),
                cancel=self.cancel,
                warn=self.warning.emit,
            )
            if result.cancelled:
                self.finished.emit(f"Cancelled: {result.done} of {result.total} images are in {result.out_dir}. "
                                   "Start the export again on the same folder to finish it.")
            else:
                message = (f"Done: {result.done} images in {result.out_dir} ({result.rate:.1f} images/s)"
                           + (f", {len(result.skipped)} masks skipped" if result.skipped else "")
                           + "".join(f". Note: {note}" for note in result.notes))
                self.finished.emit(message + self._privacy_check(result.out_dir))
        except Exception as exc:  # shown in the dialog, never a silent crash
            from ..core.errors import SynthguiError

            self.failed.emit(str(exc) if isinstance(exc, SynthguiError) else f"{type(exc).__name__}: {exc}")

    def _privacy_check(self, out_dir: Path) -> str:
        """Here, on the worker thread: indexing the training images takes a while."""
        if not self.privacy_dir:
            return ""
        self.warning.emit("Comparing the images with the training images...")

        def progress(stage: str, done: int, total: int) -> None:
            if self.cancel.is_set():  # Cancel, or the dialog closing, stops the check too
                raise _Stopped

        try:
            from ..core.export import run_privacy_check

            report = run_privacy_check(out_dir, self.privacy_dir, progress=progress)
        except _Stopped:
            return "; privacy check cancelled"
        except Exception as exc:
            return f"; privacy check failed: {exc}"
        return f"; privacy check: {len(report.flagged)} near-copies of training images"


class _Stopped(Exception):
    """The privacy check was cancelled."""


def _eta_text(seconds: float) -> str:
    if seconds < 0:
        return "ETA --"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA {minutes}:{secs:02d}"


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, model_path: str, label_map: np.ndarray | None,
                 skin_tone: tuple[int, int, int] | None, seed: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image set")
        self.model_path = model_path
        self.label_map = None if label_map is None else np.array(label_map, np.uint8, copy=True)
        self.skin_tone = skin_tone
        self.studio_seed = int(seed)
        self.card = self._read_card(model_path)
        self._thread: QThread | None = None
        self._worker: ExportWorker | None = None
        self.last_message = ""
        self._build()

    @staticmethod
    def _read_card(model_path: str):
        from ..core.card import ModelCard, generic_card
        from ..core.models import card_path_for

        path = card_path_for(Path(model_path))
        return ModelCard.load(path) if path is not None else generic_card(Path(model_path).stem)

    # --- layout -------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        settings = QWidget()  # the three groups scroll on a short screen; progress and buttons stay in view
        groups = QVBoxLayout(settings)
        groups.setContentsMargins(0, 0, 0, 0)
        source = QGroupBox("Masks")
        s = QVBoxLayout(source)
        self.use_canvas = QRadioButton("Current canvas")
        self.use_folder = QRadioButton("Folder of masks or projects:")
        canvas_usable = self.label_map is not None and not self._canvas_is_blank()
        self.use_canvas.setEnabled(canvas_usable)
        if self.label_map is not None and not canvas_usable:
            self.use_canvas.setToolTip("The canvas has no lesion, and this model renders nothing useful without one: "
                                       "draw one, or export random geometry")
        self.mask_folder = QLineEdit()
        browse_masks = QPushButton("Browse...")
        browse_masks.clicked.connect(lambda: self._browse(self.mask_folder))
        row = QHBoxLayout()
        row.addWidget(self.use_folder)
        row.addWidget(self.mask_folder, 1)
        row.addWidget(browse_masks)
        self.use_random = QRadioButton("Random geometry (Propose):")
        self.random_count = QSpinBox()
        self.random_count.setRange(1, MAX_RANDOM_MASKS)
        self.random_count.setValue(20)
        self.random_count.setSuffix(" masks")
        self.random_seed = QSpinBox()
        self.random_seed.setRange(0, 2**31 - 1)
        self.random_seed.setPrefix("seed ")
        self.random_seed.setToolTip("The same seed proposes the same masks")
        random_row = QHBoxLayout()
        random_row.addWidget(self.use_random)
        random_row.addWidget(self.random_count)
        random_row.addWidget(self.random_seed)
        random_row.addStretch(1)
        s.addWidget(self.use_canvas)
        s.addLayout(row)
        s.addLayout(random_row)
        groups.addWidget(source)
        if canvas_usable:
            self.use_canvas.setChecked(True)
        else:  # a blank canvas: proposed lesions are the useful default
            (self.use_random if self.label_map is not None else self.use_folder).setChecked(True)

        sweep = QGroupBox("Sweep (every combination)")
        form = QFormLayout(sweep)
        self.tone_boxes: dict[str, QCheckBox] = {}
        tones = QHBoxLayout()
        tones.setContentsMargins(0, 0, 0, 0)  # the boxes on the line of their label, as in the other rows
        for key in FITZPATRICK:
            box = QCheckBox(key)
            self.tone_boxes[key] = box
            tones.addWidget(box)
        self.current_tone = QCheckBox("current")
        self.current_tone.setChecked(True)
        self.current_tone.setEnabled(self.skin_tone is not None)
        tones.addWidget(self.current_tone)
        tone_widget = QWidget()
        tone_widget.setLayout(tones)
        tone_widget.setEnabled(self.card.uses_skin_tone)
        form.addRow("Skin tones", tone_widget)
        self.conditions = QListWidget()
        self.conditions.setMaximumHeight(80)
        for c in [None, *self.card.lesion_classes]:
            item = QListWidgetItem("as drawn" if c is None else c.name)
            item.setData(Qt.ItemDataRole.UserRole, None if c is None else c.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if c is None else Qt.CheckState.Unchecked)
            self.conditions.addItem(item)
        form.addRow("Conditions", self.conditions)
        self.sizes = QLineEdit("1")
        self.sizes.setToolTip("Lesion scale factors, e.g. 0.5, 1, 1.5")
        form.addRow("Sizes", self.sizes)
        self.locations = QLineEdit("0,0")
        self.locations.setToolTip("Offsets 'dx,dy' in pixels separated by ';', or 'random'")
        form.addRow("Locations", self.locations)
        self.rotations = QLineEdit("0")
        form.addRow("Rotations (deg)", self.rotations)
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 100000)
        form.addRow("Seeds per combination", self.seeds)
        self.seed_base = QSpinBox()
        self.seed_base.setRange(0, 2**31 - 1)
        self.seed_base.setValue(self.studio_seed)
        self.seed_base.setToolTip("Seeds run from this one up; it starts at the studio's seed, so the first image "
                                  "is the variation on screen")
        form.addRow("First seed", self.seed_base)
        self.sample = QSpinBox()
        self.sample.setRange(0, MAX_IMAGES)
        self.sample.setSpecialValueText("all combinations")
        self.sample.setToolTip("Draw this many items at random from the sweep instead of all (seeded)")
        self.sample_seed = QSpinBox()
        self.sample_seed.setRange(0, 2**31 - 1)
        self.sample_seed.setPrefix("seed ")
        sample_row = QHBoxLayout()
        sample_row.addWidget(self.sample, 1)
        sample_row.addWidget(self.sample_seed)
        form.addRow("Random sample", sample_row)
        self.mode = QComboBox()
        self.mode.addItems(["reference", "deterministic", "eval"])
        self.mode.setCurrentText(self.card.default_mode)
        form.addRow("Test-time mode", self.mode)
        self.count_label = QLabel()
        self.count_label.setToolTip("How many images the export makes: masks times the sweep's combinations")
        form.addRow("Images", self.count_label)
        groups.addWidget(sweep)

        output = QGroupBox("Output")
        out = QFormLayout(output)
        self.format = QComboBox()
        self.format.addItems(["png", "tiff", "jpeg", "dicom"])
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(95)
        self.format.currentTextChanged.connect(lambda f: self.quality.setEnabled(f == "jpeg"))
        self.quality.setEnabled(False)
        fmt_row = QHBoxLayout()
        fmt_row.addWidget(self.format)
        fmt_row.addWidget(QLabel("JPEG quality"))
        fmt_row.addWidget(self.quality)
        out.addRow("Format", fmt_row)
        self.aligned = QCheckBox("Also write mask|image pairs (pix2pix aligned layout)")
        out.addRow("", self.aligned)
        self.out_dir = QLineEdit(str(suggested_folder(app_locations().exports, self.card.name)))
        browse_out = QPushButton("Browse...")
        browse_out.clicked.connect(lambda: self._browse(self.out_dir))
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse_out)
        out.addRow("Folder", out_row)
        self.privacy_dir = QLineEdit()
        self.privacy_dir.setPlaceholderText("optional: training images, for the near-copy check")
        out.addRow("Privacy check", self.privacy_dir)
        groups.addWidget(output)
        layout.addWidget(FittingScrollArea(settings), 1)

        self.progress = QProgressBar()
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel export", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        layout.addWidget(self.buttons)
        self._folder_masks: int | None = None
        for radio in (self.use_canvas, self.use_folder, self.use_random):
            radio.toggled.connect(self._update_count)
        for box in (*self.tone_boxes.values(), self.current_tone):
            box.toggled.connect(self._update_count)
        for edit in (self.sizes, self.locations, self.rotations):
            edit.textChanged.connect(self._update_count)
        for spin in (self.random_count, self.seeds, self.sample):
            spin.valueChanged.connect(self._update_count)
        self.conditions.itemChanged.connect(self._update_count)
        self.mask_folder.editingFinished.connect(self._count_folder)
        self._update_count()
        self.resize(fit_to_screen(self))

    def _canvas_is_blank(self) -> bool:
        """No lesion on a skin model's canvas: every training image showed one (as the studio's hint says)."""
        return self.card.uses_skin_tone and self.label_map is not None and not self.label_map.any()

    def _count_folder(self) -> None:
        """Listed once the folder is typed or browsed, not on every key: a big folder takes a moment."""
        from ..core.errors import SynthguiError
        from ..core.export import folder_sources

        folder = self.mask_folder.text().strip()
        try:
            self._folder_masks = len(folder_sources(folder)) if folder else None
        except SynthguiError:
            self._folder_masks = None
        self._update_count()

    def image_count(self) -> int | None:
        """Images the export will make with the settings as they are; None while the masks are unknown."""
        masks = 1 if self.use_canvas.isChecked() else self.random_count.value() if self.use_random.isChecked() \
            else self._folder_masks
        if masks is None:
            return None
        sweep = self.sweep()  # raises on a setting that is not valid
        sweep.validate()
        from ..core.export.run import check_size

        return check_size(masks, sweep)  # the export's own count and limits, said as the settings are typed

    def _update_count(self, *_args) -> None:
        from ..core.errors import SynthguiError

        try:
            count = self.image_count()
        except SynthguiError as exc:
            self.count_label.setText(f"<span style='color:{error_colour(self.palette())}'>{html.escape(str(exc), quote=False)}</span>")
            return
        self.count_label.setText("choose the masks" if count is None else f"<b>{count:,}</b> image{'s' if count != 1 else ''}")

    def _browse(self, target: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", target.text())
        if folder:
            target.setText(folder)
            if target is self.mask_folder:
                self._count_folder()

    # --- settings -> export ---------------------------------------------------------------------------

    def sweep(self):
        from ..core.export import Sweep, parse_floats, parse_locations, parse_skin_tones
        from ..core.skin_tones import to_hex

        tones: list[str | None] = []
        if self.card.uses_skin_tone:
            tones = [k for k, box in self.tone_boxes.items() if box.isChecked()]
            if self.current_tone.isChecked() and self.skin_tone is not None:
                tones.append(to_hex(self.skin_tone))
            tones = parse_skin_tones(tones) if tones else [None]
        conditions = [self.conditions.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.conditions.count())
                      if self.conditions.item(i).checkState() == Qt.CheckState.Checked]
        return Sweep(
            skin_tones=tones or [None],  # parse_skin_tones drops repeats
            conditions=conditions or [None],
            sizes=parse_floats([self.sizes.text()], "sizes"),
            locations=parse_locations([p for p in self.locations.text().split(";") if p.strip()]),
            rotations=parse_floats([self.rotations.text()], "rotations"),
            seeds=self.seeds.value(),
            seed_base=self.seed_base.value(),
            sample=self.sample.value() or None,
            sample_seed=self.sample_seed.value(),
        )

    def options(self):
        from ..core.export import ExportOptions

        return ExportOptions(format=self.format.currentText(), quality=self.quality.value(),
                             aligned=self.aligned.isChecked(), mode=self.mode.currentText())

    def _job_factory(self, out: Path):
        """What the worker calls with the loaded model: reopen an export in ``out`` or create one."""
        from ..core.export import ExportJob, canvas_source, folder_sources, random_sources
        from ..core.export.manifest import PLAN

        sweep, options = self.sweep(), self.options()  # parsed here so a typo is shown before starting
        sweep.validate()
        options.validate()
        label_map, mask_folder = self.label_map, self.mask_folder.text().strip()
        if self.use_canvas.isChecked():
            listed = None

            def sources(model):
                return [canvas_source(label_map, out, model.card)]
        elif self.use_random.isChecked():
            listed = proposed = random_sources(self.random_count.value(), self.random_seed.value())

            def sources(model):
                return proposed
        else:
            listed = folder_sources(mask_folder)  # fails now, on the UI thread, if the folder is wrong

            def sources(model):
                return folder_sources(mask_folder)
        if (out / PLAN).exists():
            self._check_resumable(out, listed, sweep, options)

        def make(model):
            if (out / PLAN).exists():
                job = ExportJob.open(out)
                job.check_model(model)
                return job
            return ExportJob.create(out, model, sources(model), sweep, options)

        return make

    def _check_resumable(self, out: Path, sources, sweep, options) -> None:
        """Starting on a folder that holds an export finishes that export, with its own masks and
        settings. When they are not the ones now chosen, say so instead of "finishing" it silently:
        an unfinished one (a cancelled export, the dialog opened again) is finished if the user says
        so; a finished one would make nothing, and is refused."""
        from ..core.errors import SynthguiError
        from ..core.export import ExportOptions, MaskSource, Sweep, manifest

        plan = manifest.read_plan(out)
        kept = [MaskSource.from_json(s) for s in plan["sources"]]
        if sources is None:  # the canvas, saved into the folder when the export began
            same_masks = len(kept) == 1 and kept[0].name == "canvas" and self._is_canvas(kept[0].path)
        else:
            same_masks = kept == list(sources)
        stored = ExportOptions(**plan["options"])
        differ = [what for what, same in (
            ("masks", same_masks),
            ("sweep", Sweep.from_json(plan["sweep"]) == sweep),
            ("output settings", (stored.format, stored.aligned, stored.mode) == (options.format, options.aligned, options.mode)
             and (options.format != "jpeg" or stored.quality == options.quality)),
        ) if not same]
        if not differ:
            return
        done, total = len(manifest.read_journal(out)), int(plan["total"])
        other = " and ".join(differ)
        if done >= total:  # finishing it would make nothing: the new settings would silently do no work
            raise SynthguiError(f"{out} already holds a finished export of {total} images with other {other}: "
                                "choose another folder for this one")
        if not self.ask_to_finish(f"{out} holds an unfinished export ({done} of {total} images) made with other "
                                  f"{other} than those chosen now.\n\nFinish that export with its own settings?"):
            raise SynthguiError("Not started: choose another folder for the new export.")

    def ask_to_finish(self, text: str) -> bool:
        """Whether to finish the export already in the folder (its settings win over the dialog's)."""
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(self, "Finish the export in this folder?", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def _is_canvas(self, path: str) -> bool:
        from PIL import Image

        try:
            with Image.open(path) as img:
                saved = np.asarray(img) if img.mode in ("P", "L") else None
        except OSError:
            return False
        return saved is not None and self.label_map is not None and np.array_equal(saved, self.label_map)

    @Slot()
    def start(self) -> None:
        from ..core.errors import SynthguiError

        out_text = self.out_dir.text().strip()
        if not out_text:
            self._show("Choose an output folder.")
            return
        try:
            make = self._job_factory(Path(out_text))
        except SynthguiError as exc:
            self._show(str(exc))
            return
        self._started = time.monotonic()
        self._worker = ExportWorker(self.model_path, out_text, make, privacy_dir=self.privacy_dir.text().strip())
        self._thread = QThread(self)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.warning.connect(lambda m: self._show(m))
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._thread.quit)
        self._worker.failed.connect(self._thread.quit)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._show("Loading the model...")
        self._thread.start()

    @Slot()
    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel.set()
            self._show("Cancelling after the images in flight are written...")

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def _on_progress(self, done: int, total: int, rate: float, eta: float) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self._show(f"{done} / {total} images, {rate:.1f} images/s, {_eta_text(eta)}")

    def _on_finished(self, message: str) -> None:
        self._done(message)

    def _on_failed(self, message: str) -> None:
        self._done(f"Export failed: {message}")

    def _done(self, message: str) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._show(message)

    def _show(self, message: str) -> None:
        self.last_message = message
        self.status.setText(message)

    def stop(self, timeout_ms: int = 60000) -> bool:
        """Cancel and join the worker thread (Qt must not destroy a running QThread)."""
        if self._thread is None:
            return True
        self.cancel()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)

    def reject(self) -> None:
        self.stop()
        super().reject()
