"""A lean httpx transport for plain-HTTP OCSP traffic, on asyncio streams and h11.

httpx's default async transport (httpcore over anyio) spends about 1 ms of CPU per request;
an OCSP exchange is one small request and one small answer, and a bulk check is CPU-bound on
exactly that. This transport speaks HTTP/1.1 with h11 (the parser httpcore uses) directly over
``asyncio.open_connection``, keeps idle connections per host, honours httpx's per-request
timeouts, raises httpx's own exception types, and hands anything but plain ``http://`` (TLS)
to a regular :class:`httpx.AsyncHTTPTransport`. The clients use it only for the httpx client
they create themselves without a proxy.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

from .deadline import pinned_addresses

__all__ = ["AsyncStreamTransport"]

_READ = 65536


class _PeerInfo:
    """What ``response.extensions["network_stream"]`` offers: the peer address."""

    def __init__(self, peer: Any) -> None:
        self._peer = peer

    def get_extra_info(self, name: str) -> Any:
        return self._peer if name == "server_addr" else None


async def _within(awaitable: Any, timeout: float | None) -> Any:
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.peer = writer.get_extra_info("peername")
        self.loop = asyncio.get_running_loop()

    def usable(self) -> bool:
        if self.loop is not asyncio.get_running_loop():  # kept from another event loop
            return False
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        if self.loop.is_closed():  # left over from a finished event loop: nothing to tell it
            return
        self.writer.close()

    async def send(self, events: list[Any], timeout: float | None) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.writer.write(data)
        try:
            await _within(self.writer.drain(), timeout)
        except asyncio.TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    async def next_event(self, timeout: float | None) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await _within(self.reader.read(_READ), timeout)
            except asyncio.TimeoutError:
                raise httpx.ReadTimeout("timed out reading the response") from None
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, transport: AsyncStreamTransport, key: tuple[str, int], conn: _Connection,
        timeout: float | None,
    ) -> None:  # fmt: skip
        self._transport = transport
        self._key = key
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            event = await conn.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._conn = None
                self._transport._release(self._key, conn)
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("server disconnected mid-response")

    async def aclose(self) -> None:
        if self._conn is not None:  # not read to the end: the connection cannot be reused
            self._conn.close()
            self._conn = None


class AsyncStreamTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncBaseTransport` for ``http://`` on asyncio streams (see module).

    :param fallback: the transport for other schemes (TLS); closed with this one.
    :param max_idle: idle keep-alive connections kept per host.
    """

    def __init__(self, fallback: httpx.AsyncBaseTransport, max_idle: int = 20) -> None:
        self._fallback = fallback
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    def _release(self, key: tuple[str, int], conn: _Connection) -> None:
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            pool = self._idle.setdefault(key, [])
            if len(pool) < self._max_idle:
                pool.append(conn)
                return
        conn.close()

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        pool = self._idle.get(key)
        while pool:
            conn = pool.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _connect(self, host: str, port: int, timeout: float | None) -> _Connection:
        # with the private-address guard on, connect only to the addresses it checked
        last: httpx.TransportError | None = None
        for address in pinned_addresses() or (host,):
            try:
                reader, writer = await _within(asyncio.open_connection(address, port), timeout)
            except asyncio.TimeoutError:
                last = httpx.ConnectTimeout(f"timed out connecting to {address}:{port}")
                continue
            except OSError as exc:
                last = httpx.ConnectError(str(exc) or type(exc).__name__)
                last.__cause__ = exc
                continue
            return _Connection(reader, writer)
        assert last is not None
        raise last

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (plain http here; anything else via the fallback transport)."""
        url = request.url
        if url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        key = (url.host, url.port or 80)
        body = await request.aread()
        headers = [(b"host", request.headers.get("host", url.netloc.decode()).encode())]
        headers += [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        target = url.raw_path
        for attempt in (0, 1):
            conn = self._take_idle(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key[0], key[1], timeouts.get("connect"))
            try:
                events: list[Any] = [
                    h11.Request(method=request.method, target=target, headers=headers)
                ]
                if body:
                    events.append(h11.Data(data=body))
                events.append(h11.EndOfMessage())
                await conn.send(events, timeouts.get("write"))
                event = await conn.next_event(timeouts.get("read"))
                while isinstance(event, h11.InformationalResponse):
                    event = await conn.next_event(timeouts.get("read"))
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: try a fresh one
                raise
            except BaseException:
                conn.close()
                raise
            if not isinstance(event, h11.Response):
                conn.close()
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            return httpx.Response(
                status_code=event.status_code,
                headers=[(bytes(k), bytes(v)) for k, v in event.headers],
                stream=_Body(self, key, conn, timeouts.get("read")),
                extensions={"network_stream": _PeerInfo(conn.peer), "http_version": b"HTTP/1.1"},
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close idle connections and the fallback transport."""
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()
        await self._fallback.aclose()
