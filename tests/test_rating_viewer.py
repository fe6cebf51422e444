"""The rating viewer driven by keyboard events offscreen; every answer checked in the session log."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from synthgui.core.study.build import BuildRequest, build_study  # noqa: E402
from synthgui.core.study.design import StudyOptions, load_study  # noqa: E402
from synthgui.core.study.key import load_key  # noqa: E402
from synthgui.core.study.session_log import SessionLog  # noqa: E402
from synthgui.gui.rating.launch import open_viewer  # noqa: E402
from tests.helpers import write_image_folders  # noqa: E402


def make_study(tmp_path: Path, practice: int = 2, per_class: int = 3, **options) -> tuple[Path, dict[str, str]]:
    paths = write_image_folders(tmp_path, per_class + practice)
    opts = StudyOptions(size=32, blank_ms=0, **options)
    result = build_study(BuildRequest(paths["real"], paths["syn"], tmp_path / "study", per_class=per_class,
                                      practice=practice, options=opts))
    return tmp_path / "study", load_key(result.key_path).truth()


def wait_case(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.state == "case" and w.view.painted_at is not None, timeout=5000)


def answer(qtbot, w, keys: str) -> None:
    wait_case(qtbot, w)
    for k in keys:
        qtbot.keyClick(w, k)
    qtbot.keyClick(w, Qt.Key.Key_Return)


def current_truth(w, truth) -> str:
    return truth[w.log.order[w.position][1]]


def test_full_session_by_keyboard(qtbot, tmp_path):
    study_dir, truth = make_study(tmp_path)
    w = open_viewer(study_dir, "reader-1", fullscreen=False)
    qtbot.addWidget(w)
    assert w.state == "intro"
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    # no confirm without a confidence; nothing is recorded
    qtbot.keyClick(w, "s")
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert w.log.judgments() == []
    qtbot.keyClick(w, "4")
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert len(w.log.judgments()) == 1 and w.state == "feedback"
    assert "This image is" in w.prompt.text()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    answer(qtbot, w, "r2")  # second practice case
    qtbot.keyClick(w, Qt.Key.Key_Space)
    n_main = 6
    for i in range(n_main):
        wait_case(qtbot, w)
        assert w.header.text() == f"Image {i + 1} of {n_main}"  # progress, never the answer
        t = current_truth(w, truth)
        if i == 0:
            qtbot.keyClick(w, Qt.Key.Key_Plus)
            qtbot.keyClick(w, Qt.Key.Key_Plus)
            qtbot.keyClick(w, Qt.Key.Key_0)
        answer(qtbot, w, ("2" if t == "synthetic" else "1") + "5")  # 1/2 for the call, then confidence
    qtbot.waitUntil(lambda: w.state == "done", timeout=5000)
    js = {j.case_id: j for j in w.log.judgments()}
    assert len(js) == 8
    main = [j for j in js.values() if j.phase == "main"]
    assert all(j.call == truth[j.case_id] and j.confidence == 5 for j in main)
    assert sorted(j.seq for j in main) == list(range(6))
    assert all(j.rt_ms is not None and j.rt_ms >= 0 and j.shown_at for j in js.values())
    first = min(main, key=lambda j: j.seq)
    assert [z[1] for z in first.zoom] == [1.5, 2.0, 1.0]
    w.request_quit(ask=False)


def test_quit_and_resume_at_next_case_in_same_order(qtbot, tmp_path):
    study_dir, truth = make_study(tmp_path, practice=0)
    (tmp_path / "study.key.json").rename(tmp_path / "elsewhere.json")  # rating never needs the key
    w = open_viewer(study_dir, "r2", fullscreen=False)
    qtbot.addWidget(w)
    order = list(w.log.order)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    for _ in range(3):
        answer(qtbot, w, "s3")
    wait_case(qtbot, w)
    w.request_quit(ask=False)
    w2 = open_viewer(study_dir, "r2", fullscreen=False)
    qtbot.addWidget(w2)
    assert w2.log.order == order and w2.position == 3
    assert "Welcome back" in w2.prompt.text()
    qtbot.keyClick(w2, Qt.Key.Key_Space)
    wait_case(qtbot, w2)
    assert w2.header.text() == "Image 4 of 6"
    w2.request_quit(ask=False)
    with SessionLog(load_study(study_dir), "r2") as log:
        assert log.next_position() == 3 and len(log.judgments()) == 3


def test_time_limit_records_a_timed_out_case(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, time_limit_s=0.2)
    w = open_viewer(study_dir, "r3", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    qtbot.waitUntil(lambda: len(w.log.judgments()) == 1, timeout=5000)
    j = w.log.judgments()[0]
    assert j.timed_out and j.call is None
    w.request_quit(ask=False)


def test_back_button_off_by_default_and_revision_when_allowed(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path / "a", practice=0, per_class=1)
    w = open_viewer(study_dir, "r4", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    answer(qtbot, w, "r3")
    wait_case(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Left)
    assert w.position == 1
    w.request_quit(ask=False)
    study_dir, _ = make_study(tmp_path / "b", practice=0, per_class=1, allow_back=True)
    w = open_viewer(study_dir, "r4", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    answer(qtbot, w, "r3")
    wait_case(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Left)
    assert w.position == 0
    answer(qtbot, w, "s5")
    revs = sorted((j.revision, j.call) for j in w.log.judgments())
    assert revs == [(0, "real"), (1, "synthetic")]
    w.request_quit(ask=False)


def test_diagnosis_and_note_questions(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, diagnoses=["melanoma", "naevus"], note=True)
    w = open_viewer(study_dir, "r5", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    for k in "s4":
        qtbot.keyClick(w, k)
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert not w.log.judgments()  # the diagnosis is still missing
    qtbot.keyClick(w, "2")
    qtbot.keyClick(w, Qt.Key.Key_Tab)
    qtbot.keyClicks(w.note, "odd border")
    qtbot.keyClick(w.note, Qt.Key.Key_Return)
    j = w.log.judgments()[0]
    assert (j.call, j.confidence, j.diagnosis, j.note) == ("synthetic", 4, "naevus", "odd border")
    w.request_quit(ask=False)
