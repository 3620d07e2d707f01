"""The asyncio client: :class:`AsyncClient` and the one-shot :func:`acheck`.

What this module owns: performing the plan's actions with ``await`` (httpx, the loop's name
lookup, ``asyncio.sleep``), the per-host slots of one event loop, and the hard deadline of
each exchange (``asyncio.timeout``). What it must never do: make a decision of its own.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography import x509

from ..crlmodels import CRL
from ..errors import ConnectError, FetchError, FetchTimeoutError
from ..models import OCSPRequest, OCSPResponse, RevocationResult, ValidationResult
from ..policy import ValidationPolicy
from .actions import (
    Action,
    BodyReader,
    Exchange,
    Reply,
    Resolve,
    Sleep,
    body_wanted,
    reply_headers,
    stream_args,
    transport_error,
)
from .backends import aresolve_within, limits
from .base import BundleInput, CertInput, ClientBase, coerce_inputs, new_async_http, own_transport
from .cache import ResponseCache
from .config import ClientConfig
from .guard import host_and_port
from .issuer import issuer_flow
from .revocation_flow import RevocationArgs, SingleFlight, async_perform, client_revocation_flow
from .sync import _peer
from .transfer import Flow

__all__ = ["AsyncClient", "acheck", "adrive"]

T = TypeVar("T")


async def adrive(flow: Flow[T], perform: Callable[[Action], Awaitable[Any]]) -> T:
    """Run a plan to completion, performing each action with ``await``."""
    value: Any = None
    error: FetchError | None = None
    try:
        while True:
            try:
                action = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            try:
                value, error = await perform(action), None
            except FetchError as exc:
                value, error = None, exc
    finally:
        flow.close()


class _HostSlots:
    """At most ``limit`` requests in flight per host, within one event loop."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    async def acquire(self, url: str) -> str | None:
        """Wait for a slot of ``url``'s host; the key to :meth:`release` it with."""
        if self._limit is None:
            return None
        host = host_and_port(url)[0]
        entry = self._slots.get(host)
        if entry is None:
            entry = self._slots[host] = (asyncio.Semaphore(self._limit), [0])
        sem, users = entry
        users[0] += 1
        try:
            await sem.acquire()
        except BaseException:  # cancelled while waiting: no slot was taken
            self._leave(host, users)
            raise
        return host

    def release(self, host: str | None) -> None:
        """Give back the slot :meth:`acquire` returned ``host`` for."""
        if host is None:
            return
        sem, users = self._slots[host]
        sem.release()
        self._leave(host, users)

    def _leave(self, host: str, users: list[int]) -> None:
        users[0] -= 1
        if users[0] == 0:
            del self._slots[host]


async def _resolve(action: Resolve) -> tuple[str, ...]:
    try:
        return await aresolve_within(action.host, action.port, action.timeout)
    except TimeoutError:
        raise FetchTimeoutError(f"resolving {action.host} timed out", url=action.url) from None
    except OSError as exc:
        raise ConnectError(f"cannot resolve {action.host}: {exc}", url=action.url) from exc


