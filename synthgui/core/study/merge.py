"""Combine reader session files (from one or many machines) without counting anything twice."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SynthguiError
from .session_log import Judgment, connect, insert_judgments, now_iso, read_backup


@dataclass
class MergeResult:
    study_id: str
    judgments: list[Judgment]
    sources: list[Path]
    duplicates: int = 0  # the same judgment seen in more than one file (a copied session): counted once
    conflicts: list[str] = field(default_factory=list)  # same id, different answer: the earlier one is kept
    notes: list[str] = field(default_factory=list)  # files read another way than asked (a backup for a database)


def session_files(paths: list[Path]) -> list[Path]:
    """Expand study folders and session folders into their session files: each reader's .sqlite,
    or the .jsonl backup log where no database is beside it (a backup kept on another drive)."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            folder = p / "sessions" if (p / "sessions").is_dir() else p
            databases = sorted(folder.glob("*.sqlite"))
            found += databases
            have = {d.with_suffix("") for d in databases}
            found += [b for b in sorted(folder.glob("*.jsonl")) if b.with_suffix("") not in have]
        elif p.is_file():
            found.append(p)
        else:
            raise SynthguiError(f"no such session file or folder: {p}")
    if not found:
        raise SynthguiError("no session files found (a reader's session is sessions/<reader>.sqlite)")
    return found


def _read_database(path: Path) -> tuple[dict, list[Judgment]]:
    """Meta and judgments of a session database, read from a private copy (with its -wal file, if
    any): opening the file where it lies would need write access beside it (SQLite makes a -shm
    file for a WAL database even to read it), which a CD, a read-only share or another user's
    folder does not give."""
    with tempfile.TemporaryDirectory(prefix="synthgui-session-") as tmp:
        copy = Path(tmp) / "session.sqlite"
        shutil.copyfile(path, copy)
        wal = Path(f"{path}-wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{copy}-wal"))
        conn = sqlite3.connect(copy)
        conn.row_factory = sqlite3.Row
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            rows = [Judgment.from_row(r) for r in conn.execute("SELECT * FROM judgments").fetchall()]
        finally:
            conn.close()
    return meta, rows


def read_session_file(path: Path, notes: list[str] | None = None) -> tuple[str | None, list[Judgment]]:
    """Judgments of one file, plus those only its JSONL backup holds (a crash between the two
    writes). A database that cannot be read (copied without its -wal file after a crash, before
    SQLite wrote anything into the main file) is replaced by its backup log, with a note."""
    path = Path(path)
    backup = path.with_suffix(".jsonl")
    if path.suffix == ".jsonl":
        meta, rows = {}, []
    else:
        try:
            meta, rows = _read_database(path)
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if not backup.exists():
                raise SynthguiError(f"{path} is not a readable session file ({reason})") from None
            meta, rows = {}, []
            if notes is not None:
                notes.append(f"{path} is not readable ({reason}); read its backup log {backup.name} instead")
    if backup.exists():
        have = {j.judgment_id for j in rows}
        extra, _ = read_backup(backup)
        reader = meta.get("reader_id") or (rows[0].reader_id if rows else None)
        study = meta.get("study_id")  # a backup folder shared by one reader's studies holds them all
        rows += [j for j in extra if j.judgment_id not in have and (reader is None or j.reader_id == reader)
                 and (study is None or j.study_id == study)]
    return meta.get("study_id"), rows


def collect(paths: list[Path]) -> MergeResult:
    files = session_files(paths)
    by_id: dict[str, Judgment] = {}
    study_ids: set[str] = set()
    result = MergeResult("", [], files)
    for f in files:
        study_id, rows = read_session_file(f, result.notes)
        if study_id:
            study_ids.add(study_id)
        for j in rows:
            study_ids.add(j.study_id)
            old = by_id.get(j.judgment_id)
            if old is None:
                by_id[j.judgment_id] = j
            elif _same(old, j):
                result.duplicates += 1
            else:
                keep, drop = sorted([old, j], key=lambda x: x.answered_at)
                by_id[j.judgment_id] = keep
                result.conflicts.append(f"{j.judgment_id}: kept {keep.call} answered {keep.answered_at}, "
                                        f"dropped {drop.call} answered {drop.answered_at}")
    if len(study_ids) > 1:
        raise SynthguiError(f"session files from different studies: {', '.join(sorted(study_ids))}")
    result.study_id = study_ids.pop() if study_ids else ""
    result.judgments = sorted(by_id.values(), key=lambda j: (j.reader_id, j.phase, j.seq, j.revision))
    return result


def _same(a: Judgment, b: Judgment) -> bool:
    keys = ("call", "confidence", "diagnosis", "note", "timed_out", "seq")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def merge_sessions(paths: list[Path], out: Path) -> MergeResult:
    """Write every distinct judgment into one session-format file that ``analyze`` reads like any other."""
    result = collect(paths)
    out = Path(out)
    if out.exists():
        raise SynthguiError(f"{out} exists; merging never overwrites a file")
    if any(out.resolve() == f.resolve() for f in result.sources):
        raise SynthguiError("the merged file must not be one of the inputs")
    tmp = out.with_name(f".{out.name}.tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    conn = connect(tmp)
    try:
        meta = {"study_id": result.study_id, "reader_id": "*merged*", "created": now_iso(),
                "merged_from": "\n".join(str(s) for s in result.sources), "format": "1"}
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(meta.items()))
        conn.execute("COMMIT")
        insert_judgments(conn, result.judgments)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    tmp.replace(out)
    return result
