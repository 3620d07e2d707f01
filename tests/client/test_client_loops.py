"""The clients over https and on other event loops: a real nginx terminating TLS in front of the
test responder, trusted the way httpx documents (``SSL_CERT_FILE``), and the async client and
``check_many`` on uvloop as well as asyncio (uvloop's transports are not ``asyncio.Transport``
subclasses). Each run is a fresh interpreter, so the trust store it reads is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import load_certificate
from ocspkit.testing import CA, CRLServer, Responder
from ocspkit.testing.profiles import CRLEntrySpec
from tests._lab import RunningServer, Site, start_nginx
from tests._servers import REQUIRE

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

#: Runs in a child interpreter: checks each leaf against ``url`` with the client ``mode`` names,
#: on the event loop ``loop`` names, and prints one JSON list of status names or error types.
SCRIPT = r"""
import asyncio, json, sys, time
from pathlib import Path
from ocspkit import load_certificate
from ocspkit.client import AsyncClient, Client, ClientConfig, acheck_many

mode, loop, url, issuer_path, *leaf_paths = sys.argv[1:]
issuer = load_certificate(Path(issuer_path))
leaves = [load_certificate(Path(p)) for p in leaf_paths]
config = ClientConfig(force_url=url, retries=0, deadline=20.0)

def name(status, error):
    return status.name if status is not None else type(error).__name__

async def big_crl():
    # the loop is busy (blocked 50 ms at a time) while the exchange goes on
    async with AsyncClient(ClientConfig(retries=0, timeout=2.0, deadline=15.0)) as client:
        task = asyncio.ensure_future(client.fetch_crl(url, issuer=issuer))
        for _ in range(20):
            time.sleep(0.05)
            await asyncio.sleep(0)
        try:
            crl = await task
        except Exception as exc:
            return [type(exc).__name__]
        return ["CRL", len(crl.der)]

async def run_async():
    if mode == "big-crl":
        return await big_crl()
    if mode == "bulk":
        out = [None] * len(leaves)
        async for o in acheck_many(((c, issuer) for c in leaves), config=config):
            out[o.index] = name(o.status, o.error)
        return out
    out = []
    async with AsyncClient(config) as client:
        for leaf in leaves:
            try:
                out.append((await client.check(leaf, issuer)).status.name)
            except Exception as exc:
                out.append(type(exc).__name__)
    return out

if mode.startswith("mangled-"):
    # a nonce whose GET URL holds '%2F%2F': nginx decodes it and merges the slashes
    from ocspkit import build_request
    nonce = next(n for n in (i.to_bytes(16, "big") for i in range(1, 10**6))
                 if "%2F%2F" in build_request(leaves[0], issuer, nonce=n).get_url(url))
    with Client(ClientConfig(force_url=url, retries=0, method=mode[8:])) as client:
        try:
            out = [client.check(leaves[0], issuer, nonce=nonce).status.name]
        except Exception as exc:
            out = [type(exc).__name__, str(exc)]
elif mode == "sync":
    out = []
    with Client(config) as client:
        for leaf in leaves:
            try:
                out.append(client.check(leaf, issuer).status.name)
            except Exception as exc:
                out.append(type(exc).__name__)
elif loop == "uvloop":
    import uvloop
    out = uvloop.run(run_async())
else:
    out = asyncio.run(run_async())
