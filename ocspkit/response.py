"""Parsing and building OCSP responses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from .models import Extension, OCSPResponse, ResponseStatus, SingleResponse

__all__ = ["parse_response", "build_response", "build_error_response"]


def parse_response(der: bytes) -> OCSPResponse:
    """Parse a DER (or PEM "OCSP RESPONSE") response of any responseStatus.

    Raises :class:`~ocspkit.DecodeError` on garbage, truncated or trailing-data input.
    """
    raise NotImplementedError


def build_response(
    responses: SingleResponse | Sequence[SingleResponse],
    *,
    responder_cert: x509.Certificate,
    responder_key: CertificateIssuerPrivateKeyTypes,
    produced_at: datetime,
    responder_id: Literal["key", "name"] = "key",
    certificates: Sequence[x509.Certificate] = (),
    nonce: bytes | None = None,
    extensions: Sequence[Extension] = (),
    signature_hash: str | None = "sha256",
) -> OCSPResponse:
    """Build and sign a successful BasicOCSPResponse (the responder side)."""
    raise NotImplementedError


def build_error_response(status: ResponseStatus) -> OCSPResponse:
    """An unsuccessful response (``tryLater``, ``unauthorized``, ...): no responseBytes."""
    raise NotImplementedError
