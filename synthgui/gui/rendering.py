"""Model loading and live rendering off the UI thread.

Loading (the torch import, reading weights, building the engine) runs in ``QThreadPool``; the live
preview runs on ``synthgui.core.engine.LatestWins``, whose worker-thread callbacks are forwarded to
the GUI thread through queued signals. torch is imported only here, and only inside the worker.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Qt, Signal


class _LoaderSignals(QObject):
    loaded = Signal(object, object)  # LoadedModel, Engine
    failed = Signal(str, str)  # path, message


class ModelLoader(QRunnable):
    """Load a model and build its engine on a pool thread."""

    def __init__(self, path: str, device: str | None = "auto") -> None:
        super().__init__()
        self.path = path
        self.device = device
        self.signals = _LoaderSignals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            from synthgui.core.engine import Engine
            from synthgui.core.errors import SynthguiError
            from synthgui.core.models import load_model

            try:
                model = load_model(self.path)
                engine = Engine(model, device=self.device)
                engine.warm_up()
            except SynthguiError as exc:
                self.signals.failed.emit(self.path, str(exc))
                return
        except Exception as exc:  # any other failure is still a message, never a crash
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self.signals.failed.emit(self.path, f"could not load the model: {detail}")
            return
        self.signals.loaded.emit(model, engine)


def start_loading(loader: ModelLoader) -> None:
    QThreadPool.globalInstance().start(loader)


class RenderBridge(QObject):
    """``LatestWins`` around an engine, with results delivered as Qt signals on the GUI thread."""

    rendered = Signal(object, object, float)  # RenderJob, HxWx3 uint8, seconds
    failed = Signal(object, str)

    def __init__(self, engine: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from synthgui.core.engine import LatestWins

        self.engine = engine
        self._in_flight = 0
        self._worker = LatestWins(self._render, self._deliver, self._deliver_error)
        self.rendered.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self.failed.connect(self._done_error, Qt.ConnectionType.QueuedConnection)

    def _render(self, job) -> np.ndarray:
        return self.engine.render(job.label_map, job.request, job.seed, job.mode)

    def _deliver(self, job, image: np.ndarray, seconds: float) -> None:
        self.rendered.emit(job, image, seconds)

    def _deliver_error(self, job, exc: BaseException) -> None:
        self.failed.emit(job, str(exc) or type(exc).__name__)

    def _done(self, *args) -> None:
        self._in_flight = 0

    def _done_error(self, *args) -> None:
        self._in_flight = 0

    def submit(self, job) -> int:
        self._in_flight = 1
        return self._worker.submit(job)

    @property
    def latest_id(self) -> int:
        return self._worker.latest_id

    def idle_for_gui(self) -> bool:
        """No job in the worker and no answer still queued for the GUI thread."""
        return self._worker.idle() and self._in_flight == 0

    def busy(self) -> bool:
        """True while a job is rendering or its answer has not reached the GUI thread yet.

        Submitting in that gap would make the finished answer stale and waste a whole render; the
        latest job's answer always arrives (``LatestWins`` drops only superseded ones), and
        ``_done`` runs before the window's own slot, so the window can submit again from there."""
        return not self.idle_for_gui()

    def stop(self, timeout: float = 10.0) -> bool:
        return self._worker.stop(timeout)