print(json.dumps(out))
"""


def _need_uvloop() -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if REQUIRE:
            pytest.fail("uvloop is not installed and OCSPKIT_REQUIRE_SERVERS=1")
        pytest.skip("uvloop is not installed")


class Setup:
    """A CA, its responder, nginx serving it over TLS at :attr:`https`, and the files."""

    def __init__(self, base: Path, responder: Responder, nginx: RunningServer) -> None:
        self.base = base
        self.responder = responder
        self.http = responder.url
        self.https = f"https://127.0.0.1:{nginx.port('front')}/ocsp/"
        self.big_crl = f"https://127.0.0.1:{nginx.port('front')}/crl/big.crl"

    def run(
        self, mode: str, loop: str, url: str, leaves: list[Path], *, trust: bool = True
    ) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        if trust:
            env["SSL_CERT_FILE"] = str(self.base / "root.pem")
        else:  # a trust store without our root: the system's would not have it either
            env["SSL_CERT_FILE"] = str(self.base / "other-root.pem")
        args = [mode, loop, url, str(self.base / "issuer.pem"), *map(str, leaves)]
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, *args],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, CA, list[Path]]]:
    base = tmp_path_factory.mktemp("loops")
    ca = CA("ecdsa")
    (base / "root.pem").write_bytes(ca.root_pem)
    (base / "other-root.pem").write_bytes(CA("ecdsa", name="other").root_pem)
    (base / "issuer.pem").write_bytes(ca.issuer_pem)
    with Responder(ca) as responder, CRLServer(ca) as crls:
        leaves = []
        for i, revoked in enumerate((False, True, False)):
            leaf = ca.issue(f"loop{i}.test", sans=(f"loop{i}.test",))
            if revoked:
                ca.revoke(leaf.cert)
            path = base / f"leaf{i}.pem"
            path.write_bytes(leaf.cert_pem)
            leaves.append(path)
        when = datetime.now(timezone.utc) - timedelta(minutes=1)
        entries = [CRLEntrySpec(10**9 + i, when) for i in range(BIG_CRL_ENTRIES)]
        crls.publish("/big.crl", ca.sign_crl(entries=entries).public_bytes(Encoding.DER))
        front = ca.issue("localhost", ocsp_url="", crl_url="")
        site = Site.from_leaf(
            "front",
            front,
            base / "sites",
            stapling=False,
            extra=f"location /ocsp/ {{ proxy_pass http://127.0.0.1:{responder.port}/; }}\n"
            f"    location /crl/ {{ proxy_pass http://127.0.0.1:{crls.port}/; }}",
        )
        with start_nginx(base, [site]) as nginx:
            yield Setup(base, responder, nginx), ca, leaves


EXPECTED = ["GOOD", "REVOKED", "GOOD"]
#: About 460 KB of CRL: well past the 256 KiB the stream buffers before it pauses reading.
BIG_CRL_ENTRIES = 20000


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("mode", ["async", "bulk"])
def test_async_client_on_each_loop(
    setup: tuple[Setup, CA, list[Path]], mode: str, loop: str, scheme: str
) -> None:
    """https goes through nginx, http straight to the responder; every answer is fresh."""
    s, _, leaves = setup
    if loop == "uvloop":
        _need_uvloop()
    before = s.responder.requests
    assert s.run(mode, loop, s.https if scheme == "https" else s.http, leaves) == EXPECTED
    # each leaf asked once (a GET that nginx mangled is asked again by POST, see below)
    asked = [r.serials for r in s.responder.records[before:] if r.serials]
    assert sorted(asked) == sorted((load_certificate(p).serial_number,) for p in leaves)


def test_a_get_mangled_by_the_proxy_is_sent_again_by_post(
    setup: tuple[Setup, CA, list[Path]],
) -> None:
    """nginx normalises the path before ``proxy_pass http://backend/;``: a ``%2F%2F`` in the
    base64 reaches the responder as one ``/`` and the request no longer decodes. Under
    ``"auto"`` the malformedRequest answer sends the same request by POST; ``"get"`` reports it."""
    s, _, leaves = setup
    before = s.responder.requests
    assert s.run("mangled-auto", "asyncio", s.https, leaves[:1]) == ["GOOD"]
    records = s.responder.records[before:]
    assert [(r.method, r.serials) for r in records] == [
        ("GET", ()),
        ("POST", (load_certificate(leaves[0]).serial_number,)),
    ]
    assert s.run("mangled-get", "asyncio", s.https, leaves[:1]) == [
        "ResponderError",
        "OCSP responder answered malformed_request",
    ]


def test_blocking_client_over_https(setup: tuple[Setup, CA, list[Path]]) -> None:
    s, _, leaves = setup
    assert s.run("sync", "asyncio", s.https, leaves) == EXPECTED


@pytest.mark.parametrize(("mode", "loop"), [("sync", "asyncio"), ("async", "asyncio"),
                                            ("bulk", "asyncio"), ("async", "uvloop")])  # fmt: skip
def test_an_untrusted_https_responder_is_an_error_never_a_status(
    setup: tuple[Setup, CA, list[Path]], mode: str, loop: str
) -> None:
    s, _, leaves = setup
    if loop == "uvloop":
        _need_uvloop()
    before = s.responder.requests
    assert s.run(mode, loop, s.https, leaves, trust=False) == ["ConnectError"] * len(leaves)
    assert s.responder.requests == before  # the handshake failed before any request was sent


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_large_crl_over_https_on_a_busy_loop(
    setup: tuple[Setup, CA, list[Path]], loop: str
) -> None:
    """A CRL bigger than the stream's read buffer, over https, while the loop is busy."""
    s, _, _ = setup
    if loop == "uvloop":
        _need_uvloop()
    kind, size = s.run("big-crl", loop, s.big_crl, [])
    assert kind == "CRL" and int(size) > 400_000


STREAM_SCRIPT = r"""
import asyncio, ssl, sys
import httpcore
from ocspkit.client.aiostream import AsyncioStream

cert, key, root, loop_name = sys.argv[1:5]
tls = sys.argv[5] == "tls"
SIZE = 2 * 1024 * 1024

async def main():
    async def handle(reader, writer):
        writer.write(b"x" * SIZE)
        await writer.drain()
        writer.close()

    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    stream = await AsyncioStream.connect("127.0.0.1", port, 5, None, None)
    if tls:
        client = ssl.create_default_context(cafile=root)
        stream = await stream.start_tls(client, "localhost", 5)
    await asyncio.sleep(0.5)  # the reader falls behind: far more than the buffer arrives
    got = 0
    try:
        while chunk := await stream.read(65536, timeout=3):
            got += len(chunk)
    except httpcore.ReadTimeout:
        print("stalled", got)
        return
    finally:
        server.close()
    print("read", got)

if loop_name == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


@pytest.mark.parametrize("tls", ["tcp", "tls"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_lagging_reader_gets_the_whole_body(tmp_path: Path, loop: str, tls: str) -> None:
    """Past its buffer the stream pauses the transport and read() resumes it; after
    start_tls that is the TLS transport (pausing the TCP one beneath it was never undone, and
    the read stalled until its timeout)."""
    if loop == "uvloop":
        _need_uvloop()
    ca = CA("ecdsa")
    files = ca.issue("localhost").write(tmp_path, "server")
    root = tmp_path / "root.pem"
    root.write_bytes(ca.root_pem)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STREAM_SCRIPT,
            str(files.chain),
            str(files.key),
            str(root),
            loop,
            tls,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["read", str(2 * 1024 * 1024)]
