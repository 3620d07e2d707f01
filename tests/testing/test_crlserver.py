"""ocspkit.testing.CRLServer at the HTTP level: what it serves, its validators, its faults.

Spoken to with plain httpx (not ocspkit's client), so these tests pin the server's behaviour
on its own; the client's side is tests/client/test_client_crl.py. The CRLs it serves are
checked with ocspkit.validate_crl and with ``openssl crl -verify``.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

import ocspkit
from ocspkit.testing import CA, CRLFault, CRLRequestRecord, CRLServer
from tests._servers import need_binary

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA()


@pytest.fixture
def server(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as srv:
        yield srv


def get(url: str, **headers: str) -> httpx.Response:
    """GET with headers given as keywords (``if_none_match`` sends ``If-None-Match``)."""
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return httpx.get(url, headers=named, timeout=10)


def test_serves_the_live_crl_with_validators(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    reply = get(url)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/pkix-crl"
    crl = ocspkit.validate_crl(reply.content, ca.issuer, url=url)
    assert reply.headers["etag"].startswith('"')
    assert reply.headers["last-modified"].endswith("GMT")
    assert crl.crl_number == 1
    assert server.requests == (CRLRequestRecord("GET", "/ca.crl", None, None, 200, CRLFault.NONE),)


def test_a_revocation_is_served_at_once_with_the_next_crl_number(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    first = get(url)
    assert get(url).content == first.content  # unchanged table: the same CRL, same ETag
    leaf = ca.issue("revoked.crlserver.test", crl_url=url)
    ca.revoke(leaf.cert)
    second = get(url)
    crl = ocspkit.validate_crl(second.content, ca.issuer, url=url)
    assert crl.lookup(leaf.cert.serial_number) is not None
    assert crl.crl_number == 2
    assert second.headers["etag"] != first.headers["etag"]


def test_conditional_gets_are_answered_304(server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    first = get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert get(url, if_none_match=etag).status_code == 304
    assert get(url, if_modified_since=modified).status_code == 304
    assert get(url, if_none_match='"something else"').status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    assert get(url, if_none_match='"else"', if_modified_since=modified).status_code == 200
    assert get(url, if_modified_since="Thu, 01 Jan 1970 00:00:00 GMT").status_code == 200
    records = server.requests
    assert [r.status for r in records] == [200, 304, 304, 200, 200, 200]
    assert records[1].if_none_match == etag and records[2].if_modified_since == modified


def test_published_der_callables_and_partitions(ca: CA, server: CRLServer) -> None:
    calls = []

    def fresh() -> bytes:
        calls.append(1)
        return server.current("/ca.crl")

    server.publish("/callable.crl", fresh)
    assert get(server.url_for("/callable.crl")).status_code == 200
    assert calls == [1]
    server.publish("/p1.crl", partition=True)
    p1 = server.url_for("/p1.crl")
    inside = ca.issue("in.p1.test", crl_url=p1)
    outside = ca.issue("elsewhere.test", crl_url=server.url_for("/ca.crl"))
    ca.revoke(inside.cert)
    ca.revoke(outside.cert)
    crl = ocspkit.validate_crl(get(p1).content, ca.issuer, url=p1)
    assert crl.issuing_distribution_point is not None
    assert crl.lookup(inside.cert.serial_number) is not None
    assert crl.lookup(outside.cert.serial_number) is None
    with pytest.raises(ocspkit.CRLScopeError):  # a partition served in place of another
        ocspkit.validate_crl(get(p1).content, ca.issuer, url=server.url_for("/ca.crl"))
    assert get(server.url_for("/missing.crl")).status_code == 404
    server.unpublish("/p1.crl")
    assert get(p1).status_code == 404


@pytest.mark.parametrize(
    ("fault", "status", "check"),
    [
        (CRLFault.EXPIRED, 200, ocspkit.CRLExpiredError),
        (CRLFault.WRONG_PARTITION, 200, ocspkit.CRLScopeError),
        (CRLFault.BAD_SIGNATURE, 200, ocspkit.CRLSignatureError),
        (CRLFault.GARBAGE, 200, ocspkit.DecodeError),
        (CRLFault.HTTP_500, 500, None),
        (CRLFault.NOT_MODIFIED, 304, None),
    ],
)
def test_faults_at_the_http_level(
    ca: CA, server: CRLServer, fault: CRLFault, status: int, check: type[Exception] | None
) -> None:
    url = server.url_for("/ca.crl")
    server.fault = fault
    reply = get(url)
    assert reply.status_code == status
    if check is not None:
        with pytest.raises(check):
            ocspkit.validate_crl(reply.content, ca.issuer, url=url)
    assert server.requests[-1].fault is fault


def test_content_faults(ca: CA, server: CRLServer) -> None:
    url = server.url_for("/ca.crl")
    server.set_fault("/ca.crl", CRLFault.WRONG_CONTENT_TYPE)
    page = get(url)
    assert page.headers["content-type"].startswith("text/html") and page.content.startswith(b"<")
    server.set_fault("/ca.crl", CRLFault.PEM)
    pem = get(url)
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert ocspkit.parse_crl(pem.content).der == server.current()
    server.set_fault("/ca.crl", None)
    server.fault = CRLFault.HTTP_500  # the path's own fault is gone: the server's applies
    assert get(url).status_code == 500


def test_huge_streams_without_a_length(server: CRLServer) -> None:
    server.huge_size = 3 * 1024 * 1024 + 7
    server.fault = CRLFault.HUGE
    with httpx.stream("GET", server.url_for("/ca.crl"), timeout=10) as reply:
        assert "content-length" not in reply.headers
        body = reply.read()
    assert len(body) == server.huge_size
    assert body[:1] == b"\x30"  # it starts like a CRL


def test_slow_drips_and_stop_is_prompt(ca: CA) -> None:
    server = CRLServer(ca, drip_interval=0.2, fault=CRLFault.SLOW).start()
    got: list[bytes] = []

    def read() -> None:
        try:
            with httpx.stream("GET", server.url_for("/ca.crl"), timeout=10) as reply:
                for chunk in reply.iter_raw():
                    got.append(chunk)
        except httpx.HTTPError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    assert server.wait_for_requests(1)
    time.sleep(0.5)
    start = time.monotonic()
    server.stop()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert time.monotonic() - start < 5  # not the whole drip (hundreds of bytes at 0.2 s)
    assert 0 < sum(map(len, got)) < len(server.current())


def test_redirects_and_post(server: CRLServer) -> None:
    server.redirect("/old.crl", "/ca.crl", status=301)
    reply = httpx.get(server.url_for("/old.crl"), follow_redirects=True, timeout=10)
    assert reply.status_code == 200 and reply.content == server.current()
    assert httpx.post(server.url_for("/ca.crl"), timeout=10).status_code == 405
    with pytest.raises(ValueError):
        server.redirect("/x.crl", "/ca.crl", status=200)


def test_url_for_needs_a_started_server(ca: CA) -> None:
    with pytest.raises(RuntimeError):
        CRLServer(ca).url_for("/ca.crl")
    with pytest.raises(TypeError):
        CRLServer(ca).fault = "expired"  # type: ignore[assignment]


def test_async_context_manager(ca: CA) -> None:
    async def go() -> tuple[int, CRLServer]:
        async with CRLServer(ca) as server:
            async with httpx.AsyncClient() as client:
                reply = await client.get(server.url_for("/ca.crl"))
        return reply.status_code, server

    status, server = asyncio.run(go())
    assert status == 200
    assert not server.running


def test_openssl_verifies_the_served_crl(ca: CA, server: CRLServer, tmp_path: Path) -> None:
    openssl = need_binary("openssl")
    crl_file = tmp_path / "served.crl"
    crl_file.write_bytes(get(server.url_for("/ca.crl")).content)
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(ca.issuer_pem)
    out = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(crl_file), "-CAfile", str(issuer),
         "-noout", "-verify"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "verify OK" in out.stdout + out.stderr
    assert x509.load_der_x509_crl(crl_file.read_bytes()).issuer == ca.issuer.subject
