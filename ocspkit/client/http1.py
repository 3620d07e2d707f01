"""Plain-HTTP/1.1 exchanges for the async transport, over :class:`~.aiostream.AsyncioStream`.

What this module owns: :class:`PlainHTTPPool`, the keep-alive connections of direct
``http://`` requests made by :class:`~ocspkit.client.transport.AsyncDeadlineTransport`
(TLS and proxies stay with httpcore's pools). An OCSP exchange is one small request and one
small answer, and a bulk check is bound by the CPU spent per exchange: httpcore's pool costs
more per request than the rest of the check, and more again the more connections it holds
(it rescans them all on every request), and h11's state machine costs ~180 µs per exchange.
The bytes on the wire are :mod:`~.wire`'s (a strict reader that accepts and refuses what h11
does); connections come from :class:`~.backends.AsyncPinnedBackend`, so the guard's address
pinning and the refusal of cloud metadata addresses apply unchanged.
What it must never do: follow redirects, decode a body (``Content-Encoding`` is the
caller's to refuse), reuse a connection whose answer was not read to its end, or decide
anything about OCSP.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from .._version import __version__
from ..errors import UnsafeURLError
from .actions import BodyReader, Exchange, Reply, body_wanted, hide_location, transport_error
from .backends import AsyncPinnedBackend, MetadataAddressError
from .wire import END, NEED_DATA, Head, ResponseReader, request_bytes

__all__ = ["USER_AGENT", "PlainHTTPPool", "PlainTarget", "httpx_error", "plain_target"]

#: The User-Agent of every request the clients make.
USER_AGENT = f"ocspkit/{__version__}"
_AGENT = USER_AGENT.encode("ascii")

#: The HTTP exchanges of :meth:`PlainHTTPPool.exchange`, in httpx's and httpcore's formats.
log = logging.getLogger("ocspkit.http")

_READ = 65536
_CORE_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError)


# An origin-form request target made only of RFC 3986 characters (anything else, httpx would
# percent-encode first, so such a URL takes the httpx path).
_TARGET = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")


@dataclass(frozen=True, slots=True)
class PlainTarget:
    """Where a direct ``http://`` request goes: the connection key, ``Host`` and target."""

    host: str
    port: int
    host_header: bytes
    target: bytes


def plain_target(url: str) -> PlainTarget | None:
    """The :class:`PlainTarget` of an ASCII ``http://`` URL with no user information and an
    RFC 3986 path and query; ``None`` for anything else (which goes through httpx, whose URL
    handling covers every other case)."""
    if not url.startswith("http://") or not url.isascii():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    netloc = parts.netloc
    if not host or "@" in netloc or parts.fragment:
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if _TARGET.fullmatch(target) is None:
        return None
    if port == 80 or netloc.endswith(":"):
        netloc = netloc.rpartition(":")[0]  # httpx leaves the default port out of Host
    return PlainTarget(host.lower(), port or 80, netloc.lower().encode(), target.encode())


