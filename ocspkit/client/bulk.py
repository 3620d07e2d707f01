"""Bulk checks: many certificates, bounded concurrency, outcomes as they complete.

What this module owns: reading the items lazily, running at most ``concurrency`` checks on one
:class:`~ocspkit.AsyncClient`, and turning every item's failure into its outcome.
What it must never do: let one item's error abort the batch, or hold more than
``concurrency`` items at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, TypeVar, Union

import httpx
from cryptography import x509

from ..certs import load_certificate, load_certificates
from ..errors import CertificateError, OCSPError, UnexpectedError
from ..models import CertStatus, ValidationResult
from ..policy import ValidationPolicy
from .aio import AsyncClient
from .base import BundleInput, CertInput, new_async_http
from .config import ClientConfig
from .handoff import iterate_batch

__all__ = [
    "BatchJob",
    "CheckOutcome",
    "Item",
    "acheck_many",
    "check_many",
    "outcome_of",
    "run_batch",
]

OutcomeT = TypeVar("OutcomeT")
ResultT = TypeVar("ResultT")
OutcomeT_co = TypeVar("OutcomeT_co", covariant=True)

#: One item of a bulk check: a certificate, a ``(certificate, issuer)`` pair (any sequence of
#: two), or a longer chain (leaf first; the issuer is found among the rest, else fetched from
#: AIA caIssuers).
Item = Union[x509.Certificate, Sequence[x509.Certificate]]  # noqa: UP007 - a runtime alias

#: Called after each outcome with the number of outcomes so far and the outcome.
Progress = Callable[[int, "CheckOutcome"], None]


@dataclass(frozen=True)
class _Args:
    """The :meth:`~ocspkit.AsyncClient.check` arguments shared by every item of a batch."""

    url: str | None
    now: datetime | None
    hash_algorithm: str
    nonce: bool | bytes
    policy: ValidationPolicy | None

    async def run(
        self,
        client: AsyncClient,
        index: int,
        item: object,
        issuer: x509.Certificate | None,
        bundle: tuple[x509.Certificate, ...],
    ) -> CheckOutcome:
        """Check one item: its :class:`CheckOutcome`, whatever happens."""

        def call(
            cert: x509.Certificate, issuer: x509.Certificate | None, bundle: Bundle
        ) -> Awaitable[ValidationResult]:
            return client.check(
                cert,
                issuer,
                bundle=bundle,
                url=self.url,
                now=self.now,
                hash_algorithm=self.hash_algorithm,
                nonce=self.nonce,
                policy=self.policy,
            )

        return await outcome_of(CheckOutcome, index, item, issuer, bundle, call)


Bundle = tuple[x509.Certificate, ...]


async def outcome_of(
    outcome: Callable[
        [int, object, x509.Certificate | None, ResultT | None, OCSPError | None], OutcomeT
    ],
    index: int,
    item: object,
    issuer: x509.Certificate | None,
    bundle: Bundle,
    call: Callable[[x509.Certificate, x509.Certificate | None, Bundle], Awaitable[ResultT]],
) -> OutcomeT:
    """One item's outcome (``outcome(index, item, cert, result, error)``), whatever ``call``
    raises: a typed error is the item's error, anything else is wrapped as an
    :class:`~ocspkit.UnexpectedError` (one hostile item must not abort the batch)."""
    cert: x509.Certificate | None = None
    try:
        cert, found_issuer, found_bundle = _split(item, issuer, bundle)
        result = await call(cert, found_issuer, found_bundle)
    except OCSPError as exc:
        return outcome(index, item, cert, None, exc)
    except Exception as exc:
        return outcome(index, item, cert, None, UnexpectedError.wrap(exc))
    return outcome(index, item, cert, result, None)


class BatchJob(Protocol[OutcomeT_co]):
    """What a batch does with each item (:func:`run_batch`): turn every failure into the
    item's outcome; only cancellation may escape."""

    async def run(
        self,
        client: AsyncClient,
        index: int,
        item: object,
        issuer: x509.Certificate | None,
        bundle: tuple[x509.Certificate, ...],
    ) -> OutcomeT_co: ...


