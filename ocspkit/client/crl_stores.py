"""The persistent CRL stores: a directory (survives restarts) and Redis (shared by a fleet).

What this module owns: where and how :class:`~ocspkit.CRLCache` entries are kept outside the
process — one file per URL written atomically, or one Redis key per URL that expires a while
after the CRL's nextUpdate. What it must never do: vouch for what it returns (the cache
re-parses and re-validates every entry it reads), follow a symlink or block on a special
file, or import ``redis`` before a :class:`RedisCRLStore` is made.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .crl_cache import StoredCRL, decode_entry, encode_entry
from .storage import LEASE_RELEASE, atomic_write, clean_temps, import_redis, read_regular

__all__ = ["DirectoryCRLStore", "RedisCRLStore"]

#: Room for the entry's header (URL and validators) on top of the CRL itself.
_HEADER_ROOM = 64 * 1024


def url_key(url: str) -> str:
    """The store key of ``url``: the hex SHA-256 of its text (safe as a file name)."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


class DirectoryCRLStore:
    """One file per URL (``<sha256 of the URL>.crl``) in a directory: survives restarts.

    Each file holds the URL, the validators and the DER, written atomically (temporary file,
    fsync, rename, fsync of the directory), so a crash leaves the old entry or the new one.
    Files are read without following symlinks or blocking, only if they are regular files
    of at most ``max_size`` bytes (plus the header), and only if they name the URL asked for;
    anything else reads as missing. Several processes may share the directory.

    :param path: the directory (created if missing).
    :param mode: permission bits of the files.
    :param max_size: the largest CRL read back, in bytes (as ``ClientConfig.max_crl_size``).
    :param stale_temp_age: temporary files of crashed writers older than this many seconds
        are removed at start.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: int = 0o644,
        max_size: int = 64 * 1024 * 1024,
        stale_temp_age: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.mode = mode
        self.max_size = max_size
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create CRL store directory {str(self.path)!r}: {exc}"
            ) from exc
        clean_temps(self.path, stale_temp_age)

    def file_for(self, url: str) -> Path:
        """The file that holds the entry of ``url``."""
        return self.path / f"{url_key(url)}.crl"

    def get(self, url: str) -> StoredCRL | None:
        """The entry of ``url``, or None (missing, unreadable as an entry, or another URL's)."""
        try:
            blob = read_regular(self.file_for(url), self.max_size + _HEADER_ROOM)
        except OSError as exc:
            raise StoreError(
                f"cannot read the CRL of {url} from {str(self.path)!r}: {exc}"
            ) from exc
        return decode_entry(url, blob) if blob else None

    def put(self, url: str, entry: StoredCRL, *, ttl: float | None = None) -> None:
        """Atomically replace the entry of ``url`` (``ttl`` is ignored)."""
        try:
            atomic_write(self.file_for(url), encode_entry(url, entry), mode=self.mode)
        except OSError as exc:
            raise StoreError(f"cannot write the CRL of {url} to {str(self.path)!r}: {exc}") from exc

    def delete(self, url: str) -> None:
        """Remove the entry of ``url``."""
        try:
            self.file_for(url).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete the CRL of {url}: {exc}") from exc


class RedisCRLStore:
    """Entries in Redis under ``<prefix><sha256 of the URL>``: one copy for a fleet.

    The first process of the fleet that fetches a CRL stores it; the others read it (and
    re-validate it) instead of fetching, until its nextUpdate. Each key expires a week after
    the CRL's nextUpdate (its validators keep the next fetch conditional until then).

    :param url_or_client: a ``redis://`` / ``rediss://`` / ``unix://`` URL, or an existing
        ``redis.Redis`` client.
    :param prefix: key prefix, to share one Redis between applications.
    :param timeout: socket connect and read timeout in seconds (with a URL).

    Raises :class:`~ocspkit.MissingDependencyError` when the ``redis`` package is missing
    (``pip install 'ocspkit[redis]'``), :class:`~ocspkit.StoreError` for an invalid URL.
    """

    def __init__(
        self,
        url_or_client: Any = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "ocspkit:crl:",
        timeout: float = 5.0,
    ) -> None:
        redis = import_redis("RedisCRLStore")
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        client = url_or_client
        if isinstance(url_or_client, str):
            try:
                client = redis.Redis.from_url(
                    url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout
                )
            except ValueError as exc:
                raise StoreError(f"invalid Redis URL {url_or_client!r}: {exc}") from exc
        self._redis: Any = client
        self.prefix = prefix

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreError(f"Redis {what} failed: {exc}") from exc

    def key_for(self, url: str) -> str:
        """The Redis key of ``url``."""
        return self.prefix + url_key(url)

    def get(self, url: str) -> StoredCRL | None:
        """The entry of ``url``, or None."""
        value = self._call("GET", self._redis.get, self.key_for(url))
        return decode_entry(url, bytes(value)) if value else None

    def put(self, url: str, entry: StoredCRL, *, ttl: float | None = None) -> None:
        """Store ``entry``; Redis drops it after ``ttl`` seconds when given."""
        blob = encode_entry(url, entry)
        if ttl is not None and ttl > 0:
            self._call("SET", self._redis.set, self.key_for(url), blob, px=max(1, int(ttl * 1000)))
        else:
            self._call("SET", self._redis.set, self.key_for(url), blob)

    def delete(self, url: str) -> None:
        """Remove the entry of ``url``."""
        self._call("DEL", self._redis.delete, self.key_for(url))

    def lease(self, url: str, ttl: float) -> str | None:
        """``SET NX PX``: a token if this process now holds the fetch lease of ``url`` (the
        other members wait for its copy instead of fetching), else None."""
        token = secrets.token_hex(16)
        name = self.prefix + "lease:" + url_key(url)
        ok = self._call("SET NX", self._redis.set, name, token, nx=True, px=max(1, int(ttl * 1000)))
        return token if ok else None

    def release(self, url: str, token: str) -> None:
        """Release the lease of ``url`` if ``token`` still holds it."""
        name = self.prefix + "lease:" + url_key(url)
        self._call("EVAL", self._redis.eval, LEASE_RELEASE, 1, name, token)
