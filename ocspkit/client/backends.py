"""httpcore network backends that honour a call's absolute deadline and the guard's addresses.

What this module owns: the :class:`httpcore.NetworkBackend` /
:class:`httpcore.AsyncNetworkBackend` implementations that the clients' transports
(:mod:`ocspkit.client.transport`) hand to httpcore through its public ``network_backend``
argument, the per-call limits they read (a :class:`contextvars.ContextVar` set around each
exchange by :func:`limits`), and the bounded name lookup :func:`resolve_within`.
What it must never do: touch a private attribute of httpx or httpcore, or decide anything
about OCSP (the plan decides; this only connects, reads and writes within limits).

httpx's timeouts apply to each socket operation, so a server that trickles one byte per
second keeps a blocking call alive for as long as it likes. :class:`DeadlineBackend` clamps
*every* operation (connect, each read and write, the TLS handshake as a whole) to what is left
of the deadline of the call in progress. Both backends connect only to the IP addresses the
private-address guard checked (for direct connections), so a DNS answer that changes after the
check cannot redirect the request, and never to a cloud metadata address
(:func:`~ocspkit.client.guard.is_metadata_address`), whatever name led there.

The async backend runs its connections on asyncio itself (:class:`~.aiostream.AsyncioStream`)
rather than through AnyIO's streams, whose cancel scopes and task groups cost more CPU than the
rest of a bulk check's HTTP work.

Host names are resolved by :func:`resolve_within` (and :func:`aresolve_within` under asyncio):
a blocking ``getaddrinfo`` cannot be interrupted, so it runs in a daemon thread that the
caller stops waiting for at the deadline (never in asyncio's default executor, which
``asyncio.run`` waits for at its end); at most :data:`MAX_LOOKUPS` such threads exist at
once, however many lookups time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore

from .aiostream import AsyncioStream
from .guard import getaddrinfo_addresses, is_metadata_address, literal_address

__all__ = [
    "MAX_LOOKUPS",
    "AsyncPinnedBackend",
    "CallLimits",
    "DeadlineBackend",
    "MetadataAddressError",
    "limits",
    "pinned_addresses",
    "resolve_within",
]

#: The most name lookups in flight at once (each in a daemon thread); more wait for a slot.
MAX_LOOKUPS = 8
_LOOKUP_SLOTS = threading.BoundedSemaphore(MAX_LOOKUPS)


@dataclass(frozen=True, slots=True)
class CallLimits:
    """The limits of the exchange in progress.

    :ivar deadline: absolute ``time.monotonic()`` value nothing may run past.
    :ivar addresses: the only IP addresses a direct connection may go to (empty: any).
    """

    deadline: float
    addresses: tuple[str, ...] = ()


_CURRENT: ContextVar[CallLimits | None] = ContextVar("ocspkit_call_limits", default=None)


@contextmanager
def limits(deadline: float, addresses: tuple[str, ...] = ()) -> Iterator[None]:
    """Apply ``deadline`` and ``addresses`` to the connections used inside the block."""
    token = _CURRENT.set(CallLimits(deadline, addresses))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def pinned_addresses() -> tuple[str, ...]:
    """The addresses the current exchange must connect to (empty: no restriction)."""
    current = _CURRENT.get()
    return current.addresses if current is not None else ()


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` capped by the current deadline; raises ``error`` once it has passed."""
    current = _CURRENT.get()
    if current is None:
        return timeout
    remaining = current.deadline - time.monotonic()
    if remaining <= 0:
        raise error("deadline exceeded")
    return remaining if timeout is None else min(timeout, remaining)


#: What a lookup thread reports: the addresses, or the :class:`OSError` it failed with.
_Report = Callable[[tuple[str, ...], OSError | None], None]


def _lookup_in_thread(host: str, port: int, report: _Report) -> None:
    """Resolve ``host`` in a daemon thread holding one of the :data:`MAX_LOOKUPS` slots (the
    caller has taken it; the thread gives it back) and ``report`` the outcome from there."""

    def work() -> None:
        addresses: tuple[str, ...] = ()
        error: OSError | None = None
        try:
            addresses = getaddrinfo_addresses(host, port)
        except OSError as exc:
            error = exc
        except Exception as exc:  # UnicodeError (bad IDNA), ...
            error = OSError(f"cannot resolve {host}: {exc}")
        finally:
            _LOOKUP_SLOTS.release()
        report(addresses, error)

    try:
        threading.Thread(target=work, name="ocspkit-resolve", daemon=True).start()
    except BaseException:
        _LOOKUP_SLOTS.release()
        raise


