"""issuer=None: the issuer comes from the bundle, or from AIA caIssuers (DER, PEM or PKCS#7)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

import ocspkit
from ocspkit import CertStatus, FetchError, IssuerNotFoundError, UnsafeURLError
from ocspkit.client import AsyncClient, Client, ClientConfig, IssuerFetchError
from ocspkit.testing import CA, Responder

pytestmark = pytest.mark.timeout(60)


class IssuerServer:
    """Serves one body at every path on 127.0.0.1 (a caIssuers URL), counting requests."""

    def __init__(self, body: bytes, content_type: str = "application/pkix-cert") -> None:
        self.body = body
        self.requests = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/issuer.crt"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


def run(mode: str, fn: Callable[[Any], Any], **settings: Any) -> Any:
    if mode == "sync":
        with Client(ClientConfig(**settings)) as client:
            return fn(client)

    async def go() -> Any:
        async with AsyncClient(ClientConfig(**settings)) as client:
            return await fn(client)

    return asyncio.run(go())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])

BODIES: dict[str, Callable[[CA], bytes]] = {
    "der": lambda ca: ca.issuer.public_bytes(Encoding.DER),
    "pem": lambda ca: ca.issuer_pem,
    "pkcs7-der": lambda ca: pkcs7.serialize_certificates([ca.root, ca.issuer], Encoding.DER),
    "pkcs7-pem": lambda ca: pkcs7.serialize_certificates([ca.issuer, ca.root], Encoding.PEM),
}


@MODES
@pytest.mark.parametrize("form", list(BODIES))
def test_issuer_fetched_from_ca_issuers(pki: tuple[CA, Responder], form: str, mode: str) -> None:
    ca, responder = pki
    server = IssuerServer(BODIES[form](ca))
    try:
        leaf = ca.issue("aia.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        result = run(mode, lambda c: c.check(leaf.cert))
    finally:
        server.close()
    assert result.status is CertStatus.GOOD
    assert server.requests == 1


@MODES
def test_bundle_is_used_before_fetching(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    server = IssuerServer(b"never fetched")
    try:
        leaf = ca.issue("bundle.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        result = run(mode, lambda c: c.check(leaf.cert, bundle=[ca.root, ca.issuer]))
    finally:
        server.close()
    assert result.good
    assert server.requests == 0


@MODES
def test_wrong_certificate_served(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    other = CA("ecdsa", name="someone else")
    server = IssuerServer(other.issuer_pem)
    try:
        leaf = ca.issue("wrong.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        with pytest.raises(IssuerNotFoundError) as info:
            run(mode, lambda c: c.check(leaf.cert))
    finally:
        server.close()
    assert not isinstance(info.value, FetchError)


@MODES
def test_garbage_served(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    server = IssuerServer(b"<html>not a certificate</html>", "text/html")
    try:
        leaf = ca.issue("garbage.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        with pytest.raises(IssuerNotFoundError):
            run(mode, lambda c: c.check(leaf.cert))
    finally:
        server.close()


@MODES
def test_unreachable_ca_issuers_is_fetch_and_issuer_error(
    pki: tuple[CA, Responder], mode: str
) -> None:
    ca, responder = pki
    leaf = ca.issue("dead.test", ocsp_url=responder.url, ca_issuers_url="http://127.0.0.1:9/x.crt")
    with pytest.raises(IssuerFetchError) as info:
        run(mode, lambda c: c.check(leaf.cert), backoff=0.01)
    assert isinstance(info.value, IssuerNotFoundError)
    assert isinstance(info.value.__cause__, FetchError)
    assert info.value.url == "http://127.0.0.1:9/x.crt"
    assert isinstance(info.value.__cause__, ocspkit.ConnectError)


@MODES
def test_issuer_fetch_obeys_size_cap(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    server = IssuerServer(ca.issuer_pem)
    try:
        leaf = ca.issue("cap.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        with pytest.raises(IssuerFetchError) as info:
            run(mode, lambda c: c.check(leaf.cert), max_response_size=64)
    finally:
        server.close()
    assert isinstance(info.value.__cause__, ocspkit.ResponseTooLargeError)


@MODES
def test_issuer_fetch_obeys_guard(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    server = IssuerServer(ca.issuer_pem)
    try:
        leaf = ca.issue("guard.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        with pytest.raises(IssuerFetchError) as info:
            run(mode, lambda c: c.check(leaf.cert), block_private_addresses=True)
    finally:
        server.close()
    assert isinstance(info.value.__cause__, UnsafeURLError)
    assert server.requests == 0


@MODES
def test_no_issuer_anywhere(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    leaf = ca.issue("orphan.test", ocsp_url=responder.url)
    with pytest.raises(IssuerNotFoundError) as info:
        run(mode, lambda c: c.check(leaf.cert, bundle=[ca.root]))
    assert not isinstance(info.value, FetchError)


def test_fetch_issuer_method(pki: tuple[CA, Responder]) -> None:
    ca, responder = pki
    server = IssuerServer(BODIES["pkcs7-der"](ca))
    try:
        leaf = ca.issue("method.test", ocsp_url=responder.url, ca_issuers_url=server.url)
        with Client() as client:
            assert client.fetch_issuer(leaf.cert) == ca.issuer
    finally:
        server.close()


def test_no_ocsp_url_is_reported_before_any_issuer_fetch(pki: tuple[CA, Responder]) -> None:
    ca, _ = pki
    server = IssuerServer(ca.issuer_pem)
    try:
        leaf = ca.issue("first.test", ocsp_url="", ca_issuers_url=server.url)
        with pytest.raises(ocspkit.NoOCSPURLError):
            ocspkit.client.check(leaf.cert)
    finally:
        server.close()
    assert server.requests == 0
