"""A reader's session: the seeded case order and every judgment, durable before the next case shows.

Two copies, written in this order for each judgment:
1. one JSON line appended to ``<reader>.jsonl`` and fsynced (the append-only backup log);
2. one row committed to ``<reader>.sqlite`` (WAL journal, ``synchronous=FULL``).
Only then does ``record`` return, so an acknowledged judgment is on disk twice. A kill between
the two leaves the line in the backup only; opening the session again replays such lines into
SQLite. Judgment ids are deterministic (reader, phase, case, revision) and the primary key, so a
replay or a merge never counts a judgment twice. A torn last line (kill mid-write) is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import sqlite3
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SynthguiError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judgments (
    judgment_id TEXT PRIMARY KEY, study_id TEXT NOT NULL, reader_id TEXT NOT NULL, session_uid TEXT NOT NULL,
    phase TEXT NOT NULL, seq INTEGER NOT NULL, case_id TEXT NOT NULL, call TEXT, confidence INTEGER,
    diagnosis TEXT, note TEXT, rt_ms REAL, decode_ms REAL, shown_at TEXT, answered_at TEXT NOT NULL,
    zoom TEXT NOT NULL DEFAULT '[]', timed_out INTEGER NOT NULL DEFAULT 0, revision INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
"""
COLUMNS = ("judgment_id", "study_id", "reader_id", "session_uid", "phase", "seq", "case_id", "call", "confidence",
           "diagnosis", "note", "rt_ms", "decode_ms", "shown_at", "answered_at", "zoom", "timed_out", "revision")
READER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Judgment:
    """One answer of one reader to one case."""

    study_id: str
    reader_id: str
    phase: str
    seq: int  # the case's position in this reader's order within the phase
    case_id: str
    call: str | None  # "real" / "synthetic"; None when the time limit ran out
    confidence: int | None = None
    diagnosis: str | None = None
    note: str | None = None
    rt_ms: float | None = None  # from the first paint of the image to the confirming key
    decode_ms: float | None = None
    shown_at: str | None = None
    answered_at: str = field(default_factory=now_iso)
    zoom: list = field(default_factory=list)  # [[ms since first paint, zoom factor], ...]
    timed_out: bool = False
    revision: int = 0  # >0 only when the study allows going back and the reader changed an answer
    session_uid: str = ""
    judgment_id: str = ""

    def __post_init__(self) -> None:
        if not self.judgment_id:
            self.judgment_id = judgment_id(self.study_id, self.reader_id, self.phase, self.case_id, self.revision)
        self.timed_out = bool(self.timed_out)
        if isinstance(self.zoom, str):
            self.zoom = json.loads(self.zoom)

    def row(self) -> tuple:
        d = asdict(self)
        d["zoom"] = json.dumps(self.zoom)
        d["timed_out"] = int(self.timed_out)
        return tuple(d[c] for c in COLUMNS)

    @classmethod
    def from_row(cls, row: sqlite3.Row | dict) -> "Judgment":
        return cls(**{c: row[c] for c in COLUMNS})


def judgment_id(study_id: str, reader_id: str, phase: str, case_id: str, revision: int = 0) -> str:
    return f"{study_id[:8]}:{reader_id}:{phase}:{case_id}:r{revision}"


