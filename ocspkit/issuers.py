"""Who issued what: CertIDs, ResponderID matching, and the proof that an issuer issued.

Owns the identity questions of OCSP: a certificate's CertID under an issuer (RFC 6960
§4.1.1: hashes over the issuer's name and key exactly as its certificate encodes them),
whether a ResponderID names a certificate, and whether a candidate issuer really issued a
certificate (its name *and* its signature). Pure; results are cached by the DER of the
certificates involved. Must never trust a name alone where a signature can be checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509

from ._cache import BoundedCache
from ._der import children, decode_oid, expect
from ._guard import typed_errors
from ._sigalgs import verify_signature
from .certs import Cert, describe, parts_of, public_key
from .errors import (
    CertificateError,
    IssuerMismatchError,
    IssuerNotFoundError,
    IssuerSignatureError,
    OCSPError,
    SignatureError,
)
from .models import HASH_ALGORITHMS, CertID
from .policy import ValidationPolicy

__all__ = ["cert_id", "cert_id_matches", "find_issuer", "is_issued_by"]

_hashes = BoundedCache[tuple[bytes, str], tuple[bytes, bytes]]("issuers.hashes", 2048)
_issued = BoundedCache[tuple[bytes, bytes, bool], str]("issuers.issued", 1024)


def issuer_hashes(issuer: Cert, hash_algorithm: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of certificates issued by ``issuer``, cached.

    Hashes over the bytes as the issuer's certificate encodes them (RFC 6960 §4.1.1: the DER
    of its subject name and the value of its subjectPublicKey BIT STRING).
    """
    if hash_algorithm not in HASH_ALGORITHMS:
        raise ValueError(
            f"unsupported CertID hash algorithm {hash_algorithm!r}; use one of {HASH_ALGORITHMS}"
        )
    parts = parts_of(issuer)
    key = (parts.der, hash_algorithm)
    hit = _hashes.get(key)
    if hit is not None:
        return hit
    value = (
        hashlib.new(hash_algorithm, parts.subject_der).digest(),
        hashlib.new(hash_algorithm, parts.key_bits).digest(),
    )
    return _hashes.put(key, value)


@typed_errors(CertificateError, "cert_id")
def cert_id(
    cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "sha1"
) -> CertID:
    """The CertID of ``cert`` issued by ``issuer`` under ``hash_algorithm``."""
    name_hash, key_hash = issuer_hashes(issuer, hash_algorithm)
    return CertID(hash_algorithm, name_hash, key_hash, cert.serial_number)


@typed_errors(CertificateError, "cert_id_matches")
def cert_id_matches(cid: CertID, cert: Cert, issuer: Cert) -> bool:
    """True if ``cid`` identifies ``cert`` as issued by ``issuer`` (all four fields)."""
    if cid.hash_algorithm not in HASH_ALGORITHMS or cid.serial_number != parts_of(cert).serial:
        return False
    return (cid.issuer_name_hash, cid.issuer_key_hash) == issuer_hashes(issuer, cid.hash_algorithm)


def responder_matches(key_hash: bytes | None, name_der: bytes | None, cert: Cert) -> bool:
    """True if ``cert`` is the responder a ResponderID names (byKey: SHA-1 of its key; byName:
    its subject, as encoded). A certificate that cannot be read matches nothing."""
    try:
        if key_hash is not None:
            return issuer_hashes(cert, "sha1")[1] == key_hash
        return name_der is not None and parts_of(cert).subject_der == name_der
    except OCSPError:
        return False


