"""validate_response: every check of RFC 6960 §3.2, plus policy."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from .models import OCSPRequest, OCSPResponse, ValidationResult
from .policy import ValidationPolicy

__all__ = ["validate_response"]


def validate_response(
    response: OCSPResponse | bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime | None = None,
    request: OCSPRequest | None = None,
    policy: ValidationPolicy | None = None,
) -> ValidationResult:
    """Validate ``response`` for ``cert`` issued by ``issuer``; raise a ValidationError or
    ResponderError on failure. ``now`` defaults to the current time."""
    raise NotImplementedError
