"""The stapler's shared state: certificates, what is served, events and outputs.

:class:`StaplerCore` is everything the blocking :class:`~ocspkit.Stapler` and the asyncio
:class:`~ocspkit.stapling.AsyncStapler` have in common: the hot path (``staple_for``), the
per-certificate records, and the bookkeeping once an outcome is known (accept, fail, expire,
publish to outputs, emit events). It never talks to a responder or a store and never sleeps:
that is the plan's business (:mod:`ocspkit.stapling.plan`), performed by the runners. The
clock, the monotonic clock and the jitter source are injected.
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar, Union

from cryptography import x509

from ..certs import describe, is_must_staple, load_certificates, ocsp_urls
from ..errors import CertificateError, IssuerNotFoundError, NoOCSPURLError, OutputError
from ..issuers import find_issuer
from ..models import CertStatus, OCSPResponse, ValidationResult
from ..refresh import StapleTimes, retry_delay, staple_times
from ..validate import validate_response
from .events import (
    MustStapleMissing,
    Source,
    StapleExpired,
    StapleFailed,
    StapleRevoked,
    StapleUpdated,
    emit,
)
from .options import StaplerOptions
from .outputs import StapleOutput, install_callback
from .state import Entry, StapleState, fingerprint, utc
from .stores import MemoryStore, StapleStore

if TYPE_CHECKING:
    import os

    from OpenSSL import SSL

__all__ = ["ChainInput", "StaplerCore"]

#: The client type of a stapler (``ocspkit.Client`` or ``ocspkit.AsyncClient``).
C = TypeVar("C")

#: A chain as :meth:`add` takes it: certificates (leaf first, issuer next), or PEM bytes/text
#: or a path holding them.
ChainInput = Union[Sequence[x509.Certificate], bytes, str, "os.PathLike[str]"]

_OUTPUT_RETRY = 5.0  # seconds before re-publishing to an output that failed
_LEASE_POLL = 0.05  # seconds between looks at the store while another process fetches


class StaplerCore(Generic[C]):
    """State and bookkeeping shared by :class:`~ocspkit.Stapler` and
    :class:`~ocspkit.stapling.AsyncStapler` (see :class:`~ocspkit.Stapler` for the
    parameters). It keeps the client given, or the one :meth:`_make_client` creates on first
    use, and never calls it."""

    def __init__(
        self,
        store: StapleStore | None = None,
        client: C | None = None,
        options: StaplerOptions | None = None,
        *,
        on_revoked: Callable[[StapleRevoked], object] | None = None,
        on_error: Callable[[StapleFailed], object] | None = None,
        on_must_staple_missing: Callable[[MustStapleMissing], object] | None = None,
        on_update: Callable[[StapleUpdated], object] | None = None,
        on_expired: Callable[[StapleExpired], object] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store: StapleStore = store if store is not None else MemoryStore()
        self.options = options if options is not None else StaplerOptions()
        #: policy for responses read from the store (their nonce is irrelevant)
        self.store_policy = self.options.store_policy
        self.on_revoked = on_revoked
        self.on_error = on_error
        self.on_must_staple_missing = on_must_staple_missing
        self.on_update = on_update
        self.on_expired = on_expired
        self.clock = clock
        self.monotonic = monotonic
        self.rng = rng if rng is not None else random.Random()
        self._lock = threading.RLock()
        self._entries: dict[str, Entry] = {}
        # The hot path of staple_for: key -> (DER, serve-until as epoch seconds).
        self._served: dict[str, tuple[bytes, float]] = {}
        self._key_of: dict[x509.Certificate, str] = {}
        self._wakers: list[Callable[[], None]] = []
        self._client = client
        self._own_client: C | None = None

    def _make_client(self) -> C:
        raise NotImplementedError

    def _get_client(self) -> C:
        """The caller's client, or the one this stapler owns (created on first use)."""
        with self._lock:
            if self._client is not None:
                return self._client
            if self._own_client is None:
                self._own_client = self._make_client()
            return self._own_client

    def _take_own_client(self) -> C | None:
        """Forget the client this stapler created, for the caller to close."""
        with self._lock:
            own, self._own_client = self._own_client, None
        return own

    @staticmethod
    def key_for(cert: x509.Certificate) -> str:
        """The key of ``cert`` in stores and events: the hex SHA-256 of its DER (the same in
        every process)."""
        return fingerprint(cert)

    # -- serving (the hot path) --------------------------------------------------------------

    def staple_for(self, cert: x509.Certificate | str, now: datetime | None = None) -> bytes | None:
        """The DER staple to send for ``cert`` (a certificate or its key), or None.

        No I/O and no parsing: a dictionary look-up and one comparison of ``now`` (default: the
        clock, read at each call) with the staple's serving limit, so a staple is never served
        past nextUpdate minus the margin, even if no refresh ran.
        """
        key = cert if isinstance(cert, str) else self._key_of.get(cert)
        if key is None:
            return None
        served = self._served.get(key)
        if served is None:
            return None
        t = self.clock() if now is None else now.timestamp()
        return served[0] if t < served[1] else None

    def install(self, context: SSL.Context, cert: x509.Certificate | str | None = None) -> None:
        """Make a pyOpenSSL ``SSL.Context`` staple from this stapler.

        With ``cert`` (a certificate or key) the callback serves that certificate's staple;
        without it, the certificate the connection presents is looked up at each handshake.
        The callback never does I/O; with ``options.fake_try_later`` a client gets a
        ``tryLater`` response when no valid staple exists.
        """
        fake = self.options.fake_try_later
        if cert is not None:
            key = cert if isinstance(cert, str) else fingerprint(cert)

            def fixed(conn: SSL.Connection) -> bytes | None:
                return self.staple_for(key)

            install_callback(context, fixed, fake_try_later=fake)
            return

        from OpenSSL import SSL

        params = inspect.signature(SSL.Connection.get_certificate).parameters
        as_crypto = "as_cryptography" in params
        key_of = self._key_of

        def by_connection(conn: SSL.Connection) -> bytes | None:
            if as_crypto:
                local = conn.get_certificate(as_cryptography=True)
            else:  # pragma: no cover - pyOpenSSL < 24.3
                legacy = conn.get_certificate()
                local = legacy.to_cryptography() if legacy is not None else None
            found = key_of.get(local) if local is not None else None
            return None if found is None else self.staple_for(found)

        install_callback(context, by_connection, fake_try_later=fake)

    # -- certificates ------------------------------------------------------------------------

    def register(
        self, chain: ChainInput, issuer: x509.Certificate | None, url: str | None = None
    ) -> tuple[Entry, bool]:
        """The record of ``chain[0]``, and True if it was created (born claimed) now. ``url``:
        its own responder, instead of ``options.force_url`` and the AIA URLs."""
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise ValueError(f"url must be an http(s) URL, not {url!r}")
        certs = load_certificates(chain)
        leaf = certs[0]
        if issuer is None:
            if len(certs) < 2:
                raise IssuerNotFoundError(
                    "the chain holds only the leaf; pass the issuer next to it (or issuer=)"
                )
            issuer = find_issuer(leaf, certs[1:])
        elif not isinstance(issuer, x509.Certificate):
            raise CertificateError("issuer must be an x509.Certificate")
        if url is None and self.options.force_url is None and not ocsp_urls(leaf):
            raise NoOCSPURLError(
                f"{describe(leaf)} names no OCSP responder and no force_url is set"
            )
        key = fingerprint(leaf)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                return existing, False
            # born claimed: a runner must not fetch it while add() is loading or fetching it
            must = is_must_staple(leaf)
            entry = Entry(key=key, cert=leaf, issuer=issuer, must_staple=must, url=url, busy=True)
            self._entries[key] = entry
            self._key_of[leaf] = key
        return entry, True

    def add_outputs(self, entry: Entry, outputs: Iterable[StapleOutput]) -> None:
        """Attach ``outputs`` to ``entry`` (each once)."""
        for out in outputs:
            if not callable(getattr(out, "update", None)):
                raise TypeError(f"an output needs an update(der) method: {out!r}")
            with self._lock:
                if all(o is not out for o in entry.outputs):
                    entry.outputs.append(out)

    def remove(self, cert: x509.Certificate | str) -> None:
        """Stop stapling ``cert`` (its stored staple is kept)."""
        key = cert if isinstance(cert, str) else fingerprint(cert)
        with self._lock:
            entry = self._entries.pop(key, None)
            self._served.pop(key, None)
            if entry is not None:
                self._key_of.pop(entry.cert, None)

    def keys(self) -> list[str]:
        """The keys of the certificates being stapled."""
        with self._lock:
            return list(self._entries)

    def state(self, cert: x509.Certificate | str, now: datetime | None = None) -> StapleState:
        """A :class:`StapleState` snapshot for ``cert`` (KeyError if it was not added)."""
        key = cert if isinstance(cert, str) else fingerprint(cert)
        with self._lock:
            e = self._entries[key]
            t = self.now_ts(now)
            served = self._served.get(key)
            return StapleState(
                key=key,
                cert=e.cert,
                issuer=e.issuer,
                must_staple=e.must_staple,
                result=e.result,
                serve_until=e.times.serve_until if e.times is not None else None,
                next_attempt=utc(e.next_attempt),
                failures=e.failures,
                last_error=e.last_error,
                serving=served is not None and t < served[1],
            )

    # -- time and wake-ups -------------------------------------------------------------------

    def now(self) -> datetime:
        """The clock, as an aware datetime."""
        return utc(self.clock())

    def now_ts(self, now: datetime | None) -> float:
        """``now`` (default: the clock) in epoch seconds."""
        return self.clock() if now is None else now.timestamp()

    def next_wakeup(self, now: datetime | None = None) -> float | None:
        """Seconds until something is due (a refresh, a retry, an expiry), or None if nothing
        is stapled. Runners sleep this long."""
        t = self.now_ts(now)
        with self._lock:
            times: list[float] = []
            for e in self._entries.values():
                if e.busy:
                    continue
                times.append(e.next_attempt)
                served = self._served.get(e.key)
                if served is not None and not e.expired_reported:
                    times.append(served[1])
                if e.output_retry is not None:
                    times.append(e.output_retry)
        if not times:
            return None
        return max(0.0, min(times) - t)

    def add_waker(self, waker: Callable[[], None]) -> None:
        """Register ``waker`` to be called when new work may be due (used by runners)."""
        with self._lock:
            self._wakers.append(waker)

    def remove_waker(self, waker: Callable[[], None]) -> None:
        """Unregister a waker."""
        with self._lock:
            if waker in self._wakers:
                self._wakers.remove(waker)

    def wake(self) -> None:
        """Call every registered waker."""
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            waker()

    # -- claiming ----------------------------------------------------------------------------

    def unclaim(self, entry: Entry) -> None:
        """``entry`` is no longer being refreshed."""
        with self._lock:
            entry.busy = False

    def due(self, now: datetime | None) -> list[Entry]:
        """Expire what must expire, then claim and return the entries whose refresh is due."""
        t = self.now_ts(now)
        due: list[Entry] = []
        with self._lock:
            entries = list(self._entries.values())
        for e in entries:
            self._expire(e, t)
            self.sync_outputs(e, utc(t))
            with self._lock:
                if e.next_attempt <= t and not e.busy:
                    e.busy = True
                    due.append(e)
        return due

    def lease_busy(self, entry: Entry, now: datetime) -> None:
        """Another process holds the lease: look at the store again shortly."""
        with self._lock:
            entry.next_attempt = now.timestamp() + max(_LEASE_POLL * 10, 0.5)

    # -- outcomes ----------------------------------------------------------------------------

    def times(self, result: ValidationResult, now: datetime) -> StapleTimes:
        """When ``result`` stops being served and when to refresh it."""
        return staple_times(
            result.this_update,
            result.next_update,
            now=now,
            schedule=self.options.schedule,
            signer_not_after=result.signer.not_valid_after_utc,
            policy=self.options.policy,
        )

    def validate(
        self, response: OCSPResponse | bytes, entry: Entry, now: datetime
    ) -> ValidationResult:
        """Validate a response for ``entry`` here, before anything is stored or served."""
        return validate_response(
            response, entry.cert, entry.issuer, now=now, policy=self.store_policy
        )

    def same_again(self, entry: Entry, times: StapleTimes) -> None:
        """The fetch returned the very staple being served (a cache, a responder that has not
        signed a newer one yet): a success, but nothing changes except the next refresh."""
        with self._lock:
            entry.times = times
            entry.failures = 0
            entry.last_error = None
            entry.next_attempt = times.refresh_at.timestamp()

    def accept(
        self,
        entry: Entry,
        result: ValidationResult,
        times: StapleTimes,
        now: datetime,
        source: Source,
    ) -> None:
        """Serve ``result`` (if its status may be stapled), publish it, emit the events."""
        servable = result.status is CertStatus.GOOD or self.options.return_responder_errors
        with self._lock:
            if self._entries.get(entry.key) is not entry:
                return  # removed (or removed and added again) while this fetch was in flight
            entry.result = result
            entry.times = times
            entry.servable = servable
            entry.failures = 0
            entry.last_error = None
            entry.next_attempt = times.refresh_at.timestamp()
            if servable:
                self._served[entry.key] = (result.response.der, times.serve_until.timestamp())
                entry.expired_reported = False
                entry.missing_reported = False
            else:
                self._served.pop(entry.key, None)
                entry.expired_reported = True
        self.sync_outputs(entry, now)
        if servable:
            emit(
                self.on_update,
                StapleUpdated(
                    entry.key, entry.cert, result, source, times.serve_until, times.refresh_at
                ),
            )
        if result.status is CertStatus.REVOKED:
            emit(self.on_revoked, StapleRevoked(entry.key, entry.cert, result))
        if not servable:
            self.missing(entry, f"the responder says {result.status.value}")

    def fail(self, entry: Entry, error: Exception, now: datetime) -> None:
        """A refresh failed: schedule the retry (backoff with jitter), report it."""
        retry_after = getattr(error, "retry_after", None)
        with self._lock:
            entry.failures += 1
            entry.last_error = error
            delay = retry_delay(
                entry.failures,
                schedule=self.options.schedule,
                jitter=self.rng,
                retry_after=retry_after if isinstance(retry_after, (int, float)) else None,
            )
            retry_at = now + delay
            entry.next_attempt = retry_at.timestamp()
            served = self._served.get(entry.key)
            serving = served is not None and now.timestamp() < served[1]
            failures = entry.failures
        emit(
            self.on_error,
            StapleFailed(entry.key, entry.cert, error, failures, retry_at, serving),
        )
        if not serving:
            self.missing(entry, f"refresh failed: {error}")

    def report(self, entry: Entry, error: Exception) -> None:
        """A store or output error: reported, but the refresh schedule is unchanged."""
        with self._lock:
            served = self._served.get(entry.key)
            serving = served is not None and self.clock() < served[1]
            retry_at = utc(entry.next_attempt)
            failures = entry.failures
        emit(self.on_error, StapleFailed(entry.key, entry.cert, error, failures, retry_at, serving))

    def _expire(self, entry: Entry, t: float) -> None:
        with self._lock:
            served = self._served.get(entry.key)
            if served is None or t < served[1]:
                return
            del self._served[entry.key]
            report = not entry.expired_reported
            entry.expired_reported = True
        if report:
            emit(self.on_expired, StapleExpired(entry.key, entry.cert, utc(served[1])))
            self.missing(entry, "staple expired")

    def missing(self, entry: Entry, reason: str) -> None:
        """Tell ``on_must_staple_missing`` (once) that a Must-Staple certificate has none."""
        if not entry.must_staple:
            return
        with self._lock:
            if entry.missing_reported:
                return
            entry.missing_reported = True
        emit(self.on_must_staple_missing, MustStapleMissing(entry.key, entry.cert, reason))

    # -- outputs -----------------------------------------------------------------------------

    def sync_outputs(self, entry: Entry, now: datetime) -> None:
        """Bring every output of ``entry`` up to date with what is servable now."""
        if not entry.outputs:
            return
        t = now.timestamp()
        with self._lock:
            if entry.output_retry is not None and t < entry.output_retry:
                return
            entry.output_retry = None
            served = self._served.get(entry.key)
            current = served[0] if served is not None and t < served[1] else None
            pending = [
                o for o in entry.outputs if entry.published.get(id(o), b"\0unset") != current
            ]
        failed = False
        for out in pending:
            try:
                out.update(current)
            except Exception as exc:
                failed = True
                error = exc if isinstance(exc, OutputError) else OutputError(f"{out!r}: {exc}")
                self.report(entry, error)
                continue
            with self._lock:
                entry.published[id(out)] = current
        if failed:
            with self._lock:
                entry.output_retry = t + _OUTPUT_RETRY

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {len(self._entries)} certificate(s), "
            f"store={type(self.store).__name__}>"
        )
