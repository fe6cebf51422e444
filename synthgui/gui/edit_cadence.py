"""When to start the next live render while edits stream in (a pen moving, a slider dragged).

A render shows the mask as it was when the render started. If the worker frees up between two
mouse events, starting at once renders an edit that is already up to one event interval old, and
every frame is that much later than the pen. Waiting for the next edit, which is due within that
interval, starts the render on a mask that is fresh: each frame is closer to the pen, and the
preview lags the pen less on average, because the wait is at most one interval while the saving is
the whole age of the edit. When edits stop, a deadline just past the expected interval starts the
render anyway, so the last state is never held back.

Holding pays only for an edit old enough: rendering now shows an edit of age ``a``; waiting ``w``
for the next one shows age 0 but delays this and every later frame by ``w``, which adds ``w / 2``
to the preview's mean lag behind the pen. With the next edit due at ``interval - a``, waiting wins
when ``interval - a < 2 a``, that is for edits older than a third of the interval.

Plain Python: the window owns the timer; this only decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EditCadence:
    """The rhythm of recent edits, learnt from their times (``time.perf_counter`` seconds)."""

    fresh: float = 0.001  # an edit younger than this (or a third of the interval) is rendered at once
    streaming_below: float = 0.034  # intervals up to this (about 30 events/s) count as a stream
    slack: float = 1.1  # deadline: the expected interval times this, after the newest edit
    smoothing: float = 0.3
    interval: float | None = None  # smoothed interval between recent edits
    last: float | None = None

    def edited(self, now: float) -> None:
        if self.last is not None:
            gap = now - self.last
            if gap <= self.streaming_below:
                self.interval = gap if self.interval is None else (1 - self.smoothing) * self.interval + self.smoothing * gap
            else:
                self.interval = None  # a pause: the next edit starts a new stream
        self.last = now

    def paused(self) -> None:
        """The stream ended (the pen lifted): the next edit starts a new one."""
        self.interval = None

    def wait_before_render(self, now: float) -> float:
        """Seconds to hold a render back in the hope of a fresher edit; 0 means render now."""
        if self.last is None or self.interval is None:
            return 0.0
        age = now - self.last
        if age <= max(self.fresh, self.interval / 3):
            return 0.0
        deadline = self.last + self.slack * self.interval
        return max(0.0, deadline - now)
