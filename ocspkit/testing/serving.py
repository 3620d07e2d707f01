"""The HTTP plumbing shared by the test servers (the OCSP responder, the CRL server).

What this module owns: a threaded HTTP server bound to one (loopback) address that can drop
every open connection at once, a quiet request handler base, and the life cycle (start in a
background thread, stop promptly even mid-answer, ``with`` / ``async with``). What it must
never do: decide what a server answers, bind anything but the address it is given, or be
imported by the library's non-testing modules.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["LoopbackServer", "QuietHandler", "ServerThread"]

S = TypeVar("S", bound="ServerThread")


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server that tracks its connections (to abort them on stop)."""

    daemon_threads = True

    def __init__(
        self,
        addr: tuple[str, int],
        family: socket.AddressFamily,
        owner: Any,
        handler: type[BaseHTTPRequestHandler],
    ) -> None:
        self.address_family = family
        #: The object serving (a Responder, a CRLServer); handlers read it.
        self.owner = owner
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client went away mid-answer; nothing to report (and never print)

    def abort_connections(self) -> None:
        """Shut every open connection down (a handler blocked writing or waiting wakes up)."""
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY, no logging; :meth:`send_body` for whole answers."""

    protocol_version = "HTTP/1.1"
    server_version = "ocspkit-testing"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end after this
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_body(
        self,
        code: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Send a complete answer (with Content-Length; no body for HEAD or a 304)."""
        self.send_response(code)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if code != 304:
            self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code != 304:
            self.wfile.write(body)


class ServerThread:
    """The life cycle of a test server: :meth:`start`, :meth:`stop`, ``with``, ``async with``.

    Subclasses set :attr:`handler` and call ``super().__init__(host, port)``.
    """

    handler: type[BaseHTTPRequestHandler] = QuietHandler
    thread_name = "ocspkit-server"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._stopping = threading.Event()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def start(self: S) -> S:
        """Bind and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._stopping.clear()
        server = LoopbackServer((self.host, self.port), family, self, self.handler)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.thread_name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (promptly, even mid-answer)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.abort_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def origin(self) -> str:
        """``http://host:port`` (IPv6 literals bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self: S) -> S:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)
