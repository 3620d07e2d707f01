"""The CRL cache of the clients: validated CRLs keyed by URL, kept until their nextUpdate.

What this module owns: :class:`CRLCache` (what is served from a store and when), the store
protocol :class:`CRLStore` with its entry :class:`StoredCRL` and serialised form, and the
default :class:`MemoryCRLStore`. The persistent stores live in
:mod:`ocspkit.client.crl_stores`. What it must never do: trust a stored entry — every entry
is re-parsed from its DER and, before anything is answered from it, re-validated against the
caller's issuer (a tampered or swapped entry is dropped, never served) — or store a CRL that
did not validate, or perform network I/O.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

from cryptography import x509

from .._time import utc
from ..crl import parse_crl
from ..crl_validate import validate_crl
from ..crlmodels import CRL
from ..errors import (
    CRLExpiredError,
    CRLNotYetValidError,
    CRLStaleError,
    OCSPError,
    StoreError,
)
from ..policy import ValidationPolicy

__all__ = [
    "CRLCache",
    "CRLStore",
    "CachedCRL",
    "MemoryCRLStore",
    "StoredCRL",
    "decode_entry",
    "encode_entry",
]

logger = logging.getLogger("ocspkit.client")

#: How long a store keeps an entry past the CRL's nextUpdate, in seconds: its validators
#: (ETag, Last-Modified) still make the next fetch a cheap conditional GET.
KEEP_EXPIRED = 7 * 24 * 3600.0

_MAGIC = b"ocspkit-crl 1\n"
#: Failures that depend on the time asked about, not on the entry: it is kept.
_TIME_ERRORS = (CRLExpiredError, CRLNotYetValidError, CRLStaleError)


@dataclass(frozen=True)
class StoredCRL:
    """What a :class:`CRLStore` keeps for one URL: the CRL's DER and its HTTP validators.

    :ivar der: the CRL exactly as fetched (and validated).
    :ivar etag: the ``ETag`` the server sent with it, if any.
    :ivar last_modified: the ``Last-Modified`` the server sent with it, if any.
    """

    der: bytes
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class CachedCRL:
    """A stored entry, parsed again from its DER (not validated: see :meth:`CRLCache.get`)."""

    crl: CRL
    etag: str | None = None
    last_modified: str | None = None


@runtime_checkable
class CRLStore(Protocol):
    """Where a :class:`CRLCache` keeps its entries. Methods raise
    :class:`~ocspkit.StoreError` on failure (the cache then treats the entry as missing)."""

    def get(self, url: str) -> StoredCRL | None:
        """The entry of ``url``, or None."""

    def put(self, url: str, entry: StoredCRL, *, ttl: float | None = None) -> None:
        """Store ``entry`` for ``url``; a store may drop it after ``ttl`` seconds."""

    def delete(self, url: str) -> None:
        """Forget the entry of ``url``."""


def encode_entry(url: str, entry: StoredCRL) -> bytes:
    """The serialised form of an entry (persistent stores): a header naming the URL and the
    validators, then the DER."""
    header = {"url": url, "etag": entry.etag, "last_modified": entry.last_modified}
    return _MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + entry.der


def decode_entry(url: str, blob: bytes) -> StoredCRL | None:
    """The entry in ``blob`` if it is well-formed and names ``url``, else None."""
    if not blob.startswith(_MAGIC):
        return None
    head, sep, der = blob[len(_MAGIC) :].partition(b"\n")
    if not sep or not der:
        return None
    try:
        header = json.loads(head)
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("url") != url:
        return None
    etag, modified = header.get("etag"), header.get("last_modified")
    if not all(v is None or isinstance(v, str) for v in (etag, modified)):
        return None
    return StoredCRL(der, etag, modified)


class MemoryCRLStore:
    """Entries in this process's memory (the default store): a bounded LRU, thread-safe.

    :param max_entries: how many URLs to keep; the least recently used go first.
    """

    def __init__(self, max_entries: int = 256) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, not {max_entries!r}")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, StoredCRL] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, url: str) -> StoredCRL | None:
        """The entry of ``url``, or None."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None:
                self._entries.move_to_end(url)
            return entry

    def put(self, url: str, entry: StoredCRL, *, ttl: float | None = None) -> None:
        """Keep ``entry`` (``ttl`` is ignored: the cache checks nextUpdate on every read)."""
        with self._lock:
            self._entries[url] = entry
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete(self, url: str) -> None:
        """Forget the entry of ``url``."""
        with self._lock:
            self._entries.pop(url, None)


def is_fresh(crl: CRL, now: datetime | None) -> bool:
    """True while ``now`` (default: the current time) is before the CRL's nextUpdate."""
    return crl.next_update is not None and utc(now) < crl.next_update


