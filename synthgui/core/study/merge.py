"""Combine reader session files (from one or many machines) without counting anything twice."""

from __future__ import annotations

import contextlib
import sqlite3
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


def session_files(paths: list[Path]) -> list[Path]:
    """Expand study folders and session folders into their .sqlite session files."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            folder = p / "sessions" if (p / "sessions").is_dir() else p
            found += sorted(folder.glob("*.sqlite"))
        elif p.is_file():
            found.append(p)
        else:
            raise SynthguiError(f"no such session file or folder: {p}")
    if not found:
        raise SynthguiError("no session files found (a reader's session is sessions/<reader>.sqlite)")
    return found


def read_session_file(path: Path) -> tuple[str | None, list[Judgment]]:
    """Judgments of one file, plus those only its JSONL backup holds (a crash between the two writes)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            rows = [Judgment.from_row(r) for r in conn.execute("SELECT * FROM judgments").fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise SynthguiError(f"{path} is not a readable session file ({exc})") from None
    backup = path.with_suffix(".jsonl")
    if backup.exists():
        have = {j.judgment_id for j in rows}
        extra, _ = read_backup(backup)
        rows += [j for j in extra if j.judgment_id not in have and (not rows or j.reader_id == rows[0].reader_id)]
    return meta.get("study_id"), rows


def collect(paths: list[Path]) -> MergeResult:
    files = session_files(paths)
    by_id: dict[str, Judgment] = {}
    study_ids: set[str] = set()
    result = MergeResult("", [], files)
    for f in files:
        study_id, rows = read_session_file(f)
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
