"""Crash test: a scripted rater killed with SIGKILL at random moments, over and over.

Every judgment the child acknowledged (printed after ``SessionLog.record`` returned) must be in
the session exactly once, the logs must hold nothing outside the reader's order prefix, and each
restart must resume at the first unanswered case.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synthgui.core.study.design import Case, Study, StudyOptions

REPO = Path(__file__).resolve().parents[1]
KILLS = 52
CHILD = r"""
import sys
from synthgui.core.study.design import load_study
from synthgui.core.study.session_log import Judgment, SessionLog

study = load_study(sys.argv[1])
log = SessionLog(study, sys.argv[2])
pos = log.next_position()
print(f"resume {pos}", flush=True)
seqs, counts = {}, {}
for p, (phase, _) in enumerate(log.order):
    seqs[p] = counts.get(phase, 0)
    counts[phase] = seqs[p] + 1
while pos < len(log.order):
    phase, case_id = log.order[pos]
    jid = log.record(Judgment(study.study_id, log.reader_id, phase, seqs[pos], case_id,
                              "synthetic" if pos % 3 else "real", 1 + pos % 5, rt_ms=10.0 * pos))
    print(f"ack {pos} {jid}", flush=True)
    pos += 1
log.close()
print("done", flush=True)
"""


def make_study(folder: Path, n_main: int = 400) -> Study:
    cases = [Case(f"m{i:04d}", f"m{i:04d}.png") for i in range(n_main)]
    cases += [Case(f"p{i}", f"p{i}.png", "practice", "real") for i in range(2)]
    (folder / "images").mkdir(parents=True)
    for c in cases:
        (folder / "images" / c.image).write_bytes(b"")
    study = Study("c0ffee0123456789", "crash", "now", StudyOptions(), cases, folder=folder)
    study.save(folder)
    return study


def run_child(study_dir: Path, reader: str, kill_after: float | None,
              during_startup: bool = False) -> tuple[int | None, list[tuple[int, str]], bool]:
    """Start the rater; SIGKILL it ``kill_after`` s after it resumed (or after its start, to hit the
    session's opening and crash recovery). Returns (resume position, acks, finished)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(study_dir), reader], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    lines: list[str] = []
    resumed = threading.Event()

    def pump() -> None:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("resume"):
                resumed.set()

    reader_thread = threading.Thread(target=pump, daemon=True)
    reader_thread.start()
    if kill_after is not None:
        if not during_startup:
            resumed.wait(timeout=30)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reader_thread.join(timeout=10)
    err = proc.stderr.read()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"child failed ({proc.returncode}): {err}")
    resume = next((int(line.split()[1]) for line in lines if line.startswith("resume")), None)
    acks = [(int(line.split()[1]), line.split()[2]) for line in lines if line.startswith("ack") and len(line.split()) == 3]
    return resume, acks, any(line.strip() == "done" for line in lines)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_many_times_loses_and_duplicates_nothing(tmp_path):
    study_dir = tmp_path / "study"
    study = make_study(study_dir)
    order_len = len(study.cases)
    rng = random.Random(1234)
    acked: dict[str, set[str]] = {}
    done_upto: dict[str, int] = {}  # positions below this are known to be recorded (acked, or resumed past)
    reader_no, kills, resumes_checked = 0, 0, 0
    deadline = time.monotonic() + 120
    while kills < KILLS:
        assert time.monotonic() < deadline, f"crash test too slow: {kills} kills"
        reader = f"reader{reader_no}"
        startup = rng.random() < 0.2
        resume, acks, finished = run_child(study_dir, reader, rng.uniform(0.1, 0.6) if startup else rng.uniform(0.0, 0.15),
                                           during_startup=startup)
        if resume is not None:
            known = done_upto.get(reader, 0)
            # resumes right after the last known case, or one later (recorded, killed before the ack)
            assert known <= resume <= known + 1, (reader, known, resume)
            done_upto[reader] = resume
            resumes_checked += 1
        for pos, jid in acks:
            acked.setdefault(reader, set()).add(jid)
            done_upto[reader] = max(done_upto.get(reader, 0), pos + 1)
        if finished:
            reader_no += 1
        else:
            kills += 1
    # a clean final run per reader: resume point and contents
    sessions = study_dir / "sessions"
    for reader, ids in acked.items():
        resume, _, finished = run_child(study_dir, reader, None)
        assert done_upto[reader] <= resume <= done_upto[reader] + 1 and finished
        with sqlite3.connect(sessions / f"{reader}.sqlite") as conn:
            rows = conn.execute("SELECT judgment_id, case_id, phase FROM judgments").fetchall()
            order = [tuple(x) for x in json.loads(conn.execute("SELECT value FROM meta WHERE key='order'").fetchone()[0])]
        db_ids = [r[0] for r in rows]
        assert len(db_ids) == len(set(db_ids)) == order_len
        assert ids <= set(db_ids), "an acknowledged judgment was lost"
        assert {(r[2], r[1]) for r in rows} == set(order)
        backup_ids = [json.loads(line)["judgment_id"] for line in (sessions / f"{reader}.jsonl").read_text().splitlines()
                      if line.startswith("{") and line.endswith("}")]
        assert sorted(backup_ids) == sorted(db_ids), "backup log and database disagree"
    assert kills >= 50 and resumes_checked >= 30
    print(f"\ncrash test: {kills} SIGKILLs, {resumes_checked} resumes checked, "
          f"{sum(len(v) for v in acked.values())} acknowledged judgments, {len(acked)} reader session(s)")
