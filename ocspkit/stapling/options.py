"""StaplerOptions: how a stapler fetches, validates, schedules and serves — composed, not copied.

The schedule is a :class:`~ocspkit.refresh.RefreshSchedule` and validation a
:class:`~ocspkit.ValidationPolicy`, each with its own defaults; this module adds only the
settings that belong to stapling (fetch knobs, serving rules, the store lease) and never
re-declares a field of either. It holds values only: no I/O, no clock. ``docs/stapling.rst``
maps each server directive to the setting that implements it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from ..policy import NonceRule, ValidationPolicy
from ..refresh import RefreshSchedule

if TYPE_CHECKING:
    from ..client import ClientConfig

__all__ = ["MIN_RETRY", "StaplerOptions"]

#: The shortest ``schedule.retry_initial`` a stapler accepts: a failing refresh is never
#: retried in a hot loop.
MIN_RETRY = timedelta(milliseconds=100)


@dataclass(frozen=True)
class StaplerOptions:
    """How a :class:`~ocspkit.Stapler` fetches, validates, schedules and serves staples.

    :ivar schedule: when to refresh, retry and stop serving (:class:`ocspkit.refresh.
        RefreshSchedule`: ``fraction``, ``margin``, ``min_interval``, ``max_interval``,
        ``serve_without_next_update``, ``retry_initial`` (at least 0.1 s here), ``retry_max``,
        ``backoff_factor``, ``jitter``).
    :ivar policy: how fetched and stored responses are validated (:class:`ocspkit.
        ValidationPolicy`: ``clock_skew`` is Apache's ``SSLStaplingResponseTimeSkew``,
        ``max_age`` its ``SSLStaplingResponseMaxAge``). Stored responses are validated with the
        same policy, nonces ignored. A staple is never served past what the policy accepts.
    :ivar responder_timeout: seconds allowed for one fetch (Apache
        ``SSLStaplingResponderTimeout``): the deadline of the client the stapler creates, and
        the basis of the fetch lease.
    :ivar force_url: query this responder instead of the certificate's AIA OCSP URLs (Apache
        ``SSLStaplingForceURL``, nginx ``ssl_stapling_responder``); applied to a client passed
        in too.
    :ivar nonce: send a nonce with each request (servers usually do not; RFC 5019 responders
        ignore them).
    :ivar return_responder_errors: staple valid responses whose status is not ``good``
        (``revoked``, ``unknown``), so clients learn it (Apache
        ``SSLStaplingReturnResponderErrors``, default on). When off only ``good`` is stapled
        (``on_revoked`` still fires). Invalid or unsuccessful responses are *never* stapled.
    :ivar fake_try_later: when no valid staple is at hand, answer a client's status request
        with a ``tryLater`` OCSP response instead of nothing (Apache
        ``SSLStaplingFakeTryLater``); used by :meth:`Stapler.install`.
    :ivar lease_ttl: how long a fetch lease in a shared store lasts (a crashed fetcher's lease
        expires after it); None: ``2 * responder_timeout + 5`` seconds.
    """

    schedule: RefreshSchedule = field(default_factory=RefreshSchedule)
    policy: ValidationPolicy = field(default_factory=ValidationPolicy)
    responder_timeout: float = 10.0
    force_url: str | None = None
    nonce: bool = False
    return_responder_errors: bool = True
    fake_try_later: bool = False
    lease_ttl: timedelta | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, RefreshSchedule):
            raise ValueError(f"schedule must be a RefreshSchedule, not {self.schedule!r}")
        if not isinstance(self.policy, ValidationPolicy):
            raise ValueError(f"policy must be a ValidationPolicy, not {self.policy!r}")
        if self.schedule.retry_initial < MIN_RETRY:
            raise ValueError(
                f"schedule.retry_initial must be at least {MIN_RETRY.total_seconds()} s, "
                f"not {self.schedule.retry_initial!r}"
            )
        timeout = self.responder_timeout
        if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
            raise ValueError(f"responder_timeout must be a positive number, not {timeout!r}")
        if self.lease_ttl is not None and (
            not isinstance(self.lease_ttl, timedelta) or self.lease_ttl <= timedelta(0)
        ):
            raise ValueError(f"lease_ttl must be a positive timedelta, not {self.lease_ttl!r}")
        if self.force_url is not None and not (
            isinstance(self.force_url, str) and self.force_url.startswith(("http://", "https://"))
        ):
            raise ValueError(f"force_url must be an http(s) URL, not {self.force_url!r}")

    @property
    def store_policy(self) -> ValidationPolicy:
        """:attr:`policy` for responses read back from a store (their nonce is irrelevant)."""
        return dataclasses.replace(self.policy, nonce=NonceRule.IGNORE)

    def client_config(self) -> ClientConfig:
        """The :class:`~ocspkit.ClientConfig` of the client a stapler creates for itself: one
        fetch within ``responder_timeout``, one retry, ``force_url`` and :attr:`policy`."""
        from ..client import ClientConfig

        return ClientConfig(
            timeout=self.responder_timeout,
            deadline=self.responder_timeout,
            force_url=self.force_url,
            retries=1,
            policy=self.policy,
        )

    def lease_seconds(self) -> float:
        """The fetch lease duration in seconds."""
        if self.lease_ttl is not None:
            return self.lease_ttl.total_seconds()
        return 2 * self.responder_timeout + 5
