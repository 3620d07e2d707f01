"""Storage primitives shared by the client's CRL stores and the stapler's staple stores.

What this module owns: crash-safe file replacement (a reader sees the old file or the new one,
never a mix), reading a file descriptor with a size cap, and the import of the optional
``redis`` client. It lives in the client layer so that both the client (CRL stores) and the
stapler above it use one copy. What it must never do: decide what is stored, or interpret
what it reads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError

__all__ = [
    "LEASE_RELEASE",
    "NOFOLLOW",
    "READ_FLAGS",
    "TEMP_PREFIX",
    "atomic_write",
    "clean_temps",
    "import_redis",
    "read_capped",
    "read_regular",
]

#: Name prefix of the temporary files (ignored by readers, cleaned up by directory stores).
TEMP_PREFIX = ".ocspkit-tmp-"


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    A temporary file in the same directory is written, flushed and fsync'ed, given ``mode``,
    renamed over ``path`` (atomic on POSIX), and the directory is fsync'ed so the rename
    survives a power loss. A crash at any point leaves either the old or the new content.
    Raises :class:`OSError` on failure (the temporary file is removed).
    """
    target = Path(path)
    directory = target.parent
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def clean_temps(directory: Path, age: float) -> None:
    """Remove the temporary files of crashed writers in ``directory`` older than ``age`` s."""
    cutoff = time.time() - age
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            if entry.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        entry.unlink()


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(dfd)


def read_capped(fd: int, limit: int) -> bytes | None:
    """Read ``fd`` to EOF; None if it holds more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


#: Open flags that never follow a symlink nor leak the descriptor into a child.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
#: Reading flags that also never block (on a FIFO planted in a store).
READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | NOFOLLOW


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The content of ``path`` if it is a regular file of at most ``limit`` bytes, else None
    (missing, a symlink, a FIFO or device, a directory, too large). Opened without following
    a symlink and without blocking. Raises :class:`OSError` for other failures."""
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return read_capped(fd, limit)
    finally:
        os.close(fd)


#: Redis Lua: delete a lease only if it still holds our token (a lease that expired and was
#: taken by another process must not be released by us). KEYS[1] the lease, ARGV[1] the token.
LEASE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def import_redis(what: str) -> Any:
    """The ``redis`` module, or :class:`~ocspkit.MissingDependencyError` naming ``what``
    needs it."""
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the 'redis' package: pip install 'ocspkit[redis]'"
        ) from exc
    return redis
