"""The httpx transports of the clients: httpcore connection pools over this package's backends.

What this module owns: :class:`DeadlineTransport` and :class:`AsyncDeadlineTransport`, the
:class:`httpx.BaseTransport` / :class:`httpx.AsyncBaseTransport` implementations (httpx's
documented extension point for custom transports) that the clients install in the httpx
clients they create. Each one sends requests through :class:`httpcore.ConnectionPool` (or
:class:`httpcore.HTTPProxy` / :class:`httpcore.SOCKSProxy` for a proxy) built with httpcore's
public ``network_backend`` argument set to a backend of :mod:`ocspkit.client.backends`, so
that every socket operation honours the call's deadline and connections go only to the
addresses the guard checked.
What it must never do: use a private attribute or module of httpx or httpcore, follow
redirects, or decide anything about OCSP.

Proxies: an explicit ``proxy`` URL is used for every request; without one, the standard
``http_proxy`` / ``https_proxy`` / ``all_proxy`` / ``no_proxy`` environment variables are
honoured (``urllib.request.getproxies`` and ``proxy_bypass``), read when the transport is
made, as httpx reads them when its client is made (scanning the environment on every request
was a visible share of a bulk check's CPU).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from ..errors import UnsafeURLError
from .actions import Exchange, Reply, hide_location
from .backends import AsyncPinnedBackend, DeadlineBackend, MetadataAddressError
from .http1 import PlainHTTPPool, httpx_error, plain_target

__all__ = ["AsyncDeadlineTransport", "DeadlineTransport", "proxy_for"]

_SOCKS = ("socks5", "socks5h")


def proxy_for(
    url: httpx.URL, explicit: str | None, environment: dict[str, str] | None = None
) -> str | None:
    """The proxy URL for a request to ``url``: ``explicit``, else the environment's (the
    ``environment`` given, from :func:`urllib.request.getproxies`, or read now), else None."""
    return _proxy_for(url.scheme, url.host, explicit, environment)


def _proxy_for(
    scheme: str, host: str, explicit: str | None, environment: dict[str, str] | None
) -> str | None:
    if explicit is not None:
        return explicit
    proxies = urllib.request.getproxies() if environment is None else environment
    found = proxies.get(scheme) or proxies.get("all")
    if not found or urllib.request.proxy_bypass(host):
        return None
    return found if "://" in found else f"http://{found}"


def _core_request(request: httpx.Request, stream: Any) -> httpcore.Request:
    url = request.url
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        ),
        headers=request.headers.raw,
        content=stream,
        extensions=request.extensions,
    )


def _pool_args(
    proxy: str | None, ssl_context: ssl.SSLContext, limits: httpx.Limits
) -> tuple[str, dict[str, Any]]:
    """``(kind, keyword arguments)`` of one httpcore pool; kind is direct, http or socks."""
    args: dict[str, Any] = {
        "ssl_context": ssl_context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }
    if proxy is None:
        return "direct", args
    purl = httpx.URL(proxy)
    if purl.scheme in _SOCKS:
        kind = "socks"
    elif purl.scheme in ("http", "https"):
        kind = "http"
    else:
        raise ValueError(f"unsupported proxy scheme {purl.scheme!r}")
    args["proxy_url"] = httpcore.URL(
        scheme=purl.raw_scheme, host=purl.raw_host, port=purl.port, target=b"/"
    )
    if purl.username:
        args["proxy_auth"] = (purl.username, purl.password)
    return kind, args


_SYNC_POOLS: dict[str, type[httpcore.ConnectionPool]] = {
    "direct": httpcore.ConnectionPool,
    "http": httpcore.HTTPProxy,
    "socks": httpcore.SOCKSProxy,
}
_ASYNC_POOLS: dict[str, type[httpcore.AsyncConnectionPool]] = {
    "direct": httpcore.AsyncConnectionPool,
    "http": httpcore.AsyncHTTPProxy,
    "socks": httpcore.AsyncSOCKSProxy,
}


def _refused(exc: MetadataAddressError, request: httpx.Request) -> UnsafeURLError:
    error = UnsafeURLError(str(exc), url=str(request.url))
    error.__cause__ = exc
    return error


class _Body(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx_error(exc) from exc

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """A blocking httpx transport whose sockets honour the call's deadline (see the module).

    :param proxy: a proxy URL for every request (``None``: the environment's, per request).
    :param ssl_context: the TLS context for https (and https proxies).
    :param limits: httpx's pool limits.
    """

    def __init__(
        self,
        *,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable
    ) -> None:
        self._proxy = proxy
        self._environment = urllib.request.getproxies() if proxy is None else {}
        self._ssl_context = ssl_context
        self._limits = limits
        self._pools: dict[str | None, httpcore.ConnectionPool] = {}

    def _pool(self, url: httpx.URL) -> httpcore.ConnectionPool:
        proxy = proxy_for(url, self._proxy, self._environment)
        pool = self._pools.get(proxy)
        if pool is None:
            kind, args = _pool_args(proxy, self._ssl_context, self._limits)
            # a direct pool connects only to the guard's addresses; a proxy pool to the proxy
            backend = DeadlineBackend(pin=kind == "direct")
            pool = _SYNC_POOLS[kind](network_backend=backend, **args)
            self._pools[proxy] = pool
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the right pool; httpcore errors become httpx errors."""
        pool = self._pool(request.url)
        try:
            response = pool.handle_request(_core_request(request, request.stream))
        except MetadataAddressError as exc:
            raise _refused(exc, request) from exc
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx_error(exc) from exc
        except httpcore.UnsupportedProtocol as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        return httpx.Response(
            status_code=response.status,
            headers=hide_location(response.headers),
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Close every pool."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx_error(exc) from exc

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


class AsyncDeadlineTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`DeadlineTransport`.

    Direct ``http://`` requests (no proxy) go through :class:`~.http1.PlainHTTPPool` (ocspkit's
    own HTTP/1.1 reader over asyncio: much less CPU per request than httpcore's pool); TLS and
    proxies through httpcore's pools.

    The deadline itself is enforced by the async client cancelling the exchange; the backend
    chooses the addresses. Pools are per event loop: a client used from a second event loop
    (two ``asyncio.run`` calls) opens new connections instead of reusing dead ones.
    """

    def __init__(
        self,
        *,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable
    ) -> None:
        self._proxy = proxy
        self._environment = urllib.request.getproxies() if proxy is None else {}
        self._ssl_context = ssl_context
        self._limits = limits
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pools: dict[str | None, httpcore.AsyncConnectionPool] = {}
        self._plain = self._new_plain_pool()

    def _new_plain_pool(self) -> PlainHTTPPool:
        limits = self._limits
        return PlainHTTPPool(limits.max_keepalive_connections or 20, limits.max_connections)

    def _plain_pool(self) -> PlainHTTPPool:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections of a finished loop cannot be used (or closed)
            self._pools = {}
            self._plain = self._new_plain_pool()
            self._loop = loop
        return self._plain

    async def exchange(self, action: Exchange) -> Reply | None:
        """Perform ``action`` directly on the plain-HTTP pool when it is a direct ``http://``
        request (see :func:`~.http1.plain_target`), bypassing httpx's client layer; ``None``
        when it must go through :meth:`handle_async_request` (TLS, a proxy, an unusual URL).
        The caller applies the deadline and the guard's addresses, as for httpx requests."""
        target = plain_target(action.url)
        if target is None or _proxy_for("http", target.host, self._proxy, self._environment):
            return None
        return await self._plain_pool().exchange(action, target)

    def _pool(self, url: httpx.URL) -> httpcore.AsyncConnectionPool | PlainHTTPPool:
        plain = self._plain_pool()  # also drops the pools of a finished event loop
        proxy = proxy_for(url, self._proxy, self._environment)
        if proxy is None and url.scheme == "http":
            return plain
        pool = self._pools.get(proxy)
        if pool is None:
            kind, args = _pool_args(proxy, self._ssl_context, self._limits)
            backend = AsyncPinnedBackend(pin=kind == "direct")
            pool = _ASYNC_POOLS[kind](network_backend=backend, **args)
            self._pools[proxy] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the right pool; httpcore errors become httpx errors."""
        pool = self._pool(request.url)
        try:
            if isinstance(pool, PlainHTTPPool):
                return await pool.handle(request)
            response = await pool.handle_async_request(_core_request(request, request.stream))
        except MetadataAddressError as exc:
            raise _refused(exc, request) from exc
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx_error(exc) from exc
        except httpcore.UnsupportedProtocol as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        return httpx.Response(
            status_code=response.status,
            headers=hide_location(response.headers),
            stream=_AsyncBody(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the pools of the current event loop."""
        pools, self._pools = self._pools, {}
        if self._loop is not None and self._loop is asyncio.get_running_loop():
            await self._plain.aclose()
            for pool in pools.values():
                await pool.aclose()
