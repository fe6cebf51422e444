"""Python's cyclic garbage collector, run only on the GUI thread.

Python runs the cyclic collector in whichever thread happens to allocate past the threshold. In this
app that is often a worker (the render thread, a model load, an export), and if the garbage it finds
holds a Qt object that lives on the GUI thread (a closed dialog, a widget in a reference cycle with a
lambda slot), Qt deletes it from the wrong thread and the process can crash with a segmentation
fault. Automatic collection is therefore switched off and a timer on the GUI thread collects with the
same thresholds Python would use, so a cycle is only ever freed where its Qt objects live. Reference
counting, which frees almost everything, is untouched.

The timer ticks often (every 100 ms) so that each collection stays small: a tick that finds a large
young generation (a model load allocating in a worker) holds the GIL, and so the window, for as long
as it takes. For the same reason the middle generation is collected once it holds as many objects as
Python would let it (ten young generations' worth), not only after ten collections of the young one,
which between two ticks can each be ten times Python's size. Full collections follow Python's own rule for them (only once the objects that survived
into the oldest generation since the last full one are a quarter of those there), so the heap that
torch brings in is not traversed over and over.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

INTERVAL_MS = 100


class MainThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.long_lived_total = len(gc.get_objects(generation=2))
        # Objects moved into the oldest generation since its last collection, counted as Python does:
        # deciding on a full collection must not walk the whole old generation (torch's heap) each time.
        self.pending_long_lived = 0
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int:
        """Collect the generations Python would have collected by now; return the objects freed."""
        count0, count1, count2 = gc.get_count()
        limit0, limit1, limit2 = self.thresholds
        if count0 <= limit0:
            return 0
        generation = 0
        middle = len(gc.get_objects(generation=1))
        if count1 > limit1 or middle > limit0 * limit1:
            full = count2 > limit2 and self.pending_long_lived > self.long_lived_total // 4
            generation = 2 if full else 1
        moving = len(gc.get_objects(generation=0)) + middle if generation == 1 else 0
        freed = gc.collect(generation)
        if generation == 2:
            self.long_lived_total, self.pending_long_lived = len(gc.get_objects(generation=2)), 0
        elif generation == 1:  # the survivors of the young and middle generations are now old
            self.pending_long_lived += max(0, moving - freed)
        return freed

    def stop(self) -> None:
        """Give collection back to Python (the app is closing, or a test is done with the app)."""
        self.timer.stop()
        gc.set_threshold(*self.thresholds)
        gc.enable()


def install(app: QApplication) -> MainThreadGarbageCollector:
    """Install the collector on the app once; later calls return the one already there."""
    existing = app.findChild(MainThreadGarbageCollector)
    if existing is not None:
        return existing
    collector = MainThreadGarbageCollector(app)
    app.aboutToQuit.connect(collector.stop)
    return collector


def installed() -> MainThreadGarbageCollector | None:
    app = QApplication.instance()
    return None if app is None else app.findChild(MainThreadGarbageCollector)
