"""Proposals from the geometry generators on a pool thread: a dense vessel tree or many lesions take
tenths of a second, which the window must not spend frozen."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal


class _ProposeSignals(QObject):
    done = Signal(int, object)  # token, HxW uint8 label map
    failed = Signal(int, str)  # token, message


class ProposeTask(QRunnable):
    """One ``geometry.propose`` call; the answer comes back by token, so a newer request wins."""

    def __init__(self, token: int, domain: str, size: int, seed: int, controls: dict) -> None:
        super().__init__()
        self.token, self.domain, self.size, self.seed, self.controls = token, domain, size, seed, dict(controls)
        self.signals = _ProposeSignals()
        self.setAutoDelete(False)  # the window holds it until its answer is in

    def run(self) -> None:
        from synthgui.core.errors import SynthguiError
        from synthgui.core.geometry import propose

        try:
            lm = np.asarray(propose(self.domain, self.size, self.seed, **self.controls), np.uint8)
        except SynthguiError as exc:
            self.signals.failed.emit(self.token, str(exc))
            return
        except Exception as exc:  # a message, never a crash of the pool thread
            self.signals.failed.emit(self.token, f"{type(exc).__name__}: {exc}")
            return
        self.signals.done.emit(self.token, lm)
