"""Cyclic garbage is freed on the GUI thread, never in a worker: a worker that frees a Qt object left
over in a reference cycle crashed a CI run with a segmentation fault."""

import gc
import threading

import pytest

pytest.importorskip("pytestqt")

from synthgui.gui import main_thread_gc


class _Tracer:
    """Part of a reference cycle; records the thread that frees it."""

    freed_in: list[int] = []

    def __init__(self) -> None:
        self.me = self  # the cycle: only the cyclic collector can free this

    def __del__(self) -> None:
        _Tracer.freed_in.append(threading.get_ident())


def _allocate_in_a_worker() -> None:
    def churn() -> None:
        keep = []
        for i in range(200_000):  # far past the thresholds at which Python would collect
            keep.append([i])
            if len(keep) > 1000:
                keep.clear()

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()


def test_a_cycle_dropped_on_the_gui_thread_is_freed_there_not_in_a_busy_worker(qtbot, qapp, monkeypatch):
    collector = main_thread_gc.installed()
    assert collector is not None and not gc.isenabled()
    _Tracer.freed_in.clear()
    _Tracer()  # dropped at once: a cycle waiting for the collector
    _allocate_in_a_worker()
    assert _Tracer.freed_in == []  # the worker's allocations did not collect it
    # Python's count of new objects also drops as old ones are freed (a previous test's widgets),
    # so whether 700 new objects reach the threshold depends on what went before: collect at any count.
    monkeypatch.setattr(collector, "thresholds", (-1, 10, 10))
    qtbot.waitUntil(lambda: len(_Tracer.freed_in) >= 1, timeout=5000)
    assert len(_Tracer.freed_in) == 1
    assert set(_Tracer.freed_in) == {threading.get_ident()}


def test_installing_twice_keeps_one_collector_and_stop_gives_collection_back(qapp):
    first = main_thread_gc.installed()
    assert main_thread_gc.install(qapp) is first
    try:
        first.stop()
        assert gc.isenabled() and gc.get_threshold() == first.thresholds
    finally:
        gc.disable()
        first.timer.start()


def test_the_studio_app_installs_it(qapp):
    from synthgui.gui.app import make_app

    assert make_app() is qapp and main_thread_gc.installed() is not None


def test_the_middle_generation_is_collected_by_size_not_only_after_ten_young_collections(qapp):
    """Between two ticks the young generation can grow far past Python's 700 objects (a model load
    in a worker); its survivors must not pile up in the middle generation for ten ticks, or the
    collection that finally comes holds the window for tens of milliseconds."""
    collector = main_thread_gc.installed()
    gc.collect(1)  # the middle generation empty, its collection count back to 0
    survivors = [[i] for i in range(8000)]
    gc.collect(0)  # they survive into the middle generation: one young collection, not ten
    assert len(gc.get_objects(generation=1)) >= 8000 and gc.get_count()[1] <= 1
    more = [[i] for i in range(800)]  # past the young threshold
    collector.check()
    assert len(gc.get_objects(generation=1)) < 7000
    del survivors, more


def test_deciding_on_a_full_collection_walks_no_old_generation(qapp, monkeypatch):
    """Python counts what moved into the oldest generation; walking it instead (a quarter of a
    million objects once torch is loaded) held the window for about 25 ms on every such tick."""
    collector = main_thread_gc.installed()
    monkeypatch.setattr(collector, "long_lived_total", 10**9)
    monkeypatch.setattr(collector, "pending_long_lived", 0)
    for _ in range(12):
        gc.collect(1)  # the oldest generation's count past its threshold
    survivors = [[i] for i in range(8000)]
    gc.collect(0)  # into the middle generation, past its size
    more = [[i] for i in range(800)]
    walked = []
    real = gc.get_objects
    monkeypatch.setattr(gc, "get_objects", lambda generation=None: walked.append(generation) or real(generation))
    collector.check()
    assert 2 not in walked and collector.pending_long_lived >= 8000  # a middle collection, counted
    monkeypatch.setattr(collector, "long_lived_total", 100)  # now a quarter is new: the full collection is due
    survivors2 = [[i] for i in range(8000)]
    gc.collect(0)
    more2 = [[i] for i in range(800)]
    collector.check()
    assert 2 in walked and collector.pending_long_lived == 0 and collector.long_lived_total > 100
    del survivors, more, survivors2, more2
