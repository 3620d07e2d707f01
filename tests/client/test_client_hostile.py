"""The clients against hostile servers and hostile certificates (security review regressions).

Each misbehaving server is a small socket server on 127.0.0.1 (port 0), run in a daemon
thread and bounded in time; the client is the real one.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import ocspkit
from ocspkit import (
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    IssuerNotFoundError,
    OCSPError,
    ProbeTarget,
)
from ocspkit.client import (
    AsyncClient,
    Client,
    ContentEncodingError,
    InvalidURLError,
    UnexpectedError,
    acheck_many,
    check_many,
)
from ocspkit.client.actions import Exchange, parse_retry_after
from ocspkit.client.config import ClientConfig
from ocspkit.client.guard import is_public_address
from ocspkit.client.transfer import retry_wait
from ocspkit.testing import CA, Responder

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[socket.socket], None]


class Hostile:
    """A loopback TCP server that reads a request head, then runs ``handler`` on the socket."""

    def __init__(self, handler: Handler, *, read_request: bool = True) -> None:
        self.handler = handler
        self.read_request = read_request
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/"

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(20)  # bounded even if the client never goes away
        try:
            if self.read_request:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Hostile]]:
    servers: list[Hostile] = []

    def make(handler: Handler, **kw: Any) -> Hostile:
        servers.append(Hostile(handler, **kw))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _reply(raw: bytes) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(raw)

    return handler


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


def run(mode: str, fn: Callable[[Any], Any], **settings: Any) -> Any:
    """``fn(client)`` with a sync Client, or awaited with an AsyncClient."""
    if mode == "sync":
        with Client(ClientConfig(**settings)) as client:
            return fn(client)

    async def go() -> Any:
        async with AsyncClient(ClientConfig(**settings)) as client:
            return await fn(client)

    return asyncio.run(go())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])
STRICT = {"timeout": 1.0, "deadline": 2.0, "retries": 0, "method": "post"}


def _request(ca: CA) -> ocspkit.OCSPRequest:
    return ocspkit.build_request(ca.issue("hostile.test", ocsp_url="").cert, ca.issuer)


# -- 1. the deadline holds against trickling servers -------------------------------------------


def _trickle(prefix: bytes, pause: float = 0.2, count: int = 400) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(prefix)
        for _ in range(count):
            conn.sendall(b"a")
            time.sleep(pause)

    return handler


@MODES
def test_header_trickle_is_cut_at_the_deadline(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], mode: str
) -> None:
    ca, _ = pki
    server = serve(_trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nX: "))
    request = _request(ca)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        run(mode, lambda c: c.query(request, server.url()), **STRICT)
    assert time.monotonic() - started <= STRICT["deadline"] + 1.0


@MODES
def test_tls_handshake_trickle_is_cut_at_the_deadline(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], mode: str
) -> None:
    """A 'TLS server' that answers the ClientHello with a record header, then one byte at a
    time: each read is quick, the handshake never ends."""
    ca, _ = pki

    def handler(conn: socket.socket) -> None:
        conn.recv(65536)  # the ClientHello
        _trickle(b"\x16\x03\x03\x40\x00\x02")(conn)

    server = serve(handler, read_request=False)
    request = _request(ca)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        run(mode, lambda c: c.query(request, server.url("https")), **STRICT)
    assert time.monotonic() - started <= STRICT["deadline"] + 1.0


# -- 2. compressed bodies are refused unread -----------------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """661 bytes on the wire; 300 MiB once both gzip layers are undone."""
    return gzip.compress(gzip.compress(b"\0" * (300 * 1024 * 1024), 9), 9)


@MODES
@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip", "deflate", "br", "x-unknown"])
def test_content_encoding_is_refused(
    pki: tuple[CA, Responder],
    serve: Callable[..., Hostile],
    bomb: bytes,
    encoding: str,
    mode: str,
) -> None:
    ca, _ = pki
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
        f"Content-Encoding: {encoding}\r\nContent-Length: {len(bomb)}\r\n\r\n"
    )
    server = serve(_reply(head.encode() + bomb))
    request = _request(ca)
    with pytest.raises(ContentEncodingError) as info:
        run(mode, lambda c: c.query(request, server.url()), **STRICT, max_response_size=65536)
    assert info.value.url == server.url()
    assert isinstance(info.value, FetchError)


@MODES
def test_identity_encoding_is_accepted(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], mode: str
) -> None:
    ca, responder = pki
    request = ocspkit.build_request(ca.issue("identity.test", ocsp_url="").cert, ca.issuer)
    with Client() as client:
        der = client.query(request, responder.url).der
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
        f"Content-Encoding: identity\r\nContent-Length: {len(der)}\r\n\r\n"
    )
    server = serve(_reply(head.encode() + der))
    assert run(mode, lambda c: c.query(request, server.url()), **STRICT).der == der


# -- 3. hostile Retry-After ----------------------------------------------------------------------


@MODES
@pytest.mark.parametrize(
    "value", ["\u00b2", "\u0661\u0662", "1e9", "-5", "Thu, 01 Jan 99999 00:00:00"]
)
def test_hostile_retry_after_is_ignored(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], value: str, mode: str
) -> None:
    ca, _ = pki
    raw = f"HTTP/1.1 503 x\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n".encode()
    server = serve(_reply(raw))
    request = _request(ca)
    with pytest.raises(HTTPStatusError) as info:
        run(
            mode,
            lambda c: c.query(request, server.url()),
            **{**STRICT, "retries": 1, "backoff": 0.01},
        )
    assert info.value.status_code == 503
    assert info.value.retry_after is None


def test_parse_retry_after_is_strict() -> None:
    assert parse_retry_after("\u00b2") is None
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("9" * 40) == 1e9  # clamped, no overflow
    assert parse_retry_after("1.5") is None


def test_backoff_exponent_is_capped() -> None:
    """Huge attempt counts give a finite wait within the deadline (no OverflowError)."""
    error = HTTPStatusError("x", url="u", status_code=503, retry_after=None)
    for backoff in (1e-300, 0.5, 1e300):
        config = ClientConfig(retries=10**9, backoff=backoff, deadline=30.0)
        for attempt in (0, 63, 1000, 10**8):
            delay = retry_wait(config, error, attempt, 1e9, random.Random(1))
            assert delay is not None and 0 <= delay <= 30.0 * 1.5


def test_backoff_is_the_core_schedule() -> None:
    """The client's waits are ocspkit.refresh.retry_delay over its schedule: backoff * 2**n,
    spread by ±50 %; a Retry-After longer than the deadline leaves gives up."""
    config = ClientConfig(retries=5, backoff=0.5, deadline=30.0)
    error = HTTPStatusError("x", url="u", status_code=503, retry_after=None)
    for attempt in range(4):
        delay = retry_wait(config, error, attempt, 1e9, random.Random(attempt))
        assert delay is not None
        assert 0.5 * 2**attempt * 0.5 <= delay <= 0.5 * 2**attempt * 1.5
    assert retry_wait(config, error, 5, 1e9, random.Random(1)) is None  # out of retries
    late = HTTPStatusError("x", url="u", status_code=503, retry_after=20.0)
    assert retry_wait(config, late, 0, 10.0, random.Random(1)) is None


# -- 4. malformed URLs are typed errors; a bad AIA URL is skipped ------------------------------

BAD_URLS = [
    "http://[::1/ocsp",
    "http://[v1.x]/ocsp",
    "http://127.0.0.1:notaport/",
    "http://a\x01b/",
]


def _leaf_with_urls(
    ca: CA, ocsp: list[str], ca_issuers: tuple[str, ...] | list[str] = ()
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    access = [
        x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in ocsp
    ] + [
        x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in ca_issuers
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "aia.test")]))
        .issuer_name(ca.issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.AuthorityInformationAccess(access), critical=False)
        .sign(ca.issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )


@MODES
@pytest.mark.parametrize("bad", BAD_URLS)
@pytest.mark.parametrize("guard", [False, True])
def test_malformed_responder_url_is_invalid_url_error(
    pki: tuple[CA, Responder], bad: str, guard: bool, mode: str
) -> None:
    ca, _ = pki
    leaf = _leaf_with_urls(ca, [bad])
    with pytest.raises(InvalidURLError) as info:
        run(mode, lambda c: c.check(leaf, ca.issuer), **STRICT, block_private_addresses=guard)
    assert info.value.url == bad
    with pytest.raises(InvalidURLError):
        run(mode, lambda c: c.query(_request(ca), bad), **STRICT)


@MODES
def test_bad_aia_url_is_skipped_for_the_next(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    leaf = _leaf_with_urls(ca, [*BAD_URLS, responder.url])
    result = run(mode, lambda c: c.check(leaf, ca.issuer), **STRICT)
    assert isinstance(result, ocspkit.ValidationResult)


@MODES
@pytest.mark.parametrize("location", ["http://[::1/x", "http://a\x01b/x", "http://h:99999/"])
def test_malformed_redirect_is_a_fetch_error(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], location: str, mode: str
) -> None:
    ca, _ = pki
    raw = f"HTTP/1.1 302 x\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
    server = serve(_reply(raw))
    with pytest.raises(FetchError):
        run(mode, lambda c: c.query(_request(ca), server.url()), **STRICT)


# -- 5a. hostile caIssuers content ---------------------------------------------------------------

#: A PKCS#7 ContentInfo of type id-data (not signedData): cryptography raises
#: UnsupportedAlgorithm for it, which must not escape.
PKCS7_DATA = bytes.fromhex("301306092a864886f70d010701a0060404" + b"hi!!".hex())


@MODES
@pytest.mark.parametrize("form", ["der", "pem"])
def test_pkcs7_data_at_ca_issuers_is_issuer_not_found(
    pki: tuple[CA, Responder], serve: Callable[..., Hostile], form: str, mode: str
) -> None:
    ca, responder = pki
    body = PKCS7_DATA
    if form == "pem":
        import base64

        body = b"-----BEGIN PKCS7-----\n" + base64.b64encode(body) + b"\n-----END PKCS7-----\n"
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\nContent-Length: {len(body)}\r\n\r\n"
    server = serve(_reply(head.encode() + body))
    leaf = _leaf_with_urls(ca, [responder.url], [server.url() + "ca.p7c"])
    with pytest.raises(IssuerNotFoundError):
        run(mode, lambda c: c.check(leaf), **STRICT)


# -- 5b. the guard: more non-public ranges; connections pinned to the checked address ---------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b:1::808:808", False),  # local-use NAT64
        ("::7f00:1", False),  # IPv4-compatible
        ("::808:808", False),
        ("::ffff:0:7f00:1", False),  # IPv4-translated
        ("fec0::1", False),  # site-local
        ("2606:4700::1111", True),
    ],
)
def test_more_non_public_ranges(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def _ok_server() -> Handler:
    return _reply(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def _pinned_exchange(port: int) -> Exchange:
    """An exchange for a host name that does not resolve, pinned to the checked 127.0.0.1."""
    return Exchange(
        method="GET",
        url=f"http://rebound.invalid:{port}/",
        headers=(),
        body=None,
        timeout=2.0,
        deadline=time.monotonic() + 5.0,
        max_size=1000,
        content_type=None,
        addresses=("127.0.0.1",),
    )


def test_sync_connection_goes_to_the_checked_address(serve: Callable[..., Hostile]) -> None:
    server = serve(_ok_server())
    with Client() as client:
        reply = client._exchange(_pinned_exchange(server.port))
    assert reply.status_code == 204
    assert reply.peer == "127.0.0.1"
    assert server.connections == 1


def test_async_connection_goes_to_the_checked_address(serve: Callable[..., Hostile]) -> None:
    server = serve(_ok_server())

    async def go() -> Any:
        async with AsyncClient() as client:
            return await client._exchange(_pinned_exchange(server.port))

    reply = asyncio.run(go())
    assert reply.status_code == 204
    assert server.connections == 1


# -- 6. one item never aborts a batch ------------------------------------------------------------


def _broken_aia_leaf(ca: CA) -> x509.Certificate:
    """A certificate whose AIA extension is not DER: reading it raises in cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "broken.test")]))
        .issuer_name(ca.issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.UnrecognizedExtension(
                x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x05\x30\x03\x06\x01"
            ),
            critical=False,
        )
        .sign(ca.issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def test_check_many_survives_a_hostile_item(pki: tuple[CA, Responder]) -> None:
    ca, responder = pki
    good = ca.issue("bulk-good.test", ocsp_url=responder.url).cert
    items = [(good, ca.issuer), (_broken_aia_leaf(ca), ca.issuer), (good, ca.issuer)]
    outcomes = sorted(
        check_many(items, concurrency=2, config=ClientConfig(**STRICT)), key=lambda o: o.index
    )
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert outcomes[0].ok and outcomes[2].ok
    assert outcomes[1].error is not None and isinstance(outcomes[1].error, OCSPError)


def test_non_ocsp_exception_of_one_item_becomes_its_outcome(pki: tuple[CA, Responder]) -> None:
    """A bad ``now`` makes validation raise TypeError for every item: each gets an
    UnexpectedError (with the cause), and the batch completes."""
    ca, responder = pki
    good = ca.issue("bulk-now.test", ocsp_url=responder.url).cert

    async def go() -> list[Any]:
        return [
            o
            async for o in acheck_many(
                [(good, ca.issuer)] * 3,
                concurrency=2,
                now="yesterday",  # type: ignore[arg-type]
                config=ClientConfig(**STRICT),
            )
        ]

    outcomes = asyncio.run(go())
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome.error, OCSPError)
        if isinstance(outcome.error, UnexpectedError):
            assert outcome.error.__cause__ is not None


def test_error_of_the_input_iterator_still_propagates(pki: tuple[CA, Responder]) -> None:
    ca, _ = pki

    def items() -> Iterator[Any]:
        yield ca.issue("x.test", ocsp_url="").cert
        raise RuntimeError("input broke")

    with pytest.raises(RuntimeError, match="input broke"):
        list(check_many(items(), config=ClientConfig(**STRICT)))


def test_probe_many_survives_a_target_that_raises(serve: Callable[..., Hostile]) -> None:
    """A target probe() refuses with ValueError (bad host) is that target's outcome."""
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()  # nothing listens there now: connection refused
    targets = [ProbeTarget(" ", 443), ProbeTarget("127.0.0.1", port)]
    outcomes = sorted(ocspkit.probe_many(targets, timeout=2.0), key=lambda o: o.index)
    assert len(outcomes) == 2
    assert isinstance(outcomes[0].error, UnexpectedError)
    assert isinstance(outcomes[0].error.__cause__, ValueError)
    assert isinstance(outcomes[1].error, OCSPError)
