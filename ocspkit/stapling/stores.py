"""Where staples are kept between refreshes, restarts and processes.

A store holds raw DER responses by key and offers a *fetch lease*: before fetching, a stapler
asks for the lease of a key, and only the holder fetches; the others wait for its result. Stores
never validate: the stapler validates everything it reads from a store before serving it, so a
corrupted, truncated or foreign entry is simply ignored (and replaced by the next fetch).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..client.storage import NOFOLLOW as _NOFOLLOW
from ..client.storage import READ_FLAGS as _READ_FLAGS
from ..client.storage import clean_temps, read_capped
from ..errors import StoreError
from ._files import TEMP_PREFIX, atomic_write
from .events import logger

__all__ = ["MAX_STAPLE_SIZE", "DirectoryStore", "MemoryStore", "StapleStore", "check_key"]

#: The largest staple file :class:`DirectoryStore` reads (bytes); larger files are ignored.
#: Real OCSP responses are a few KiB (with an embedded responder certificate).
MAX_STAPLE_SIZE = 64 * 1024


_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe store key (letters, digits, ``_ . -``; <= 200 chars),
    else raise :class:`~ocspkit.stapling.StoreError`."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise StoreError(f"invalid store key {key!r}")
    return key


@runtime_checkable
class StapleStore(Protocol):
    """What a staple store provides. Every method may raise
    :class:`~ocspkit.stapling.StoreError`."""

    def get(self, key: str) -> bytes | None:
        """The DER stored under ``key``, or None."""
        ...

    def put(self, key: str, der: bytes, *, ttl: float | None = None) -> None:
        """Store ``der`` under ``key``; ``ttl`` (seconds) is a hint after which it is useless."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""
        ...

    def acquire(self, key: str, ttl: float) -> bool:
        """Take the fetch lease of ``key`` for at most ``ttl`` seconds; False if another
        holder has it."""
        ...

    def release(self, key: str) -> None:
        """Give the fetch lease of ``key`` back (no error if not held)."""
        ...


class MemoryStore:
    """A store in this process's memory: fast, private, forgotten at exit.

    Its leases coordinate staplers (or threads) of one process that share the instance.
    """

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._leases: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The DER stored under ``key``, or None."""
        return self._data.get(check_key(key))

    def put(self, key: str, der: bytes, *, ttl: float | None = None) -> None:
        """Store ``der`` under ``key`` (``ttl`` is ignored)."""
        self._data[check_key(key)] = bytes(der)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._data.pop(check_key(key), None)

    def acquire(self, key: str, ttl: float) -> bool:
        """Take the lease of ``key`` unless an unexpired one is held."""
        check_key(key)
        now = time.monotonic()
        with self._lock:
            if self._leases.get(key, 0.0) > now:
                return False
            self._leases[key] = now + ttl
            return True

    def release(self, key: str) -> None:
        """Give the lease of ``key`` back."""
        with self._lock:
            self._leases.pop(key, None)

    def keys(self) -> list[str]:
        """The keys stored."""
        return sorted(self._data)


class DirectoryStore:
    """One file per staple (``<key>.der``) in a directory: survives restarts.

    Writes are atomic and durable (temporary file in the same directory, fsync, rename, fsync of
    the directory), so a crash — even ``kill -9`` in the middle of a write — leaves the old
    staple or the new one, never a torn file. Leftover temporary files of crashed writers are
    ignored, and removed at start once older than ``stale_temp_age`` seconds. The fetch lease is
    an exclusive ``flock`` on ``<key>.lock``, released by the kernel if the holder dies, so
    several processes may share one directory. A ``flock`` has no TTL: a holder that hangs
    (alive, but stuck) keeps it, so a :class:`~ocspkit.Stapler` that has found the lease
    taken for longer than its lease TTL (``StaplerOptions.lease_ttl``) fetches without it.
    Staple files are read without following symlinks or blocking, and only if they are
    regular files of at most :data:`MAX_STAPLE_SIZE` bytes.

    :param path: the directory (created if missing).
    :param mode: permission bits of staple files.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, mode: int = 0o644, stale_temp_age: float = 60.0
    ) -> None:
        self.path = Path(path)
        self.mode = mode
        self._locks: dict[str, int] = {}
        self._mutex = threading.Lock()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {str(self.path)!r}: {exc}") from exc
        self._clean_temps(stale_temp_age)

    def _clean_temps(self, age: float) -> None:
        clean_temps(self.path, age)

    def _file(self, key: str) -> Path:
        return self.path / f"{check_key(key)}.der"

    def get(self, key: str) -> bytes | None:
        """The content of ``<key>.der``, or None if missing, empty or not a plain staple file.

        The file is opened without following a symlink and without blocking (a FIFO or a
        device planted there must not hang the stapler), must be a regular file, and is read
        up to :data:`MAX_STAPLE_SIZE` bytes: anything else is ignored (and replaced by the next
        fetch), never served.
        """
        path = self._file(key)
        try:
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):  # symlink, socket, ...
                logger.warning("ignoring staple file %s: %s", path, exc.strerror)
                return None
            raise StoreError(f"cannot read staple {key!r} from {str(self.path)!r}: {exc}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                logger.warning("ignoring staple file %s: not a regular file", path)
                return None
            data = read_capped(fd, MAX_STAPLE_SIZE)
        except OSError as exc:
            raise StoreError(f"cannot read staple {key!r} from {str(self.path)!r}: {exc}") from exc
        finally:
            os.close(fd)
        if data is None:
            logger.warning("ignoring staple file %s: larger than %d bytes", path, MAX_STAPLE_SIZE)
            return None
        return data or None

    def put(self, key: str, der: bytes, *, ttl: float | None = None) -> None:
        """Atomically replace ``<key>.der`` with ``der`` (``ttl`` is ignored)."""
        try:
            atomic_write(self._file(key), bytes(der), mode=self.mode)
        except OSError as exc:
            raise StoreError(f"cannot write staple {key!r} to {str(self.path)!r}: {exc}") from exc

    def delete(self, key: str) -> None:
        """Remove ``<key>.der``."""
        try:
            self._file(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete staple {key!r}: {exc}") from exc

    def keys(self) -> list[str]:
        """The keys with a staple file."""
        return sorted(
            p.name[:-4]
            for p in self.path.glob("*.der")
            if not p.name.startswith(TEMP_PREFIX) and _KEY.fullmatch(p.name[:-4])
        )

    def acquire(self, key: str, ttl: float) -> bool:
        """Take an exclusive, non-blocking ``flock`` on ``<key>.lock``. ``ttl`` is not
        enforced here: the kernel drops the lock when its holder exits, and the stapler stops
        waiting for a lease held past its TTL."""
        lock_path = self.path / f"{check_key(key)}.lock"
        with self._mutex:
            if key in self._locks:
                return False
            try:
                fd = os.open(
                    lock_path,
                    os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW,
                    0o644,
                )
            except OSError as exc:
                raise StoreError(f"cannot open lock file {str(lock_path)!r}: {exc}") from exc
            import fcntl  # POSIX only; imported here so the module loads everywhere

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._locks[key] = fd
            return True

    def release(self, key: str) -> None:
        """Drop the ``flock`` of ``key``."""
        with self._mutex:
            fd = self._locks.pop(key, None)
        if fd is not None:
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
