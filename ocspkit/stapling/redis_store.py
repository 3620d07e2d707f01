"""RedisStore: one set of staples shared by a fleet of servers, with a fetch lease.

The ``redis`` client is an optional dependency (``pip install ocspkit[redis]``); it is imported
only when a :class:`RedisStore` is created, and its absence raises
:class:`~ocspkit.stapling.MissingDependencyError`.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from typing import Any

from ..client.storage import LEASE_RELEASE, import_redis
from ..errors import StoreError
from .stores import check_key

__all__ = ["RedisStore"]


def _holder() -> tuple[int, int]:
    """Who is taking or releasing a lease: the thread, and the asyncio task if any (a stapler
    acquires and releases a lease in the same thread or task)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop
        task = None
    return threading.get_ident(), 0 if task is None else id(task)


class RedisStore:
    """Staples in Redis under ``<prefix><key>``; leases under ``<prefix>lease:<key>``.

    The lease is ``SET <lease key> <random token> NX PX <ttl>``: only one process of the fleet
    gets it and fetches; the others read the staple it stores. It expires by itself if the
    holder dies, and is released with a compare-and-delete on the token.

    :param url: a ``redis://`` / ``rediss://`` / ``unix://`` URL (ignored if ``client`` given).
    :param client: an existing ``redis.Redis`` client to use instead.
    :param prefix: key prefix, to share one Redis between applications.
    :param timeout: socket connect and read timeout in seconds.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Any = None,
        prefix: str = "ocspkit:staple:",
        timeout: float = 5.0,
    ) -> None:
        redis = import_redis("RedisStore")
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout
                )
            except ValueError as exc:
                raise StoreError(f"invalid Redis URL {url!r}: {exc}") from exc
        self._redis: Any = client
        self.prefix = prefix
        # (key, holder) -> token: two staplers (threads, asyncio tasks) sharing this instance
        # each release only the lease they took
        self._tokens: dict[tuple[str, tuple[int, int]], str] = {}
        self._lock = threading.Lock()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreError(f"Redis {what} failed: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        """The staple stored under ``key``, or None."""
        value = self._call("GET", self._redis.get, self.prefix + check_key(key))
        return bytes(value) if value else None

    def put(self, key: str, der: bytes, *, ttl: float | None = None) -> None:
        """Store ``der``; with ``ttl`` Redis drops it after that many seconds."""
        name = self.prefix + check_key(key)
        if ttl is not None and ttl > 0:
            self._call("SET", self._redis.set, name, bytes(der), px=max(1, int(ttl * 1000)))
        else:
            self._call("SET", self._redis.set, name, bytes(der))

    def delete(self, key: str) -> None:
        """Remove the staple of ``key``."""
        self._call("DEL", self._redis.delete, self.prefix + check_key(key))

    def acquire(self, key: str, ttl: float) -> bool:
        """``SET NX PX``: True if this process now holds the fetch lease of ``key``."""
        token = secrets.token_hex(16)
        name = f"{self.prefix}lease:{check_key(key)}"
        ok = self._call("SET NX", self._redis.set, name, token, nx=True, px=max(1, int(ttl * 1000)))
        if ok:
            with self._lock:
                self._tokens[(key, _holder())] = token
            return True
        return False

    def release(self, key: str) -> None:
        """Release the lease of ``key`` if the caller (this thread or asyncio task) still holds
        it: a lease that expired and was taken by another holder — in this process or another —
        is left alone."""
        with self._lock:
            token = self._tokens.pop((key, _holder()), None)
        if token is not None:
            name = f"{self.prefix}lease:{check_key(key)}"
            self._call("EVAL", self._redis.eval, LEASE_RELEASE, 1, name, token)

    def close(self) -> None:
        """Close the connection pool."""
        self._call("close", self._redis.close)
