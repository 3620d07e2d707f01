"""What the stapler knows about each certificate: the per-certificate record and its snapshot.

Values and pure decisions only (which fetched response may replace the current one): no I/O,
no clock, no events. :mod:`ocspkit.stapling.core` mutates the records under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..errors import StapleRollbackError
from ..models import CertStatus, RevocationReason, ValidationResult
from ..refresh import StapleTimes
from .outputs import StapleOutput

__all__ = ["Entry", "StapleState", "fingerprint", "staleness", "utc"]


def utc(ts: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, timezone.utc)


def fingerprint(cert: x509.Certificate) -> str:
    """The key of ``cert``: the hex SHA-256 of its DER."""
    return cert.fingerprint(hashes.SHA256()).hex()


def staleness(
    current: ValidationResult | None, fetched: ValidationResult
) -> StapleRollbackError | None:
    """Why ``fetched`` must not replace ``current`` (None: it may).

    A response older than the current one is refused (a CDN cache or a lagging responder
    replica must not roll the staple back), and so is any answer other than ``revoked`` after a
    ``revoked`` one: a revocation is final (RFC 5280 §5.3.1), so a later "good" is a replica
    that never saw it, and the strictest signed answer stands. Only a certificateHold can be
    released, by an answer strictly newer than the hold.
    """
    if current is None:
        return None
    if fetched.this_update < current.this_update:
        why = "is older than the one being served"
    elif current.status is CertStatus.REVOKED and fetched.status is not CertStatus.REVOKED:
        hold = current.revocation_reason is RevocationReason.CERTIFICATE_HOLD
        if hold and fetched.this_update > current.this_update:
            return None
        why = (
            f"says {fetched.status.value} but is not newer than the hold being served"
            if hold
            else f"says {fetched.status.value} after a revocation, which is final"
        )
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
class Entry:
    """The mutable record of one certificate (guarded by the stapler's lock)."""

    key: str
    cert: x509.Certificate
    issuer: x509.Certificate
    must_staple: bool
    url: str | None = None  # this certificate's responder (overrides options.force_url)
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