def resolve_within(host: str, port: int, timeout: float) -> tuple[str, ...]:
    """The addresses of ``host`` within ``timeout`` seconds.

    Raises :class:`TimeoutError` when the lookup (or a free lookup slot) takes longer, and
    :class:`OSError` when it fails. An IP literal is returned as is, without a lookup.
    """
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    started = time.monotonic()
    if not _LOOKUP_SLOTS.acquire(timeout=max(0.0, timeout)):
        raise TimeoutError(f"resolving {host} timed out (too many lookups pending)")
    box: list[tuple[tuple[str, ...], OSError | None]] = []
    done = threading.Event()

    def report(addresses: tuple[str, ...], error: OSError | None) -> None:
        box.append((addresses, error))
        done.set()

    _lookup_in_thread(host, port, report)
    if not done.wait(max(0.0, timeout - (time.monotonic() - started))):
        raise TimeoutError(f"resolving {host} timed out")
    addresses, error = box[0]
    if error is not None:
        raise error
    return addresses


async def aresolve_within(host: str, port: int, timeout: float) -> tuple[str, ...]:
    """:func:`resolve_within` for asyncio: the lookup runs in a daemon thread of its own (one
    of the same :data:`MAX_LOOKUPS`), never in the loop's default executor, which
    ``asyncio.run`` waits for at its end: a lookup that hangs must not hold the program past
    the deadline it was given. Raises :class:`TimeoutError` or :class:`OSError` likewise."""
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    loop = asyncio.get_running_loop()
    end = loop.time() + max(0.0, timeout)
    while not _LOOKUP_SLOTS.acquire(blocking=False):  # never block the loop for a slot
        if loop.time() >= end:
            raise TimeoutError(f"resolving {host} timed out (too many lookups pending)")
        await asyncio.sleep(0.01)
    answer: asyncio.Future[tuple[str, ...]] = loop.create_future()

    def deliver(addresses: tuple[str, ...], error: OSError | None) -> None:
        if answer.done():  # timed out or cancelled meanwhile: nobody waits
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(addresses)

    def report(addresses: tuple[str, ...], error: OSError | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(deliver, addresses, error)

    _lookup_in_thread(host, port, report)
    try:  # a timeout or a cancellation cancels ``answer``: a late result is dropped unseen
        return await asyncio.wait_for(answer, max(0.0, end - loop.time()))
    except asyncio.TimeoutError:
        raise TimeoutError(f"resolving {host} timed out") from None


class MetadataAddressError(httpcore.ConnectError):
    """A connection to a cloud metadata address was refused (the transports turn this into
    :class:`~ocspkit.UnsafeURLError`)."""


def _refuse_metadata(host: str, addresses: Iterable[str]) -> tuple[str, ...]:
    found = tuple(addresses)
    for address in found:
        if is_metadata_address(address):
            raise MetadataAddressError(f"refusing to connect to cloud metadata address {address}")
    return found


def _connect_each(addresses: Iterable[str], attempt: Any) -> Any:
    """Try ``attempt(address)`` for each address in turn; re-raise the last failure."""
    last: Exception | None = None
    for address in addresses:
        try:
            return attempt(address)
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            last = exc
    if last is None:
        raise httpcore.ConnectError("the host resolves to no address")
    raise last


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation is capped by the current call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # CPython bounds the whole handshake by the socket timeout (one deadline for it all)
        limit = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, limit))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend with every operation capped by the call's deadline.

    :param pin: connect only to the guard-checked addresses of the call (direct connections;
        not for the connection to a proxy, whose address the guard did not check).
    """

    def __init__(self, pin: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._pin = pin

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        current = _CURRENT.get()
        if current is None:
            return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = current.addresses if self._pin else ()
        if not addresses:
            limit = _clamp(timeout, httpcore.ConnectTimeout)
            try:
                addresses = resolve_within(host, port, 30.0 if limit is None else limit)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        addresses = _refuse_metadata(host, addresses)

        def attempt(address: str) -> httpcore.NetworkStream:
            limit = _clamp(timeout, httpcore.ConnectTimeout)
            stream = self._inner.connect_tcp(address, port, limit, local_address, socket_options)
            return _DeadlineStream(stream)

        stream: httpcore.NetworkStream = _connect_each(addresses, attempt)
        return stream

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        limit = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, limit, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's async backend, connecting only to the guard-checked addresses of the call
    (when there are some) and never to a cloud metadata address.

    :param pin: use the guard-checked addresses (direct connections; not for the connection
        to a proxy, whose address the guard did not check).

    (The async client enforces its deadline by cancelling the whole exchange; only the
    choice of addresses is needed here.)
    """

    def __init__(self, pin: bool = True) -> None:
        self._inner = httpcore.AnyIOBackend()  # unix sockets and sleep
        self._pin = pin

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = pinned_addresses() if self._pin else ()
        if not addresses:
            literal = literal_address(host)
            if literal is not None:
                addresses = (literal,)
            else:
                try:
                    addresses = await aresolve_within(
                        host, port, 30.0 if timeout is None else timeout
                    )
                except TimeoutError as exc:
                    raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
                except OSError as exc:
                    raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        addresses = _refuse_metadata(host, addresses)
        last: Exception | None = None
        for address in addresses:
            try:
                return await AsyncioStream.connect(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        if last is None:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
