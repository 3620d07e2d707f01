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
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import (
    ContentEncodingError,
    ContentTypeError,
    CRLCache,
    CRLExpiredError,
    CRLScopeError,
    CRLSignatureError,
    CRLStaleError,
    DecodeError,
    FetchTimeoutError,
    HTTPStatusError,
    MemoryCRLStore,
    ResponseTooLargeError,
    UnsafeURLError,
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


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def fetch_all(
    mode: str, config: ClientConfig, cache: CRLCache, calls: list[dict[str, Any]]
) -> list[Any]:
    """Run ``fetch_crl(**call)`` for each call with one client (sync or async); each result
    is the CRL or the exception raised."""
    results: list[Any] = []
    if mode == "sync":
        with Client(config, crl_cache=cache) as client:
            for call in calls:
                try:
                    results.append(client.fetch_crl(**call))
                except ocspkit.OCSPError as exc:
                    results.append(exc)
        return results

    async def go() -> None:
        async with AsyncClient(config, crl_cache=cache) as client:
            for call in calls:
                try:
                    results.append(await client.fetch_crl(**call))
                except ocspkit.OCSPError as exc:
                    results.append(exc)

    asyncio.run(go())
    return results


@MODES
def test_an_expired_copy_is_revalidated_with_a_conditional_get(
    ca: CA, server: CRLServer, mode: str
) -> None:
    url = server.url_for("/ca.crl")
    cache = CRLCache()
    (crl,) = fetch_all(mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer}])
    assert crl.next_update is not None
    # before nextUpdate: from the cache; just past it: a conditional GET, 304
    before = crl.next_update - timedelta(seconds=1)
    past = crl.next_update + timedelta(seconds=30)  # inside the default clock skew
    calls = [{"url": url, "issuer": ca.issuer, "now": at} for at in (before, past)]
    cached, revalidated = fetch_all(mode, ClientConfig(**FAST), cache, calls)
    assert cached.der == revalidated.der == crl.der
    first, second = server.requests
    assert first.if_none_match is None and first.if_modified_since is None
    assert second.if_none_match is not None and second.if_modified_since is not None
    assert second.status == 304


@MODES
def test_a_304_never_extends_a_crl_past_its_next_update(
    ca: CA, server: CRLServer, mode: str
) -> None:
    url = server.url_for("/ca.crl")
    cache = CRLCache()
    (crl,) = fetch_all(mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer}])
    later = crl.next_update + timedelta(hours=1)
    (error,) = fetch_all(
        mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer, "now": later}]
    )
    assert isinstance(error, CRLExpiredError)
    assert server.requests[-1].status == 304
    # the expired copy stays for the next conditional GET, and is never served
    assert cache.lookup(url) is not None
    assert cache.get(url, ca.issuer, now=later) is None


@MODES
def test_a_new_crl_replaces_an_expired_copy(ca: CA, server: CRLServer, mode: str) -> None:
    url = server.url_for("/ca.crl")
    cache = CRLCache()
    (old,) = fetch_all(mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer}])
    leaf = ca.issue("replaced.test", crl_url=url)
    ca.revoke(leaf.cert)  # the server's CRL changes: its ETag no longer matches
    later = old.next_update + timedelta(seconds=10)
    (new,) = fetch_all(
        mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer, "now": later}]
    )
    assert new.lookup(leaf.cert.serial_number) is not None
    assert server.requests[-1].status == 200 and server.requests[-1].if_none_match
    assert cache.lookup(url).crl.der == new.der  # type: ignore[union-attr]


@MODES
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
    ca: CA, server: CRLServer, fault: CRLFault, error: type[Exception], mode: str
) -> None:
    url = server.url_for("/ca.crl")
    server.set_fault("/ca.crl", fault)
    cache = CRLCache()
    (outcome,) = fetch_all(mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer}])
    assert isinstance(outcome, error), outcome
    assert cache.lookup(url) is None