@dataclass(frozen=True)
class CheckOutcome:
    """The outcome of checking one item: a result, or the typed error that prevented one.

    :ivar index: the item's position in the input (outcomes arrive in completion order).
    :ivar item: the item as given.
    :ivar cert: the certificate checked (``None`` if the item held none).
    :ivar result: the :class:`~ocspkit.ValidationResult`, or ``None`` on error.
    :ivar error: the :class:`~ocspkit.OCSPError`, or ``None`` on success (an exception that
        is not an OCSPError arrives wrapped in :class:`~ocspkit.client.UnexpectedError`).
    """

    index: int
    item: object
    cert: x509.Certificate | None
    result: ValidationResult | None
    error: OCSPError | None

    @property
    def ok(self) -> bool:
        """True when a validated result was obtained (whatever the certificate's status)."""
        return self.result is not None

    @property
    def status(self) -> CertStatus | None:
        """The certificate's status, or ``None`` on error."""
        return self.result.status if self.result is not None else None

    def to_dict(self) -> dict[str, str | int | bool | None]:
        """A flat, JSON-serialisable row with the same keys for every outcome, success or
        error (stable: keys are only ever added).

        The keys of :meth:`ocspkit.ValidationResult.to_dict` (``None`` on error), plus
        ``index``, ``subject`` (RFC 4514), ``serial`` (hex, also on error when the item held
        a certificate), ``error`` (one line, ``None`` on success), ``error_type`` (the
        exception's class name) and ``url`` (the URL concerned, when the error knows it).
        ``pandas.DataFrame([o.to_dict() for o in outcomes])`` gives one row per item.
        """
        from ..certs import subject_text

        keys = (
            "status", "source", "serial", "this_update", "next_update", "produced_at",
            "revocation_time", "reason", "url", "error", "signer", "delegated",
            "contradicted", "hash_algorithm", "nonce",
        )  # fmt: skip
        row: dict[str, str | int | bool | None] = {"index": self.index, "subject": None}
        row.update(dict.fromkeys(keys))
        row["error_type"] = None
        if self.cert is not None:
            row["subject"] = subject_text(self.cert)
            row["serial"] = format(self.cert.serial_number, "x")
        if self.result is not None:
            row.update(self.result.to_dict())
        if self.error is not None:
            row["error"] = " ".join(str(self.error).split()) or type(self.error).__name__
            row["error_type"] = type(self.error).__name__
            url = getattr(self.error, "url", None)
            row["url"] = url if isinstance(url, str) else None
        return row


def _split(
    item: object, issuer: x509.Certificate | None, bundle: tuple[x509.Certificate, ...]
) -> tuple[x509.Certificate, x509.Certificate | None, tuple[x509.Certificate, ...]]:
    if isinstance(item, x509.Certificate):
        return item, issuer, bundle
    if (
        isinstance(item, (list, tuple))
        and item
        and all(isinstance(c, x509.Certificate) for c in item)
    ):
        return item[0], None, (*item[1:], *((issuer,) if issuer else ()), *bundle)
    raise CertificateError(
        f"a bulk item must be a certificate, a (certificate, issuer) pair or a chain, "
        f"not {type(item).__name__}"
    )