class AsyncClient(ClientBase[httpx.AsyncClient]):
    """The asyncio twin of :class:`~ocspkit.Client` (same arguments, same decisions).

    Each exchange is cancelled at the config's deadline, whatever the server does.

    >>> async with ocspkit.AsyncClient() as client:                   # doctest: +SKIP
    ...     result = await client.check(cert, issuer)
    """

    def _open(self, http_client: httpx.AsyncClient | None) -> httpx.AsyncClient:
        self._slots = _HostSlots(self.config.per_host)
        http = http_client or new_async_http(self.config.proxy)
        # an httpx client ocspkit made: its direct http:// requests skip httpx's client layer
        self._direct = own_transport(http)
        return http

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (only those of an httpx client this one created)."""
        if self._owns_http:
            await self._http.aclose()

    async def query(self, request: OCSPRequest, url: str) -> OCSPResponse:
        """Like :meth:`ocspkit.Client.query`."""
        return await adrive(self._query_flow(request, url), self._perform)

    async def check(
        self,
        cert: CertInput | Iterable[x509.Certificate],
        issuer: CertInput | None = None,
        *,
        url: str | None = None,
        bundle: BundleInput = (),
        now: datetime | None = None,
        hash_algorithm: str = "sha1",
        nonce: bool | bytes = True,
        policy: ValidationPolicy | None = None,
    ) -> ValidationResult:
        """Like :meth:`ocspkit.Client.check`."""
        flow = self._check_flow(
            cert,
            issuer,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )
        return await adrive(flow, self._perform)

    async def fetch_crl(
        self,
        url: str,
        *,
        issuer: CertInput | None = None,
        extra_certs: BundleInput = (),
        now: datetime | None = None,
        policy: ValidationPolicy | None = None,
    ) -> CRL:
        """Like :meth:`ocspkit.Client.fetch_crl`."""
        flow = self._crl_flow(url, issuer=issuer, extra_certs=extra_certs, now=now, policy=policy)
        return await adrive(flow, self._perform)

    async def fetch_issuer(
        self, cert: x509.Certificate, bundle: Sequence[x509.Certificate] = ()
    ) -> x509.Certificate:
        """Like :meth:`ocspkit.Client.fetch_issuer`."""
        return await adrive(issuer_flow(self._context(), cert, tuple(bundle)), self._perform)

    async def check_revocation(
        self,
        cert: CertInput | Iterable[x509.Certificate],
        issuer: CertInput | None = None,
        *,
        staple: OCSPResponse | bytes | None = None,
        sources: Sequence[str] = ("ocsp", "crl"),
        require: bool = False,
        url: str | None = None,
        bundle: BundleInput = (),
        now: datetime | None = None,
        hash_algorithm: str = "sha1",
        nonce: bool | bytes = True,
        policy: ValidationPolicy | None = None,
        flights: SingleFlight[Any] | None = None,
    ) -> RevocationResult:
        """Like :meth:`ocspkit.Client.check_revocation`. Calls given one
        :class:`~ocspkit.client.revocation_flow.SingleFlight` as ``flights`` share each
        concurrent CRL fetch of one URL (the bulk check does)."""
        leaf, found, extra = coerce_inputs(cert, issuer, bundle)
        args = RevocationArgs(staple, sources, url, require, now, hash_algorithm, nonce, policy)
        ctx = self._context()
        flow = client_revocation_flow(ctx, self.cache, self.crl_cache, leaf, found, extra, args)
        return await adrive(flow, async_perform(self._perform, adrive, flights))

    # -- the I/O edge ---------------------------------------------------------------------------

    async def _perform(self, action: Action) -> Any:
        if isinstance(action, Exchange):
            return await self._exchange(action)
        if isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            return None
        return await _resolve(action)

    async def _exchange(self, action: Exchange) -> Reply:
        # The monotonic deadline is enforced chunk by chunk (as in the sync client) and, here,
        # also as a hard cancellation of the whole exchange.
        remaining = max(0.0, action.deadline - time.monotonic())
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(remaining):  # no extra task, unlike wait_for
                    return await self._exchange_now(action)
            return await asyncio.wait_for(self._exchange_now(action), remaining)
        except asyncio.TimeoutError:
            raise FetchTimeoutError("deadline exceeded", url=action.url) from None

    async def _exchange_now(self, action: Exchange) -> Reply:
        host = await self._slots.acquire(action.url)
        try:
            with limits(action.deadline, action.addresses):
                return await self._send(action)
        finally:
            self._slots.release(host)

    async def _send(self, action: Exchange) -> Reply:
        if self._direct is not None:
            reply = await self._direct.exchange(action)
            if reply is not None:
                return reply
        try:
            async with self._http.stream(**stream_args(action)) as response:
                headers = reply_headers(response.headers)
                peer = _peer(response)
                if not body_wanted(response.status_code, headers, action):
                    return Reply(response.status_code, headers, b"", peer)
                reader = BodyReader(action, headers)
                async for chunk in response.aiter_raw():
                    reader.feed(chunk)
                reader.check_deadline()
                return Reply(response.status_code, headers, reader.body, peer)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise transport_error(exc, action.url) from exc


async def acheck(
    cert: CertInput | Iterable[x509.Certificate],
    issuer: CertInput | None = None,
    *,
    url: str | None = None,
    bundle: BundleInput = (),
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    cache: ResponseCache | None = None,
) -> ValidationResult:
    """One-shot :meth:`AsyncClient.check` with a client of its own (see :func:`ocspkit.check`)."""
    async with AsyncClient(config, cache=cache or False) as client:
        return await client.check(
            cert,
            issuer,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )
