"""The bounded caches of the pure core, all in one place, keyed by bytes.

Owns memoisation of pure functions of DER bytes: a certificate's slices, issuer hashes, an
issuer's proof, a delegate's checks, a decoded response, a CRL's proved signature, and what the
encoder writes again and again (OIDs; a CertID's hash algorithm and issuer hashes). Keys are
DER bytes (or the values they encode), so a certificate decoded afresh from the same bytes
hits, and a cached value can never outlive the meaning of its key. Two fronts stand before the
certificate slices: ``certs.by_signature`` is keyed by a certificate's signature value, and
every hit is confirmed by comparing the certificates' contents, so it too answers only for the
same bytes; ``certs.by_object`` is keyed by a certificate object's ``id()`` and holds that
object, so the id cannot be reused while the entry lives and a hit is that very object. Each
cache is emptied when full (a hit stays one dict read). Values must be immutable. Must never
hold anything that depends on the clock, the network or a caller's policy unless that policy is
part of the key.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["CACHES", "BoundedCache", "clear_all"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict of at most ``size`` entries, emptied when full, registered in :data:`CACHES`
    under ``name`` (so that every cache of the package is listed, sized and cleared here)."""

    __slots__ = ("_data", "_size", "name")

    def __init__(self, name: str, size: int) -> None:
        if name in CACHES:
            raise ValueError(f"a cache named {name!r} exists already")
        self._data: dict[K, V] = {}
        self._size = size
        self.name = name
        CACHES[name] = self

    def get(self, key: K) -> V | None:
        """The cached value, or None."""
        return self._data.get(key)

    def put(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` and return it."""
        data = self._data
        if len(data) >= self._size:
            data.clear()
        data[key] = value
        return value

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


#: Every cache of the package, by name: the one place that knows them all.
CACHES: dict[str, BoundedCache[Any, Any]] = {}


def clear_all() -> None:
    """Empty every cache (benchmarks measuring cold paths, tests of the uncached paths)."""
    for cache in CACHES.values():
        cache.clear()
