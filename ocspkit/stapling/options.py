"""StaplerOptions: every knob of the stapler, named after what Apache, nginx and HAProxy call it.

See ``docs/stapling.rst`` for the table that maps each server directive to an option.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import timedelta

from ..policy import ValidationPolicy
from ..refresh import RefreshSchedule

__all__ = ["MIN_RETRY", "StaplerOptions"]

#: The shortest ``retry_initial`` allowed: a failing refresh is never retried in a hot loop.
MIN_RETRY = timedelta(milliseconds=100)


@dataclass(frozen=True)
class StaplerOptions:
    """How a :class:`~ocspkit.Stapler` fetches, validates, schedules and serves staples.

    Refresh schedule (see :mod:`ocspkit.refresh`):

    :ivar refresh_fraction: refresh at this fraction of the serving time, thisUpdate to
        nextUpdate minus ``margin`` (0.5 = half way, leaving the other half for retries;
        mod_md's ``MDStaplingRenewWindow 33%`` is 0.67).
    :ivar min_refresh_interval: never refresh sooner than this after a successful fetch
        (HAProxy ``tune.ssl.ocsp-update.mindelay``).
    :ivar max_refresh_interval: refresh at least this often, whatever nextUpdate says
        (Apache ``SSLStaplingStandardCacheTimeout``, HAProxy ``...maxdelay``); None: no limit.
    :ivar margin: stop serving a staple this long before its nextUpdate (HAProxy and nginx
        use 5 minutes).
    :ivar max_age_without_next_update: serve a response without nextUpdate at most this long
        after its thisUpdate (and refresh it at ``refresh_fraction`` of that).
    :ivar retry_initial: first retry delay after a failed refresh (at least 0.1 s, so a
        failing responder is never hammered in a hot loop).
    :ivar retry_max: longest retry delay (Apache ``SSLStaplingErrorCacheTimeout``).
    :ivar backoff_factor: each consecutive failure multiplies the delay by this.
    :ivar jitter: relative spread of retry delays (0.25 = ±25 %), so a fleet does not retry
        in lockstep.

    Validation (every response is validated with :func:`ocspkit.validate_response`):

    :ivar time_skew: allowed clock difference for thisUpdate/nextUpdate (Apache
        ``SSLStaplingResponseTimeSkew``); overrides the policy's ``clock_skew``.
    :ivar max_age: refuse (and stop serving) responses whose thisUpdate is older than this
        (Apache ``SSLStaplingResponseMaxAge``); None: no limit.

    Fetching:

    :ivar responder_timeout: seconds allowed for one fetch (Apache
        ``SSLStaplingResponderTimeout``); used for the client the stapler creates.
    :ivar force_url: query this responder instead of the certificate's AIA OCSP URLs (Apache
        ``SSLStaplingForceURL``, nginx ``ssl_stapling_responder``).
    :ivar nonce: send a nonce with each request (servers usually do not; RFC 5019 responders
        ignore them).

    Serving:

    :ivar return_responder_errors: staple valid responses whose status is not ``good``
        (``revoked``, ``unknown``), so clients learn it (Apache
        ``SSLStaplingReturnResponderErrors``, default on). When off only ``good`` is stapled
        (``on_revoked`` still fires). Invalid or unsuccessful responses are *never* stapled.
    :ivar fake_try_later: when no valid staple is at hand, answer a client's status request
        with a ``tryLater`` OCSP response instead of nothing (Apache
        ``SSLStaplingFakeTryLater``); used by :meth:`Stapler.install` and staple files.
    :ivar lease_ttl: how long a fetch lease in a shared store lasts (a crashed fetcher's lease
        expires after it); None: ``2 * responder_timeout + 5`` seconds.
    """

    refresh_fraction: float = 0.5
    min_refresh_interval: timedelta = timedelta(minutes=1)
    max_refresh_interval: timedelta | None = None
    margin: timedelta = timedelta(minutes=5)
    max_age_without_next_update: timedelta = timedelta(hours=1)
    retry_initial: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=10)
    backoff_factor: float = 2.0
    jitter: float = 0.25
    time_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta | None = None
    responder_timeout: float = 10.0
    force_url: str | None = None
    nonce: bool = False
    return_responder_errors: bool = True
    fake_try_later: bool = False
    lease_ttl: timedelta | None = None

    def __post_init__(self) -> None:
        self.schedule()  # validates the schedule fields
        if self.retry_initial < MIN_RETRY:
            raise ValueError(
                f"retry_initial must be at least {MIN_RETRY.total_seconds()} s, "
                f"not {self.retry_initial!r}"
            )
        timeout = self.responder_timeout
        if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
            raise ValueError(f"responder_timeout must be a positive number, not {timeout!r}")
        if not isinstance(self.time_skew, timedelta) or self.time_skew < timedelta(0):
            raise ValueError(f"time_skew must be a non-negative timedelta, not {self.time_skew!r}")
        if self.lease_ttl is not None and (
            not isinstance(self.lease_ttl, timedelta) or self.lease_ttl <= timedelta(0)
        ):
            raise ValueError(f"lease_ttl must be a positive timedelta, not {self.lease_ttl!r}")
        if self.force_url is not None and not (
            isinstance(self.force_url, str) and self.force_url.startswith(("http://", "https://"))
        ):
            raise ValueError(f"force_url must be an http(s) URL, not {self.force_url!r}")

    def schedule(self) -> RefreshSchedule:
        """The :class:`~ocspkit.refresh.RefreshSchedule` these options describe."""
        return RefreshSchedule(
            fraction=self.refresh_fraction,
            margin=self.margin,
            min_interval=self.min_refresh_interval,
            max_interval=self.max_refresh_interval,
            max_age=self.max_age,
            max_age_without_next_update=self.max_age_without_next_update,
            retry_initial=self.retry_initial,
            retry_max=self.retry_max,
            backoff_factor=self.backoff_factor,
            jitter=self.jitter,
        )

    def validation_policy(self, base: ValidationPolicy | None = None) -> ValidationPolicy:
        """``base`` (or the default policy) with this stapler's skew and age limits."""
        policy = base or ValidationPolicy()
        return dataclasses.replace(
            policy,
            clock_skew=self.time_skew,
            max_age=self.max_age if self.max_age is not None else policy.max_age,
            max_age_without_next_update=self.max_age_without_next_update,
        )

    def lease_seconds(self) -> float:
        """The fetch lease duration in seconds."""
        if self.lease_ttl is not None:
            return self.lease_ttl.total_seconds()
        return 2 * self.responder_timeout + 5