class _Connection:
    """One TCP connection and the reader of its answers."""

    __slots__ = ("held", "reader", "stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self.stream = stream
        self.reader = ResponseReader()
        #: True while an exchange uses it and it holds one of the pool's connection slots
        self.held = False

    def reusable(self) -> bool:
        """An idle connection the server has neither closed nor written to since."""
        return not self.stream.get_extra_info("is_readable")

    async def send(self, method: str | bytes, data: bytes, timeout: float | None) -> None:
        self.reader.start(method)
        await self.stream.write(data, timeout)

    async def _event(self, timeout: float | None) -> object:
        reader = self.reader
        while True:
            event = reader.next_event()
            if event is not NEED_DATA:
                return event
            reader.feed(await self.stream.read(_READ, timeout))  # b"": the server closed

    async def head(self, timeout: float | None) -> Head:
        """The answer's final head (informational 1xx heads skipped)."""
        while True:
            event = await self._event(timeout)
            if isinstance(event, Head) and event.status_code >= 200:
                return event

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        """The answer's body, piece by piece, to its end."""
        while (event := await self._event(timeout)) is not END:
            assert isinstance(event, bytes)
            yield event


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
            async for part in conn.body(self._timeout):
                yield part
            self._conn = None
            await self._pool.release(self._key, conn)
        except _CORE_ERRORS as exc:
            await self.aclose()
            raise httpx_error(exc) from exc

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # not read to the end: the connection cannot be reused
            await self._pool.discard(conn)


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

    :param max_idle: idle connections kept, all hosts together (more are closed).
    :param max_connections: connections open at once, in use or idle (``None``: no limit);
        further requests wait for one to be released, as in httpcore's pool, rather than open
        sockets until the process runs out of descriptors, and an idle connection is closed
        to make room for a new one.

    Errors are httpcore's (the transport maps them, as for its httpcore pools), except those
    raised while the body is read, which are httpx's already.
    """

    def __init__(self, max_idle: int, max_connections: int | None = None) -> None:
        self._backend = AsyncPinnedBackend(pin=True)
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._limit = max_connections or 0
        self._busy = 0  # slots taken: requests on a connection, or about to be

    def _free(self, conn: _Connection) -> None:
        if conn.held:
            conn.held = False
            self._give_slot()

    def _give_slot(self) -> None:
        if self._slots is not None:
            self._busy -= 1
            self._slots.release()

    async def _make_room(self) -> None:
        """Close the oldest idle connections while opening one more would pass the limit."""
        while self._limit and self._busy + self._idle_count > self._limit:
            key = next(iter(self._idle))  # the first host pooled (dicts keep insertion order)
            conn = self._pop_idle(key, 0)
            await conn.stream.aclose()

    def _pop_idle(self, key: tuple[str, int], where: int) -> _Connection:
        """Take an idle connection of ``key`` out of the pool (a host left with none goes)."""
        idle = self._idle[key]
        conn = idle.pop(where)
        self._idle_count -= 1
        if not idle:
            del self._idle[key]
        return conn

    async def discard(self, conn: _Connection) -> None:
        """Close ``conn`` (an answer not read to its end, or a failure) and free its slot."""
        self._free(conn)
        await conn.stream.aclose()

    async def release(self, key: tuple[str, int], conn: _Connection) -> None:
        """Keep ``conn`` for the next request to ``key`` if both sides may go on and the server
        sent nothing past its answer (never parse unrequested bytes as the next answer)."""
        self._free(conn)
        if conn.reader.reusable and self._idle_count < self._max_idle:
            self._idle.setdefault(key, []).append(conn)
            self._idle_count += 1
            return
        await conn.stream.aclose()

    async def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        while key in self._idle:
            conn = self._pop_idle(key, -1)
            if conn.reusable():
                return conn
            await conn.stream.aclose()
        return None

    async def _open_response(
        self,
        key: tuple[str, int],
        method: str | bytes,
        data: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[_Connection, Head]:
        """Send the request ``data`` on an idle connection to ``key`` (a fresh one when the
        server had closed it) or on a new one, once a connection slot is free; return the
        connection (holding the slot) and the final head."""
        if self._slots is not None:
            await self._slots.acquire()
            self._busy += 1
        try:
            conn, head = await self._send_on_one(key, method, data, timeouts)
        except BaseException:
            self._give_slot()
            raise
        conn.held = True
        return conn, head

    async def _send_on_one(
        self,
        key: tuple[str, int],
        method: str | bytes,
        data: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[_Connection, Head]:
        for attempt in (0, 1):
            # the retry after a kept-alive connection the server had closed opens a new one
            # (the other idle ones are as likely to be closed)
            conn = await self._take_idle(key) if attempt == 0 else None
            reused = conn is not None
            if conn is None:
                await self._make_room()
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("connect_tcp.started host=%r port=%d", key[0], key[1])
                try:
                    stream = await self._backend.connect_tcp(
                        key[0], key[1], timeouts.get("connect")
                    )
                except Exception as exc:
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("connect_tcp.failed exception=%r", exc)
                    raise
                conn = _Connection(stream)
            if log.isEnabledFor(logging.DEBUG):
                verb = method if isinstance(method, str) else method.decode("ascii")
                log.debug("send_request_headers.started request=<Request [%s]>", verb)
            try:
                await conn.send(method, data, timeouts.get("write"))
                head = await conn.head(timeouts.get("read"))
            except (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError):
                await conn.stream.aclose()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: a fresh one
                raise
            except BaseException:
                await conn.stream.aclose()
                raise
            return conn, head
        raise AssertionError("unreachable")  # pragma: no cover

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (``http://``, no proxy) and return the response, body unread."""
        url = request.url
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        key = (url.host, url.port or 80)
        body = await request.aread()
        headers = [(b"Host", request.headers.get("host", url.netloc.decode("ascii")).encode())]
        headers += [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        if body and request.headers.get("content-length") is None:
            headers.append((b"Content-Length", str(len(body)).encode()))
        data = request_bytes(request.method, url.raw_path, headers, body)
        conn, event = await self._open_response(key, request.method, data, timeouts)
        return httpx.Response(
            status_code=event.status_code,
            headers=hide_location(event.headers),
            stream=_Body(self, key, conn, timeouts.get("read")),
            extensions={"network_stream": conn.stream, "http_version": b"HTTP/1.1"},
        )

    async def exchange(self, action: Exchange, target: PlainTarget) -> Reply:
        """Perform ``action`` (a direct ``http://`` request, see :func:`plain_target`) without
        httpx's request and response objects: what a bulk check spends most per exchange on.

        Sends what httpx would (``Host``, ``User-Agent``, the action's headers and a
        ``Content-Length`` for a body); reads the body only when :func:`~.actions.body_wanted`
        says so, through :class:`~.actions.BodyReader` (size cap, deadline, no decoding).
        Logs one ``ocspkit.http`` INFO line per answer, in httpx's format, and httpcore-style
        DEBUG lines for connections, so ``-v`` shows the same thing on both paths. Raises
        :class:`~ocspkit.FetchError` subclasses (an unsafe address: ``UnsafeURLError``).
        """
        timeout = action.timeout
        key = (target.host, target.port)
        headers = [(b"Host", target.host_header), (b"User-Agent", _AGENT)]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in action.headers]
        body = action.body
        if body is not None:
            headers.append((b"Content-Length", str(len(body)).encode()))
        timeouts: dict[str, float | None] = {"connect": timeout, "read": timeout, "write": timeout}
        try:
            data = request_bytes(action.method, target.target, headers, body)
            conn, event = await self._open_response(key, action.method, data, timeouts)
        except MetadataAddressError as exc:
            raise UnsafeURLError(str(exc), url=action.url) from exc
        except (*_CORE_ERRORS, OSError) as exc:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("send_request.failed exception=%r", exc)
            mapped = httpx_error(exc)
            raise transport_error(mapped, action.url) from mapped
        try:
            found: dict[str, str] = {}
            for name, value in event.headers:  # the reader gives the names lower-cased
                k, v = name.decode("latin-1"), value.decode("latin-1")
                found[k] = f"{found[k]}, {v}" if k in found else v
            if log.isEnabledFor(logging.INFO):
                reason = event.reason.decode("latin-1", "replace")
                log.info('HTTP Request: %s %s "HTTP/1.1 %d %s"', action.method, action.url,
                         event.status_code, reason)  # fmt: skip
            addr = conn.stream.get_extra_info("server_addr")
            peer = str(addr[0]) if addr else None
            if not body_wanted(event.status_code, found, action):
                await self.discard(conn)  # the body is not read: the connection cannot be reused
                return Reply(event.status_code, found, b"", peer)
            reader = BodyReader(action, found)
            async for part in conn.body(timeout):
                reader.feed(part)
        except _CORE_ERRORS as exc:
            await self.discard(conn)
            mapped = httpx_error(exc)
            raise transport_error(mapped, action.url) from mapped
        except BaseException:
            await self.discard(conn)
            raise
        await self.release(key, conn)
        reader.check_deadline()
        return Reply(event.status_code, found, reader.body, peer)

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle, self._idle_count = self._idle, {}, 0
        for conns in idle.values():
            for conn in conns:
                await conn.stream.aclose()
