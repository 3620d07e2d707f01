"""Certificates: loading, their parts read from the DER, AIA and CRL URIs, Must-Staple, EKU.

Owns every reading of a certificate that ocspkit decides on. Parts are read from the
certificate's own DER (sliced by :mod:`ocspkit._der`, cached by DER in :mod:`ocspkit._cache`),
never from cryptography's decoded extensions, which raise on values they cannot represent
(an unknown TLS Feature, a duplicate extension) and re-encode what they return. Pure: must
never do I/O beyond reading a file the caller named, and never raise anything outside the
:class:`~ocspkit.OCSPError` tree for any certificate cryptography could load.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from ._cache import BoundedCache
from ._der import (
    cert_parts,
    children,
    decode_oid,
    expect,
    read_tbs,
    spki_bit_string,
)
from ._guard import typed_errors
from .errors import (
    CertificateError,
    DecodeError,
    SignatureError,
)
from .models import safe_name

__all__ = [
    "ca_issuer_urls",
    "crl_urls",
    "is_must_staple",
    "load_certificate",
    "load_certificates",
    "ocsp_urls",
]

_PEM_MARK = b"-----BEGIN"
OID_AIA = "1.3.6.1.5.5.7.1.1"
OID_AD_OCSP = "1.3.6.1.5.5.7.48.1"
OID_AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2"
OID_TLS_FEATURE = "1.3.6.1.5.5.7.1.24"
OID_EKU = "2.5.29.37"
OID_CRL_DP = "2.5.29.31"
OID_FRESHEST_CRL = "2.5.29.46"
_TLS_FEATURE_STATUS_REQUEST = 5

#: Certificate extensions whose meaning ocspkit (or any RFC 5280 path validator) knows; a
#: critical extension outside this set makes a delegated responder certificate unusable.
KNOWN_CERT_EXTENSIONS = frozenset(
    {
        "2.5.29.9",  # subjectDirectoryAttributes
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.15",  # keyUsage
        "2.5.29.17",  # subjectAltName
        "2.5.29.18",  # issuerAltName
        "2.5.29.19",  # basicConstraints
        "2.5.29.30",  # nameConstraints
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.33",  # policyMappings
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.36",  # policyConstraints
        "2.5.29.37",  # extKeyUsage
        "2.5.29.46",  # freshestCRL
        "2.5.29.54",  # inhibitAnyPolicy
        "2.5.29.56",  # noRevAvail (RFC 9608)
        OID_AIA,
        "1.3.6.1.5.5.7.1.11",  # subjectInfoAccess
        OID_TLS_FEATURE,
        "1.3.6.1.5.5.7.48.1.5",  # id-pkix-ocsp-nocheck
        "1.3.6.1.4.1.11129.2.4.2",  # CT SCT list
        "1.3.6.1.4.1.11129.2.4.3",  # CT precertificate poison
    }
)


class CertParts(NamedTuple):
    """What ocspkit reads of a certificate, sliced from its DER (with the first certificate
    object seen for that DER: certificates are immutable and equal by DER)."""

    cert: x509.Certificate
    serial: int
    der: bytes
    tbs: bytes
    outer_algorithm: bytes
    inner_algorithm: bytes
    issuer_der: bytes
    subject_der: bytes
    spki_der: bytes
    key_bits: bytes
    extensions: dict[str, tuple[bool, bytes]] | None  # None: malformed extensions


_parts = BoundedCache[bytes, CertParts]("certs.parts", 1024)
# A front for _parts that needs no DER: the signature value (which cryptography hands out as
# stored, while ``public_bytes`` re-encodes the whole certificate, ~7 µs) names a candidate,
# and cryptography's equality of the two certificate objects (a comparison of their parsed
# contents, which re-encode to exactly their DER) confirms it. A fresh object for a known
# certificate so costs one comparison (~2 µs), the same object nothing.
_by_signature = BoundedCache[bytes, CertParts]("certs.by_signature", 1024)
_keys = BoundedCache[bytes, CertificatePublicKeyTypes]("certs.keys", 1024)
# A front for the front: the object already read (a check reads one certificate's parts a
# dozen times, and cryptography copies the signature out on every ``.signature``, ~4 µs).
# The entry holds the object itself, so its id() cannot be reused while the entry lives.
_by_object = BoundedCache[int, tuple[x509.Certificate, "CertParts"]]("certs.by_object", 1024)


def cert_der(cert: x509.Certificate) -> bytes:
    """The certificate's DER exactly as it was loaded."""
    return cert.public_bytes(Encoding.DER)


