"""A tiny pyOpenSSL TLS server that staples: for tests, notebooks and ``ocspkit demo``.

Owns a loopback TLS listener that serves one certificate chain and, when asked
(``status_request``), the staple its callback returns. A test tool, never a production
server; it must never bind anything but the address it is given.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from cryptography import x509

__all__ = ["StaplingTLSServer"]


class StaplingTLSServer:
    """A small pyOpenSSL TLS server on loopback that staples what ``staple()`` returns.

    It completes handshakes and closes; it is for probing, not for serving content. Each
    connection gets the bytes of ``staple()`` at handshake time (``b""`` staples nothing).

    :param cert: the server's certificate; :param key: its private key;
        :param chain: extra certificates sent after it (the issuer).
    :param configure: called with the :class:`OpenSSL.SSL.Context` before serving (for
        instance a stapler's ``install``); without it, ``staple`` is installed.
    """

    def __init__(
        self,
        cert: x509.Certificate,
        key: Any,
        chain: tuple[x509.Certificate, ...] = (),
        *,
        staple: Callable[[], bytes] | None = None,
        configure: Callable[[Any], None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        from OpenSSL import SSL, crypto

        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        try:  # pyOpenSSL >= 24.3 takes cryptography objects (and deprecates its own)
            ctx.use_certificate(cert)  # type: ignore[arg-type, unused-ignore]
            ctx.use_privatekey(key)
            for extra in chain:
                ctx.add_extra_chain_cert(extra)  # type: ignore[arg-type, unused-ignore]
        except TypeError:
            ctx.use_certificate(crypto.X509.from_cryptography(cert))
            ctx.use_privatekey(crypto.PKey.from_cryptography_key(key))
            for extra in chain:
                ctx.add_extra_chain_cert(crypto.X509.from_cryptography(extra))
        if configure is not None:
            configure(ctx)
        else:
            source = staple if staple is not None else (lambda: b"")
            ctx.set_ocsp_server_callback(lambda _conn, _data: source())
        self._ctx = ctx
        self._sock = socket.create_server((host, 0))
        self._sock.settimeout(0.1)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ocspkit-demo-tls", daemon=True)

    def __enter__(self) -> StaplingTLSServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, wait for the serving thread, close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.closing(client):
                self._handle(client)

    def _handle(self, client: socket.socket) -> None:
        from OpenSSL import SSL

        # Blocking mode (pyOpenSSL wants it) with kernel timeouts, so a silent client
        # cannot hold the server.
        client.settimeout(None)
        limit = struct.pack("ll", 5, 0)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        conn = SSL.Connection(self._ctx, client)
        conn.set_accept_state()
        try:
            conn.do_handshake()
            self.handshakes += 1
            with contextlib.suppress(SSL.Error, OSError):
                conn.recv(1)  # until the client's close_notify or EOF
            with contextlib.suppress(SSL.Error, OSError):
                conn.shutdown()
        except (SSL.Error, OSError):
            return