class CRLCache:
    """Validated CRLs keyed by the URL they were fetched from, kept until their nextUpdate.

    A client stores a CRL here only after :func:`ocspkit.validate_crl` accepted it, with the
    server's ``ETag`` and ``Last-Modified``; ``fetch_crl`` answers from the cache without a
    request while the CRL is before its nextUpdate and still validates, and revalidates an
    expired one with a conditional GET. Every read parses the stored DER again and is
    validated before use, so an entry that was tampered with in a shared store is dropped.

    :param store: where entries live: a :class:`MemoryCRLStore` of this cache by default, or
        a :class:`~ocspkit.DirectoryCRLStore` (survives restarts) or
        :class:`~ocspkit.RedisCRLStore` (shared by a fleet).
    :param max_entries: the size of the default memory store (ignored with ``store``).

    A store that fails (:class:`~ocspkit.StoreError`) is logged on the ``ocspkit.client``
    logger and treated as empty: the CRL is fetched instead.
    """

    def __init__(self, store: CRLStore | None = None, *, max_entries: int = 256) -> None:
        if store is not None and not isinstance(store, CRLStore):
            raise TypeError(f"store must be a CRL store, not {type(store).__name__}")
        #: The store the entries live in.
        self.store: CRLStore = store if store is not None else MemoryCRLStore(max_entries)

    def lookup(self, url: str) -> CachedCRL | None:
        """The entry of ``url`` parsed from its DER, **not validated** (an entry that does not
        parse is dropped); use :meth:`get` for a CRL you may rely on."""
        try:
            entry = self.store.get(url)
        except StoreError as exc:
            logger.warning("CRL cache: reading %s failed: %s", url, exc)
            return None
        if entry is None:
            return None
        try:
            crl = parse_crl(entry.der)
        except OCSPError:
            logger.warning("CRL cache: dropping the undecodable entry of %s", url)
            self.delete(url)
            return None
        return CachedCRL(crl, entry.etag, entry.last_modified)

    def get(
        self,
        url: str,
        issuer: x509.Certificate,
        *,
        now: datetime | None = None,
        policy: ValidationPolicy | None = None,
        extra_certs: Sequence[x509.Certificate] = (),
        scope_url: str | None = None,
    ) -> CRL | None:
        """The CRL of ``url`` if one is cached, before its nextUpdate, and validates now
        (``issuer``, ``policy``, ``extra_certs`` as for :func:`ocspkit.validate_crl`, and
        ``scope_url``, default ``url``, as its ``url``); else None. An entry that fails
        validation for another reason than the time (expired, not yet valid, too old for
        the policy) is dropped."""
        cached = self.lookup(url)
        if cached is None:
            return None
        return self.validated(
            url, cached, issuer, now=now, policy=policy, extra_certs=extra_certs,
            scope_url=scope_url,
        )  # fmt: skip

    def validated(
        self,
        url: str,
        cached: CachedCRL,
        issuer: x509.Certificate,
        *,
        now: datetime | None,
        policy: ValidationPolicy | None,
        extra_certs: Sequence[x509.Certificate],
        scope_url: str | None = None,
    ) -> CRL | None:
        """``cached`` validated for serving without a request, or None (see :meth:`get`)."""
        if not is_fresh(cached.crl, now):
            return None
        try:
            return validate_crl(
                cached.crl, issuer, url=scope_url or url, now=now, policy=policy,
                extra_certs=extra_certs,
            )  # fmt: skip
        except _TIME_ERRORS:
            return None
        except OCSPError as exc:
            logger.warning("CRL cache: dropping the entry of %s: %s", url, exc)
            self.delete(url)
            return None

    def put(
        self,
        url: str,
        crl: CRL,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Remember ``crl`` (already validated) for ``url`` with the server's validators."""
        ttl: float | None = None
        if crl.next_update is not None:
            left = (crl.next_update - datetime.now(timezone.utc)).total_seconds()
            ttl = max(1.0, left + KEEP_EXPIRED)
        try:
            self.store.put(url, StoredCRL(crl.der, etag, last_modified), ttl=ttl)
        except StoreError as exc:
            logger.warning("CRL cache: storing %s failed: %s", url, exc)

    def delete(self, url: str) -> None:
        """Forget the entry of ``url``."""
        try:
            self.store.delete(url)
        except StoreError as exc:
            logger.warning("CRL cache: deleting %s failed: %s", url, exc)

    def lease(self, url: str, ttl: float) -> str | None:
        """The fetch lease of ``url`` for ``ttl`` seconds, for a store shared by a fleet (one
        with ``lease``/``release``, as :class:`~ocspkit.RedisCRLStore`): a token while this
        process holds it, None while another member does. Other stores (and a failing one)
        grant it to everyone: ``""``."""
        take = getattr(self.store, "lease", None)
        if take is None:
            return ""
        try:
            token: str | None = take(url, ttl)
        except StoreError as exc:
            logger.warning("CRL cache: the fetch lease of %s failed: %s", url, exc)
            return ""
        return token

    def release(self, url: str, token: str) -> None:
        """Give back a lease that :meth:`lease` granted (a no-op for ``""``)."""
        give = getattr(self.store, "release", None)
        if token and give is not None:
            try:
                give(url, token)
            except StoreError as exc:
                logger.warning("CRL cache: releasing the lease of %s failed: %s", url, exc)
