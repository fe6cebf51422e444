"""Atomic file writes: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
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
    fd, tmp = _create_temp(target)
    os.close(fd)
    with _published(tmp, target, sync_folder=True):
        yield tmp
        with open(tmp, "rb+") as fh:  # the caller's writer closed it: fsync through a new descriptor
            os.fsync(fh.fileno())


def write_bytes_atomic(target: str | os.PathLike, data: bytes, sync_folder: bool = True) -> None:
    """``atomic_path`` for bytes in hand, fsynced through the descriptor that wrote them (an export
    writes thousands of files). ``sync_folder=False`` leaves the rename's durability to a later
    ``sync_folder`` call (an export syncs its folders before each fsync of its journal)."""
    target = Path(target)
    fd, tmp = _create_temp(target)
    with _published(tmp, target, sync_folder):
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``target`` (its folder made if missing), with the mode a
    plain ``open`` would give (the umask applies), and a descriptor open for writing."""
    tmp = _temp_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o666), tmp
    except OSError as exc:
        raise _cannot_write_folder(target.parent, exc) from exc


@contextlib.contextmanager
def _published(tmp: Path, target: Path, sync_folder: bool) -> Iterator[None]:
    """Rename ``tmp`` over ``target`` once the body has filled it; on any error remove ``tmp``,
    leave ``target`` as it was, and say which file could not be written."""
    try:
        yield
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
    name = target.name if len(target.name.encode("utf-8")) <= 200 else target.name[:50]  # file names stop at 255 bytes
    return target.with_name(f".{name}.{os.getpid()}-{next(_names)}-{secrets.token_hex(4)}.tmp")


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
