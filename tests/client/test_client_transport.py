"""Transport rules: redirects, content types, size cap, URLs in order, force_url, proxies, the
private-address guard, per-host limits and an injected httpx client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import ocspkit
from ocspkit import (
    CertStatus,
    ConnectError,
    ContentTypeError,
    FetchError,
    HTTPStatusError,
    NoOCSPURLError,
    RedirectError,
    ResponseTooLargeError,
    UnsafeURLError,
)
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.testing import CA, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]


class Front:
    """A tiny HTTP server on 127.0.0.1 whose answers a test scripts (redirects, relays)."""

    def __init__(self, handle: Handler) -> None:
        front = self
        self.handle = handle
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                with front.lock:
                    front.seen.append((self.command, self.path))
                code, headers, payload = front.handle(self.command, self.path, body)
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Front:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def relay(responder: Responder, method: str, body: bytes, path: str) -> bytes:
    if method == "POST":
        return httpx.post(
            responder.url, content=body, headers={"Content-Type": "application/ocsp-request"}
        ).content
    return httpx.get(responder.url.rstrip("/") + path).content


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


@pytest.fixture
def leaf(pki: tuple[CA, Responder]) -> Leaf:
    ca, responder = pki
    return ca.issue("transport.test", ocsp_url=responder.url)


def both(mode: str, fn: Callable[[Any], Any], **settings: Any) -> Any:
    """Run ``fn(client)`` with a sync Client or (awaiting it) an AsyncClient."""
    if mode == "sync":
        with Client(ClientConfig(**settings)) as client:
            return fn(client)

    async def go() -> Any:
        async with AsyncClient(ClientConfig(**settings)) as client:
            return await fn(client)

    return asyncio.run(go())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


# -- redirects -------------------------------------------------------------------------------


def _hops(responder: Responder, first_hop: int) -> Handler:
    """/hop/N redirects to /hop/N-1 ...; /hop/0 relays to the responder."""

    def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = path.split("/")
        n = int(parts[2])
        if n > 0:
            rest = "/".join(parts[3:])
            return 307, {"Location": f"/hop/{n - 1}/{rest}"}, b""
        der = relay(responder, method, body, "/" + "/".join(parts[3:]))
        return 200, {"Content-Type": "application/ocsp-response"}, der

    return handle


@MODES
@pytest.mark.parametrize("method", ["get", "post"])
def test_three_redirects_are_followed(
    pki: tuple[CA, Responder], leaf: Leaf, method: str, mode: str
) -> None:
    ca, responder = pki
    with Front(_hops(responder, 3)) as front:
        result = both(
            mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url + "hop/3/"), method=method
        )
    assert result.status is CertStatus.GOOD
    assert [p.split("/")[2] for _, p in front.seen] == ["3", "2", "1", "0"]
    assert {m for m, _ in front.seen} == {method.upper()}  # the method survives redirects


@MODES
def test_four_redirects_are_refused(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    ca, responder = pki
    with Front(_hops(responder, 4)) as front:
        with pytest.raises(RedirectError) as info:
            both(
                mode,
                lambda c: c.check(leaf.cert, ca.issuer, url=front.url + "hop/4/"),
                method="post",
            )
    assert "more than 3" in str(info.value)
    assert len(front.seen) == 4  # the fifth request is never sent


@MODES
def test_max_redirects_zero(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    ca, responder = pki
    with Front(_hops(responder, 1)) as front, pytest.raises(RedirectError):
        both(
            mode,
            lambda c: c.check(leaf.cert, ca.issuer, url=front.url + "hop/1/"),
            method="post",
            max_redirects=0,
        )


@MODES
@pytest.mark.parametrize("target", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/"])
def test_redirect_to_other_scheme_is_refused(
    leaf: Leaf, pki: tuple[CA, Responder], target: str, mode: str
) -> None:
    ca, _ = pki
    with Front(lambda m, p, b: (302, {"Location": target}, b"")) as front:
        with pytest.raises(RedirectError) as info:
            both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url), method="post")
    assert "scheme" in str(info.value)
    assert len(front.seen) == 1


@MODES
def test_redirect_loop_between_two_urls(leaf: Leaf, pki: tuple[CA, Responder], mode: str) -> None:
    ca, _ = pki

    def ping_pong(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 307, {"Location": "/b" if path == "/a" else "/a"}, b""

    with Front(ping_pong) as front, pytest.raises(RedirectError) as info:
        both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url + "a"), method="post")
    assert "loop" in str(info.value)


# -- content type and size ---------------------------------------------------------------------


@MODES
@pytest.mark.parametrize(
    "content_type",
    ["application/ocsp-response", "Application/OCSP-Response", "application/ocsp-response; x=1"],
)
def test_content_type_parameters_and_case(
    pki: tuple[CA, Responder], leaf: Leaf, content_type: str, mode: str
) -> None:
    ca, responder = pki

    def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": content_type}, relay(responder, method, body, path)

    with Front(handle) as front:
        result = both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url))
    assert result.status is CertStatus.GOOD


@MODES
@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", None])
def test_wrong_or_missing_content_type(
    pki: tuple[CA, Responder], leaf: Leaf, content_type: str | None, mode: str
) -> None:
    ca, responder = pki

    def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": content_type} if content_type else {}
        return 200, headers, relay(responder, method, body, path)

    with Front(handle) as front, pytest.raises(ContentTypeError) as info:
        both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url), method="post")
    assert info.value.url == front.url


@MODES
def test_size_cap_is_configurable(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    ca, _ = pki
    with pytest.raises(ResponseTooLargeError):
        both(mode, lambda c: c.check(leaf.cert, ca.issuer), max_response_size=100)
    result = both(mode, lambda c: c.check(leaf.cert, ca.issuer), max_response_size=4096)
    assert result.good


@MODES
def test_size_cap_without_content_length(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    """A chunked body (no Content-Length) is cut off while streaming."""
    ca, _ = pki

    class Chunked(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\0" * 8192
            try:
                for _ in range(64):  # 512 KiB, never announced
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client hung up at its cap

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chunked)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(ResponseTooLargeError):
            both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=url), method="post")
    finally:
        server.shutdown()
        server.server_close()


# -- URLs: AIA order, force_url, url -------------------------------------------------------------


@MODES
def test_every_aia_url_is_tried_in_order(pki: tuple[CA, Responder], mode: str) -> None:
    """The first AIA URL answers 404, the second refuses connections, the third works."""
    ca, responder = pki
    with Front(lambda m, p, b: (404, {}, b"")) as front:
        dead = "http://127.0.0.1:9/"  # discard port: nothing listens
        leaf = ca.issue("multi.test", ocsp_url="")
        # a certificate with three AIA OCSP URLs
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        builder = (
            x509.CertificateBuilder()
            .subject_name(leaf.cert.subject)
            .issuer_name(ca.issuer.subject)
            .public_key(leaf.key.public_key())
            .serial_number(leaf.cert.serial_number)
            .not_valid_before(leaf.cert.not_valid_before_utc)
            .not_valid_after(leaf.cert.not_valid_after_utc)
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.oid.AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(u),
                        )
                        for u in (front.url, dead, responder.url)
                    ]
                ),
                critical=False,
            )
        )
        cert = builder.sign(ca.issuer_key, hashes.SHA256())
        assert ocspkit.ocsp_urls(cert) == (front.url, dead, responder.url)
        result = both(mode, lambda c: c.check(cert, ca.issuer), backoff=0.01)
    assert result.status is CertStatus.GOOD
    assert [m for m, _ in front.seen] == ["GET", "POST"]  # GET, then the POST fallback


@MODES
def test_last_error_is_raised_when_every_url_fails(pki: tuple[CA, Responder], mode: str) -> None:
    ca, _ = pki
    with Front(lambda m, p, b: (404, {}, b"")) as front:
        leaf = ca.issue("fails.test", ocsp_url=front.url)
        with pytest.raises(HTTPStatusError) as info:
            both(mode, lambda c: c.check(leaf.cert, ca.issuer))
    assert info.value.status_code == 404


@MODES
def test_force_url_overrides_aia(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    leaf = ca.issue("force.test", ocsp_url="http://127.0.0.1:9/never")
    result = both(mode, lambda c: c.check(leaf.cert, ca.issuer), force_url=responder.url)
    assert result.good


@MODES
def test_url_argument_overrides_force_url(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    leaf = ca.issue("url.test", ocsp_url="")
    result = both(
        mode,
        lambda c: c.check(leaf.cert, ca.issuer, url=responder.url),
        force_url="http://127.0.0.1:9/never",
    )
    assert result.good


@MODES
def test_no_ocsp_url(pki: tuple[CA, Responder], mode: str) -> None:
    ca, responder = pki
    leaf = ca.issue("no-ocsp.test", ocsp_url="")
    before = responder.requests
    with pytest.raises(NoOCSPURLError):
        both(mode, lambda c: c.check(leaf.cert, ca.issuer))
    assert responder.requests == before


@MODES
def test_non_http_ocsp_url_is_no_url(pki: tuple[CA, Responder], mode: str) -> None:
    ca, _ = pki
    leaf = ca.issue("ldap.test", ocsp_url="ldap://127.0.0.1/ocsp")
    with pytest.raises(NoOCSPURLError) as info:
        both(mode, lambda c: c.check(leaf.cert, ca.issuer))
    assert "ldap://" in str(info.value)


@MODES
def test_connection_refused_is_connect_error(
    pki: tuple[CA, Responder], leaf: Leaf, mode: str
) -> None:
    ca, _ = pki
    with pytest.raises(ConnectError) as info:
        both(mode, lambda c: c.check(leaf.cert, ca.issuer, url="http://127.0.0.1:9/"), backoff=0.01)
    assert info.value.url is not None and info.value.url.startswith("http://127.0.0.1:9/")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


# -- proxy ---------------------------------------------------------------------------------------


@MODES
def test_requests_go_through_the_proxy(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    """A forwarding proxy on loopback sees absolute-form requests for the responder."""
    ca, responder = pki

    def forward(method: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        assert target.startswith("http://")  # absolute-form: we are a proxy
        reply = httpx.request(
            method,
            target,
            content=body or None,
            headers={"Content-Type": "application/ocsp-request"} if body else {},
        )
        return reply.status_code, {"Content-Type": reply.headers["content-type"]}, reply.content

    with Front(forward) as proxy:
        result = both(mode, lambda c: c.check(leaf.cert, ca.issuer), proxy=proxy.url)
    assert result.good
    assert len(proxy.seen) == 1 and proxy.seen[0][1].startswith(responder.url)


def test_proxy_and_http_client_are_exclusive() -> None:
    with httpx.Client() as http, pytest.raises(ValueError):
        Client(ClientConfig(proxy="http://127.0.0.1:3128"), http_client=http)


# -- guard ---------------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"])
def test_guard_refuses_loopback(
    pki: tuple[CA, Responder], leaf: Leaf, host: str, mode: str
) -> None:
    ca, responder = pki
    url = f"http://{host}:{responder.port}/"
    before = responder.requests
    with pytest.raises(UnsafeURLError) as info:
        both(mode, lambda c: c.check(leaf.cert, ca.issuer, url=url), block_private_addresses=True)
    assert info.value.url is not None and info.value.url.startswith(url)
    assert responder.requests == before  # nothing was sent


@MODES
def test_guard_checks_redirect_targets(pki: tuple[CA, Responder], leaf: Leaf, mode: str) -> None:
    """The guard applies to every hop; here the first hop is already refused (loopback)."""
    ca, _ = pki
    with Front(lambda m, p, b: (307, {"Location": "http://10.0.0.1/"}, b"")) as front:
        with pytest.raises(UnsafeURLError):
            both(
                mode,
                lambda c: c.check(leaf.cert, ca.issuer, url=front.url),
                block_private_addresses=True,
            )
        assert front.seen == []


def test_guard_is_off_by_default(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, _ = pki
    assert ocspkit.client.check(leaf.cert, ca.issuer).good


# -- per host limit, injected client ------------------------------------------------------------


def test_per_host_limit_async(pki: tuple[CA, Responder]) -> None:
    ca, responder = pki
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow(method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        der = relay(responder, method, body, path)
        with lock:
            active -= 1
        return 200, {"Content-Type": "application/ocsp-response"}, der

    leaves = [ca.issue(f"limit{i}.test", ocsp_url="") for i in range(8)]
    with Front(slow) as front:

        async def go() -> list[ocspkit.ValidationResult]:
            async with AsyncClient(ClientConfig(per_host=2, force_url=front.url)) as client:
                return await asyncio.gather(*(client.check(x.cert, ca.issuer) for x in leaves))

        results = asyncio.run(go())
    assert all(r.good for r in results)
    assert 1 <= peak <= 2


def test_injected_http_client_is_used_and_left_open(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, _ = pki
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(r.method)]}) as http:
        with Client(http_client=http) as client:
            assert client.check(leaf.cert, ca.issuer).good
        assert not http.is_closed
    assert seen == ["GET"]


def test_bad_settings_are_value_errors() -> None:
    for bad in (
        {"timeout": 0},
        {"deadline": -1},
        {"method": "put"},
        {"retries": -1},
        {"max_response_size": 0},
        {"per_host": 0},
        {"backoff": float("inf")},
    ):
        with pytest.raises(ValueError):
            ClientConfig(**bad)


def test_bad_url_scheme_is_fetch_error(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, _ = pki
    with Client() as client, pytest.raises(FetchError) as info:
        client.check(leaf.cert, ca.issuer, url="ftp://127.0.0.1/")
    assert info.value.url == "ftp://127.0.0.1/"


# -- the lean async transport -------------------------------------------------------------------


class ConnectionCounter:
    """A relay to the responder that counts TCP connections and can drop them after each answer
    without saying so (a stale keep-alive connection, as behind some load balancers)."""

    def __init__(self, responder: Responder, drop_after_answer: bool) -> None:
        outer = self
        self.connections = 0
        self.requests = 0

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                outer.connections += 1

            def _any(self) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                der = relay(responder, self.command, body, self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)
                if drop_after_answer:
                    self.close_connection = True  # silently: no "Connection: close" sent

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("drop", [False, True])
def test_async_transport_keeps_alive_and_survives_stale_connections(
    pki: tuple[CA, Responder], drop: bool
) -> None:
    ca, responder = pki
    leaves = [ca.issue(f"keepalive{i}.test", ocsp_url="") for i in range(4)]
    counter = ConnectionCounter(responder, drop_after_answer=drop)
    try:

        async def go() -> list[ocspkit.ValidationResult]:
            async with AsyncClient(ClientConfig(force_url=counter.url)) as client:
                out = []
                for leaf in leaves:
                    out.append(await client.check(leaf.cert, ca.issuer))
                    await asyncio.sleep(0.05)  # let a dropped connection's FIN arrive
                return out

        results = asyncio.run(go())
    finally:
        counter.close()
    assert [r.status for r in results] == [CertStatus.GOOD] * 4
    assert counter.requests == 4
    assert counter.connections == (4 if drop else 1)


def test_async_client_reused_across_event_loops(pki: tuple[CA, Responder], leaf: Leaf) -> None:
    ca, _ = pki
    client = AsyncClient()
    assert asyncio.run(client.check(leaf.cert, ca.issuer)).good
    assert asyncio.run(client.check(leaf.cert, ca.issuer)).good  # idle connection not reused
    asyncio.run(client.aclose())
