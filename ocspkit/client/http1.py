"""Plain-HTTP/1.1 exchanges for the async transport: h11 over :class:`~.backends.AsyncioStream`.

What this module owns: :class:`PlainHTTPPool`, the keep-alive connections of direct
``http://`` requests made by :class:`~ocspkit.client.transport.AsyncDeadlineTransport`
(TLS and proxies stay with httpcore's pools). An OCSP exchange is one small request and one
small answer, and a bulk check is bound by the CPU spent per exchange: httpcore's pool costs
more per request than the rest of the check, and more again the more connections it holds
(it rescans them all on every request). h11 is the parser httpcore itself uses; connections
come from :class:`~.backends.AsyncPinnedBackend`, so the guard's address pinning and the
refusal of cloud metadata addresses apply unchanged.
What it must never do: follow redirects, decode a body (``Content-Encoding`` is the
caller's to refuse), reuse a connection whose answer was not read to its end, or decide
anything about OCSP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import h11
import httpcore
import httpx

from .backends import AsyncPinnedBackend

__all__ = ["PlainHTTPPool", "httpx_error"]

_READ = 65536
_CORE_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError)


class _Connection:
    """One TCP connection and its h11 state machine."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    def reusable(self) -> bool:
        """An idle connection the server has neither closed nor written to since."""
        return not self.stream.get_extra_info("is_readable")

    async def send(self, events: list[Any], timeout: float | None) -> None:
        data = b"".join(self.h11.send(event) or b"" for event in events)
        await self.stream.write(data, timeout)

    async def next_event(self, timeout: float | None) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpcore.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.read(_READ, timeout)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpcore.RemoteProtocolError("server disconnected without sending a response")
            try:
                self.h11.receive_data(data)  # b"" tells h11 the server closed
            except h11.RemoteProtocolError as exc:
                raise httpcore.RemoteProtocolError(str(exc)) from exc


class _Body(httpx.AsyncByteStream):
    """The body of one response; hands the connection back to the pool once read to its end."""

    def __init__(
        self, pool: PlainHTTPPool, key: tuple[str, int], conn: _Connection, timeout: float | None
    ) -> None:
        self._pool = pool
        self._key = key
        self._conn: _Connection | None = conn
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = await conn.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._conn = None
                    await self._pool.release(self._key, conn)
                    return
                else:  # ConnectionClosed before the end of the body
                    raise httpcore.RemoteProtocolError("server disconnected mid-response")
        except _CORE_ERRORS as exc:
            await self.aclose()
            raise httpx_error(exc) from exc

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # not read to the end: the connection cannot be reused
            await conn.stream.aclose()


def httpx_error(exc: Exception) -> Exception:
    """httpx's exception for an httpcore one (httpx names its transport errors the same)."""
    for cls in type(exc).__mro__:
        target = getattr(httpx, cls.__name__, None)
        if isinstance(target, type) and issubclass(target, httpx.TransportError):
            mapped: Exception = target(str(exc) or type(exc).__name__)
            mapped.__cause__ = exc
            return mapped
    return exc


class PlainHTTPPool:
    """Keep-alive HTTP/1.1 connections per ``(host, port)`` for direct ``http://`` requests.

    :param max_idle: idle connections kept per host (more are closed).

    Errors are httpcore's (the transport maps them, as for its httpcore pools), except those
    raised while the body is read, which are httpx's already.
    """

    def __init__(self, max_idle: int) -> None:
        self._backend = AsyncPinnedBackend(pin=True)
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def release(self, key: tuple[str, int], conn: _Connection) -> None:
        """Keep ``conn`` for the next request to ``key`` if both sides may go on and the server
        sent nothing past its answer (never parse unrequested bytes as the next answer)."""
        leftover, closed = conn.h11.trailing_data
        both_done = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
        if both_done and not leftover and not closed:
            conn.h11.start_next_cycle()
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(conn)
                return
        await conn.stream.aclose()

    async def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.reusable():
                return conn
            await conn.stream.aclose()
        return None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (``http://``, no proxy) and return the response, body unread."""
        url = request.url
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        key = (url.host, url.port or 80)
        body = await request.aread()
        headers = [(b"Host", request.headers.get("host", url.netloc.decode("ascii")).encode())]
        headers += [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        events: list[Any] = [h11.Request(method=request.method, target=url.raw_path,
                                         headers=headers)]  # fmt: skip
        if body:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        for attempt in (0, 1):
            conn = await self._take_idle(key)
            reused = conn is not None
            if conn is None:
                stream = await self._backend.connect_tcp(key[0], key[1], timeouts.get("connect"))
                conn = _Connection(stream)
            try:
                await conn.send(events, timeouts.get("write"))
                event = await conn.next_event(timeouts.get("read"))
                while isinstance(event, h11.InformationalResponse):
                    event = await conn.next_event(timeouts.get("read"))
                if not isinstance(event, h11.Response):
                    raise httpcore.RemoteProtocolError("server closed without a response")
            except (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError):
                await conn.stream.aclose()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: a fresh one
                raise
            except BaseException:
                await conn.stream.aclose()
                raise
            return httpx.Response(
                status_code=event.status_code,
                headers=[(bytes(k), bytes(v)) for k, v in event.headers.raw_items()],
                stream=_Body(self, key, conn, timeouts.get("read")),
                extensions={"network_stream": conn.stream, "http_version": b"HTTP/1.1"},
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                await conn.stream.aclose()
