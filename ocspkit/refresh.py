"""When to refresh a staple and until when to serve it: a pure schedule.

Nothing here reads a clock or draws a random number: ``now`` and the jitter (a number in
``[0, 1)`` or a :class:`random.Random`) are arguments, so every decision of the stapler can be
computed, tested and explained in isolation.

The rules:

* A staple is served from the moment it is accepted until :attr:`StapleTimes.serve_until`:
  its nextUpdate minus :attr:`RefreshSchedule.margin` — never past it — and never past the
  signer certificate's notAfter. A response without nextUpdate is served at most
  :attr:`RefreshSchedule.serve_without_next_update` after its thisUpdate. The validation
  policy given (if any) caps both: a staple is never served once the policy would refuse it
  (``thisUpdate + policy.max_age``; without nextUpdate, ``thisUpdate +
  policy.max_age_without_next_update``).
* It is refreshed at :attr:`RefreshSchedule.fraction` of its serving time (by default half
  way between thisUpdate and ``serve_until``, leaving the other half to retry in), at least
  :attr:`RefreshSchedule.min_interval` after it was fetched — unless that would leave less
  than half of the remaining serving time for retries — and at most
  :attr:`RefreshSchedule.max_interval` (if set), and never later than ``serve_until``.
* After ``n`` consecutive failures the next attempt comes after
  ``min(retry_initial * backoff_factor**(n-1), retry_max)``, spread by ``± jitter``;
  a responder's ``Retry-After`` lengthens it (up to ``retry_max``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .policy import ValidationPolicy

__all__ = ["RefreshSchedule", "StapleTimes", "retry_delay", "staple_times"]

_ZERO = timedelta(0)


@dataclass(frozen=True)
class RefreshSchedule:
    """The knobs of the refresh schedule (see the module docstring for the rules).

    :ivar fraction: refresh at this fraction of the serving time, thisUpdate to
        ``serve_until`` (0 < fraction <= 1); 0.5 refreshes half way, leaving the other half for
        retries (a larger fraction leaves less).
    :ivar margin: stop serving this long before nextUpdate.
    :ivar min_interval: never refresh sooner than this after a successful fetch, unless the
        response would lapse before half of its remaining serving time is left.
    :ivar max_interval: if set, refresh at least this often.
    :ivar serve_without_next_update: serve a response without nextUpdate at most this long
        after its thisUpdate (a serving decision; the *acceptance* limit is
        ``ValidationPolicy.max_age_without_next_update``, and the shorter of the two applies).
    :ivar retry_initial: the delay after the first failure.
    :ivar retry_max: the longest delay between failed attempts (before jitter).
    :ivar backoff_factor: each further failure multiplies the delay by this (>= 1).
    :ivar jitter: the relative spread of retry delays, in ``[0, 1)``: 0.25 means ±25 %.
    """

    fraction: float = 0.5
    margin: timedelta = timedelta(minutes=5)
    min_interval: timedelta = timedelta(minutes=1)
    max_interval: timedelta | None = None
    serve_without_next_update: timedelta = timedelta(hours=1)
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=10)
    backoff_factor: float = 2.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], not {self.fraction!r}")
        for name in ("margin", "min_interval", "retry_initial", "retry_max"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < _ZERO:
                raise ValueError(f"{name} must be a non-negative timedelta, not {value!r}")
        value = self.max_interval
        if value is not None and (not isinstance(value, timedelta) or value <= _ZERO):
            raise ValueError(f"max_interval must be a positive timedelta or None, not {value!r}")
        value = self.serve_without_next_update
        if not isinstance(value, timedelta) or value <= _ZERO:
            raise ValueError(
                f"serve_without_next_update must be a positive timedelta, not {value!r}"
            )
        if self.retry_max < self.retry_initial:
            raise ValueError("retry_max must not be shorter than retry_initial")
        factor = self.backoff_factor
        if not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor < 1:
            raise ValueError(f"backoff_factor must be a finite number >= 1, not {factor!r}")
        if not isinstance(self.jitter, (int, float)) or not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter!r}")


@dataclass(frozen=True)
class StapleTimes:
    """When one accepted response stops being servable, and when to fetch its successor.

    :ivar serve_until: the staple may be served while ``now < serve_until``.
    :ivar refresh_at: fetch a new response at (or after) this instant; never after
        ``serve_until``.
    """

    serve_until: datetime
    refresh_at: datetime

    def servable(self, now: datetime) -> bool:
        """True while the staple may be served at ``now``."""
        return now < self.serve_until

    def due(self, now: datetime) -> bool:
        """True once a refresh is due at ``now``."""
        return now >= self.refresh_at


def _window_end(
    this_update: datetime,
    next_update: datetime | None,
    schedule: RefreshSchedule,
    signer_not_after: datetime | None,
    policy: ValidationPolicy | None,
) -> datetime:
    """The end of the usable validity window, before the serving margin."""
    if next_update is None:
        end = this_update + schedule.serve_without_next_update
        if policy is not None:
            end = min(end, this_update + policy.max_age_without_next_update)
    else:
        end = next_update
    if policy is not None and policy.max_age is not None:
        end = min(end, this_update + policy.max_age)
    if signer_not_after is not None:
        end = min(end, signer_not_after)
    return end


def _serve_until(
    this_update: datetime,
    next_update: datetime | None,
    *,
    schedule: RefreshSchedule,
    signer_not_after: datetime | None = None,
    policy: ValidationPolicy | None = None,
) -> datetime:
    """The instant from which a response must no longer be served.

    ``nextUpdate - margin`` (or ``thisUpdate + serve_without_next_update`` when there is no
    nextUpdate), capped by the policy's age limits and by the signer's notAfter.
    """
    end = _window_end(this_update, next_update, schedule, signer_not_after, policy)
    if next_update is not None:
        end = min(end, next_update - schedule.margin)
    return end


def staple_times(
    this_update: datetime,
    next_update: datetime | None,
    *,
    now: datetime,
    schedule: RefreshSchedule,
    signer_not_after: datetime | None = None,
    policy: ValidationPolicy | None = None,
) -> StapleTimes:
    """Serving limit and refresh time of a response accepted (fetched or loaded) at ``now``.

    ``policy``, when given, is the validation policy the response was accepted under: the
    staple is not served past the moment that policy would refuse it (its ``max_age`` and
    ``max_age_without_next_update``; clock skew is not added).

    The refresh time is ``thisUpdate + fraction * (serve_until - thisUpdate)``: a fraction of
    the time the response is actually *served* (not of thisUpdate–nextUpdate, which the margin
    shortens), so with the default 0.5 half the serving time is left to retry in. It is then
    limited to ``now + max_interval``, raised to ``now + min_interval`` — but never beyond half
    the serving time left (``start + (serve_until - start) / 2``, ``start`` being the later of
    thisUpdate and ``now``), so a short-lived response (minutes or seconds of validity) is
    refreshed with room to retry before it lapses — and finally capped at ``serve_until``.
    It may lie in the past (a response loaded from a store late in its life): it is then due.
    """
    until = _serve_until(
        this_update,
        next_update,
        schedule=schedule,
        signer_not_after=signer_not_after,
        policy=policy,
    )
    span = max(until - this_update, _ZERO)
    refresh = this_update + span * schedule.fraction
    if schedule.max_interval is not None:
        refresh = min(refresh, now + schedule.max_interval)
    start = max(this_update, now)
    floor = now + schedule.min_interval
    if until > start:
        # min_interval yields to the retry room: at most half of what is left to serve
        floor = min(floor, start + (until - start) / 2)
    refresh = max(refresh, floor)
    refresh = min(refresh, until)
    return StapleTimes(serve_until=until, refresh_at=refresh)


def retry_delay(
    failures: int,
    *,
    schedule: RefreshSchedule,
    jitter: float | random.Random,
    retry_after: float | None = None,
) -> timedelta:
    """How long to wait after the ``failures``-th consecutive failure (``failures >= 1``).

    ``base = min(retry_initial * backoff_factor**(failures - 1), retry_max)``; the result is
    ``base * (1 + jitter_spread * (2u - 1))`` with ``u`` the given number in ``[0, 1)`` (or one
    drawn from the given :class:`random.Random`). A ``retry_after`` in seconds (the responder's
    ``Retry-After``) makes the delay at least that long, but never longer than ``retry_max``.
    """
    if not isinstance(failures, int) or failures < 1:
        raise ValueError(f"failures must be a positive integer, not {failures!r}")
    u = jitter.random() if isinstance(jitter, random.Random) else float(jitter)
    if not 0 <= u <= 1:
        raise ValueError(f"jitter must be in [0, 1], not {u!r}")
    initial = schedule.retry_initial.total_seconds()
    cap = schedule.retry_max.total_seconds()
    # exponent capped so the power never overflows (the min() caps the value anyway)
    exponent = min(failures - 1, 1000)
    try:
        base = min(initial * schedule.backoff_factor**exponent, cap)
    except OverflowError:
        base = cap
    delay = base * (1 + schedule.jitter * (2 * u - 1))
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, cap))
    return timedelta(seconds=max(delay, 0.0))
