"""Atomic file writes: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .errors import SynthguiError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename it over ``target``.

    The temporary file lives in the same folder so the rename stays on one file system (atomic on
    POSIX and Windows). On any error the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _cannot_write_folder(folder, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _apply_umask_mode(tmp)
        os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, SynthguiError):
            raise SynthguiError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes, sync_folder: bool = True) -> None:
    """``atomic_path`` for bytes in hand, with fewer system calls (an export writes thousands of
    files): the temporary file is created with the umask's mode and fsynced through the descriptor
    that wrote it. ``sync_folder=False`` leaves the rename's durability to a later ``sync_folder``
    call (an export syncs its folders before each fsync of its journal)."""
    target = Path(target)
    tmp = _temp_name(target)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _cannot_write_folder(target.parent, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        if sync_folder:
            _fsync_dir(target.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, SynthguiError):
            raise SynthguiError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


def link_atomic(source: str | os.PathLike, target: str | os.PathLike, sync_folder: bool = True) -> bool:
    """Publish ``target`` as a hard link to ``source``, a file already written (and fsynced) whose
    bytes it must hold; False when links are not possible there (FAT, some network shares) or
    ``source`` is gone, so the caller writes the bytes instead."""
    target = Path(target)
    tmp = _temp_name(target)
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        os.replace(tmp, target)
        if sync_folder:
            _fsync_dir(target.parent)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


_names = itertools.count()


def _temp_name(target: Path) -> Path:
    """A hidden name beside ``target`` that no other thread or process picks, nor one that crashed
    earlier with the same process id (``.NAME.PID-N-RANDOM.tmp``)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{next(_names)}-{secrets.token_hex(4)}.tmp")


def _cannot_write_folder(folder: Path, exc: OSError) -> SynthguiError:
    if isinstance(exc, PermissionError):
        return SynthguiError(f"cannot write to {folder}: permission denied")
    return SynthguiError(f"cannot write to {folder}: {exc.strerror or exc}")


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_with_atomic(target: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Run ``writer(tmp_path)`` (e.g. a library's save function) and publish the result atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _apply_umask_mode(path: Path) -> None:
    """mkstemp makes owner-only files; published files get the mode a plain open() would give."""
    if os.name != "nt":
        os.chmod(path, 0o666 & ~_UMASK)


def sync_folder(folder: str | os.PathLike) -> None:
    """Make the renames into ``folder`` so far durable (see ``write_bytes_atomic``)."""
    _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not possible (nor needed) on Windows."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