def issued_by_problem(cert: Cert, issuer: Cert, *, allow_sha1: bool = True) -> str:
    """Why ``issuer`` did not issue ``cert`` ("" when it did: its subject is the certificate's
    issuer name and its key verifies the certificate's signature), cached by both DERs."""
    c, i = parts_of(cert), parts_of(issuer)
    key = (c.der, i.der, allow_sha1)
    hit = _issued.get(key)
    if hit is not None:
        return hit
    if not issuer_name_matches(c, i):
        problem = "its issuer name is not the issuer's subject"
    else:
        problem = ""
        try:
            verify_signature(
                public_key(i),
                *algorithm_identifier(c.outer_algorithm),
                _signature_of(c.der),
                c.tbs,
                allow_sha1=allow_sha1,
            )
        except SignatureError as exc:
            problem = f"the issuer's key does not verify its signature ({exc})"
    return _issued.put(key, problem)


def issuer_name_matches(cert: Cert, issuer: Cert) -> bool:
    """``cert``'s issuer name is ``issuer``'s subject: the same encoding, or equal names
    (cryptography's comparison) when the encodings differ."""
    c, i = parts_of(cert), parts_of(issuer)
    if c.issuer_der == i.subject_der:
        return True
    try:
        return bool(c.cert.issuer == i.cert.subject)
    except Exception:  # a name cryptography cannot decode never matches
        return False


def algorithm_identifier(alg_der: bytes) -> tuple[str, bytes | None]:
    """(OID, parameters DER or None) of an AlgorithmIdentifier (SignatureError if malformed)."""
    start, end = expect(alg_der, 0, 0x30)
    parts = children(alg_der, start, end)
    if not parts or parts[0][0] != 0x06 or len(parts) > 2:
        raise SignatureError("malformed signature AlgorithmIdentifier")
    oid = decode_oid(alg_der[parts[0][2] : parts[0][3]])
    return oid, (alg_der[parts[1][1] : parts[1][3]] if len(parts) == 2 else None)


def _signature_of(der: bytes) -> bytes:
    start, end = expect(der, 0, 0x30)
    items = children(der, start, end)
    if len(items) != 3 or items[2][0] != 0x03 or items[2][3] == items[2][2]:
        raise SignatureError("malformed certificate signature")
    return der[items[2][2] + 1 : items[2][3]]


@typed_errors(CertificateError, "prove_issuer")
def prove_issuer(cert: Cert, issuer: Cert, policy: ValidationPolicy) -> None:
    """The issuer is proved, not assumed: its subject is the certificate's issuer name
    (:class:`~ocspkit.IssuerMismatchError`) and, unless ``policy.verify_issuer_signature`` is
    off, its key verifies the certificate's signature (:class:`~ocspkit.IssuerSignatureError`).
    The one proof behind both the OCSP and the CRL verdicts."""
    if not issuer_name_matches(cert, issuer):
        raise IssuerMismatchError(
            "the certificate's issuer name is not the given issuer's subject: wrong issuer"
        )
    if policy.verify_issuer_signature:
        problem = issued_by_problem(cert, issuer, allow_sha1=policy.allow_sha1_signatures)
        if problem:
            raise IssuerSignatureError(f"the given issuer did not sign the certificate: {problem}")


@typed_errors(CertificateError, "is_issued_by")
def is_issued_by(
    cert: x509.Certificate, issuer: x509.Certificate, *, allow_sha1: bool = True
) -> bool:
    """True if ``issuer``'s subject is ``cert``'s issuer name and its key signed ``cert``.

    SHA-1 certificate signatures are accepted unless ``allow_sha1`` is False (MD5 never).
    Raises :class:`~ocspkit.CertificateError` for an argument that is not a certificate.
    """
    try:
        return not issued_by_problem(cert, issuer, allow_sha1=allow_sha1)
    except OCSPError:
        return False


@typed_errors(CertificateError, "find_issuer")
def find_issuer(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate among ``candidates`` that issued ``cert`` (name *and* signature checked;
    a self-signed certificate among them issued itself).

    Raises :class:`~ocspkit.IssuerNotFoundError` if none did.
    """
    for cand in candidates:
        if is_issued_by(cert, cand):
            return cand
    raise IssuerNotFoundError(
        f"issuer of {describe(cert)} not found among {len(candidates)} certificate(s)"
    )
