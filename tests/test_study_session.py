"""Reader sessions: seeded per-reader order, resume, idempotent durable judgments, merge."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest

from synthgui.core.errors import SynthguiError
from synthgui.core.study.design import Case, Study, StudyOptions
from synthgui.core.study.merge import collect, merge_sessions
from synthgui.core.study.session_log import Judgment, SessionLog, reader_order


def make_study(folder: Path, n_main: int = 12, n_practice: int = 2) -> Study:
    cases = [Case(f"m{i:03d}", f"m{i:03d}.png") for i in range(n_main)]
    cases += [Case(f"p{i:03d}", f"p{i:03d}.png", "practice", "real" if i % 2 else "synthetic") for i in range(n_practice)]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    return Study("feedc0ffee123456", "t", "now", StudyOptions(), cases, folder=folder)


def answer(log: SessionLog, position: int, call: str = "synthetic") -> str:
    phase, case_id = log.order[position]
    seq = [p for p, _ in log.order[:position]].count(phase)
    return log.record(Judgment(log.study_id, log.reader_id, phase, seq, case_id, call, 3, rt_ms=900.0))


def test_order_is_reproducible_per_reader_and_differs_between_readers(tmp_path):
    ids = [f"c{i}" for i in range(30)]
    a1, a2 = reader_order("s", "alice", ids, "main"), reader_order("s", "alice", ids, "main")
    b = reader_order("s", "bob", ids, "main")
    assert a1 == a2 and sorted(a1) == sorted(ids)
    assert a1 != b
    assert reader_order("s", "alice", list(reversed(ids)), "main") == a1  # input order does not matter
    study = make_study(tmp_path)
    with SessionLog(study, "alice") as log:
        order = list(log.order)
    assert [c for p, c in order if p == "practice"] == reader_order(study.study_id, "alice", ["p000", "p001"], "practice")
    assert order[:2][0][0] == "practice" and order[-1][0] == "main"
    with SessionLog(study, "alice") as log:
        assert log.order == order  # stored with the session, not recomputed


def test_resume_at_next_unanswered_case(tmp_path):
    study = make_study(tmp_path)
    log = SessionLog(study, "r1")
    for i in range(5):
        answer(log, i)
    assert log.next_position() == 5
    log.close()
    log = SessionLog(study, "r1")
    assert log.next_position() == 5
    assert len(log.judgments()) == 5
    kinds = [r[0] for r in log.conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["start", "quit", "resume"]
    log.close()


def test_recording_twice_never_duplicates_and_backup_mirrors_sqlite(tmp_path):
    study = make_study(tmp_path)
    with SessionLog(study, "r1") as log:
        jid = answer(log, 0)
        assert answer(log, 0) == jid
        assert len(log.judgments()) == 1
    lines = (tmp_path / "sessions" / "r1.jsonl").read_text().splitlines()
    assert {json.loads(line)["judgment_id"] for line in lines} == {jid}


def test_backup_only_judgment_and_torn_line_are_recovered(tmp_path):
    """A kill after the backup write but before the SQLite commit; another during a write."""
    study = make_study(tmp_path)
    with SessionLog(study, "r1") as log:
        answer(log, 0)
        phase, case_id = log.order[1]
        lost = Judgment(study.study_id, "r1", phase, 1, case_id, "real", 2, session_uid=log.session_uid)
    backup = tmp_path / "sessions" / "r1.jsonl"
    with open(backup, "a") as fh:
        fh.write(json.dumps(asdict(lost)) + "\n")
        fh.write('{"study_id": "feed')  # torn
    with SessionLog(study, "r1") as log:
        assert lost.judgment_id in {j.judgment_id for j in log.judgments()}
        assert log.next_position() == 2
        assert log.torn_lines == 1
        answer(log, 2)
    lines = backup.read_text().splitlines()
    assert sum(_parses(line) for line in lines) == 3  # the torn fragment stays on a line of its own
    assert _parses(lines[-1])


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def test_session_is_wal_and_synchronous_full(tmp_path):
    study = make_study(tmp_path)
    with SessionLog(study, "r1") as log:
        assert log.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_second_window_on_same_reader_is_refused_and_bad_ids_rejected(tmp_path):
    study = make_study(tmp_path)
    with SessionLog(study, "r1"):
        with pytest.raises(SynthguiError, match="open in another"):
            SessionLog(study, "r1")
    for bad in ("", "../x", "a b", "x" * 41):
        with pytest.raises(SynthguiError, match="pseudonym"):
            SessionLog(study, bad)


def test_unknown_case_refused(tmp_path):
    study = make_study(tmp_path)
    with SessionLog(study, "r1") as log, pytest.raises(SynthguiError, match="not in this reader"):
        log.record(Judgment(study.study_id, "r1", "main", 0, "nope", "real"))


def test_merge_counts_each_judgment_once(tmp_path):
    study = make_study(tmp_path / "study")
    for reader, n in (("alice", 8), ("bob", 14)):
        with SessionLog(study, reader) as log:
            for i in range(n):
                answer(log, i, "real" if i % 3 else "synthetic")
    sessions = tmp_path / "study" / "sessions"
    # bob's file also arrives from a second machine, copied under another name
    other = tmp_path / "machine2"
    other.mkdir()
    shutil.copy(sessions / "bob.sqlite", other / "bob-copy.sqlite")
    result = merge_sessions([sessions, other], tmp_path / "merged.sqlite")
    assert len(result.judgments) == 8 + 14
    assert result.duplicates == 14
    assert not result.conflicts
    with sqlite3.connect(tmp_path / "merged.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM judgments").fetchone()[0] == 22
        assert conn.execute("SELECT COUNT(DISTINCT reader_id) FROM judgments").fetchone()[0] == 2
    again = collect([tmp_path / "merged.sqlite", sessions])  # merging a merge with its inputs: still 22
    assert len(again.judgments) == 22
    with pytest.raises(SynthguiError, match="exists"):
        merge_sessions([sessions], tmp_path / "merged.sqlite")


def test_merge_reports_conflicting_copies_and_refuses_mixed_studies(tmp_path):
    study = make_study(tmp_path / "a")
    with SessionLog(study, "alice") as log:
        answer(log, 0, "real")
    copy_dir = tmp_path / "b"
    copy_dir.mkdir()
    shutil.copy(tmp_path / "a" / "sessions" / "alice.sqlite", copy_dir / "alice.sqlite")
    with sqlite3.connect(copy_dir / "alice.sqlite") as conn:
        conn.execute("UPDATE judgments SET call='synthetic', answered_at='9999'")
    result = collect([tmp_path / "a" / "sessions", copy_dir])
    assert len(result.judgments) == 1 and result.judgments[0].call == "real" and len(result.conflicts) == 1
    other = Study("0123456789abcdef", "t", "now", StudyOptions(), study.cases, folder=tmp_path / "c")
    with SessionLog(other, "carol") as log:
        answer(log, 0)
    with pytest.raises(SynthguiError, match="different studies"):
        collect([tmp_path / "a" / "sessions", tmp_path / "c" / "sessions"])


def test_unwritable_or_damaged_session_is_a_clear_error(tmp_path):
    study = make_study(tmp_path)
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "r1.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SynthguiError, match="not a usable session file"):
        SessionLog(study, "r1")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SynthguiError, match="cannot write the session"):
        SessionLog(study, "r2", blocker / "sub")


def test_backup_log_on_another_folder_restores_the_database(tmp_path):
    study = make_study(tmp_path / "study")
    with SessionLog(study, "r1", backup_folder=tmp_path / "other-drive") as log:
        for i in range(4):
            answer(log, i)
    assert len((tmp_path / "other-drive" / "r1.jsonl").read_text().splitlines()) == 4
    for suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm"):
        (tmp_path / "study" / "sessions" / f"r1{suffix}").unlink(missing_ok=True)  # the session disk died
    with SessionLog(study, "r1", backup_folder=tmp_path / "other-drive") as log:
        assert log.next_position() == 4 and len(log.judgments()) == 4