def test_server_errors_are_retried(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.fault = CRLFault.HTTP_500
    config = ClientConfig(deadline=10.0, timeout=2.0, retries=2, backoff=0.01)
    with Client(config) as client:
        with pytest.raises(HTTPStatusError):
            client.fetch_crl(url, issuer=ca.issuer)
    assert [r.status for r in server.requests] == [500, 500, 500]


def test_a_declared_length_over_the_cap_is_refused_unread(ca: CA, server: CRLServer) -> None:
    server.publish("/big.crl", b"\x30" + bytes(2 * 1024 * 1024))
    with Client(ClientConfig(max_crl_size=1024 * 1024, **FAST)) as client:
        with pytest.raises(ResponseTooLargeError):
            client.fetch_crl(server.url_for("/big.crl"))
    # the OCSP cap does not apply to CRLs: a CRL far above max_response_size is fine
    der = server.current()
    with Client(ClientConfig(max_response_size=len(der) // 2, **FAST)) as client:
        assert client.fetch_crl(server.url_for("/ca.crl"), issuer=ca.issuer).der == der


def test_a_pem_body_of_another_media_type_is_accepted(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.fault = CRLFault.PEM
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(url, issuer=ca.issuer)
    assert crl.der == server.current()


@MODES
def test_the_size_cap_is_enforced_while_streaming(ca: CA, server: CRLServer, mode: str) -> None:
    url = server.url_for("/ca.crl")
    server.huge_size = 4 * 1024 * 1024
    server.fault = CRLFault.HUGE
    config = ClientConfig(max_crl_size=1024 * 1024, **FAST)
    (outcome,) = fetch_all(mode, config, CRLCache(), [{"url": url, "issuer": ca.issuer}])
    assert isinstance(outcome, ResponseTooLargeError)


@MODES
def test_a_slow_drip_ends_at_the_deadline(ca: CA, server: CRLServer, mode: str) -> None:
    url = server.url_for("/ca.crl")
    server.fault = CRLFault.SLOW
    deadline = 1.0
    config = ClientConfig(deadline=deadline, timeout=deadline, retries=0)
    start = time.monotonic()
    (outcome,) = fetch_all(mode, config, CRLCache(), [{"url": url, "issuer": ca.issuer}])
    assert isinstance(outcome, FetchTimeoutError)
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


# -- redirects and the address rules -----------------------------------------------------------


def only_127_0_0_1_is_public(address: str) -> bool:
    return address == "127.0.0.1"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redirect_to_a_private_address_is_refused(ca: CA, mode: str) -> None:
    with CRLServer(ca) as public, CRLServer(ca, host="127.0.0.2") as internal:
        public.redirect("/ca.crl", internal.url_for("/ca.crl"))
        url = public.url_for("/ca.crl")
        config = ClientConfig(is_public=only_127_0_0_1_is_public, **FAST)
        with pytest.raises(UnsafeURLError):
            if mode == "sync":
                with Client(config) as client:
                    client.fetch_crl(url, issuer=ca.issuer)
            else:

                async def go() -> None:
                    async with AsyncClient(config) as client:
                        await client.fetch_crl(url, issuer=ca.issuer)

                asyncio.run(go())
        assert internal.requests == ()  # refused before connecting
        allowed = ClientConfig(
            is_public=only_127_0_0_1_is_public, allow_private_redirects=True, **FAST
        )
        with Client(allowed) as client:
            crl = client.fetch_crl(url, issuer=ca.issuer)
        # the partition rule is checked against the URL asked for, not the redirect target
        assert crl.der == internal.current()
        assert [r.status for r in public.requests] == [302, 302]


def test_a_compressed_body_is_refused(ca: CA, server: CRLServer) -> None:
    """Content-Encoding is refused as for OCSP: the size cap is on the bytes received."""
    import gzip

    server.publish("/gz.crl", gzip.compress(server.current()), headers={"Content-Encoding": "gzip"})
    with Client(ClientConfig(**FAST)) as client:
        with pytest.raises(ContentEncodingError):
            client.fetch_crl(server.url_for("/gz.crl"), issuer=ca.issuer)


@MODES
def test_an_older_crl_served_again_is_a_rollback(ca: CA, server: CRLServer, mode: str) -> None:
    """A CRL numbered below the copy already validated is refused, and the copy is kept."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    newer = ca.sign_crl(now=now - timedelta(hours=2), validity=timedelta(hours=1), crl_number=5)
    older = ca.sign_crl(now=now - timedelta(minutes=10), crl_number=4)
    served = [newer.public_bytes(Encoding.DER)]
    server.publish("/roll.crl", lambda: served[0])
    url = server.url_for("/roll.crl")
    cache = CRLCache()
    then = now - timedelta(minutes=90)
    (first,) = fetch_all(
        mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer, "now": then}]
    )
    assert first.crl_number == 5
    served[0] = older.public_bytes(Encoding.DER)  # valid now, but older than what was seen
    (outcome,) = fetch_all(mode, ClientConfig(**FAST), cache, [{"url": url, "issuer": ca.issuer}])
    assert isinstance(outcome, CRLStaleError), outcome
    assert "older CRL" in str(outcome)
    assert cache.lookup(url).crl.crl_number == 5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content_type", "pem"),
    [
        ("application/pkix-crl", False),
        ("Application/PKIX-CRL; charset=binary", False),
        ("application/pkix-crl", True),
        ("application/x-pkcs7-crl", False),
        ("application/x-x509-crl", False),
        ("application/octet-stream", False),
        ("binary/octet-stream", False),
        ("text/plain", False),  # mislabelled, but it starts like a CRL: sniffed
        ("text/html", True),
        ("", False),
    ],
)
def test_accepted_media_types_and_sniffing(
    ca: CA, server: CRLServer, content_type: str, pem: bool
) -> None:
    der = server.current()
    body = x509.load_der_x509_crl(der).public_bytes(Encoding.PEM) if pem else der
    server.publish("/typed.crl", body, content_type=content_type)
    with Client(ClientConfig(**FAST)) as client:
        crl = client.fetch_crl(server.url_for("/typed.crl"), issuer=ca.issuer)
    assert crl.der == der  # the label never decides: the CRL still had to validate


def test_a_non_crl_body_of_another_type_names_the_type(ca: CA, server: CRLServer) -> None:
    server.publish("/page.crl", b"Service Unavailable\n", content_type="text/plain")
    with Client(ClientConfig(**FAST)) as client:
        with pytest.raises(ContentTypeError, match="text/plain"):
            client.fetch_crl(server.url_for("/page.crl"))
    server.publish("/bad.crl", b"Service Unavailable\n")  # labelled application/pkix-crl
    with Client(ClientConfig(**FAST)) as client:
        with pytest.raises(DecodeError):
            client.fetch_crl(server.url_for("/bad.crl"))


def test_cache_and_config_arguments_are_checked(ca: CA, server: CRLServer) -> None:
    with pytest.raises(ValueError):
        ClientConfig(max_crl_size=0)
    with pytest.raises(ValueError):
        ClientConfig(max_crl_size=-1)
    with pytest.raises(TypeError):
        CRLCache(store=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Client(crl_cache=ocspkit.ResponseCache())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MemoryCRLStore(0)
    # the memory store is a bounded LRU: the least recently used URL goes first
    cache = CRLCache(max_entries=2)
    with Client(ClientConfig(**FAST), crl_cache=cache) as client:
        for name in ("a", "b"):
            server.publish(f"/{name}.crl")
            client.fetch_crl(server.url_for(f"/{name}.crl"), issuer=ca.issuer)
        client.fetch_crl(server.url_for("/a.crl"), issuer=ca.issuer)  # a is used again
        server.publish("/c.crl")
        client.fetch_crl(server.url_for("/c.crl"), issuer=ca.issuer)
    assert cache.lookup(server.url_for("/b.crl")) is None
    assert cache.lookup(server.url_for("/a.crl")) is not None
    assert len(server.requests) == 3
