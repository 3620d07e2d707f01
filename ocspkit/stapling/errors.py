"""The stapler's errors (all :class:`~ocspkit.OCSPError` subclasses)."""

from __future__ import annotations

from datetime import datetime

from ..errors import OCSPError, ValidationError

__all__ = [
    "StaplingError",
    "StoreError",
    "MissingDependencyError",
    "OutputError",
    "HAProxyAPIError",
    "UnservableResponseError",
    "StapleRollbackError",
]


class StaplingError(OCSPError):
    """Base class of the errors raised by :mod:`ocspkit.stapling`."""


class StoreError(StaplingError):
    """A staple store could not be read or written (I/O error, Redis unreachable, bad key)."""


class MissingDependencyError(StaplingError, ImportError):
    """An optional dependency is not installed (e.g. ``redis`` for :class:`RedisStore`)."""


class OutputError(StaplingError):
    """A staple could not be delivered to an output (file, HAProxy runtime API, ...)."""


class HAProxyAPIError(OutputError):
    """HAProxy's runtime API refused or did not acknowledge ``set ssl ocsp-response``.

    :ivar reply: what HAProxy answered (empty if nothing).
    """

    def __init__(self, message: str, *, reply: str = "") -> None:
        self.reply = reply
        super().__init__(f"{message}: {reply!r}" if reply else message)


class UnservableResponseError(ValidationError):
    """A valid response that cannot be served: its serving window (nextUpdate minus the
    margin, max age, the signer's expiry) is already over, or options refuse its status."""


class StapleRollbackError(UnservableResponseError):
    """A valid response older than the one being served (an earlier thisUpdate, or a
    non-``revoked`` answer no newer than a ``revoked`` one): a cache or a lagging responder
    replica must never roll a staple back, least of all from revoked to good.

    :ivar this_update: the fetched response's thisUpdate.
    :ivar current_this_update: the thisUpdate of the response being kept.
    """

    def __init__(
        self, message: str, *, this_update: datetime, current_this_update: datetime
    ) -> None:
        self.this_update = this_update
        self.current_this_update = current_this_update
        super().__init__(message)
