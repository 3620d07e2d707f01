"""Parsing and building OCSP responses.

Parsing takes cryptography's fast Rust decoder first and falls back to asn1crypto for the
real-world encodings it rejects (explicit default version, fractional seconds, several
SingleResponses with extensions, ...). Either way the result is the same frozen model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as c_ocsp

from . import _asn1, _encode
from ._facts import lazy_response, new_cert_id, new_facts, new_single
from ._pem import der_from
from ._sigalgs import OID_RSASSA_PSS, sign
from .models import (
    CertStatus,
    Extension,
    OCSPResponse,
    ResponseStatus,
    RevocationReason,
    SingleResponse,
    issuer_hashes,
)

__all__ = ["parse_response", "build_response", "build_error_response"]

_STATUS = {
    c_ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
    c_ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
    c_ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
}
_REASONS = {flag: RevocationReason[flag.name.upper()] for flag in x509.ReasonFlags}
_RESPONSE_STATUS = {s: ResponseStatus(s.value) for s in c_ocsp.OCSPResponseStatus}


class _Fallback(Exception):
    pass


def _der_octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 0x80:
        return b"\x04" + bytes([n]) + data
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(size)]) + size + data


def _c_exts(exts: x509.Extensions) -> tuple[tuple[Extension, ...], bytes | None]:
    """(extensions, nonce) from cryptography's parsed extensions."""
    if not len(exts):
        return (), None
    out = []
    nonce = None
    for e in exts:
        value = e.value
        if isinstance(value, x509.OCSPNonce):
            nonce = value.nonce
            raw = _der_octet_string(nonce)
        elif isinstance(value, x509.UnrecognizedExtension):
            raw = value.value
        else:
            raw = value.public_bytes()
        out.append(Extension(e.oid.dotted_string, e.critical, raw))
    return tuple(out), nonce


def _fast(der: bytes) -> OCSPResponse:
    """Decode with cryptography; raise _Fallback for anything it cannot represent fully.

    Every accessor that can fail is read here, so the lazily built fields cannot fail later.
    """
    try:
        r = c_ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise _Fallback from None
    status = _RESPONSE_STATUS[r.response_status]
    if status is not ResponseStatus.SUCCESSFUL:
        return OCSPResponse(status=status, der=der)
    try:
        oid = r.signature_algorithm_oid.dotted_string
        if oid == OID_RSASSA_PSS:
            raise _Fallback  # RSASSA-PSS parameters are read by the tolerant decoder
        singles = list(r.responses)
        if len(singles) != 1:
            raise _Fallback  # several: cryptography cannot give each one's extensions
        s = singles[0]
        reason = s.revocation_reason
        single = new_single(
            new_cert_id(
                s.hash_algorithm.name, s.issuer_name_hash, s.issuer_key_hash, s.serial_number
            ),
            _STATUS[s.certificate_status],
            s.this_update_utc,
            s.next_update_utc,
            s.revocation_time_utc,
            _REASONS[reason] if reason is not None else None,
            _c_exts(r.single_extensions)[0],
        )
        exts, nonce = _c_exts(r.extensions)
        name = r.responder_name
        facts = new_facts(
            (single,),
            r.responder_key_hash if name is None else None,
            None if name is None else name.public_bytes(),
            name,
            r.produced_at_utc,
            tuple(r.certificates),
            exts,
            nonce,
            oid,
            r.signature,
            r.tbs_response_bytes,
            None,
            1,
        )
    except _Fallback:
        raise
    except Exception:  # lazy decoding errors, unsupported hash OIDs, duplicate extensions
        raise _Fallback from None
    return lazy_response(der, facts)


def parse_response(der: bytes) -> OCSPResponse:
    """Parse a DER (or PEM "OCSP RESPONSE") response of any responseStatus.

    Raises :class:`~ocspkit.DecodeError` on garbage, truncated or trailing-data input, and
    nothing else.
    """
    if not (isinstance(der, bytes) and der[:1] == b"\x30"):
        der = der_from(der, "OCSP RESPONSE")
    try:
        return _fast(der)
    except _Fallback:
        return _asn1.decode_response(der)


def _responder_id_parts(
    responder_cert: x509.Certificate, responder_id: str
) -> tuple[bytes | None, bytes | None]:
    if responder_id == "key":
        return issuer_hashes(responder_cert, "sha1")[1], None
    if responder_id == "name":
        return None, responder_cert.subject.public_bytes()
    raise ValueError(f"responder_id must be 'key' or 'name', not {responder_id!r}")


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
    """Build and sign a successful BasicOCSPResponse (the responder side).

    :param responses: one or several :class:`~ocspkit.SingleResponse` values.
    :param responder_cert: the certificate named in the ResponderID (the issuer itself, or a
        delegated responder certificate, which you usually also pass in ``certificates``).
    :param responder_key: the private key that signs (RSA, ECDSA, Ed25519, Ed448, DSA).
    :param produced_at: producedAt (times are truncated to whole seconds).
    :param responder_id: ``"key"`` (byKey, SHA-1 of the key) or ``"name"`` (byName).
    :param certificates: certificates to embed (e.g. the delegated responder certificate).
    :param nonce: a nonce to echo in the response extensions.
    :param signature_hash: ``"sha256"`` (default), ``"sha1"``, ``"sha384"``, ``"sha512"``;
        ignored for EdDSA keys.
    """
    singles = (responses,) if isinstance(responses, SingleResponse) else tuple(responses)
    if not singles:
        raise ValueError("build_response needs at least one SingleResponse")
    key_hash, name_der = _responder_id_parts(responder_cert, responder_id)
    tbs = _encode.encode_response_data(
        singles,
        responder_key_hash=key_hash,
        responder_name_der=name_der,
        produced_at=produced_at,
        nonce=nonce,
        extensions=extensions,
    )
    signature, oid = sign(responder_key, tbs, signature_hash)
    der = _encode.encode_basic_response(
        tbs, oid, signature, [c.public_bytes(Encoding.DER) for c in certificates]
    )
    return parse_response(der)


def build_error_response(status: ResponseStatus) -> OCSPResponse:
    """An unsuccessful response (``tryLater``, ``unauthorized``, ...): no responseBytes."""
    status = ResponseStatus(status)
    if status is ResponseStatus.SUCCESSFUL:
        raise ValueError("a successful response needs build_response()")
    return OCSPResponse(status=status, der=_encode.encode_error_response(status))
