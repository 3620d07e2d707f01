"""The optional response cache: keyed by full CertID and URL, served only while still valid."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

import ocspkit
from ocspkit import CertStatus, ExpiredResponseError, NonceRule, ValidationPolicy
from ocspkit.client import AsyncClient, Client, ResponseCache
from ocspkit.testing import CA, Leaf, Responder

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


@pytest.fixture
def leaf(pki: tuple[CA, Responder]) -> Leaf:
    ca, responder = pki
    return ca.issue("cache.test", ocsp_url=responder.url)


def test_second_check_is_served_from_cache(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, responder = pki
    with Client(cache=True) as client:
        first = client.check(leaf.cert, ca.issuer)
        before = responder.requests
        second = client.check(leaf.cert, ca.issuer)
        assert responder.requests == before
        assert client.cache is not None and len(client.cache) == 1
    assert second.status is first.status is CertStatus.GOOD
    assert second.response.der == first.response.der


def test_cache_is_off_by_default(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, responder = pki
    with Client() as client:
        assert client.cache is None
        client.check(leaf.cert, ca.issuer)
        before = responder.requests
        client.check(leaf.cert, ca.issuer)
        assert responder.requests == before + 1


def test_expired_entry_is_not_served(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    """At a `now` past nextUpdate the cached answer is dropped and the responder asked again."""
    ca, responder = pki
    with Client(cache=True) as client:
        first = client.check(leaf.cert, ca.issuer)
        assert first.next_update is not None
        later = first.next_update + timedelta(hours=1)
        before = responder.requests
        with pytest.raises(ExpiredResponseError):  # the fresh answer is also stale by then
            client.check(leaf.cert, ca.issuer, now=later)
        assert responder.requests == before + 1
        assert client.cache is not None and len(client.cache) == 0


def test_revocation_is_seen_after_expiry_only(pki: tuple[CA, Responder]) -> None:
    """A cached GOOD stays GOOD while valid (that is what caching means), and the cache is per
    CertID: another hash algorithm is another entry."""
    ca, responder = pki
    leaf = ca.issue("cache-revoke.test", ocsp_url=responder.url)
    with Client(cache=True) as client:
        assert client.check(leaf.cert, ca.issuer).good
        ca.revoke(leaf.cert)
        assert client.check(leaf.cert, ca.issuer).good  # served from cache
        fresh = client.check(leaf.cert, ca.issuer, hash_algorithm="sha256")
        assert fresh.revoked  # a different CertID: asked afresh
        assert client.cache is not None and len(client.cache) == 2


def test_cache_is_keyed_by_cert(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, responder = pki
    other = ca.issue("cache-other.test", ocsp_url=responder.url)
    with Client(cache=True) as client:
        client.check(leaf.cert, ca.issuer)
        before = responder.requests
        assert client.check(other.cert, ca.issuer).good
        assert responder.requests == before + 1


def test_required_nonce_bypasses_cache(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, responder = pki
    strict = ValidationPolicy(nonce=NonceRule.REQUIRED)
    with Client(cache=True) as client:
        client.check(leaf.cert, ca.issuer)
        before = responder.requests
        assert client.check(leaf.cert, ca.issuer, policy=strict).good
        assert responder.requests == before + 1


def test_lru_bound() -> None:
    with pytest.raises(ValueError):
        ResponseCache(0)
    cache = ResponseCache(max_entries=2)
    response = ocspkit.build_error_response(ocspkit.ResponseStatus.TRY_LATER)
    ids = [ocspkit.CertID("sha1", b"n" * 20, b"k" * 20, serial) for serial in range(3)]
    for cid in ids:
        cache.put(cid, "http://h/", response)
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_shared_cache_between_sync_and_async(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, responder = pki
    shared = ResponseCache()
    with Client(cache=shared) as client:
        client.check(leaf.cert, ca.issuer)
    before = responder.requests

    async def go() -> ocspkit.ValidationResult:
        async with AsyncClient(cache=shared) as client:
            return await client.check(leaf.cert, ca.issuer)

    assert asyncio.run(go()).good
    assert responder.requests == before
