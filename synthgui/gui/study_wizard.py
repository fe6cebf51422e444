"""The study wizard: the same build as ``synthgui study build``, step by step, on a worker thread."""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget, QWizard,
                               QWizardPage)

from synthgui.core.errors import SynthguiError
from synthgui.core.locations import app_locations, suggested_folder
from synthgui.core.study.build import BuildResult, FolderBuild, build_from_folders
from synthgui.core.study.design import StudyOptions

from .theme import error_colour


def _folder_field(parent: QWidget, caption: str) -> tuple[QWidget, QLineEdit]:
    box = QWidget(parent)
    edit = QLineEdit(box)
    browse = QPushButton("Browse…", box)
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(parent, caption) or edit.text()))
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return box, edit


class SourcesPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Images")
        self.setSubTitle("Real images, and synthetic images from a folder and/or rendered by a model.")
        form = QFormLayout(self)
        box, self.real = _folder_field(self, "Folder of real images")
        form.addRow("Real images:", box)
        box, self.synthetic = _folder_field(self, "Folder of synthetic images")
        form.addRow("Synthetic images:", box)
        self.model = QLineEdit(placeholderText="optional: model name or weights path")
        form.addRow("Generate with model:", self.model)
        self.count = QSpinBox(minimum=0, maximum=100000)
        form.addRow("Images to generate:", self.count)
        box, self.masks = _folder_field(self, "Masks for generation")
        form.addRow("Masks for generation:", box)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        for w in (self.real, self.synthetic, self.model):
            w.textChanged.connect(self.completeChanged)
        self.count.valueChanged.connect(self.completeChanged)

    def validatePage(self) -> bool:  # noqa: N802 (Qt)
        """A mistyped folder is named here, before the design page, not at the end of the build."""
        problems = []
        for label, edit in (("Real images", self.real), ("Synthetic images", self.synthetic), ("Masks for generation", self.masks)):
            text = edit.text().strip()
            if text and not Path(text).expanduser().is_dir():
                problems.append(f"{label}: there is no folder {text}")
        self.problem.setStyleSheet(f"color: {error_colour(self.palette())}")  # legible on a light or dark palette
        self.problem.setText("\n".join(problems))
        return not problems

    def isComplete(self) -> bool:  # noqa: N802 (Qt)
        has_syn = bool(self.synthetic.text().strip()) or (bool(self.model.text().strip()) and self.count.value() > 0)
        return bool(self.real.text().strip()) and has_syn


class DesignPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Study design")
        self.setSubTitle("Readers get the study folder; the answer key is written beside it, never inside.")
        d = StudyOptions()
        form = QFormLayout(self)
        self.out = QLineEdit(str(suggested_folder(app_locations().studies, "study")), placeholderText="a new, empty folder")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose where the study goes: an empty folder is used as it is, otherwise a new one is made in it")
        browse.clicked.connect(self._browse_out)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.out, 1)
        row.addWidget(browse)
        form.addRow("Study folder:", row)
        self.title_edit = QLineEdit()
        form.addRow("Title:", self.title_edit)
        self.per_class = QSpinBox(minimum=0, maximum=100000, specialValueText="balanced (all)")
        form.addRow("Scored images per class:", self.per_class)
        self.practice = QSpinBox(minimum=0, maximum=100)
        form.addRow("Practice images:", self.practice)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        form.addRow("Seed:", self.seed)
        self.size = QSpinBox(minimum=16, maximum=4096, value=d.size)
        form.addRow("Image size (px):", self.size)
        self.confidence = QCheckBox("Ask confidence 1-5", checked=d.confidence)
        self.note = QCheckBox("Offer a free note", checked=d.note)
        self.ratio = QCheckBox("Tell readers how many images are synthetic", checked=d.disclose_ratio)
        self.feedback = QCheckBox("Feedback in practice", checked=d.practice_feedback)
        self.back = QCheckBox("Allow going back (not recommended)", checked=d.allow_back)
        self.zoom = QCheckBox("Allow zoom (logged)", checked=d.allow_zoom)
        for w in (self.confidence, self.note, self.ratio, self.feedback, self.back, self.zoom):
            form.addRow("", w)
        self.diagnoses = QLineEdit(placeholderText="optional, comma-separated, e.g. melanoma, naevus")
        form.addRow("Diagnoses:", self.diagnoses)
        self.time_limit = QDoubleSpinBox(minimum=0, maximum=3600, specialValueText="none", suffix=" s")
        form.addRow("Time limit per image:", self.time_limit)
        self.blank = QSpinBox(minimum=0, maximum=10000, value=d.blank_ms, suffix=" ms")
        form.addRow("Blank between images:", self.blank)
        self.out.textChanged.connect(self.completeChanged)

    def _browse_out(self) -> None:
        """The study must go into a new or empty folder: choosing a folder that holds files (say,
        Documents) makes a new study folder inside it instead of refusing later."""
        chosen = QFileDialog.getExistingDirectory(self, "Where the study goes", self.out.text())
        if not chosen:
            return
        folder = Path(chosen)
        try:
            empty = not any(folder.iterdir())
        except OSError:  # unreadable: the build says so, naming the folder
            empty = True
        self.out.setText(str(folder if empty else suggested_folder(folder, "study")))

    def isComplete(self) -> bool:  # noqa: N802 (Qt)
        return bool(self.out.text().strip())

    def options(self) -> StudyOptions:
        return StudyOptions(
            confidence=self.confidence.isChecked(),
            diagnoses=[x.strip() for x in self.diagnoses.text().split(",") if x.strip()],
            note=self.note.isChecked(), disclose_ratio=self.ratio.isChecked(),
            time_limit_s=self.time_limit.value() or None, blank_ms=self.blank.value(),
            practice_feedback=self.feedback.isChecked(), allow_back=self.back.isChecked(),
            allow_zoom=self.zoom.isChecked(), size=self.size.value())