#: A certificate, or its parts when the caller already has them (the validator reads a
#: certificate's parts once and passes them to every helper).
Cert = x509.Certificate | CertParts


def parts_of(cert: Cert) -> CertParts:
    """The certificate's :class:`CertParts`, cached by its DER (a fresh object for known bytes
    is found by its signature value and confirmed by comparing the two certificates)."""
    if isinstance(cert, CertParts):
        return cert
    seen = _by_object.get(id(cert))
    if seen is not None and seen[0] is cert:
        return seen[1]
    signature = cert.signature
    hit = _by_signature.get(signature)
    if hit is None or (hit.cert is not cert and hit.cert != cert):
        hit = _by_signature.put(signature, _parts_by_der(cert_der(cert), cert))
    _by_object.put(id(cert), (cert, hit))
    return hit


def known_certificate(der: bytes) -> x509.Certificate | None:
    """The certificate object already read for this DER, if any (certificates are immutable
    and equal by DER, so one object serves every later sight of the same bytes)."""
    hit = _parts.get(der)
    return hit.cert if hit is not None else None


def _parts_by_der(der: bytes, cert: x509.Certificate) -> CertParts:
    """The :class:`CertParts` of ``cert``, whose DER is ``der``, cached by the DER."""
    hit = _parts.get(der)
    if hit is not None:
        return hit
    try:
        tbs, outer = cert_parts(der)
        inner, issuer, subject, spki, exts = read_tbs(tbs)
        bits = spki_bit_string(spki)
    except DecodeError as exc:  # cryptography loaded it, so this is not expected
        raise CertificateError(f"unexpected certificate structure: {exc}") from None
    return _parts.put(
        der,
        CertParts(
            cert, cert.serial_number, der, tbs, outer, inner, issuer, subject, spki, bits, exts
        ),
    )


def subject_text(cert: x509.Certificate, *, issuer: bool = False) -> str:
    """The certificate's subject (or issuer) name as RFC 4514 text; never raises."""
    try:
        return safe_name(cert.issuer if issuer else cert.subject)
    except Exception:  # a name cryptography cannot even decode
        return "<undecodable name>"


def describe(cert: x509.Certificate) -> str:
    """The subject, quoted, for messages; never raises."""
    return repr(subject_text(cert))


def public_key(cert: Cert) -> CertificatePublicKeyTypes:
    """The certificate's public key, or :class:`~ocspkit.SignatureError` naming its algorithm
    when cryptography cannot use it (GOST, an unsupported curve, SLH-DSA, ...)."""
    parts = parts_of(cert)
    hit = _keys.get(parts.der)
    if hit is not None:
        return hit
    try:
        key = parts.cert.public_key()
    except Exception:  # UnsupportedAlgorithm, ValueError on a bad point, ...
        raise SignatureError(
            f"the public key of {describe(parts.cert)} cannot be used "
            f"(algorithm {_spki_algorithm(parts.spki_der)})"
        ) from None
    return _keys.put(parts.der, key)


def _spki_algorithm(spki: bytes) -> str:
    try:
        start, end = expect(spki, 0, 0x30)
        alg_start, alg_end = expect(spki, start, 0x30, end)
        ostart, oend = expect(spki, alg_start, 0x06, alg_end)
        return decode_oid(spki[ostart:oend])
    except DecodeError:
        return "unknown"


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


