"""Atomic file writes: a reader sees the old file or the new one, never a partial one.

The content goes to a temporary file in the target's directory, which is
flushed and ``fsync``-ed, then moved over the target with ``os.replace`` (atomic
on POSIX and Windows within one filesystem), and the directory is ``fsync``-ed
so the rename survives a crash. A failed write removes its temporary file;
one killed mid-write leaves a ``TMP_PREFIX`` file that :func:`remove_temp_files`
deletes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_write", "atomic_write_bytes", "remove_temp_files"]

#: Name prefix of the temporary files (hidden, and recognizable after a crash).
TMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every filesystem
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def process_umask() -> int:
    """The process umask, read without changing it where ``/proc`` allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then restore at once
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Create ``path`` atomically: ``write(tmp)`` fills a temporary file beside it.

    ``write`` receives the temporary file's path (it exists, empty) and writes the
    whole content there; the file is then fsynced, given the permissions of the
    process umask (``0o666 & ~umask``, as ``open`` would give, not ``mkstemp``'s
    private 0600) and renamed over ``path``. The
    parent directory is created if needed. On any error the temporary file is
    removed and the error re-raised. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~process_umask())  # mkstemp's 0600 would hide results from colleagues
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write(path, write)


def remove_temp_files(directory: str | os.PathLike) -> int:
    """Delete leftover temporary files (from a process killed mid-write); return how many."""
    directory = Path(directory)
    count = 0
    if directory.is_dir():
        for p in directory.glob(TMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                p.unlink()
                count += 1
    return count
