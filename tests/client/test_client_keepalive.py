"""Kept-alive connections of the async client's plain-HTTP path: reused while the server keeps
them, never reused once it closed them or wrote to them unasked (stray bytes are never taken
for the next answer). Real servers on loopback that count their connections."""

from __future__ import annotations

import asyncio
import base64
import collections
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from ocspkit import CertStatus
from ocspkit.client import AsyncClient, ClientConfig, acheck_many
from ocspkit.testing import CA, Responder

pytestmark = pytest.mark.timeout(60)

STRAY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 4\r\n\r\nJUNK"
)


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1 answering OCSP GET/POST from ``responder``; after each answer it
    keeps the connection (``keep``), closes it without saying so (``close``) or writes a second,
    unrequested response on it (``stray``). Each answer waits ``delay`` seconds; ``busiest`` is
    the most connections it held open at once."""

    def __init__(self, responder: Responder, mode: str, delay: float = 0.0) -> None:
        self.responder = responder
        self.mode = mode
        self.delay = delay
        self.connections = 0
        self.open = self.busiest = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._count, args=(conn,), daemon=True).start()

    def _count(self, conn: socket.socket) -> None:
        with self.lock:
            self.open += 1
            self.busiest = max(self.busiest, self.open)
        try:
            self._serve(conn)
        finally:
            with self.lock:
                self.open -= 1

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                if method == "GET":
                    text = unquote(target.lstrip("/"))
                    body = base64.b64decode(text + "=" * (-len(text) % 4))
                der = self.responder.respond(body).der
                time.sleep(self.delay)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(der) + der
                )
                if self.mode == "stray":
                    conn.sendall(STRAY)
                elif self.mode == "close":
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        yield ca, responder


def checks(ca: CA, url: str, count: int) -> list[CertStatus]:
    leaves = [ca.issue(f"keepalive{i}.test") for i in range(count)]

    async def go() -> list[CertStatus]:
        async with AsyncClient(ClientConfig(retries=0)) as client:
            out = []
            for leaf in leaves:
                result = await client.check(leaf.cert, ca.issuer, url=url)
                out.append(result.status)
                await asyncio.sleep(0.05)  # the server's close or stray bytes arrive meanwhile
            return out

    return asyncio.run(go())


@pytest.mark.parametrize(("mode", "connections"), [("keep", 1), ("close", 3), ("stray", 3)])
def test_kept_alive_connections_are_reused_only_while_clean(
    pki: tuple[CA, Responder], mode: str, connections: int
) -> None:
    ca, responder = pki
    server = KeepAliveServer(responder, mode)
    try:
        assert checks(ca, server.url, 3) == [CertStatus.GOOD] * 3
        assert server.connections == connections
    finally:
        server.close()


def test_connections_in_use_are_capped_like_httpcores_pool(pki: tuple[CA, Responder]) -> None:
    """Many concurrent checks on one client wait for a connection slot (100, httpx's default
    max_connections) instead of opening a socket each until descriptors run out."""
    ca, responder = pki
    server = KeepAliveServer(responder, "keep", delay=0.3)
    leaves = [ca.issue(f"many{i}.test").cert for i in range(250)]

    async def go() -> list[CertStatus]:
        async with AsyncClient(ClientConfig(retries=0, deadline=60)) as client:
            results = await asyncio.gather(
                *(client.check(leaf, ca.issuer, url=server.url) for leaf in leaves)
            )
        return [r.status for r in results]

    try:
        assert asyncio.run(go()) == [CertStatus.GOOD] * len(leaves)
        # the server counts a closed connection a moment late (its thread sees the EOF after
        # the client opened the next one), hence the slack
        assert 50 < server.busiest <= 110
    finally:
        server.close()


def test_idle_connections_count_toward_the_cap(pki: tuple[CA, Responder]) -> None:
    """A bulk check over two responders keeps at most ``concurrency`` sockets open in all,
    idle ones included: an idle connection to one host is closed to open one to the other."""
    ca, responder = pki
    servers = [KeepAliveServer(responder, "keep", delay=0.02) for _ in range(2)]
    # thirty for the first responder, then thirty for the second: its idle connections
    # would otherwise stay open beside the second's
    leaves = [ca.issue(f"two{i}.test", ocsp_url=servers[i // 30].url).cert for i in range(60)]
    most = 0
    stop = threading.Event()

    def sample() -> None:
        # what stays open for 30 ms: a server thread sees a close a moment late (it shares
        # the GIL with the client), so a single sample can count a closed connection
        nonlocal most
        window: collections.deque[int] = collections.deque(maxlen=15)
        while not stop.is_set():
            window.append(sum(s.open for s in servers))
            if len(window) == window.maxlen:
                most = max(most, min(window))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def go() -> list[CertStatus]:
        out = []
        async for outcome in acheck_many(((leaf, ca.issuer) for leaf in leaves), concurrency=4):
            assert outcome.status is not None, outcome.error
            out.append(outcome.status)
        return out

    try:
        assert asyncio.run(go()) == [CertStatus.GOOD] * len(leaves)
    finally:
        stop.set()
        sampler.join()
        for server in servers:
            server.close()
    assert 2 <= most <= 4
