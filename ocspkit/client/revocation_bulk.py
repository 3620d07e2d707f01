"""Bulk revocation checks: ``check_revocation_many`` / ``acheck_revocation_many``.

What this module owns: the per-item job of a revocation batch and its outcome row
(:class:`RevocationOutcome`), on the batch machinery of :mod:`ocspkit.client.bulk` (lazy input,
bounded concurrency, per-host limits, one item's failure is its outcome). Every item of a batch
shares one :class:`~ocspkit.client.revocation_flow.SingleFlight`, and the batch's client its CRL
cache: each CRL is fetched once for all the certificates it covers. What it must never do:
abort the batch for one item, or fetch a CRL twice while a fetch of it is in flight.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from ..crlmodels import CRL
from ..errors import OCSPError
from ..models import CertStatus, RevocationResult
from ..policy import ValidationPolicy
from ..revocation import SOURCES, check_sources
from .aio import AsyncClient
from .base import BundleInput, CertInput
from .bulk import Bundle, Item, _prepare, outcome_of, run_batch
from .config import ClientConfig
from .handoff import iterate_batch
from .revocation_flow import SingleFlight

__all__ = ["RevocationOutcome", "acheck_revocation_many", "check_revocation_many"]

#: Called after each outcome with the number of outcomes so far and the outcome.
RevocationProgress = Callable[[int, "RevocationOutcome"], None]


@dataclass(frozen=True)
class RevocationOutcome:
    """The outcome of one item of :func:`check_revocation_many`: an answer, or the error
    that prevented one (a missing issuer, an unusable item; with ``require=True``, a
    :class:`~ocspkit.RevocationUnavailableError`).

    :ivar index: the item's position in the input (outcomes arrive in completion order).
    :ivar item: the item as given.
    :ivar cert: the certificate checked (``None`` if the item held none).
    :ivar result: the :class:`~ocspkit.RevocationResult`, or ``None`` on error.
    :ivar error: the :class:`~ocspkit.OCSPError`, or ``None`` with a result.
    """

    index: int
    item: object
    cert: x509.Certificate | None
    result: RevocationResult | None
    error: OCSPError | None

    @property
    def ok(self) -> bool:
        """True when an answer was obtained (GOOD, REVOKED, or UNKNOWN from no source)."""
        return self.result is not None

    @property
    def status(self) -> CertStatus | None:
        """The certificate's status, or ``None`` on error."""
        return self.result.status if self.result is not None else None

    def to_dict(self) -> dict[str, str | int | None]:
        """A flat, JSON-serialisable row, the same keys for every outcome (stable: keys are
        only ever added): those of :meth:`ocspkit.RevocationResult.to_dict` (``status``,
        ``source``, ``this_update``, ``next_update``, ``revocation_time``, ``reason``, ``url``,
        ``error``), plus ``index``, ``subject``, ``serial`` (hex), ``error_type`` and
        ``attempts`` (how many sources failed before the answer)."""
        from ..certs import subject_text

        keys = ("status", "source", "this_update", "next_update", "revocation_time",
                "reason", "url", "error")  # fmt: skip
        row: dict[str, str | int | None] = {"index": self.index, "subject": None, "serial": None}
        row.update(dict.fromkeys(keys))
        row["error_type"] = None
        row["attempts"] = 0
        if self.cert is not None:
            row["subject"] = subject_text(self.cert)
            row["serial"] = format(self.cert.serial_number, "x")
        if self.result is not None:
            row.update(self.result.to_dict())
            row["attempts"] = len(self.result.attempts)
            if self.result.status is CertStatus.UNKNOWN and self.result.attempts:
                row["error_type"] = type(self.result.attempts[-1].error).__name__
        if self.error is not None:
            row["error"] = " ".join(str(self.error).split()) or type(self.error).__name__
            row["error_type"] = type(self.error).__name__
            url = getattr(self.error, "url", None)
            row["url"] = url if isinstance(url, str) else None
            attempts = getattr(self.error, "attempts", ())
            row["attempts"] = len(attempts) if isinstance(attempts, tuple) else 0
        return row


@dataclass(frozen=True)
class _Job:
    """The :func:`~ocspkit.client.bulk.run_batch` job: ``check_revocation`` for one item."""

    sources: Sequence[str]
    require: bool
    url: str | None
    now: datetime | None
    hash_algorithm: str
    nonce: bool | bytes
    policy: ValidationPolicy | None
    flights: SingleFlight[CRL] = field(default_factory=SingleFlight)

    async def run(
        self,
        client: AsyncClient,
        index: int,
        item: object,
        issuer: x509.Certificate | None,
        bundle: tuple[x509.Certificate, ...],
    ) -> RevocationOutcome:
        def call(
            cert: x509.Certificate, issuer: x509.Certificate | None, bundle: Bundle
        ) -> Awaitable[RevocationResult]:
            return client.check_revocation(
                cert,
                issuer,
                bundle=bundle,
                sources=self.sources,
                require=self.require,
                url=self.url,
                now=self.now,
                hash_algorithm=self.hash_algorithm,
                nonce=self.nonce,
                policy=self.policy,
                flights=self.flights,
            )

        return await outcome_of(RevocationOutcome, index, item, issuer, bundle, call)


def acheck_revocation_many(
    items: Iterable[Item] | AsyncIterable[Item],
    *,
    issuer: CertInput | None = None,
    bundle: BundleInput = (),
    sources: Sequence[str] = SOURCES,
    require: bool = False,
    url: str | None = None,
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    concurrency: int = 50,
    per_host: int | None = 20,
    progress: RevocationProgress | None = None,
    client: AsyncClient | None = None,
) -> AsyncGenerator[RevocationOutcome, None]:
    """:func:`ocspkit.acheck_revocation` for many certificates; yield one
    :class:`RevocationOutcome` per item as it completes.

    The items, ``concurrency``, ``per_host``, ``config``, ``client`` and ``progress`` are
    those of :func:`ocspkit.acheck_many` (lazy input, bounded memory, one item's failure is
    its outcome); the other arguments are :func:`ocspkit.check_revocation`'s and apply to
    every item. Each CRL is fetched once for the whole batch: concurrent items waiting for
    one URL share one fetch, and later ones are answered from the client's CRL cache.
    """
    job = _Job(check_sources(sources), require, url, now, hash_algorithm, nonce, policy)
    return run_batch(
        items,
        job,
        issuer=issuer,
        bundle=bundle,
        config=config,
        concurrency=concurrency,
        per_host=per_host,
        progress=progress,
        client=client,
    )


def check_revocation_many(
    items: Iterable[Item] | AsyncIterable[Item],
    *,
    issuer: CertInput | None = None,
    bundle: BundleInput = (),
    sources: Sequence[str] = SOURCES,
    require: bool = False,
    url: str | None = None,
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    concurrency: int = 50,
    per_host: int | None = 20,
    progress: RevocationProgress | None = None,
) -> Generator[RevocationOutcome, None, None]:
    """The blocking form of :func:`acheck_revocation_many` (same arguments but ``client``):
    an iterator of outcomes as they complete, run as :func:`ocspkit.check_many` runs."""
    found_issuer, found_bundle = _prepare(concurrency, per_host, issuer, bundle)  # fail fast
    names = check_sources(sources)

    def batch() -> AsyncGenerator[RevocationOutcome, None]:
        return acheck_revocation_many(
            items,
            issuer=found_issuer,
            bundle=found_bundle,
            sources=names,
            require=require,
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
