"""An httpcore network stream on an asyncio transport: what the async backend connects with.

What this module owns: :class:`AsyncioStream` (TCP connect with TCP_NODELAY, reads, writes and
TLS through ``loop.start_tls``, each bounded by the timeout httpcore passes) and the protocol
that buffers what a connection receives, pausing the transport past :data:`_READ_BUFFER`.
It runs on any asyncio event loop, uvloop included (whose transports are stream transports
without being ``asyncio.Transport`` subclasses). What it must never do: choose an address
(:class:`~.backends.AsyncPinnedBackend` passes only the guard-checked ones), touch a private
attribute of asyncio or httpcore, or outlive the whole exchange's deadline (the async client
cancels the exchange on top of these per-operation bounds).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any, cast

import httpcore

__all__ = ["AsyncioStream"]


#: Reading pauses when this many received bytes wait unread (the size cap is enforced above).
_READ_BUFFER = 256 * 1024


class _Protocol(asyncio.Protocol):
    """Collects what the connection receives; wakes the reader and the writer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: Exception | None = None
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop's are not).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_BUFFER and self.transport is not None:
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter, self._readable = self._readable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def readable(self, timeout: float | None) -> None:
        """Wait for data, EOF or an error; ``asyncio.TimeoutError`` after ``timeout`` seconds
        (a timer on the waiter itself: cheaper than an ``asyncio.timeout`` block per read)."""
        loop = asyncio.get_running_loop()
        waiter = self._readable = loop.create_future()
        if timeout is None:
            await waiter
            return
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()

    @property
    def paused(self) -> bool:
        """True while the transport's write buffer is over its high-water mark."""
        return self._writable is not None

    async def writable(self) -> None:
        if self._writable is not None:
            await asyncio.shield(self._writable)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


async def _within(awaitable: Any, timeout: float | None) -> Any:
    """``await awaitable`` for at most ``timeout`` seconds (``asyncio.TimeoutError`` after)."""
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):  # no extra task, unlike wait_for
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An httpcore network stream on an asyncio transport and :class:`_Protocol` (see module).

    Each operation is bounded by the ``timeout`` httpcore passes; the async client's deadline
    cancels the whole exchange on top.
    """

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    @classmethod
    async def connect(
        cls,
        address: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[Any] | None,
    ) -> AsyncioStream:
        """A TCP connection to the IP ``address`` (TCP_NODELAY set, as AnyIO does)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if local_address is not None:
                sock.bind((local_address, 0))
            await _within(loop.sock_connect(sock, (address, port)), timeout)
            transport, protocol = await loop.create_connection(_Protocol, sock=sock)
        except asyncio.TimeoutError as exc:
            sock.close()
            raise httpcore.ConnectTimeout(f"timed out connecting to {address}:{port}") from exc
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            sock.close()
            raise
        return cls(transport, protocol)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                await protocol.readable(timeout)
            except asyncio.TimeoutError:
                raise httpcore.ReadTimeout("timed out reading the response") from None
        if not protocol.buffer and protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if len(protocol.buffer) <= _READ_BUFFER and not self._transport.is_closing():
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if not self._protocol.paused:
            return
        try:
            await _within(self._protocol.writable(), timeout)
        except asyncio.TimeoutError:
            raise httpcore.WriteTimeout("timed out sending the request") from None

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            tls = await _within(
                loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if tls is None:  # typeshed allows it; no loop we know of does it
            self._transport.close()
            raise httpcore.ConnectError("the TLS handshake gave no transport")
        # the protocol now hears from the TLS transport: it must pause (and read() resume)
        # that one, not the TCP transport beneath it, or a paused socket is never resumed
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # data or EOF waiting on an idle connection: do not reuse it
            return bool(self._protocol.buffer) or self._protocol.eof
        names = {"client_addr": "sockname", "server_addr": "peername"}
        if info in ("ssl_object", "socket", "client_addr", "server_addr"):
            return self._transport.get_extra_info(names.get(info, info))
        return None
