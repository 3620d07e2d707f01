"""Certificates: loading bundles, AIA URIs, Must-Staple, finding issuers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import AuthorityInformationAccessOID

from ._sigalgs import verify_certificate_signature
from .errors import CertificateError, IssuerNotFoundError, OCSPError

__all__ = [
    "load_certificates",
    "load_certificate",
    "ocsp_urls",
    "ca_issuer_urls",
    "is_must_staple",
    "find_issuer",
    "is_issued_by",
]

_PEM_MARK = b"-----BEGIN"

#: What cryptography may raise while lazily decoding a malformed certificate's parts.
CERT_DECODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
#: The same, plus a missing extension: reading one extension fails with one of these.
EXTENSION_ERRORS: tuple[type[Exception], ...] = (x509.ExtensionNotFound, *CERT_DECODE_ERRORS)
_TLS_FEATURE_STATUS_REQUEST = 5


def _read(data_or_path: bytes | bytearray | memoryview | str | os.PathLike[str]) -> bytes:
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return bytes(data_or_path)
    if isinstance(data_or_path, (str, os.PathLike)):
        text = os.fspath(data_or_path)
        if isinstance(data_or_path, str) and _PEM_MARK.decode() in text:
            return text.encode()
        try:
            return Path(text).read_bytes()
        except OSError as exc:
            raise CertificateError(
                f"cannot read certificate file {text!r}: {exc.strerror}"
            ) from None
    raise CertificateError(
        f"expected PEM/DER bytes or a file path, not {type(data_or_path).__name__}"
    )


def load_certificates(
    data_or_path: bytes | str | os.PathLike[str] | x509.Certificate | Iterable[x509.Certificate],
) -> list[x509.Certificate]:
    """Load certificates from a PEM bundle, a DER certificate, a file path, or certificates.

    PEM blocks other than certificates (keys, CRLs) are skipped. Raises
    :class:`~ocspkit.CertificateError` if nothing usable is found.
    """
    if isinstance(data_or_path, x509.Certificate):
        return [data_or_path]
    if not isinstance(data_or_path, (bytes, bytearray, memoryview, str, os.PathLike)):
        try:
            items = list(data_or_path)
        except TypeError:
            raise CertificateError(
                f"expected PEM/DER bytes, a file path or certificates, not "
                f"{type(data_or_path).__name__}"
            ) from None
        if items and all(isinstance(c, x509.Certificate) for c in items):
            return items
        raise CertificateError("expected x509.Certificate objects")
    data = _read(data_or_path)
    if _PEM_MARK in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise CertificateError(f"no valid PEM certificate found: {exc}") from None
        return certs
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertificateError("not a certificate (neither PEM nor DER X.509)") from None


def load_certificate(
    data_or_path: bytes | str | os.PathLike[str] | x509.Certificate,
) -> x509.Certificate:
    """Load exactly the first certificate of :func:`load_certificates`."""
    return load_certificates(data_or_path)[0]


def _aia_urls(cert: x509.Certificate, method: x509.ObjectIdentifier) -> tuple[str, ...]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return ()
    except CERT_DECODE_ERRORS:  # malformed or duplicated extensions in the certificate
        return ()
    return tuple(
        d.access_location.value
        for d in aia.value
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The AIA id-ad-ocsp URIs of ``cert``, in order (empty if it has none)."""
    return _aia_urls(cert, AuthorityInformationAccessOID.OCSP)


def ca_issuer_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The AIA id-ad-caIssuers URIs of ``cert``, in order."""
    return _aia_urls(cert, AuthorityInformationAccessOID.CA_ISSUERS)


def is_must_staple(cert: x509.Certificate) -> bool:
    """True if ``cert`` has the TLS Feature extension with status_request (RFC 7633)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.TLSFeature)
    except EXTENSION_ERRORS:
        return False
    return any(int(f.value) == _TLS_FEATURE_STATUS_REQUEST for f in ext.value)


def is_issued_by(
    cert: x509.Certificate, issuer: x509.Certificate, *, allow_sha1: bool = True
) -> bool:
    """True if ``issuer``'s subject is ``cert``'s issuer name and its key signed ``cert``.

    SHA-1 certificate signatures are accepted unless ``allow_sha1`` is False (MD5 never).
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        verify_certificate_signature(cert, issuer.public_key(), allow_sha1=allow_sha1)
    except (OCSPError, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def find_issuer(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate among ``candidates`` that issued ``cert`` (name *and* signature checked).

    Raises :class:`~ocspkit.IssuerNotFoundError` if none did.
    """
    for cand in candidates:
        if cand is not cert and is_issued_by(cert, cand):
            return cand
    subject = cert.subject.rfc4514_string()
    raise IssuerNotFoundError(
        f"issuer of {subject!r} not found among {len(candidates)} certificate(s)"
    )
