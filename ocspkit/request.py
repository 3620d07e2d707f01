"""Building and parsing OCSP requests; the RFC 5019 GET form."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from .models import OCSPRequest

__all__ = ["build_request", "parse_request", "get_url"]


def build_request(
    cert: x509.Certificate | Sequence[x509.Certificate],
    issuer: x509.Certificate,
    *,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
) -> OCSPRequest:
    """Build an unsigned OCSP request for one certificate or several of the same issuer."""
    raise NotImplementedError


def parse_request(der: bytes) -> OCSPRequest:
    """Parse a DER (or PEM "OCSP REQUEST") request; several CertIDs and signed requests allowed."""
    raise NotImplementedError


def get_url(der: bytes, base_url: str) -> str:
    """The GET URL of a request (base64, then percent-encoded, joined to ``base_url``)."""
    raise NotImplementedError
