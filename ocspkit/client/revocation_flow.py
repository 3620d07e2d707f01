"""The client's side of the one revocation answer: the verdict flow turned into I/O actions.

What this module owns: driving :func:`ocspkit.revocation.revocation_flow` (every decision is
there) by answering its requests with the client's own plans — the issuer with
:func:`~ocspkit.client.issuer.issuer_flow`, each OCSP URL with
:func:`~ocspkit.client.plan.check_flow` (one deadline for the whole call) — and each CRL with
a :class:`FetchCRL` action that the sync and async runners perform with the client's
``fetch_crl`` (validated, cached per client until nextUpdate). The async bulk runner
coalesces concurrent :class:`FetchCRL` of one URL (:class:`SingleFlight`) so that a batch of
certificates under one CA costs one GET. What it must never do: decide anything of its own,
or let one source's failure escape as anything but an attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from cryptography import x509

from ..certs import crl_urls
from ..crlmodels import CRL
from ..errors import FetchTimeoutError, OCSPError
from ..models import OCSPResponse, RevocationResult
from ..policy import ValidationPolicy
from ..revocation import SOURCES, AskCRL, AskOCSP, NeedIssuer, revocation_flow
from .actions import Action
from .cache import ResponseCache
from .crl_cache import CRLCache
from .crl_plan import crl_flow
from .issuer import issuer_flow
from .plan import check_flow
from .transfer import Context, Flow

__all__ = [
    "Failed",
    "FetchCRL",
    "RevocationArgs",
    "SingleFlight",
    "async_perform",
    "client_revocation_flow",
    "sync_perform",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FetchCRL:
    """Run ``flow`` (:func:`~ocspkit.client.crl_plan.crl_flow` for ``url``, on the call's
    context) to completion; the runner answers with its :class:`~ocspkit.CRL` or a
    :class:`Failed`. Runners that coalesce share one run among the actions of one ``key``
    (the URL and the issuer) and close the flows they do not run."""

    url: str
    key: Hashable
    flow: Flow[CRL]


@dataclass(frozen=True, slots=True)
class Failed:
    """A :class:`FetchCRL` that ended with ``error`` (thrown back into the verdict flow)."""

    error: OCSPError


@dataclass(frozen=True)
class RevocationArgs:
    """The arguments of ``check_revocation`` after the inputs were read (one certificate)."""

    staple: OCSPResponse | bytes | None = None
    sources: Sequence[str] = SOURCES
    url: str | None = None
    require: bool = False
    now: datetime | None = None
    hash_algorithm: str = "sha1"
    nonce: bool | bytes = True
    policy: ValidationPolicy | None = None


def client_revocation_flow(
    ctx: Context,
    cache: ResponseCache | None,
    crl_cache: CRLCache,
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    bundle: tuple[x509.Certificate, ...],
    args: RevocationArgs,
) -> Flow[RevocationResult]:
    """The verdict flow for ``cert`` as a plan of I/O actions (and :class:`FetchCRL`).

    ``ctx`` is the call's context: its deadline covers the issuer fetch, every OCSP attempt
    and every CRL fetch (through ``crl_cache``, the client's).
    """
    policy = args.policy or ctx.config.policy or ValidationPolicy()
    verdict = revocation_flow(
        cert,
        issuer,
        staple=args.staple,
        sources=args.sources,
        ocsp_url=args.url or ctx.config.force_url,
        require=args.require,
        now=args.now,
        policy=policy,
        extra_certs=bundle,
    )
    ocsp_ctx: Context | None = None  # made at the first OCSP attempt (after the issuer)
    value: Any = None
    error: OCSPError | None = None
    try:
        while True:
            try:
                need = verdict.send(value) if error is None else verdict.throw(error)
            except StopIteration as stop:
                result: RevocationResult = stop.value
                return result
            value, error = None, None
            try:
                if isinstance(need, NeedIssuer):
                    value = yield from issuer_flow(ctx, cert, bundle)
                elif isinstance(need, AskOCSP):
                    ocsp_ctx = ocsp_ctx or _ocsp_share(ctx, cert, args)
                    value = yield from check_flow(
                        ocsp_ctx,
                        cache,
                        cert,
                        need.issuer,
                        url=need.url,
                        bundle=bundle,
                        now=args.now,
                        hash_algorithm=args.hash_algorithm,
                        nonce=args.nonce,
                        policy=policy,
                    )
                else:
                    assert isinstance(need, AskCRL)
                    value = yield from _crl(ctx, crl_cache, need, bundle, args.now, policy)
            except OCSPError as exc:
                value, error = None, exc
    finally:
        verdict.close()


#: The share of a call's time the OCSP attempts may use when CRLs can answer after them.
OCSP_SHARE = 0.5


def _ocsp_share(ctx: Context, cert: x509.Certificate, args: RevocationArgs) -> Context:
    """The context of the OCSP attempts: when the certificate names CRLs that are tried after
    OCSP, the OCSP attempts end at :data:`OCSP_SHARE` of the time left, so that a responder
    that hangs leaves the CRLs the rest (each attempt's failure is then an attempt, as any)."""
    names = tuple(args.sources)
    if "ocsp" in names and "crl" in names[names.index("ocsp") + 1 :] and crl_urls(cert):
        return replace(ctx, deadline=ctx.clock() + ctx.remaining() * OCSP_SHARE)
    return ctx


def _crl(
    ctx: Context,
    cache: CRLCache,
    need: AskCRL,
    bundle: tuple[x509.Certificate, ...],
    now: datetime | None,
    policy: ValidationPolicy,
) -> Flow[CRL]:
    if ctx.remaining() <= 0:
        raise FetchTimeoutError("deadline exceeded before fetching the CRL", url=need.url)
    flow = crl_flow(
        ctx, cache, need.url, issuer=need.issuer, extra_certs=bundle, now=now, policy=policy,
        scope_url=need.scope_url, refresh=need.refresh,
    )  # fmt: skip
    key = (need.url, need.scope_url, need.refresh, need.issuer.tbs_certificate_bytes)
    got = yield FetchCRL(need.url, key, flow)  # type: ignore[misc]
    if isinstance(got, Failed):
        raise got.error
    crl: CRL = got
    return crl


def sync_perform(
    perform: Callable[[Action], Any], drive: Callable[[Flow[CRL], Callable[[Action], Any]], CRL]
) -> Callable[[Any], Any]:
    """The blocking runner's ``perform``: a :class:`FetchCRL` runs its flow with ``drive``
    and ``perform`` (the client's own), which performs every other action."""

    def run(action: Any) -> Any:
        if isinstance(action, FetchCRL):
            try:
                return drive(action.flow, perform)
            except OCSPError as exc:
                return Failed(exc)
        return perform(action)

    return run


def async_perform(
    perform: Callable[[Action], Awaitable[Any]],
    adrive: Callable[[Flow[CRL], Callable[[Action], Awaitable[Any]]], Awaitable[CRL]],
    flights: SingleFlight[CRL] | None = None,
) -> Callable[[Any], Awaitable[Any]]:
    """The async runner's ``perform``, as :func:`sync_perform`; with ``flights``, concurrent
    :class:`FetchCRL` of one key share one run."""

    async def run(action: Any) -> Any:
        if not isinstance(action, FetchCRL):
            return await perform(action)
        flow = action.flow
        started = False

        def start() -> Awaitable[CRL]:
            nonlocal started
            started = True  # adrive closes the flow when it ends, whoever waits for it
            return adrive(flow, perform)

        try:
            if flights is None:
                return await start()
            return await flights.run(action.key, start)
        except OCSPError as exc:
            return Failed(exc)
        finally:
            if not started:
                flow.close()  # joined another run: this flow was never started

    return run


class SingleFlight(Generic[T]):
    """Concurrent calls with one key share one run (within one event loop).

    The first caller runs the work; the others wait for its outcome (value or exception).
    A finished run is forgotten: later calls start afresh (the client's CRL cache answers
    them). A cancelled first caller does not cancel the run for the others.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> T:
        """The outcome of ``start()``, run once for every caller waiting on ``key``."""
        future = self._running.get(key)
        if future is None:
            future = asyncio.ensure_future(start())
            self._running[key] = future
            future.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(future)

    def _finished(self, key: Hashable, future: asyncio.Future[T]) -> None:
        self._running.pop(key, None)
        if not future.cancelled():
            future.exception()  # retrieved: no "never retrieved" warning if nobody waits
