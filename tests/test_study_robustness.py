"""The rating study when things go wrong: damaged images, a full disk, a pause, a crash, partial
readers, read-only media, mistyped paths, and where the truth may be written."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from synthgui.cli import main as cli_main  # noqa: E402
from synthgui.core.errors import SynthguiError  # noqa: E402
from synthgui.core.study.analysis import analyse  # noqa: E402
from synthgui.core.study.design import load_study  # noqa: E402
from synthgui.core.study.session_log import Judgment, SessionLog  # noqa: E402
from synthgui.gui.rating.launch import open_viewer  # noqa: E402
from tests.helpers import write_image_folders  # noqa: E402
from tests.test_rating_viewer import answer, make_study, wait_case  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _answer_dialogs(monkeypatch) -> list:
    """Every message box the viewer opens is noted and answered at once."""
    shown = []

    def note(*args, **kwargs):
        shown.append(args)
        return QMessageBox.StandardButton.Ok

    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(note))
    return shown


def _finish(log: SessionLog, study, call: str = "real", **kw) -> None:
    for seq, (phase, c) in enumerate(log.order):
        log.record(Judgment(study.study_id, log.reader_id, phase, seq, c, call, 3, **kw))


def test_an_image_damaged_mid_study_is_reported_and_the_reader_goes_on(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    second = w.log.order[1][1]
    (study_dir / "images" / f"{second}.png").write_bytes(b"truncated by a bad sync")
    qtbot.keyClick(w, Qt.Key.Key_Space)
    answer(qtbot, w, "s3")
    qtbot.waitUntil(lambda: w.state == "case", timeout=3000)
    assert "cannot be shown" in w.prompt.text()
    qtbot.keyClick(w, Qt.Key.Key_Return)
    wait_case(qtbot, w)  # the third image, as usual
    assert w.position == 2
    bad = w.log.latest("main", second)
    assert bad is not None and bad.call is None and not bad.timed_out and "could not be shown" in bad.note
    w.request_quit(ask=False)


def test_a_study_with_a_missing_image_still_opens_for_readers(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    victim = sorted((study_dir / "images").iterdir())[0]
    victim.unlink()
    with pytest.raises(SynthguiError, match="lacks 1 case image"):
        load_study(study_dir)  # the coordinator's tools still insist
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    assert "missing" in w.prompt.text()
    w.request_quit(ask=False)


def test_the_time_limit_stops_while_the_pause_question_is_open(qtbot, tmp_path, monkeypatch):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2, time_limit_s=0.3)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])

    def reader_thinks_a_second(box):
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)
        return next(answers)

    monkeypatch.setattr(QMessageBox, "exec", reader_thinks_a_second)
    qtbot.keyClick(w, Qt.Key.Key_Escape)  # No: the reader goes on with the same case
    assert w.position == 0 and w.state == "case" and w.time_limit.isActive()
    for k in ("s", "3", Qt.Key.Key_Return):
        qtbot.keyClick(w, k)
    first = w.log.latest(*w.log.order[0])
    assert first.call == "synthetic" and not first.timed_out and first.rt_ms < 900  # the second is not the reader's
    wait_case(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Escape)  # Yes: quit
    with SessionLog(load_study(study_dir), "r1") as log:
        assert [(j.call, j.timed_out) for j in log.judgments()] == [("synthetic", False)]
        assert log.next_position() == 1


@pytest.mark.qt_no_exception_capture
def test_an_answer_that_could_not_be_saved_is_said_and_kept_on_screen(qtbot, tmp_path, monkeypatch):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    shown = _answer_dialogs(monkeypatch)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)

    def disk_full(self, j):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SessionLog, "_append_backup", disk_full)
    for k in ("s", "3", Qt.Key.Key_Return):
        qtbot.keyClick(w, k)
    assert shown and "NOT saved" in shown[0][2]
    assert w.position == 0 and w.state == "case" and w.call == "synthetic"
    monkeypatch.undo()
    _answer_dialogs(monkeypatch)
    qtbot.keyClick(w, Qt.Key.Key_Return)  # the disk has room again
    assert w.position == 1 and w.log.latest(*w.log.order[0]).call == "synthetic"
    w.request_quit(ask=False)


def test_zero_resets_the_zoom_in_a_study_with_diagnoses(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1, diagnoses=["melanoma", "naevus"])
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    wait_case(qtbot, w)
    qtbot.keyClick(w, "s")
    qtbot.keyClick(w, "4")
    qtbot.keyClick(w, Qt.Key.Key_Plus)
    assert w.view.zoom == 1.5
    qtbot.keyClick(w, Qt.Key.Key_0)
    assert w.view.zoom == 1.0 and w.diagnosis is None
    w.request_quit(ask=False)


def test_a_reader_who_stopped_early_leaves_the_other_pairs_kappa():
    cases = [f"s{i}" for i in range(5)] + [f"r{i}" for i in range(5)]
    truth = {c: "synthetic" if c[0] == "s" else "real" for c in cases}
    js = [Judgment("sid", r, "main", i, c, truth[c] if (i % 3 or r == "A") else "real", 3)
          for r in "AC" for i, c in enumerate(cases)]
    js.append(Judgment("sid", "B", "main", 0, cases[0], "real", 3))  # B stopped after one image
    kinds = {a.kind: a for a in analyse(js, truth, "sid").agreement}
    # Cohen (1960) on the 10 items A and C both rated: po = 0.8, pe = 0.5 -> kappa 0.6
    assert kinds["cohen A vs C"].n_cases == 10 and kinds["cohen A vs C"].kappa == pytest.approx(0.6)
    assert "fleiss" not in kinds and "cohen A vs B" not in kinds  # one common case: no kappa


def test_analyze_with_no_answered_reading_says_so(tmp_path, capsys):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2, time_limit_s=5)
    study = load_study(study_dir)
    with SessionLog(study, "r1") as log:
        for seq, (phase, c) in enumerate(log.order):
            log.record(Judgment(study.study_id, "r1", phase, seq, c, None, timed_out=True))
    assert cli_main(["study", "analyze", str(study_dir), "--out", str(tmp_path / "rep")]) == 0
    assert "no answered scored reading" in capsys.readouterr().out


def test_analyze_names_a_mistyped_study_folder(tmp_path, capsys):
    wrong = tmp_path / "stduy"
    assert cli_main(["study", "analyze", str(wrong), "--out", str(tmp_path / "rep")]) == 2
    assert str(wrong) in capsys.readouterr().err


def test_analyze_refuses_to_write_the_truth_into_the_study_folder(tmp_path, capsys):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    study = load_study(study_dir)
    with SessionLog(study, "r1") as log:
        _finish(log, study)
    assert cli_main(["study", "analyze", str(study_dir), "--out", str(study_dir / "report")]) == 2
    assert not (study_dir / "report").exists() and "outside the study folder" in capsys.readouterr().err


KILLED_READER = r"""
import os, signal, sys
from synthgui.core.study.design import load_study
from synthgui.core.study.session_log import Judgment, SessionLog
study = load_study(sys.argv[1])
log = SessionLog(study, 'r1')
for pos, (phase, c) in enumerate(log.order[:3]):
    log.record(Judgment(study.study_id, 'r1', phase, pos, c, 'real', 3))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_session_collected_after_a_crash_is_read_from_its_backup(tmp_path, capsys):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    proc = subprocess.run([sys.executable, "-c", KILLED_READER, str(study_dir)], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    collected = tmp_path / "collected"  # <reader>.sqlite and <reader>.jsonl, without the -wal file
    collected.mkdir()
    for name in ("r1.sqlite", "r1.jsonl"):
        shutil.copy(study_dir / "sessions" / name, collected / name)
    rc = cli_main(["study", "analyze", str(study_dir), "--sessions", str(collected), "--out", str(tmp_path / "rep")])
    out = capsys.readouterr()
    assert rc == 0 and "3 scored" in out.out and "backup log" in out.err, out.err
    only_backup = tmp_path / "usb"  # a backup kept on another drive, alone
    only_backup.mkdir()
    shutil.copy(study_dir / "sessions" / "r1.jsonl", only_backup / "r1.jsonl")
    rc = cli_main(["study", "analyze", str(study_dir), "--sessions", str(only_backup), "--out", str(tmp_path / "rep2")])
    assert rc == 0 and "3 scored" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None,
                    reason="needs root to make a read-only bind mount")
