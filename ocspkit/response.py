"""Parsing and building OCSP responses.

Owns the public entry points for response bytes: :func:`parse_response` (bytes → the frozen
:class:`~ocspkit.OCSPResponse`), :func:`response_facts` (bytes → what a verdict reads, for the
validator), and the responder side (:func:`build_response`, :func:`build_error_response`).
One decoder (:mod:`ocspkit._decode`) reads every response; decoded responses are cached by
their DER, so validating what was just parsed decodes nothing twice. Pure: must never do I/O
or read the clock.
"""

from __future__ import annotations

import copyreg
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from . import _encode
from ._cache import BoundedCache
from ._decode import Facts, decode_response, response_status, slot_setters
from ._guard import typed_errors
from ._pem import der_from
from ._sigalgs import sign
from .certs import known_certificate
from .errors import DecodeError
from .issuers import issuer_hashes
from .models import (
    Extension,
    OCSPResponse,
    ResponderID,
    ResponseStatus,
    SingleResponse,
)

__all__ = ["build_error_response", "build_response", "parse_response", "response_facts"]

# der -> (facts or None for an unsuccessful response, model); only responses up to 64 KiB are
# kept (a staple or a responder's answer; a padded giant is decoded each time, linearly).
_decoded = BoundedCache[bytes, "tuple[Facts | None, OCSPResponse]"]("response.decoded", 512)
#: byName responder IDs, by their DER: one responder signs a whole stream of responses
_names = BoundedCache[bytes, "x509.Name | None"]("response.names", 256)
_CACHE_MAX_DER = 65536


def _decode(der: bytes) -> tuple[Facts | None, OCSPResponse]:
    hit = _decoded.get(der)
    if hit is not None:
        return hit
    status, start, end = response_status(der)
    if status is not ResponseStatus.SUCCESSFUL:
        entry: tuple[Facts | None, OCSPResponse] = (None, OCSPResponse(status=status, der=der))
    else:
        if not end:
            raise DecodeError("successful response without responseBytes")
        facts = decode_response(der, start, end)
        entry = (facts, _model(der, facts))
    if len(der) <= _CACHE_MAX_DER:
        _decoded.put(der, entry)
    return entry


def _certificates(ders: tuple[bytes, ...]) -> tuple[x509.Certificate, ...]:
    out = []
    for der in ders:
        known = known_certificate(der)  # a responder certificate seen before, by its DER
        if known is not None:
            out.append(known)
            continue
        try:  # the one guarded call into cryptography's loader for embedded certificates
            out.append(x509.load_der_x509_certificate(der))
        except Exception:  # a certificate cryptography cannot load can never be a signer
            continue
    return tuple(out)


# The model of every decoded response is made here; its slots are set directly (see
# _decode.slot_setters), at a third of the cost of the frozen dataclass __init__.
_MODEL_SETTERS = slot_setters(
    OCSPResponse,
    "status der responses responder_id produced_at certificates extensions nonce "
    "signature_algorithm_oid signature tbs_response_data version signature_algorithm_params",
)


def _model(der: bytes, f: Facts) -> OCSPResponse:
    name = None
    if f.responder_name_der is not None:
        name = _names.get(f.responder_name_der)
        if name is None:
            from ._asn1 import name_from_der  # asn1crypto loads only for byName responders

            name = _names.put(f.responder_name_der, name_from_der(f.responder_name_der))
    values = (
        ResponseStatus.SUCCESSFUL,
        der,
        f.singles,
        ResponderID(name=name, key_hash=f.responder_key_hash, name_der=f.responder_name_der),
        f.produced_at,
        _certificates(f.certificate_ders),
        f.extensions,
        f.nonce,
        f.signature_algorithm_oid,
        f.signature,
        f.tbs_response_data,
        f.version,
        f.signature_algorithm_params,
    )
    model = object.__new__(OCSPResponse)
    for setter, value in zip(_MODEL_SETTERS, values, strict=True):
        setter(model, value)
    return model


def _der_of(data: object) -> bytes:
    if isinstance(data, bytes) and data[:1] == b"\x30":
        return data
    return der_from(data, "OCSP RESPONSE")


@typed_errors(DecodeError, "parse_response")
def parse_response(der: bytes) -> OCSPResponse:
    """Parse a DER (or PEM "OCSP RESPONSE") response of any responseStatus.

    Raises :class:`~ocspkit.DecodeError` on garbage, truncated or trailing-data input
    (:class:`~ocspkit.LimitExceededError` past a documented cap), and nothing else. What is
    accepted is exactly what the security page lists.
    """
    return _decode(_der_of(der))[1]


@typed_errors(DecodeError, "decoding a response")
def response_facts(der: bytes) -> tuple[Facts | None, OCSPResponse]:
    """(facts, model) of a response's DER: the facts are None for an unsuccessful response.

    The validator's one source: everything it decides on comes from these bytes.
    """
    return _decode(_der_of(der))


# A response pickles and copies as its DER (x509.Certificate does not pickle).
copyreg.pickle(OCSPResponse, lambda r: (parse_response, (r.der,)))


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
    """An unsuccessful response (``tryLater``, ``unauthorized``, ...): no responseBytes.

    Raises ``ValueError`` for ``SUCCESSFUL`` (use :func:`build_response`) or a value that is no
    :class:`~ocspkit.ResponseStatus`."""
    status = ResponseStatus(status)
    if status is ResponseStatus.SUCCESSFUL:
        raise ValueError("a successful response needs build_response()")
    return OCSPResponse(status=status, der=_encode.encode_error_response(status))
