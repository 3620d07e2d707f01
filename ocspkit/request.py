"""Building and parsing OCSP requests; the RFC 6960 A.1 / RFC 5019 GET form."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography import x509

from . import _encode
from ._guard import typed_errors
from ._pem import der_from
from .errors import DecodeError
from .issuers import cert_id
from .models import OCSPRequest

__all__ = ["DEFAULT_NONCE_SIZE", "build_request", "parse_request"]

#: Size of the random nonce ``build_request(nonce=True)`` adds (RFC 8954 allows 1–32 octets).
DEFAULT_NONCE_SIZE = 16


def build_request(
    cert: x509.Certificate | Sequence[x509.Certificate],
    issuer: x509.Certificate,
    *,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
) -> OCSPRequest:
    """Build an unsigned OCSP request for one certificate or several of the same issuer.

    :param hash_algorithm: the CertID hash: ``"sha1"`` (default, the most compatible),
        ``"sha256"``, ``"sha384"``, ``"sha512"`` (or ``"sha224"``).
    :param nonce: ``True`` for 16 random octets (the default), ``False`` for none, or explicit
        bytes (1–32 octets, RFC 8954).
    :raises ValueError: for no certificate, or a nonce outside 1–32 octets (a
        :class:`~ocspkit.CertificateError`, also a ``ValueError``, for an unknown
        ``hash_algorithm`` or a certificate that cannot be read).
    :raises TypeError: for a ``nonce`` that is neither a bool nor bytes.
    """
    certs = [cert] if isinstance(cert, x509.Certificate) else list(cert)
    if not certs:
        raise ValueError("build_request needs at least one certificate")
    cert_ids = tuple(cert_id(c, issuer, hash_algorithm) for c in certs)
    nonce_bytes: bytes | None
    if nonce is True:
        nonce_bytes = os.urandom(DEFAULT_NONCE_SIZE)
    elif nonce is False or nonce is None:
        nonce_bytes = None
    elif isinstance(nonce, (bytes, bytearray)):
        nonce_bytes = bytes(nonce)
        if not 1 <= len(nonce_bytes) <= 32:
            raise ValueError("a nonce must be 1 to 32 octets long (RFC 8954)")
    else:
        raise TypeError("nonce must be True, False or bytes")
    der = _encode.encode_request(cert_ids, nonce_bytes)
    return OCSPRequest(der=der, cert_ids=cert_ids, nonce=nonce_bytes)


@typed_errors(DecodeError, "parse_request")
def parse_request(der: bytes) -> OCSPRequest:
    """Parse a DER (or PEM "OCSP REQUEST") request; several CertIDs and signed requests allowed.

    Raises :class:`~ocspkit.DecodeError` on anything that is not a well-formed request.
    """
    from ._asn1 import decode_request  # asn1crypto loads only for request parsing

    return decode_request(der_from(der, "OCSP REQUEST"))
