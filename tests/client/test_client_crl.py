"""Client.fetch_crl and AsyncClient.fetch_crl against the real ocspkit.testing.CRLServer.

Each case asserts the typed outcome and what the server saw (how many requests, which
conditional headers): the cache answers without a request, an expired copy is asked for
conditionally, and no fault ever turns into a CRL that did not validate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import (
    ContentTypeError,
    CRLCache,
    CRLExpiredError,
    CRLScopeError,
    CRLSignatureError,
    DecodeError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
)
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.testing import CA, CRLFault, CRLServer

pytestmark = pytest.mark.timeout(60)

FAST = {"deadline": 5.0, "timeout": 2.0, "retries": 0}


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def server(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as srv:
        yield srv


def test_fetch_validates_and_lists_the_cas_revocations(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    leaf = ca.issue("crl-fetch.test", crl_url=url)
    ca.revoke(leaf.cert)
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(url, issuer=ca.issuer)
    assert crl.lookup(leaf.cert.serial_number) is not None
    assert crl.der == server.current()
    assert [r.status for r in server.requests] == [200]


def test_without_issuer_the_crl_is_parsed_and_not_cached(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    with Client(ClientConfig(**FAST)) as client:
        first = client.fetch_crl(url)
        second = client.fetch_crl(url)
    assert first.der == second.der == server.current()
    assert len(server.requests) == 2  # nothing validated, so nothing cached


def test_the_cache_answers_without_a_request(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    with Client(ClientConfig(**FAST)) as client:
        first = client.fetch_crl(url, issuer=ca.issuer)
        second = client.fetch_crl(url, issuer=ca.issuer)
    assert second.der == first.der
    assert len(server.requests) == 1


def test_an_expired_copy_is_revalidated_with_a_conditional_get(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    cache = CRLCache()
    with Client(ClientConfig(**FAST), crl_cache=cache) as client:
        crl = client.fetch_crl(url, issuer=ca.issuer)
        assert crl.next_update is not None
        # before nextUpdate: from the cache; just past it: a conditional GET, 304
        later = crl.next_update - timedelta(seconds=1)
        assert client.fetch_crl(url, issuer=ca.issuer, now=later).der == crl.der
        assert len(server.requests) == 1
        past = crl.next_update + timedelta(seconds=30)  # inside the default clock skew
        revalidated = client.fetch_crl(url, issuer=ca.issuer, now=past)
    assert revalidated.der == crl.der
    first, second = server.requests
    assert first.if_none_match is None and first.if_modified_since is None
    assert second.if_none_match is not None and second.if_modified_since is not None
    assert second.status == 304


def test_a_304_never_extends_a_crl_past_its_next_update(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(url, issuer=ca.issuer)
        assert crl.next_update is not None
        with pytest.raises(CRLExpiredError):
            client.fetch_crl(url, issuer=ca.issuer, now=crl.next_update + timedelta(hours=1))
    assert server.requests[-1].status == 304


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (CRLFault.EXPIRED, CRLExpiredError),
        (CRLFault.WRONG_PARTITION, CRLScopeError),
        (CRLFault.BAD_SIGNATURE, CRLSignatureError),
        (CRLFault.WRONG_CONTENT_TYPE, ContentTypeError),
        (CRLFault.GARBAGE, DecodeError),
        (CRLFault.HTTP_500, HTTPStatusError),
        (CRLFault.NOT_MODIFIED, HTTPStatusError),
    ],
)
def test_each_fault_is_a_typed_error_and_nothing_is_cached(
    ca: CA, server: CRLServer, fault: CRLFault, error: type[Exception]
) -> None:
    url = server.url_for("/ca.crl")
    server.set_fault("/ca.crl", fault)
    cache = CRLCache()
    with Client(ClientConfig(**FAST), crl_cache=cache) as client:
        with pytest.raises(error):
            client.fetch_crl(url, issuer=ca.issuer)
    assert cache.lookup(url) is None


def test_a_pem_body_of_another_media_type_is_accepted(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.fault = CRLFault.PEM
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(url, issuer=ca.issuer)
    assert crl.der == server.current()


def test_the_size_cap_is_enforced_while_streaming(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.huge_size = 4 * 1024 * 1024
    server.fault = CRLFault.HUGE
    with Client(ClientConfig(max_crl_size=1024 * 1024, **FAST)) as client:
        with pytest.raises(ResponseTooLargeError):
            client.fetch_crl(url, issuer=ca.issuer)


def test_a_slow_drip_ends_at_the_deadline(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.fault = CRLFault.SLOW
    deadline = 1.0
    start = time.monotonic()
    with Client(ClientConfig(deadline=deadline, timeout=deadline, retries=0)) as client:
        with pytest.raises(FetchTimeoutError):
            client.fetch_crl(url, issuer=ca.issuer)
    assert time.monotonic() - start < deadline + 2.0  # a correctness bound, not a benchmark


def test_async_parity(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")

    async def run() -> tuple[bytes, bytes]:
        async with AsyncClient(ClientConfig(**FAST)) as client:
            first = await client.fetch_crl(url, issuer=ca.issuer)
            second = await client.fetch_crl(url, issuer=ca.issuer)
            return first.der, second.der

    first, second = asyncio.run(run())
    assert first == second == server.current()
    assert len(server.requests) == 1


def test_a_published_der_is_served_as_is(ca: CA, server: CRLServer) -> None:
    der = ca.sign_crl(now=datetime.now(timezone.utc)).public_bytes(Encoding.DER)
    server.publish("/static.crl", der)
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(server.url_for("/static.crl"), issuer=ca.issuer)
    assert crl.der == der
    assert isinstance(crl, ocspkit.CRL)