class BuildWorker(QObject):
    progress = Signal(str, int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, spec: FolderBuild) -> None:
        super().__init__()
        self.spec = spec
        self.cancelled = False  # set from the UI thread; checked at every progress step

    def _progress(self, stage: str, done: int, total: int) -> None:
        if self.cancelled:
            raise SynthguiError("cancelled; the study folder is incomplete and can be deleted")
        self.progress.emit(stage, done, total)

    def run(self) -> None:
        try:
            self.done.emit(build_from_folders(self.spec, progress=self._progress))
        except SynthguiError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # shown to the user, never a silent crash of the wizard
            self.failed.emit(f"unexpected error: {exc!r}")
        finally:
            # quit from here: a queued quit() would wait for the UI thread, which may be waiting for us
            QThread.currentThread().quit()


class BuildPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Build")
        self.setSubTitle("Normalising every image through one pipeline, then auditing the files for leaks.")
        layout = QVBoxLayout(self)
        self.bar = QProgressBar()
        self.log = QPlainTextEdit(readOnly=True)
        self.status = QLabel()
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        self.result: BuildResult | None = None
        self.thread: QThread | None = None

    def initializePage(self) -> None:  # noqa: N802 (Qt)
        self.result = None
        self.log.clear()
        self.wizard().start_build()

    def isComplete(self) -> bool:  # noqa: N802 (Qt)
        return self.result is not None


class StudyWizard(QWizard):
    """New Turing-test study: sources, design, build (on a QThread, so the window stays responsive)."""

    built = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Turing-test study")
        self.sources, self.design, self.build_page = SourcesPage(), DesignPage(), BuildPage()
        for page in (self.sources, self.design, self.build_page):
            self.addPage(page)
        self._thread: QThread | None = None
        self._worker: BuildWorker | None = None
        self._building: FolderBuild | None = None
        self._built: tuple[FolderBuild, BuildResult] | None = None  # the last study built, and what it was built from

    def spec(self) -> FolderBuild:
        s, d = self.sources, self.design
        text = lambda e: e.text().strip()  # noqa: E731
        path = lambda e: Path(text(e)).expanduser() if text(e) else None  # noqa: E731 - "~/real" as the pages accept it
        model = text(s.model)  # a bundled model's name, or a path
        if model.startswith("~"):
            model = str(Path(model).expanduser())
        return FolderBuild(
            real_dir=path(s.real), synthetic_dir=path(s.synthetic),
            out=path(d.out), generate_model=model or None,
            generate_count=s.count.value(), masks_dir=path(s.masks), per_class=d.per_class.value() or None,
            practice=d.practice.value(), seed=d.seed.value(), title=text(d.title_edit), options=d.options())

    def start_build(self) -> None:
        spec = self.spec()
        if self._built is not None and self._built[0] == spec:
            self._show_result(self._built[1])  # Back and Next with nothing changed: that study stands
            return
        page = self.build_page
        page.status.setText("Building…")
        # QWizard turns Back on again after every page switch; it keeps it off after a commit page
        self.design.setCommitPage(True)
        self._building = copy.deepcopy(spec)  # the build fills in options (the DICOM window) on its own copy
        self._thread = QThread(self)
        self._worker = BuildWorker(spec)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.build_page.bar.setMaximum(total)
        self.build_page.bar.setValue(done)
        self.build_page.status.setText(f"{stage}: {done}/{total}")

    def _on_done(self, result: BuildResult) -> None:
        self._built = (self._building, result)
        self._show_result(result)
        self.built.emit(result)

    def _show_result(self, result: BuildResult) -> None:
        page = self.build_page
        page.result = result
        main = len(result.study.phase_cases("main"))
        page.status.setText(f"Study built: {main} scored images, {len(result.study.cases) - main} practice.")
        page.log.appendPlainText(f"Study folder (give this to readers): {result.study.folder}")
        page.log.appendPlainText(f"Answer key (keep it): {result.key_path}")
        for w in result.warnings:
            page.log.appendPlainText(f"WARNING: {w}")
        clear = next((a.all_clear() for a in result.audits if a.stage == "study images"), None)
        if clear:
            page.log.appendPlainText(f"Leak audit: {clear}.")
        self.design.setCommitPage(False)
        page.completeChanged.emit()  # QWizard updates its buttons: Back and Finish on

    def _on_failed(self, message: str) -> None:
        self.build_page.status.setText("The study was not built.")
        self.build_page.log.appendPlainText(f"Error: {message}")
        self.design.setCommitPage(False)
        self.build_page.completeChanged.emit()

    def wait_for_build(self, ms: int = 60000) -> bool:
        return self._thread.wait(ms) if self._thread is not None else True

    def done(self, code: int) -> None:  # noqa: A003 (Qt's name)
        if self._thread is not None and self._thread.isRunning():
            self._worker.cancelled = True
            self._thread.wait()  # never leave a running QThread behind a closed dialog
        super().done(code)
