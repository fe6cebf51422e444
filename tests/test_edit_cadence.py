"""The live preview waits briefly for a fresher edit while edits stream in (``EditCadence``)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synthgui.gui.edit_cadence import EditCadence
from tests.studio_fixtures import wait_rendered


def streaming(every: float = 0.008, n: int = 5, start: float = 10.0) -> EditCadence:
    cadence = EditCadence()
    for i in range(n):
        cadence.edited(start + i * every)
    return cadence


def test_a_lone_edit_renders_at_once():
    cadence = EditCadence()
    assert cadence.wait_before_render(5.0) == 0.0
    cadence.edited(5.0)
    assert cadence.wait_before_render(5.01) == 0.0  # one edit is no stream


def test_a_fresh_edit_of_a_stream_renders_at_once():
    cadence = streaming()
    last = cadence.last
    assert cadence.interval == pytest.approx(0.008)
    assert cadence.wait_before_render(last + 0.002) == 0.0  # younger than a third of the interval


def test_an_old_edit_of_a_stream_waits_until_just_past_the_next_one_is_due():
    cadence = streaming()
    last = cadence.last
    assert cadence.wait_before_render(last + 0.005) == pytest.approx(last + cadence.slack * 0.008 - (last + 0.005))
    assert cadence.wait_before_render(last + 0.5) == 0.0  # the deadline has passed: render what there is


def test_a_pause_ends_the_stream():
    cadence = streaming()
    cadence.edited(cadence.last + 0.2)
    assert cadence.interval is None
    assert cadence.wait_before_render(cadence.last + 0.005) == 0.0


def _recording_submits(window) -> list:
    jobs = []
    submit = window.bridge.submit

    def record(job):
        jobs.append(job)
        return submit(job)

    window.bridge.submit = record
    return jobs


def _stream_is_running(window, age: float) -> None:
    """As if a pen had been moving with an edit every 8 ms, the newest ``age`` seconds ago."""
    now = time.perf_counter()
    window._cadence = streaming(start=now - age - 4 * 0.008)
    window._dirty_since = window._cadence.last


def test_a_render_held_for_a_fresher_edit_starts_on_that_edit(loaded, qtbot):
    w = loaded
    jobs = _recording_submits(w)
    _stream_is_running(w, age=0.005)
    w._submit_if_idle()
    assert jobs == [] and w._late_submit.isActive()  # held: the next edit is due within 3 ms
    w.doc.fill(3, 3, 1)  # the next edit: the mask changes and asks for a render
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=2000)
    assert np.array_equal(jobs[0].label_map, w.doc.label_map)
    assert not w._late_submit.isActive()
    wait_rendered(w, qtbot)


def test_a_held_render_starts_at_its_deadline_when_no_edit_comes(loaded, qtbot):
    w = loaded
    jobs = _recording_submits(w)
    w.doc.fill(3, 3, 1)
    wait_rendered(w, qtbot)
    jobs.clear()
    _stream_is_running(w, age=0.005)
    w._submit_if_idle()
    assert jobs == []
    qtbot.waitUntil(lambda: len(jobs) == 1, timeout=1000)  # the pen stopped: the deadline renders the mask as it is
    wait_rendered(w, qtbot)
    assert w.preview.image_id == jobs[0].id


def test_lifting_the_pen_starts_a_held_render_at_once(loaded, qtbot):
    from PySide6.QtCore import QPointF

    from tests.gui_input import send_mouse

    w = loaded
    jobs = _recording_submits(w)
    w.set_tool("brush")
    canvas = w.canvas
    at = canvas.transform().map(QPointF(40.5, 40.5))
    send_mouse(canvas, "press", at)
    send_mouse(canvas, "move", canvas.transform().map(QPointF(44.5, 40.5)))
    qtbot.waitUntil(lambda: w.bridge.idle_for_gui() and w._dirty_since is None, timeout=5000)
    jobs.clear()
    send_mouse(canvas, "move", canvas.transform().map(QPointF(48.5, 40.5)))
    _stream_is_running(w, age=0.005)  # a long stream: the worker is free and the edit is not fresh
    w._cadence.slack = 50.0  # a deadline far away: only the pen lifting can start the render now
    w._submit_if_idle()
    assert jobs == [] and w._late_submit.isActive()
    send_mouse(canvas, "release", at)
    assert len(jobs) == 1 and not w._late_submit.isActive()
    wait_rendered(w, qtbot)
