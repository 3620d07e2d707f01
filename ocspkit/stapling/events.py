"""What the stapler reports to its callbacks: frozen event records.

Callbacks are plain callables taking one event; they run in the thread (or task) that did the
work. An exception raised by a callback is logged (logger ``ocspkit.stapling``) and swallowed:
a broken callback never stops the stapler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from cryptography import x509

from ..models import ValidationResult

__all__ = [
    "MustStapleMissing",
    "Source",
    "StapleExpired",
    "StapleFailed",
    "StapleRevoked",
    "StapleUpdated",
]

logger = logging.getLogger("ocspkit.stapling")

#: Where an accepted staple came from: fetched from the responder, or loaded from the store.
Source = Literal["fetched", "store"]


@dataclass(frozen=True)
class StapleUpdated:
    """A new valid staple is being served for ``cert``.

    :ivar key: the stapler's key of the certificate (see :meth:`Stapler.add`).
    :ivar result: the validated response.
    :ivar source: ``"fetched"`` or ``"store"``.
    :ivar serve_until: the staple is served until then.
    :ivar refresh_at: the next refresh is planned for then.
    """

    key: str
    cert: x509.Certificate
    result: ValidationResult
    source: Source
    serve_until: datetime
    refresh_at: datetime


@dataclass(frozen=True)
class StapleRevoked:
    """The responder says ``cert`` is revoked. The revoked response is stapled all the same
    (clients must learn it); this event tells the operator to replace the certificate."""

    key: str
    cert: x509.Certificate
    result: ValidationResult


@dataclass(frozen=True)
class StapleFailed:
    """Something failed: a refresh (transport, responder status or validation error), or a
    store or output operation (:class:`~ocspkit.stapling.StoreError`,
    :class:`~ocspkit.stapling.OutputError`), which leaves the refresh schedule unchanged.

    :ivar error: the exception (an :class:`~ocspkit.OCSPError` unless something unexpected
        broke).
    :ivar failures: consecutive failed refreshes for this certificate (this one included; for
        a store or output error, the count as it stands).
    :ivar retry_at: when the next attempt is planned.
    :ivar serving: True if a previous good staple is still being served.
    """

    key: str
    cert: x509.Certificate
    error: Exception
    failures: int
    retry_at: datetime
    serving: bool


@dataclass(frozen=True)
class StapleExpired:
    """The staple of ``cert`` reached its serving limit with no successor: none is served."""

    key: str
    cert: x509.Certificate
    serve_until: datetime


@dataclass(frozen=True)
class MustStapleMissing:
    """A Must-Staple certificate (RFC 7633) has no valid staple: clients will refuse it.

    :ivar reason: ``"initial fetch failed"``, ``"staple expired"`` ...
    """

    key: str
    cert: x509.Certificate
    reason: str


E = TypeVar("E")


def emit(callback: Callable[[E], object] | None, event: E) -> None:
    """Call ``callback(event)`` if set; log and swallow whatever it raises."""
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # a user callback must never break the stapler
        logger.exception("stapler event callback %r raised", callback)