@typed_errors(CertificateError, "load_certificates")
def load_certificates(
    data_or_path: bytes | str | os.PathLike[str] | x509.Certificate | Iterable[x509.Certificate],
) -> list[x509.Certificate]:
    """Load certificates from a PEM bundle, a DER certificate, a file path, or certificates.

    PEM blocks other than certificates (keys, CRLs) are skipped. Raises
    :class:`~ocspkit.CertificateError` if nothing usable is found, and for anything
    cryptography refuses (a bad encoding, an X.509 version other than 1–3).
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
    # The one guarded call into cryptography's certificate loaders: whatever it raises on
    # hostile bytes (ValueError, InvalidVersion, ...) is a CertificateError.
    try:
        if _PEM_MARK in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except Exception as exc:
        what = "no valid PEM certificate found" if _PEM_MARK in data else "not a certificate"
        raise CertificateError(f"{what} ({type(exc).__name__})") from None


def load_certificate(
    data_or_path: bytes | str | os.PathLike[str] | x509.Certificate,
) -> x509.Certificate:
    """Load exactly the first certificate of :func:`load_certificates`."""
    return load_certificates(data_or_path)[0]


def extension(cert: x509.Certificate, oid: str) -> tuple[bool, bytes] | None:
    """(critical, extnValue contents) of one extension, read from the DER; None if absent or
    if the extensions are malformed."""
    exts = parts_of(cert).extensions
    return exts.get(oid) if exts is not None else None


def _sequence_items(value: bytes) -> list[tuple[int, int, int, int]]:
    start, end = expect(value, 0, 0x30)
    if end != len(value):
        raise DecodeError("trailing data in an extension value")
    return children(value, start, end)


def _aia_urls(cert: x509.Certificate, method: str) -> tuple[str, ...]:
    ext = extension(cert, OID_AIA)
    if ext is None:
        return ()
    value = ext[1]
    urls = []
    try:
        for tag, _, start, end in _sequence_items(value):
            if tag != 0x30:
                continue
            parts = children(value, start, end)
            if len(parts) != 2 or parts[0][0] != 0x06:
                continue
            if decode_oid(value[parts[0][2] : parts[0][3]]) != method or parts[1][0] != 0x86:
                continue
            url = value[parts[1][2] : parts[1][3]]
            if url.isascii():
                urls.append(url.decode("ascii"))
    except DecodeError:
        return ()
    return tuple(urls)


@typed_errors(CertificateError, "ocsp_urls")
def ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The AIA id-ad-ocsp URIs of ``cert``, in order (empty if it has none)."""
    return _aia_urls(cert, OID_AD_OCSP)


@typed_errors(CertificateError, "ca_issuer_urls")
def ca_issuer_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The AIA id-ad-caIssuers URIs of ``cert``, in order."""
    return _aia_urls(cert, OID_AD_CA_ISSUERS)


@typed_errors(CertificateError, "crl_urls")
def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The URIs of the certificate's CRL Distribution Points (fullName), in order."""
    ext = extension(cert, OID_CRL_DP)
    return () if ext is None else distribution_point_uris(ext[1])


def freshest_crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The URIs of the certificate's freshestCRL extension (where its delta CRLs are), in
    order (RFC 5280 §4.2.1.15)."""
    ext = extension(cert, OID_FRESHEST_CRL)
    return () if ext is None else distribution_point_uris(ext[1])


def distribution_point_uris(value: bytes) -> tuple[str, ...]:
    """The fullName URIs of a CRLDistributionPoints value (also the syntax of freshestCRL, in
    a certificate or a CRL), in order; () when it does not decode."""
    urls = []
    try:
        for tag, _, start, end in _sequence_items(value):
            if tag != 0x30:
                continue
            for ptag, _, pstart, pend in children(value, start, end):
                if ptag != 0xA0:  # distributionPoint [0]
                    continue
                for ntag, _, nstart, nend in children(value, pstart, pend):
                    if ntag != 0xA0:  # fullName [0] GeneralNames
                        continue
                    for gtag, _, gstart, gend in children(value, nstart, nend):
                        url = value[gstart:gend]
                        if gtag == 0x86 and url.isascii():
                            urls.append(url.decode("ascii"))
    except DecodeError:
        return ()
    return tuple(urls)


@typed_errors(CertificateError, "is_must_staple")
def is_must_staple(cert: x509.Certificate) -> bool:
    """True if ``cert`` has the TLS Feature extension with status_request (RFC 7633).

    Feature values ocspkit does not know are ignored, never an error.
    """
    ext = extension(cert, OID_TLS_FEATURE)
    if ext is None:
        return False
    value = ext[1]
    try:
        return any(
            tag == 0x02 and value[start:end] == bytes([_TLS_FEATURE_STATUS_REQUEST])
            for tag, _, start, end in _sequence_items(value)
        )
    except DecodeError:
        return False


def has_extended_key_usage(cert: x509.Certificate, oid: str) -> bool:
    """True if the certificate's extendedKeyUsage lists ``oid``."""
    ext = extension(cert, OID_EKU)
    if ext is None:
        return False
    value = ext[1]
    try:
        return any(
            tag == 0x06 and decode_oid(value[start:end]) == oid
            for tag, _, start, end in _sequence_items(value)
        )
    except DecodeError:
        return False


def unknown_critical_extension(cert: x509.Certificate) -> str | None:
    """The OID of a critical extension outside :data:`KNOWN_CERT_EXTENSIONS`, if any;
    ``"malformed"`` when the extensions cannot be read at all."""
    exts = parts_of(cert).extensions
    if exts is None:
        return "malformed"
    return next(
        (oid for oid, (c, _) in exts.items() if c and oid not in KNOWN_CERT_EXTENSIONS), None
    )
