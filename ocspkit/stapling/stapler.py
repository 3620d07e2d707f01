"""The Stapler: verified OCSP staples for a server's certificates, always ready.

``add(chain)`` fetches (or loads from the store) a staple before it returns, so one exists before
the first handshake; ``staple_for(cert)`` is a dictionary look-up and a float comparison, done in
the handshake; ``refresh()`` / ``await arefresh()`` do whatever is due, and the runners of
:mod:`ocspkit.stapling.runners` call them when it is due. Every response is validated with
:func:`ocspkit.validate_response` before it is stored or served; the schedule is the pure one of
:mod:`ocspkit.refresh`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..certs import describe, is_must_staple, load_certificates, ocsp_urls
from ..errors import (
    CertificateError,
    IssuerNotFoundError,
    NoOCSPURLError,
    OCSPError,
    OutputError,
    StapleRollbackError,
    StoreError,
    UnservableResponseError,
)
from ..issuers import find_issuer
from ..models import CertStatus, OCSPResponse, ValidationResult
from ..policy import NonceRule, ValidationPolicy
from ..refresh import RefreshSchedule, StapleTimes, retry_delay, staple_times
from ..validate import validate_response
from .events import (
    MustStapleMissing,
    Source,
    StapleExpired,
    StapleFailed,
    StapleRevoked,
    StapleUpdated,
    emit,
    logger,
)
from .options import StaplerOptions
from .outputs import StapleOutput, install_callback
from .stores import MemoryStore, StapleStore

if TYPE_CHECKING:
    from .runners import StaplerThread

__all__ = ["ChainInput", "StapleState", "Stapler"]

#: A chain as :meth:`Stapler.add` takes it: certificates (leaf first, issuer next), or PEM
#: bytes/text or a path holding them.
ChainInput = Union[Sequence[x509.Certificate], bytes, str, "os.PathLike[str]"]

_LEASE_POLL = 0.05  # seconds between looks at the store while another process fetches
_OUTPUT_RETRY = 5.0  # seconds before re-publishing to an output that failed
_LEASE_GRACE = 1.0  # seconds past the lease TTL before a lease held too long is ignored

_Step = Literal["done", "fetch", "fetch_unleased", "wait"]


class _Checker(Protocol):
    def check(self, cert: Any, issuer: Any = None, **kwargs: Any) -> Any: ...


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _staleness(
    current: ValidationResult | None, fetched: ValidationResult
) -> StapleRollbackError | None:
    """Why ``fetched`` must not replace ``current`` (None: it may).

    A response older than the current one is refused (a CDN cache or a lagging responder
    replica must not roll the staple back), and so is any answer other than ``revoked`` that is
    not strictly newer than a ``revoked`` one: a revoked certificate never goes back to good on
    an answer of the same age.
    """
    if current is None:
        return None
    if fetched.this_update < current.this_update:
        why = "is older than the one being served"
    elif (
        current.status is CertStatus.REVOKED
        and fetched.status is not CertStatus.REVOKED
        and fetched.this_update <= current.this_update
    ):
        why = f"says {fetched.status.value} but is not newer than the revoked one being served"
    else:
        return None
    return StapleRollbackError(
        f"the fetched response (thisUpdate {fetched.this_update}) {why} "
        f"(thisUpdate {current.this_update}); keeping the current staple",
        this_update=fetched.this_update,
        current_this_update=current.this_update,
    )


@dataclass(frozen=True)
class StapleState:
    """A snapshot of what the stapler knows about one certificate.

    :ivar key: the certificate's key (hex SHA-256 fingerprint).
    :ivar result: the validated response being served (or last served), if any.
    :ivar serve_until: the staple is served until then (None without a staple).
    :ivar next_attempt: when the next refresh (or retry) is planned.
    :ivar failures: consecutive failed refreshes.
    :ivar last_error: the error of the last failed refresh, if the last one failed.
    :ivar serving: True if a staple is servable now.
    """

    key: str
    cert: x509.Certificate
    issuer: x509.Certificate
    must_staple: bool
    result: ValidationResult | None
    serve_until: datetime | None
    next_attempt: datetime
    failures: int
    last_error: Exception | None
    serving: bool


@dataclass(eq=False)
class _Entry:
    key: str
    cert: x509.Certificate
    issuer: x509.Certificate
    must_staple: bool
    outputs: list[StapleOutput] = field(default_factory=list)
    result: ValidationResult | None = None
    times: StapleTimes | None = None
    servable: bool = False  # result's status may be stapled (see return_responder_errors)
    next_attempt: float = 0.0
    failures: int = 0
    last_error: Exception | None = None
    busy: bool = False
    expired_reported: bool = True  # nothing to expire yet
    missing_reported: bool = False
    published: dict[int, bytes | None] = field(default_factory=dict)
    output_retry: float | None = None
    lease_wait_since: float | None = None  # monotonic time we first found the lease taken


class Stapler:
    """Keeps a verified OCSP staple for each added certificate.

    :param store: where staples are kept (default: a new :class:`MemoryStore`). A
        :class:`DirectoryStore` survives restarts; a :class:`RedisStore` is shared by a fleet.
    :param client: an :class:`ocspkit.Client` (or :class:`ocspkit.AsyncClient`); None creates
        one per need with ``options.responder_timeout`` and ``options.force_url``.
    :param policy: the base :class:`~ocspkit.ValidationPolicy` (``options`` sets its clock skew
        and age limits).
    :param options: :class:`StaplerOptions`.
    :param on_revoked: called with a :class:`StapleRevoked` when a response says revoked.
    :param on_error: called with a :class:`StapleFailed` when a refresh (or store, or output)
        fails.
    :param on_must_staple_missing: called with a :class:`MustStapleMissing` when a Must-Staple
        certificate has no valid staple.
    :param on_update: called with a :class:`StapleUpdated` for each new staple served.
    :param on_expired: called with a :class:`StapleExpired` when a staple stops being served
        without a successor.
    :param clock: seconds since the epoch (default :func:`time.time`).
    :param rng: the source of retry jitter (default: a new :class:`random.Random`).
    """

    def __init__(
        self,
        store: StapleStore | None = None,
        client: Any = None,
        policy: ValidationPolicy | None = None,
        options: StaplerOptions | None = None,
        *,
        on_revoked: Callable[[StapleRevoked], object] | None = None,
        on_error: Callable[[StapleFailed], object] | None = None,
        on_must_staple_missing: Callable[[MustStapleMissing], object] | None = None,
        on_update: Callable[[StapleUpdated], object] | None = None,
        on_expired: Callable[[StapleExpired], object] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store: StapleStore = store if store is not None else MemoryStore()
        self.options = options if options is not None else StaplerOptions()
        self.schedule: RefreshSchedule = self.options.schedule()
        base = self.options.validation_policy(policy)
        #: policy for fetched responses (nonce checked per the base policy)
        self._fetch_policy = base
        #: policy for stored responses (their nonce is irrelevant)
        self._store_policy = dataclasses.replace(base, nonce=NonceRule.IGNORE)
        self.on_revoked = on_revoked
        self.on_error = on_error
        self.on_must_staple_missing = on_must_staple_missing
        self.on_update = on_update
        self.on_expired = on_expired
        self._client: Any = client
        self._own_client: Any = None
        self._own_async_client: Any = None
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        # The hot path of staple_for: key -> (DER, serve-until as epoch seconds).
        self._served: dict[str, tuple[bytes, float]] = {}
        self._key_of: dict[x509.Certificate, str] = {}
        self._wakers: list[Callable[[], None]] = []

    @staticmethod
    def key_for(cert: x509.Certificate) -> str:
        """The key of ``cert`` in stores and events: the hex SHA-256 of its DER (the same in
        every process)."""
        return _fingerprint(cert)

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
        t = self._clock() if now is None else now.timestamp()
        return served[0] if t < served[1] else None

    def install(self, context: Any, cert: x509.Certificate | str | None = None) -> None:
        """Make a pyOpenSSL ``SSL.Context`` staple from this stapler.

        With ``cert`` (a certificate or key) the callback serves that certificate's staple;
        without it, the certificate the connection presents is looked up at each handshake.
        The callback never does I/O; with ``options.fake_try_later`` a client gets a
        ``tryLater`` response when no valid staple exists.
        """
        if cert is not None:
            key = cert if isinstance(cert, str) else _fingerprint(cert)

            def fixed(conn: Any) -> bytes | None:
                return self.staple_for(key)

            install_callback(context, fixed, fake_try_later=self.options.fake_try_later)
            return

        from OpenSSL import SSL

        params = inspect.signature(SSL.Connection.get_certificate).parameters
        as_crypto = "as_cryptography" in params
        key_of = self._key_of

        def by_connection(conn: Any) -> bytes | None:
            if as_crypto:
                local = conn.get_certificate(as_cryptography=True)
            else:  # pragma: no cover - pyOpenSSL < 24.3
                legacy = conn.get_certificate()
                local = legacy.to_cryptography() if legacy is not None else None
            found = key_of.get(local) if local is not None else None
            return None if found is None else self.staple_for(found)

        install_callback(context, by_connection, fake_try_later=self.options.fake_try_later)

    # -- certificates ------------------------------------------------------------------------

    def _entry_for(self, chain: ChainInput, issuer: x509.Certificate | None) -> tuple[_Entry, bool]:
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
        if self.options.force_url is None and not ocsp_urls(leaf):
            raise NoOCSPURLError(
                f"{describe(leaf)} names no OCSP responder and no force_url is set"
            )
        key = _fingerprint(leaf)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                return existing, False
            # born claimed: a runner must not fetch it while add() is loading or fetching it
            entry = _Entry(
                key=key, cert=leaf, issuer=issuer, must_staple=is_must_staple(leaf), busy=True
            )
            self._entries[key] = entry
            self._key_of[leaf] = key
        return entry, True

    def add(
        self,
        chain: ChainInput,
        *,
        issuer: x509.Certificate | None = None,
        outputs: Iterable[StapleOutput] = (),
        fetch: bool = True,
    ) -> str:
        """Staple ``chain[0]`` (issued by ``chain[1]``, or ``issuer``); return its key.

        A valid staple in the store is served at once; otherwise (or if it is due) one is
        fetched now, so a staple exists before this returns — unless the fetch fails, which is
        reported to ``on_error`` (and ``on_must_staple_missing``) and retried on schedule.
        When another process holds the fetch lease of a shared store, waits for its result.
        ``outputs`` (staple files, HAProxy runtime API...) receive each new staple.

        Raises :class:`~ocspkit.CertificateError`, :class:`~ocspkit.IssuerNotFoundError` or
        :class:`~ocspkit.NoOCSPURLError` for a chain that cannot be stapled.
        """
        entry, new = self._entry_for(chain, issuer)
        self._add_outputs(entry, outputs)
        if new:
            try:
                now = self._now()
                self._load(entry, now)
                if fetch and (entry.times is None or entry.times.due(now)):
                    self._refresh_entry(entry, None, wait=True)
                elif entry.times is None:
                    self._missing(entry, "no staple yet")
            finally:
                self._unclaim(entry)
        self._sync_outputs(entry, self._now())
        self._wake()
        return entry.key

    async def aadd(
        self,
        chain: ChainInput,
        *,
        issuer: x509.Certificate | None = None,
        outputs: Iterable[StapleOutput] = (),
        fetch: bool = True,
    ) -> str:
        """:meth:`add` for asyncio: the fetch uses the async client and does not block."""
        entry, new = self._entry_for(chain, issuer)
        self._add_outputs(entry, outputs)
        if new:
            try:
                now = self._now()
                self._load(entry, now)
                if fetch and (entry.times is None or entry.times.due(now)):
                    await self._arefresh_entry(entry, None, wait=True)
                elif entry.times is None:
                    self._missing(entry, "no staple yet")
            finally:
                self._unclaim(entry)
        self._sync_outputs(entry, self._now())
        self._wake()
        return entry.key

    def _add_outputs(self, entry: _Entry, outputs: Iterable[StapleOutput]) -> None:
        for out in outputs:
            if not callable(getattr(out, "update", None)):
                raise TypeError(f"an output needs an update(der) method: {out!r}")
            with self._lock:
                if all(o is not out for o in entry.outputs):
                    entry.outputs.append(out)

    def remove(self, cert: x509.Certificate | str) -> None:
        """Stop stapling ``cert`` (its stored staple is kept)."""
        key = cert if isinstance(cert, str) else _fingerprint(cert)
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
        key = cert if isinstance(cert, str) else _fingerprint(cert)
        with self._lock:
            e = self._entries[key]
            t = self._now_ts(now)
            served = self._served.get(key)
            return StapleState(
                key=key,
                cert=e.cert,
                issuer=e.issuer,
                must_staple=e.must_staple,
                result=e.result,
                serve_until=e.times.serve_until if e.times is not None else None,
                next_attempt=_utc(e.next_attempt),
                failures=e.failures,
                last_error=e.last_error,
                serving=served is not None and t < served[1],
            )

    # -- time --------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _now_ts(self, now: datetime | None) -> float:
        return self._clock() if now is None else now.timestamp()

    def next_wakeup(self, now: datetime | None = None) -> float | None:
        """Seconds until something is due (a refresh, a retry, an expiry), or None if nothing
        is stapled. Runners sleep this long."""
        t = self._now_ts(now)
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

    def _wake(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            waker()

    # -- refreshing --------------------------------------------------------------------------

    def _claim(self, entry: _Entry) -> bool:
        with self._lock:
            if entry.busy:
                return False
            entry.busy = True
            return True

    def _unclaim(self, entry: _Entry) -> None:
        with self._lock:
            entry.busy = False

    def _due(self, now: datetime | None) -> list[_Entry]:
        """Expire what must expire, then claim and return the entries whose refresh is due."""
        t = self._now_ts(now)
        due: list[_Entry] = []
        with self._lock:
            entries = list(self._entries.values())
        for e in entries:
            self._expire(e, t)
            self._sync_outputs(e, _utc(t))
            if e.next_attempt <= t and self._claim(e):
                due.append(e)
        return due

    def refresh(self, now: datetime | None = None) -> int:
        """Do the work that is due at ``now`` (default: the clock): expire staples past their
        serving limit, refresh those whose refresh time has come, retry failed ones whose
        backoff has elapsed. Blocking; returns the number of certificates refreshed."""
        done = 0
        for entry in self._due(now):
            try:
                self._refresh_entry(entry, now, wait=False)
                done += 1
            finally:
                self._unclaim(entry)
        return done

    async def arefresh(self, now: datetime | None = None) -> int:
        """:meth:`refresh` for asyncio: due certificates are fetched concurrently."""
        due = self._due(now)

        async def one(entry: _Entry) -> None:
            try:
                await self._arefresh_entry(entry, now, wait=False)
            finally:
                self._unclaim(entry)

        await asyncio.gather(*(one(e) for e in due))
        return len(due)

    def _clock_for(self, now: datetime | None) -> Callable[[], datetime]:
        return (lambda: now) if now is not None else self._now

    def _begin(self, entry: _Entry, now: datetime) -> _Step:
        """Before fetching: adopt a fresher staple from the store, else take the lease.

        ``"fetch"``: fetch holding the lease; ``"fetch_unleased"``: fetch without it (the store
        is down, or another holder has kept the lease past its TTL — a stuck process must not
        starve the fleet); ``"wait"``: another holder is fetching; ``"done"``: adopted.
        """
        if self._adopt_from_store(entry, now):
            entry.lease_wait_since = None
            return "done"
        try:
            leased = self.store.acquire(entry.key, self.options.lease_seconds())
        except StoreError as exc:
            self._report(entry, exc)
            return "fetch_unleased"  # the store is down: fetching beats serving nothing
        if not leased:
            started = entry.lease_wait_since
            waited = time.monotonic()
            if started is None:
                entry.lease_wait_since = waited
                return "wait"
            if waited - started < self.options.lease_seconds() + _LEASE_GRACE:
                return "wait"
            logger.warning(
                "the fetch lease of %s has been held for over %.0f s: fetching without it",
                entry.key,
                waited - started,
            )
            entry.lease_wait_since = None
            return "fetch_unleased"
        entry.lease_wait_since = None
        # Look again now that the lease is ours: a holder that stored its staple and released
        # the lease between our first look and our acquire must not cause a second fetch.
        if self._adopt_from_store(entry, now):
            self._release(entry)
            return "done"
        return "fetch"

    def _release(self, entry: _Entry) -> None:
        try:
            self.store.release(entry.key)
        except StoreError as exc:
            self._report(entry, exc)

    def _lease_busy(self, entry: _Entry, now: datetime) -> None:
        """Another process holds the lease: look at the store again shortly."""
        with self._lock:
            entry.next_attempt = now.timestamp() + max(_LEASE_POLL * 10, 0.5)

    def _refresh_entry(self, entry: _Entry, now: datetime | None, *, wait: bool) -> None:
        clock = self._clock_for(now)
        step = self._begin(entry, clock())
        if step == "wait" and wait:
            # long enough for a lease held past its TTL to be ignored (see _begin)
            deadline = time.monotonic() + self.options.lease_seconds() + 2 * _LEASE_GRACE
            while step == "wait" and time.monotonic() < deadline:
                time.sleep(_LEASE_POLL)
                step = self._begin(entry, clock())
        if step == "wait":
            self._lease_busy(entry, clock())
            return
        if step == "done":
            return
        try:
            outcome = self._fetch(entry, clock())
            # stored before the lease is released: a waiter that gets the lease next finds it
            self._finish(entry, outcome, clock())
        finally:
            if step == "fetch":
                self._release(entry)

    async def _arefresh_entry(self, entry: _Entry, now: datetime | None, *, wait: bool) -> None:
        clock = self._clock_for(now)
        step = self._begin(entry, clock())
        if step == "wait" and wait:
            # long enough for a lease held past its TTL to be ignored (see _begin)
            deadline = time.monotonic() + self.options.lease_seconds() + 2 * _LEASE_GRACE
            while step == "wait" and time.monotonic() < deadline:
                await asyncio.sleep(_LEASE_POLL)
                step = self._begin(entry, clock())
        if step == "wait":
            self._lease_busy(entry, clock())
            return
        if step == "done":
            return
        try:
            outcome = await self._afetch(entry, clock())
            # stored before the lease is released: a waiter that gets the lease next finds it
            self._finish(entry, outcome, clock())
        finally:
            if step == "fetch":
                self._release(entry)

    # -- fetching (the only difference between sync and async) ------------------------------

    def _check_kwargs(self, now: datetime) -> dict[str, Any]:
        return {
            "url": self.options.force_url,
            "now": now,
            "nonce": self.options.nonce,
            "policy": self._fetch_policy,
        }

    def _sync_client(self) -> _Checker:
        """The caller's client, or the blocking one this stapler owns (created on first use)."""
        with self._lock:
            if self._client is not None:
                given: _Checker = self._client
                return given
            if self._own_client is None:
                from ..client import Client

                self._own_client = Client(**self._own_client_options())
            own: _Checker = self._own_client
            return own

    def _fetch(self, entry: _Entry, now: datetime) -> ValidationResult | Exception:
        client = self._sync_client()
        if inspect.iscoroutinefunction(getattr(client, "check", None)):
            return TypeError("refresh() needs a blocking Client; use arefresh() with AsyncClient")
        try:
            result = client.check(entry.cert, entry.issuer, **self._check_kwargs(now))
        except Exception as exc:  # every failure is reported and retried, never raised
            return exc
        return self._recheck(result, entry, now)

    async def _afetch(self, entry: _Entry, now: datetime) -> ValidationResult | Exception:
        client = self._client if self._client is not None else self._get_async_client()
        kwargs = self._check_kwargs(now)
        try:
            if inspect.iscoroutinefunction(getattr(client, "check", None)):
                result = await client.check(entry.cert, entry.issuer, **kwargs)
            else:  # a blocking client: run it in a worker thread
                result = await asyncio.to_thread(client.check, entry.cert, entry.issuer, **kwargs)
        except Exception as exc:  # every failure is reported and retried, never raised
            return exc
        return self._recheck(result, entry, now)

    def _own_client_options(self) -> dict[str, Any]:
        """How the clients this stapler creates for itself are set up (blocking and async)."""
        return {
            "timeout": self.options.responder_timeout,
            "deadline": self.options.responder_timeout,
            "force_url": self.options.force_url,
            "retries": 1,
        }

    def _get_async_client(self) -> Any:
        with self._lock:
            if self._own_async_client is None:
                from ..client import AsyncClient

                self._own_async_client = AsyncClient(**self._own_client_options())
            return self._own_async_client

    def _recheck(
        self, result: object, entry: _Entry, now: datetime
    ) -> ValidationResult | Exception:
        """Validate what the client returned, here, before anything is stored or served."""
        if not isinstance(result, ValidationResult):
            return TypeError(f"client.check returned {type(result).__name__}, not ValidationResult")
        try:
            return self._validate(result.response, entry, now)
        except OCSPError as exc:
            return exc

    def _validate(
        self, response: OCSPResponse | bytes, entry: _Entry, now: datetime
    ) -> ValidationResult:
        return validate_response(
            response, entry.cert, entry.issuer, now=now, policy=self._store_policy
        )

    # -- accepting, failing, expiring --------------------------------------------------------

    def _times(self, result: ValidationResult, now: datetime) -> StapleTimes:
        return staple_times(
            result.this_update,
            result.next_update,
            now=now,
            schedule=self.schedule,
            signer_not_after=result.signer.not_valid_after_utc,
        )

    def _load(self, entry: _Entry, now: datetime) -> None:
        """Serve a valid staple from the store, if there is one (at add time)."""
        self._adopt_from_store(entry, now)

    def _adopt_from_store(self, entry: _Entry, now: datetime) -> bool:
        """Take a valid, newer staple from the store; True if it needs no refresh yet."""
        try:
            der = self.store.get(entry.key)
        except StoreError as exc:
            self._report(entry, exc)
            return False
        if not der or (entry.result is not None and der == entry.result.response.der):
            return False
        try:
            result = self._validate(der, entry, now)
        except OCSPError as exc:  # corrupted, foreign or expired: ignore it
            logger.debug("ignoring stored staple %s: %s", entry.key, exc)
            return False
        if entry.result is not None and result.this_update <= entry.result.this_update:
            return False
        times = self._times(result, now)
        if not times.servable(now):
            return False
        self._accept(entry, result, times, now, "store")
        return not times.due(now)

    def _finish(self, entry: _Entry, outcome: ValidationResult | Exception, now: datetime) -> None:
        if isinstance(outcome, ValidationResult):
            current = entry.result
            times = self._times(outcome, now)
            if current is not None and outcome.response.der == current.response.der:
                if times.servable(now):
                    self._same_again(entry, times)
                    return
            else:
                stale = _staleness(current, outcome)
                if stale is not None:
                    self._fail(entry, stale, now)
                    return
                if times.servable(now):
                    self._store_put(entry, outcome, times, now)
                    self._accept(entry, outcome, times, now, "fetched")
                    return
            outcome = UnservableResponseError(
                f"a valid response (thisUpdate {outcome.this_update}, nextUpdate "
                f"{outcome.next_update}) cannot be served: its serving limit "
                f"{times.serve_until} has passed"
            )
        self._fail(entry, outcome, now)

    def _same_again(self, entry: _Entry, times: StapleTimes) -> None:
        """The fetch returned the very staple being served (a cache, a responder that has not
        signed a newer one yet): a success, but nothing changes except the next refresh."""
        with self._lock:
            entry.times = times
            entry.failures = 0
            entry.last_error = None
            entry.next_attempt = times.refresh_at.timestamp()

    def _store_put(
        self, entry: _Entry, result: ValidationResult, times: StapleTimes, now: datetime
    ) -> None:
        ttl = (times.serve_until - now).total_seconds()
        try:
            self.store.put(entry.key, result.response.der, ttl=ttl)
        except StoreError as exc:
            self._report(entry, exc)

    def _accept(
        self,
        entry: _Entry,
        result: ValidationResult,
        times: StapleTimes,
        now: datetime,
        source: Source,
    ) -> None:
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
        self._sync_outputs(entry, now)
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
            self._missing(entry, f"the responder says {result.status.value}")

    def _fail(self, entry: _Entry, error: Exception, now: datetime) -> None:
        with self._lock:
            entry.failures += 1
            entry.last_error = error
            delay = retry_delay(
                entry.failures,
                schedule=self.schedule,
                jitter=self._rng,
                retry_after=getattr(error, "retry_after", None),
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
            self._missing(entry, f"refresh failed: {error}")

    def _report(self, entry: _Entry, error: Exception) -> None:
        """A store or output error: reported, but the refresh schedule is unchanged."""
        with self._lock:
            served = self._served.get(entry.key)
            serving = served is not None and self._clock() < served[1]
            retry_at = _utc(entry.next_attempt)
            failures = entry.failures
        emit(self.on_error, StapleFailed(entry.key, entry.cert, error, failures, retry_at, serving))

    def _expire(self, entry: _Entry, t: float) -> None:
        with self._lock:
            served = self._served.get(entry.key)
            if served is None or t < served[1]:
                return
            del self._served[entry.key]
            report = not entry.expired_reported
            entry.expired_reported = True
        if report:
            emit(self.on_expired, StapleExpired(entry.key, entry.cert, _utc(served[1])))
            self._missing(entry, "staple expired")

    def _missing(self, entry: _Entry, reason: str) -> None:
        if not entry.must_staple:
            return
        with self._lock:
            if entry.missing_reported:
                return
            entry.missing_reported = True
        emit(self.on_must_staple_missing, MustStapleMissing(entry.key, entry.cert, reason))

    # -- outputs -----------------------------------------------------------------------------

    def _sync_outputs(self, entry: _Entry, now: datetime) -> None:
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
                self._report(entry, error)
                continue
            with self._lock:
                entry.published[id(out)] = current
        if failed:
            with self._lock:
                entry.output_retry = t + _OUTPUT_RETRY

    # -- runners and cleanup -----------------------------------------------------------------

    def run_in_thread(self, *, max_sleep: float = 60.0) -> StaplerThread:
        """Start a daemon thread that calls :meth:`refresh` whenever something is due;
        returns the :class:`StaplerThread` (``.stop()``; also a context manager)."""
        from .runners import StaplerThread

        return StaplerThread(self, max_sleep=max_sleep).start()

    async def run(self, *, max_sleep: float = 60.0) -> None:
        """Call :meth:`arefresh` whenever something is due, until cancelled."""
        from .runners import run_async

        await run_async(self, max_sleep=max_sleep)

    def close(self) -> None:
        """Close the blocking client this stapler created (a client passed in is the caller's
        to close)."""
        with self._lock:
            own, self._own_client = self._own_client, None
        if own is not None:
            own.close()

    async def aclose(self) -> None:
        """Close every client this stapler created, the async one included."""
        self.close()
        with self._lock:
            aclient, self._own_async_client = self._own_async_client, None
        if aclient is not None:
            await aclient.aclose()

    def __enter__(self) -> Stapler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Stapler {len(self._entries)} certificate(s), store={type(self.store).__name__}>"