async def _aiter(items: Iterable[Item] | AsyncIterable[Item]) -> AsyncGenerator[object, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _prepare(
    concurrency: int, per_host: int | None, issuer: CertInput | None, bundle: BundleInput
) -> tuple[x509.Certificate | None, tuple[x509.Certificate, ...]]:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    if per_host is not None and (not isinstance(per_host, int) or per_host < 1):
        raise ValueError(f"per_host must be a positive integer or None, not {per_host!r}")
    found_issuer = load_certificate(issuer) if issuer is not None else None
    found_bundle = tuple(load_certificates(bundle)) if bundle else ()
    return found_issuer, found_bundle


def acheck_many(
    items: Iterable[Item] | AsyncIterable[Item],
    *,
    issuer: CertInput | None = None,
    bundle: BundleInput = (),
    url: str | None = None,
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    concurrency: int = 50,
    per_host: int | None = 20,
    progress: Progress | None = None,
    client: AsyncClient | None = None,
) -> AsyncGenerator[CheckOutcome, None]:
    """Check many certificates concurrently; yield one :class:`CheckOutcome` per item as it
    completes.

    ``items`` (an iterable or async iterable) is read lazily and at most ``concurrency``
    checks are in flight (``per_host`` of them per responder host), so memory stays flat
    however long the input. One item's failure is that item's outcome; the batch goes on.

    ``issuer``, ``bundle``, ``url``, ``now``, ``hash_algorithm``, ``nonce`` and ``policy``
    are those of :meth:`~ocspkit.Client.check` and apply to every item. The batch's client is
    made from ``config`` (its ``deadline`` bounds each item) with ``per_host`` as its
    per-host limit. Pass ``client=`` instead to reuse an :class:`~ocspkit.AsyncClient` (its
    own config and per-host limit then apply). Close the generator
    (``contextlib.aclosing``) if you stop early, to cancel the checks in flight.
    """
    args = _Args(url, now, hash_algorithm, nonce, policy)
    return run_batch(
        items,
        args,
        issuer=issuer,
        bundle=bundle,
        config=config,
        concurrency=concurrency,
        per_host=per_host,
        progress=progress,
        client=client,
    )


async def run_batch(
    items: Iterable[Item] | AsyncIterable[Item],
    job: BatchJob[OutcomeT],
    *,
    issuer: CertInput | None,
    bundle: BundleInput,
    config: ClientConfig | None,
    concurrency: int,
    per_host: int | None,
    progress: Callable[[int, OutcomeT], None] | None,
    client: AsyncClient | None,
) -> AsyncGenerator[OutcomeT, None]:
    """The batch machinery of :func:`acheck_many`, for any per-item ``job``: items read
    lazily, at most ``concurrency`` held at once, a client of the batch's own (or
    ``client``), outcomes yielded as they complete."""
    found_issuer, found_bundle = _prepare(concurrency, per_host, issuer, bundle)
    http: httpx.AsyncClient | None = None
    if client is None:
        settings = replace(config or ClientConfig(), per_host=per_host)
        http = new_async_http(settings.proxy, max_connections=concurrency)
        client = AsyncClient(replace(settings, proxy=None), http_client=http)
    elif config is not None:
        raise ValueError("pass the config to the client, not with client=")
    source = _aiter(items)
    # Workers pull items one at a time; a slot is taken before each pull and given back when
    # the caller has received the outcome, so at most `concurrency` items are held at once.
    slots = asyncio.Semaphore(concurrency)
    pull = asyncio.Lock()
    results: asyncio.Queue[OutcomeT | _Stop] = asyncio.Queue()
    counter = iter(range(sys.maxsize))

    async def worker() -> None:
        while True:
            await slots.acquire()
            async with pull:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # the input iterator failed: hand it to the caller
                    results.put_nowait(_Stop(exc))
                    return
                index = next(counter)
            # the job turns every Exception into the item's outcome; only cancellation escapes
            results.put_nowait(await job.run(client, index, item, found_issuer, found_bundle))
        results.put_nowait(_Stop(None))

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    running = len(workers)
    done = 0
    try:
        while running:
            outcome = await results.get()
            if isinstance(outcome, _Stop):
                running -= 1
                if outcome.error is not None:
                    raise outcome.error
                continue
            slots.release()
            done += 1
            if progress is not None:
                progress(done, outcome)
            yield outcome
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await source.aclose()
        if http is not None:
            await http.aclose()


@dataclass(frozen=True)
class _Stop:
    """A worker finished (``error`` set if the input iterator raised)."""

    error: Exception | None


def check_many(
    items: Iterable[Item] | AsyncIterable[Item],
    *,
    issuer: CertInput | None = None,
    bundle: BundleInput = (),
    url: str | None = None,
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    concurrency: int = 50,
    per_host: int | None = 20,
    progress: Progress | None = None,
) -> Generator[CheckOutcome, None, None]:
    """The blocking form of :func:`acheck_many` (same arguments but ``client``): an iterator
    of outcomes as they complete.

    The checks run on an event loop in a private thread (so this also works inside Jupyter,
    whose loop is already running); ``progress`` is called in the caller's thread. Stopping
    early (``break``, or closing the iterator) cancels the checks in flight.
    """
    found_issuer, found_bundle = _prepare(concurrency, per_host, issuer, bundle)  # fail fast

    def batch() -> AsyncGenerator[CheckOutcome, None]:
        return acheck_many(
            items,
            issuer=found_issuer,
            bundle=found_bundle,
            url=url,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
            config=config,
            concurrency=concurrency,
            per_host=per_host,
        )

    return iterate_batch(batch, concurrency, progress)