def test_sessions_on_read_only_media_can_be_analysed(tmp_path, capsys):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=2)
    study = load_study(study_dir)
    with SessionLog(study, "r1") as log:
        _finish(log, study)
    ro = tmp_path / "cdrom"
    ro.mkdir()
    if subprocess.run(["mount", "--bind", str(study_dir / "sessions"), str(ro)], capture_output=True).returncode:
        pytest.skip("bind mount not permitted here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode:
            pytest.skip("read-only remount not permitted here")
        rc = cli_main(["study", "analyze", str(study_dir), "--sessions", str(ro), "--out", str(tmp_path / "rep")])
        err = capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
    assert rc == 0, err


def test_one_reader_cannot_open_a_session_twice_through_another_backup_folder(tmp_path):
    study_dir, _ = make_study(tmp_path, practice=0, per_class=1)
    study = load_study(study_dir)
    first = SessionLog(study, "r1")
    try:
        with pytest.raises(SynthguiError, match="open in another window"):
            SessionLog(study, "r1", backup_folder=tmp_path / "usb")
    finally:
        first.close()
    SessionLog(study, "r1", backup_folder=tmp_path / "usb").close()  # once the first is closed


def test_a_refused_session_releases_its_lock(tmp_path):
    a, _ = make_study(tmp_path / "a", practice=0, per_class=1)
    b, _ = make_study(tmp_path / "b", practice=0, per_class=1)
    SessionLog(load_study(a), "r1").close()
    for _ in range(2):
        with pytest.raises(SynthguiError, match="belongs to another study"):
            SessionLog(load_study(b), "r1", folder=a / "sessions")


def test_the_wizard_builds_from_home_relative_folders(qtbot, isolated_home):
    from synthgui.gui.study_wizard import StudyWizard

    write_image_folders(isolated_home, 3)
    wiz = StudyWizard(None)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.sources.real.setText("~/real")
    wiz.sources.synthetic.setText("~/syn")
    wiz.next()
    assert wiz.currentPage() is wiz.design
    wiz.design.out.setText("~/study")
    wiz.design.size.setValue(32)
    wiz.next()
    qtbot.waitUntil(lambda: wiz.build_page.result is not None or "Error" in wiz.build_page.log.toPlainText(),
                    timeout=30000)
    wiz.wait_for_build()
    assert wiz.build_page.result is not None, wiz.build_page.log.toPlainText()
    assert (isolated_home / "study" / "study.json").is_file() and not (Path.cwd() / "~").exists()


def test_practice_feedback_for_an_image_that_could_not_be_shown(qtbot, tmp_path):
    study_dir, _ = make_study(tmp_path, practice=2, per_class=1)
    w = open_viewer(study_dir, "r1", fullscreen=False)
    qtbot.addWidget(w)
    first = w.log.order[0]
    assert first[0] == "practice"
    (study_dir / "images" / f"{first[1]}.png").write_bytes(b"not a png")
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.state == "case", timeout=3000)
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert w.state == "feedback" and "could not be shown" in w.prompt.text()
    w.request_quit(ask=False)
