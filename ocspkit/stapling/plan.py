"""The stapler's plan: what to load, lease, fetch, store and wait for, as generators of actions.

Every decision of a refresh lives here, once: adopt a fresher staple from the store, take the
fetch lease (or wait for its holder, or fetch without it when the store is down or the lease is
held too long), ask the responder, re-validate, refuse a rollback, store, serve. A plan yields
:data:`Action` values and receives their outcome (or has their exception thrown in); it never
touches a socket, a file, the clock or a random source itself. The blocking runner of
:class:`~ocspkit.Stapler` and the asyncio runner of :class:`~ocspkit.stapling.AsyncStapler`
(:mod:`ocspkit.stapling.runners`) perform the actions; that is the only difference between
them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from cryptography import x509

from ..errors import OCSPError, StoreError, UnservableResponseError
from ..models import ValidationResult
from ..policy import ValidationPolicy
from .core import C, StaplerCore
from .events import logger
from .state import Entry, staleness

__all__ = [
    "Action",
    "Fetch",
    "Lease",
    "Load",
    "Plan",
    "Release",
    "Save",
    "Sleep",
    "add_plan",
    "refresh_plan",
]

T = TypeVar("T")

_LEASE_POLL = 0.05  # seconds between looks at the store while another process fetches
_LEASE_GRACE = 1.0  # seconds past the lease TTL before a lease held too long is ignored


@dataclass(frozen=True)
class Fetch:
    """Ask the responder about ``cert`` with the client; the outcome is the client's
    :class:`~ocspkit.ValidationResult` (a failure is thrown into the plan)."""

    cert: x509.Certificate
    issuer: x509.Certificate
    url: str | None
    now: datetime
    nonce: bool
    policy: ValidationPolicy


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


@dataclass(frozen=True)
class Load:
    """``store.get(key)``: the stored DER or None."""

    key: str


@dataclass(frozen=True)
class Save:
    """``store.put(key, der, ttl=ttl)``."""

    key: str
    der: bytes
    ttl: float


@dataclass(frozen=True)
class Lease:
    """``store.acquire(key, ttl)``: True if the fetch lease is ours."""

    key: str
    ttl: float


@dataclass(frozen=True)
class Release:
    """``store.release(key)``."""

    key: str


#: What a plan asks its runner to do.
Action = Fetch | Sleep | Load | Save | Lease | Release

#: A plan: yields actions, receives their outcome, returns a value.
Plan = Generator[Action, object, T]

#: ``"fetch"``: fetch holding the lease; ``"fetch_unleased"``: fetch without it; ``"wait"``:
#: another holder is fetching; ``"done"``: a fresh staple was adopted from the store.
Step = Literal["done", "fetch", "fetch_unleased", "wait"]


# -- typed wrappers of the store actions -------------------------------------------------------


def _load(key: str) -> Plan[bytes | None]:
    got = yield Load(key)
    return got if isinstance(got, bytes) else None


def _lease(key: str, ttl: float) -> Plan[bool]:
    got = yield Lease(key, ttl)
    return got is True


def _release(core: StaplerCore[C], entry: Entry) -> Plan[None]:
    try:
        yield Release(entry.key)
    except StoreError as exc:
        core.report(entry, exc)


def _fetch(core: StaplerCore[C], entry: Entry, now: datetime) -> Plan[ValidationResult | Exception]:
    """Ask the responder, then re-validate here: the outcome, or the error to report."""
    options = core.options
    try:
        url = entry.url if entry.url is not None else options.force_url
        got = yield Fetch(entry.cert, entry.issuer, url, now, options.nonce, options.policy)
    except Exception as exc:  # every failure is reported and retried, never raised
        return exc
    if not isinstance(got, ValidationResult):
        return TypeError(f"client.check returned {type(got).__name__}, not ValidationResult")
    try:
        return core.validate(got.response, entry, now)
    except OCSPError as exc:
        return exc


# -- the plans -----------------------------------------------------------------------------


def adopt(core: StaplerCore[C], entry: Entry, now: datetime) -> Plan[bool]:
    """Take a valid, newer staple from the store; True if it needs no refresh yet."""
    try:
        der = yield from _load(entry.key)
    except StoreError as exc:
        core.report(entry, exc)
        return False
    if not der or (entry.result is not None and der == entry.result.response.der):
        return False
    try:
        result = core.validate(der, entry, now)
    except OCSPError as exc:  # corrupted, foreign or expired: ignore it
        logger.debug("ignoring stored staple %s: %s", entry.key, exc)
        return False
    if entry.result is not None and result.this_update <= entry.result.this_update:
        return False
    times = core.times(result, now)
    if not times.servable(now):
        return False
    core.accept(entry, result, times, now, "store")
    return not times.due(now)


def _begin(core: StaplerCore[C], entry: Entry, now: datetime) -> Plan[Step]:
    """Before fetching: adopt a fresher staple from the store, else take the lease (a stuck
    process that keeps the lease past its TTL must not starve the fleet)."""
    if (yield from adopt(core, entry, now)):
        entry.lease_wait_since = None
        return "done"
    ttl = core.options.lease_seconds()
    try:
        leased = yield from _lease(entry.key, ttl)
    except StoreError as exc:
        core.report(entry, exc)
        return "fetch_unleased"  # the store is down: fetching beats serving nothing
    if not leased:
        started = entry.lease_wait_since
        waited = core.monotonic()
        if started is None:
            entry.lease_wait_since = waited
            return "wait"
        if waited - started < ttl + _LEASE_GRACE:
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
    if (yield from adopt(core, entry, now)):
        yield from _release(core, entry)
        return "done"
    return "fetch"


def _finish(
    core: StaplerCore[C], entry: Entry, outcome: ValidationResult | Exception, now: datetime
) -> Plan[None]:
    """Serve and store a fetched response, or report why not."""
    if isinstance(outcome, ValidationResult):
        current = entry.result
        times = core.times(outcome, now)
        if current is not None and outcome.response.der == current.response.der:
            if times.servable(now):
                core.same_again(entry, times)
                return
        else:
            stale = staleness(current, outcome)
            if stale is not None:
                core.fail(entry, stale, now)
                return
            if times.servable(now):
                ttl = (times.serve_until - now).total_seconds()
                try:
                    yield Save(entry.key, outcome.response.der, ttl)
                except StoreError as exc:
                    core.report(entry, exc)
                core.accept(entry, outcome, times, now, "fetched")
                return
        outcome = UnservableResponseError(
            f"a valid response (thisUpdate {outcome.this_update}, nextUpdate "
            f"{outcome.next_update}) cannot be served: its serving limit "
            f"{times.serve_until} has passed"
        )
    core.fail(entry, outcome, now)


def refresh_plan(
    core: StaplerCore[C], entry: Entry, now: datetime | None, *, wait: bool
) -> Plan[None]:
    """Refresh one (claimed) entry: adopt, lease, fetch, finish, release.

    With ``wait`` (at add time) a lease held by another process is waited for, polling the
    store, long enough for a lease held past its TTL to be ignored; without it the entry is
    simply looked at again shortly.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else core.now
    step = yield from _begin(core, entry, clock())
    if step == "wait" and wait:
        deadline = core.monotonic() + core.options.lease_seconds() + 2 * _LEASE_GRACE
        while step == "wait" and core.monotonic() < deadline:
            yield Sleep(_LEASE_POLL)
            step = yield from _begin(core, entry, clock())
    if step == "wait":
        core.lease_busy(entry, clock())
        return
    if step == "done":
        return
    try:
        outcome = yield from _fetch(core, entry, clock())
        # stored before the lease is released: a waiter that gets the lease next finds it
        yield from _finish(core, entry, outcome, clock())
    finally:
        if step == "fetch":
            yield from _release(core, entry)


def add_plan(core: StaplerCore[C], entry: Entry, *, fetch: bool) -> Plan[None]:
    """A newly added (claimed) entry: serve a valid stored staple, else (or if it is due)
    fetch one now, so that a staple exists before ``add`` returns."""
    try:
        now = core.now()
        yield from adopt(core, entry, now)
        if fetch and (entry.times is None or entry.times.due(now)):
            yield from refresh_plan(core, entry, None, wait=True)
        elif entry.times is None:
            core.missing(entry, "no staple yet")
    finally:
        core.unclaim(entry)
