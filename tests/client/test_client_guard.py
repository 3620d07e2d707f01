"""The network defaults: no redirect from a public address into a private one, never a cloud
metadata address, private PKI still working.

Every server is real (``http.server`` on loopback). Loopback has no public address, so the
tests that need one inject the classification through the public config:
``ClientConfig(is_public=...)`` treating 127.0.0.1 as public and 127.0.0.2 as private.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import ocspkit
from ocspkit import CertStatus, FetchError, UnsafeURLError
from ocspkit.client import (
    METADATA_ADDRESSES,
    AsyncClient,
    Client,
    ClientConfig,
    InvalidURLError,
    is_metadata_address,
    is_public_address,
)
from ocspkit.testing import CA, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

Reply = tuple[int, dict[str, str], bytes]


class Server:
    """A scripted HTTP server on ``host`` (a loopback address) that records what it saw."""

    def __init__(self, host: str, handle: Callable[[str, str, bytes], Reply]) -> None:
        outer = self
        self.seen: list[tuple[str, str]] = []

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path))
                code, headers, payload = handle(self.command, self.path, body)
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer((host, 0), H)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


@pytest.fixture
def leaf(pki: tuple[CA, Responder]) -> Leaf:
    ca, _ = pki
    return ca.issue("guard.test", ocsp_url="")


@pytest.fixture
def servers() -> Iterator[Callable[[str, Callable[[str, str, bytes], Reply]], Server]]:
    made: list[Server] = []

    def make(host: str, handle: Callable[[str, str, bytes], Reply]) -> Server:
        made.append(Server(host, handle))
        return made[-1]

    yield make
    for server in made:
        server.close()


def _relay(responder: Responder) -> Callable[[str, str, bytes], Reply]:
    """An internal responder: relays POSTs to the test responder."""

    def handle(method: str, path: str, body: bytes) -> Reply:
        der = httpx.post(
            responder.url, content=body, headers={"Content-Type": "application/ocsp-request"}
        ).content
        return 200, {"Content-Type": "application/ocsp-response"}, der

    return handle


def _redirect(location: str) -> Callable[[str, str, bytes], Reply]:
    return lambda method, path, body: (307, {"Location": location}, b"")


def only_127_0_0_1_is_public(address: str) -> bool:
    return address == "127.0.0.1"


def run(mode: str, fn: Callable[[Any], Any], config: ClientConfig) -> Any:
    if mode == "sync":
        with Client(config) as client:
            return fn(client)

    async def go() -> Any:
        async with AsyncClient(config) as client:
            return await fn(client)

    return asyncio.run(go())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])
BASE = {"method": "post", "retries": 0, "timeout": 3.0, "deadline": 6.0}


@MODES
def test_redirect_from_public_to_private_is_refused_by_default(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    public = servers("127.0.0.1", _redirect(internal.url))
    config = ClientConfig(is_public=only_127_0_0_1_is_public, **BASE)
    with pytest.raises(UnsafeURLError) as info:
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=public.url), config)
    assert info.value.url == internal.url
    assert "allow_private_redirects" in str(info.value)
    assert len(public.seen) == 1
    assert internal.seen == []  # nothing was sent into the "private" network


@MODES
def test_private_redirect_is_followed_when_allowed(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    public = servers("127.0.0.1", _redirect(internal.url))
    config = ClientConfig(is_public=only_127_0_0_1_is_public, allow_private_redirects=True, **BASE)
    result = run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=public.url), config)
    assert result.status is CertStatus.GOOD
    assert internal.seen == [("POST", "/")]


@MODES
def test_private_pki_redirecting_internally_works_by_default(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    """A responder on a private address (the default classification: loopback is private)
    that redirects to another private address is followed: private PKI keeps working."""
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    front = servers("127.0.0.1", _redirect(internal.url))
    result = run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=front.url), ClientConfig(**BASE))
    assert result.status is CertStatus.GOOD
    assert len(internal.seen) == 1


@MODES
def test_public_to_public_then_private_is_refused(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    """Each hop is judged from the hop before it: public → public → private stops there."""
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    second = servers("127.0.0.1", _redirect(internal.url))
    first = servers("127.0.0.1", _redirect(second.url))
    config = ClientConfig(is_public=only_127_0_0_1_is_public, **BASE)
    with pytest.raises(UnsafeURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=first.url), config)
    assert len(first.seen) == 1 and len(second.seen) == 1
    assert internal.seen == []


@MODES
@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"]
)
def test_redirect_to_metadata_is_refused(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str, allow: bool, target: str
) -> None:
    """Refused before any connection (an UnsafeURLError, not a connection error), even with
    allow_private_redirects=True."""
    ca, _ = pki
    public = servers("127.0.0.1", _redirect(target))
    config = ClientConfig(is_public=only_127_0_0_1_is_public, allow_private_redirects=allow, **BASE)
    with pytest.raises(UnsafeURLError) as info:
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=public.url), config)
    assert info.value.url == target


@MODES
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://168.63.129.16/"]
)
def test_metadata_address_is_never_contacted(
    pki: tuple[CA, Responder], leaf: Leaf, mode: str, url: str
) -> None:
    """Even when the caller names it: no OCSP responder lives at a metadata address."""
    ca, _ = pki
    with pytest.raises(UnsafeURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=url), ClientConfig(**BASE))


@MODES
def test_block_private_addresses_uses_the_injected_classification(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    strict = ClientConfig(block_private_addresses=True, is_public=only_127_0_0_1_is_public, **BASE)
    with pytest.raises(UnsafeURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=internal.url), strict)
    assert internal.seen == []
    public = servers("127.0.0.1", _relay(responder))
    result = run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=public.url), strict)
    assert result.status is CertStatus.GOOD


def test_unsafe_url_error_is_a_fetch_error() -> None:
    assert issubclass(UnsafeURLError, FetchError)


@pytest.mark.parametrize(
    ("address", "metadata"),
    [
        ("169.254.169.254", True),
        ("::ffff:169.254.169.254", True),
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("fd00:ec2::254", True),
        ("100.100.100.200", True),
        ("168.63.129.16", True),
        ("169.254.169.1", False),
        ("8.8.8.8", False),
        ("not an address", False),
    ],
)
def test_metadata_addresses(address: str, metadata: bool) -> None:
    assert is_metadata_address(address) is metadata
    if metadata:
        assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1",
     "::1", "fe80::1", "fc00::1", "64:ff9b::a00:1"],
)  # fmt: skip
def test_non_public_ranges(address: str) -> None:
    assert not is_public_address(address)


def test_every_metadata_address_is_non_public() -> None:
    assert all(not is_public_address(str(a)) for a in METADATA_ADDRESSES)


def test_is_public_must_be_callable() -> None:
    with pytest.raises(ValueError):
        ClientConfig(is_public="yes")  # type: ignore[arg-type]


# -- the audit's cases: the address that answered, a proxy, a hung lookup --------------------


def _names(monkeypatch: pytest.MonkeyPatch, answers: Callable[[str], list[str] | None]) -> None:
    """A resolver for test names (the system's for the rest): what the network's DNS says."""
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        ips = answers(name)
        if ips is None:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 0))) for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@MODES
@pytest.mark.parametrize("dns", ["public and private", "rebinding"])
def test_a_redirect_is_judged_by_the_address_that_sent_it(
    pki: tuple[CA, Responder], servers: Any, monkeypatch: pytest.MonkeyPatch, mode: str, dns: str
) -> None:
    """The responder's name has a public and a private address, or its answer changes between
    look-ups (rebinding): the client talked to the public one, so its redirect into the
    private network is refused, whatever a second look-up says."""
    ca, responder = pki
    internal = servers("127.0.0.2", _relay(responder))
    public = servers("127.0.0.1", _redirect(internal.url))
    asked = []

    def answers(name: str) -> list[str] | None:
        if name != "responder.test":
            return None
        asked.append(name)
        if dns == "rebinding":
            return ["127.0.0.1"] if len(asked) == 1 else ["127.0.0.2"]
        return ["127.0.0.1", "127.0.0.2"]

    _names(monkeypatch, answers)
    port = public.url.rsplit(":", 1)[1].rstrip("/")
    leaf = ca.issue("named.test", ocsp_url=f"http://responder.test:{port}/")
    config = ClientConfig(is_public=only_127_0_0_1_is_public, **BASE)
    with pytest.raises(UnsafeURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer), config)
    assert internal.seen == [] and len(public.seen) == 1


@MODES
@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/", "http://2852039166/x",
     "http://[::ffff:169.254.169.254]/", "http://metadata.google.internal/computeMetadata/"],
)  # fmt: skip
def test_a_metadata_url_is_refused_through_a_proxy_too(
    pki: tuple[CA, Responder], servers: Any, mode: str, url: str
) -> None:
    """A proxy would fetch it: the connection rule sees only the proxy's address, so the URL's
    host is refused before anything is sent, in any spelling."""
    ca, _ = pki
    proxy = servers("127.0.0.1", lambda method, path, body: (502, {}, b""))
    leaf = ca.issue("proxied.test", ocsp_url=url)
    config = ClientConfig(proxy=proxy.url, **BASE)
    with pytest.raises(UnsafeURLError, match="metadata"):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer), config)
    assert proxy.seen == []


def test_a_hung_lookup_does_not_hold_asyncio_run_past_the_deadline(
    pki: tuple[CA, Responder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup runs in a thread of its own, not in the loop's default executor, which
    asyncio.run waits for at its end."""
    ca, _ = pki
    real = socket.getaddrinfo

    def slow(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hangs.test", b"hangs.test"):
            time.sleep(8)
            raise OSError("no answer")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    leaf = ca.issue("slowdns.test", ocsp_url="http://hangs.test/")
    config = ClientConfig(deadline=1.0, timeout=1.0, retries=0)
    started = time.monotonic()
    with pytest.raises(ocspkit.FetchTimeoutError):
        asyncio.run(ocspkit.acheck(leaf.cert, ca.issuer, config=config))
    assert time.monotonic() - started < 3.0  # not the 8 s the lookup takes


@MODES
def test_a_location_that_is_no_usable_url_is_refused_once(
    pki: tuple[CA, Responder], leaf: Leaf, servers: Any, mode: str
) -> None:
    """Both clients refuse it as a bad redirect target, without asking again (httpx's own
    redirect building turned it into a broken connection, retried, in the blocking client)."""
    ca, _ = pki
    bad = servers("127.0.0.1", _redirect("http://0177.0.0.2:8080/"))
    config = ClientConfig(**{**BASE, "retries": 2, "backoff": 0.05})
    with pytest.raises(InvalidURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer, url=bad.url), config)
    assert len(bad.seen) == 1


@MODES
def test_a_redirect_through_the_environments_proxy_is_judged_by_the_names(
    pki: tuple[CA, Responder], servers: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """With ``http_proxy`` set, the address that answered is the proxy's (often a private
    one): it says nothing of the responder, whose public name makes its redirect into the
    private network refused, as before the proxy."""
    ca, _ = pki
    for key in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(key, raising=False)
    proxy = servers("127.0.0.2", _redirect("http://127.0.0.3:9/admin"))  # relays a 307
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    _names(monkeypatch, lambda name: ["127.0.0.1"] if name == "responder.test" else None)
    leaf = ca.issue(f"envproxy-{mode}.test", ocsp_url="http://responder.test/")
    config = ClientConfig(is_public=only_127_0_0_1_is_public, **BASE)
    with pytest.raises(UnsafeURLError):
        run(mode, lambda c: c.check(leaf.cert, ca.issuer), config)
    assert [path for _, path in proxy.seen if "127.0.0.3" in path] == []