def reader_order(study_id: str, reader_id: str, case_ids: list[str], phase: str) -> list[str]:
    """A Fisher-Yates shuffle (numpy) seeded from (study, reader, phase): each reader has their own order."""
    import numpy as np

    digest = hashlib.sha256(f"{study_id}\0{reader_id}\0{phase}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    ordered = sorted(case_ids)
    return [ordered[i] for i in rng.permutation(len(ordered))]


def check_reader_id(reader_id: str) -> str:
    reader_id = reader_id.strip()
    if not READER_ID.match(reader_id):
        raise SynthguiError("a reader ID is a pseudonym of 1-40 letters, digits, '.', '_' or '-' "
                            "(no names: the session file carries it)")
    return reader_id


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
    conn.row_factory = sqlite3.Row
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise SynthguiError(f"{path.parent} does not support SQLite's WAL journal (got {mode}); use a local folder")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    return conn


def insert_judgments(conn: sqlite3.Connection, judgments: list[Judgment]) -> int:
    """Insert in one transaction; an id already present is left alone. Returns the number added."""
    before = conn.total_changes
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(f"INSERT OR IGNORE INTO judgments ({', '.join(COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(COLUMNS))})", [j.row() for j in judgments])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return conn.total_changes - before


def read_backup(path: Path) -> tuple[list[Judgment], int]:
    """Judgments in a JSONL backup log and the number of unreadable (torn) lines."""
    if not path.exists():
        return [], 0
    found, torn = [], 0
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            found.append(Judgment(**json.loads(line)))
        except (ValueError, TypeError):
            torn += 1
    return found, torn


class SessionLog:
    """One reader's session on one study; open it again to resume at the first unanswered case."""

    def __init__(self, study, reader_id: str, folder: str | Path | None = None,
                 backup_folder: str | Path | None = None) -> None:
        """``backup_folder``: put the JSONL backup elsewhere, ideally on another drive (as ViewDEX advises)."""
        self.study_id = study.study_id
        self.reader_id = check_reader_id(reader_id)
        folder = Path(folder) if folder is not None else Path(study.folder) / "sessions"
        self.db_path = folder / f"{self.reader_id}.sqlite"
        self.backup_path = (Path(backup_folder) if backup_folder is not None else folder) / f"{self.reader_id}.jsonl"
        self._lock_fd = self._backup_fd = -1
        self.conn: sqlite3.Connection | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.backup_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.db_path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            self._backup_fd = os.open(self.backup_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            self._release()
            raise SynthguiError(f"cannot write the session in {folder} ({exc.strerror or exc}); "
                                "choose a writable folder for sessions") from None
        try:
            self._lock()
            try:
                self.conn = connect(self.db_path)
            except sqlite3.Error as exc:
                raise SynthguiError(f"{self.db_path} is not a usable session file ({exc})") from None
            self.order = self._load_or_create_order(study)
            self._in_order = set(self.order)
            self.session_uid = self._meta("session_uid")
            self.torn_lines = self._reconcile()
            self.event("resume" if self.answered() else "start", {"next": self.next_position()})
        except BaseException:
            self._release()  # a refused open must not keep the lock: a retry would read "open elsewhere"
            raise

    # -- set-up -------------------------------------------------------------------------------
    def _lock(self) -> None:
        """One viewer per reader session at a time; the OS drops the lock if the process dies. The
        lock file sits beside the database, whatever folder the backup log is in: two viewers with
        different backup folders would otherwise both write one database, and the second answer to
        a case (same judgment id) would be acknowledged and then dropped."""
        try:
            import fcntl
        except ImportError:  # Windows: SQLite's own locking still keeps rows consistent
            return
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SynthguiError(f"reader {self.reader_id}'s session is open in another window or process") from None

    def _release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None
        for fd in (self._backup_fd, self._lock_fd):  # closing the lock file's descriptor drops the lock
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._lock_fd = self._backup_fd = -1

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def _load_or_create_order(self, study) -> list[tuple[str, str]]:
        stored = self._meta("order")
        if stored is not None:
            if self._meta("study_id") != study.study_id:
                raise SynthguiError(f"{self.db_path} belongs to another study ({self._meta('study_id')})")
            return [tuple(x) for x in json.loads(stored)]
        order = [("practice", c) for c in reader_order(study.study_id, self.reader_id,
                                                       [c.case_id for c in study.phase_cases("practice")], "practice")]
        order += [("main", c) for c in reader_order(study.study_id, self.reader_id,
                                                    [c.case_id for c in study.phase_cases("main")], "main")]
        meta = {"study_id": study.study_id, "reader_id": self.reader_id, "order": json.dumps(order),
                "session_uid": uuid.uuid4().hex, "created": now_iso(), "format": "1"}
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", list(meta.items()))
        self.conn.execute("COMMIT")
        return order

    def _reconcile(self) -> int:
        """Bring SQLite and the backup log back to the same set of judgments after a crash."""
        size = os.fstat(self._backup_fd).st_size
        if size:
            with open(self.backup_path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":  # a torn last line: close it so the next append stands alone
                    os.write(self._backup_fd, b"\n")
                    os.fsync(self._backup_fd)
        backed, torn = read_backup(self.backup_path)
        mine = [j for j in backed if j.study_id == self.study_id and j.reader_id == self.reader_id]
        if mine:
            insert_judgments(self.conn, mine)
        in_backup = {j.judgment_id for j in mine}
        missing = [j for j in self.judgments() if j.judgment_id not in in_backup]
        for j in missing:
            self._append_backup(j)
        return torn

    # -- writing ------------------------------------------------------------------------------
    def _append_backup(self, j: Judgment) -> None:
        os.write(self._backup_fd, (json.dumps(asdict(j), separators=(",", ":")) + "\n").encode("utf-8"))
        os.fsync(self._backup_fd)

    def record(self, j: Judgment) -> str:
        """Write a judgment to both logs; when this returns it survives any crash. Returns its id."""
        if j.study_id != self.study_id or j.reader_id != self.reader_id:
            raise SynthguiError("internal: a judgment for another study or reader")
        if (j.phase, j.case_id) not in self._in_order:
            raise SynthguiError(f"case {j.case_id} is not in this reader's {j.phase} order")
        j.session_uid = self.session_uid
        self._append_backup(j)
        insert_judgments(self.conn, [j])
        return j.judgment_id

    def event(self, kind: str, payload: dict | None = None) -> None:
        """Session events (start, resume, quit, display) for the audit trail."""
        self.conn.execute("INSERT INTO events (at, kind, payload) VALUES (?, ?, ?)",
                          (now_iso(), kind, json.dumps(payload or {})))

    # -- reading ------------------------------------------------------------------------------
    def judgments(self) -> list[Judgment]:
        rows = self.conn.execute("SELECT * FROM judgments ORDER BY answered_at, judgment_id").fetchall()
        return [Judgment.from_row(r) for r in rows]

    def answered(self) -> set[tuple[str, str]]:
        rows = self.conn.execute("SELECT phase, case_id FROM judgments").fetchall()
        return {(r[0], r[1]) for r in rows}

    def next_position(self) -> int:
        """Index into ``order`` of the first unanswered case (len(order) when done)."""
        done = self.answered()
        for i, item in enumerate(self.order):
            if item not in done:
                return i
        return len(self.order)

    def latest(self, phase: str, case_id: str) -> Judgment | None:
        row = self.conn.execute("SELECT * FROM judgments WHERE phase=? AND case_id=? ORDER BY revision DESC LIMIT 1",
                                (phase, case_id)).fetchone()
        return None if row is None else Judgment.from_row(row)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.event("quit", {"next": self.next_position()})
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a clean quit leaves one self-contained file
        self._release()

    def __enter__(self) -> "SessionLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
