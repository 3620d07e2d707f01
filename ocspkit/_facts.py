"""What validation reads from a successful response, whichever decoder produced it.

``parse_response``'s fast path pulls these facts out of cryptography's decoder into one plain
tuple and builds the public :class:`~ocspkit.OCSPResponse` fields from it only when one is first
read; ``validate_response`` reads the tuple directly. Responses decoded by asn1crypto or built by
hand give the same tuple (:func:`facts_of`), so every check is written once, against this shape.

Also here: constructors for the frozen models that skip the generated ``__init__`` (which sets
each field through ``object.__setattr__``, ~0.15 µs a field) on the parse/validate hot path.
They set every field, in declaration order; an import-time check keeps them complete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from cryptography import x509

from .models import (
    CertID,
    CertStatus,
    Extension,
    OCSPResponse,
    ResponderID,
    ResponseStatus,
    RevocationReason,
    SingleResponse,
    ValidationResult,
    _LazyFacts,
)

__all__ = [
    "new_facts",
    "Facts",
    "facts_of",
    "lazy_response",
    "materialize",
    "new_cert_id",
    "new_result",
    "new_single",
]


class Facts(NamedTuple):
    """The content of a successful response, flat (see the module docstring)."""

    singles: tuple[SingleResponse, ...]
    responder_key_hash: bytes | None
    responder_name_der: bytes | None
    responder_name: x509.Name | None
    produced_at: datetime | None
    certificates: tuple[x509.Certificate, ...]
    extensions: tuple[Extension, ...]
    nonce: bytes | None
    signature_algorithm_oid: str | None
    signature: bytes
    tbs_response_data: bytes
    signature_algorithm_params: bytes | None
    version: int


def _setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    declared = tuple(f.name for f in dataclasses.fields(cls))
    if names != declared:  # pragma: no cover - guards future edits of the models
        raise RuntimeError(f"fast constructor of {cls.__name__} is stale: {declared}")
    return tuple(cls.__dict__[n].__set__ for n in names)


_new = object.__new__
_tuple_new = tuple.__new__
_cid_alg, _cid_nh, _cid_kh, _cid_serial = _setters(
    CertID, ("hash_algorithm", "issuer_name_hash", "issuer_key_hash", "serial_number")
)
_s_cid, _s_status, _s_tu, _s_nu, _s_rt, _s_rr, _s_exts = _setters(
    SingleResponse,
    (
        "cert_id",
        "status",
        "this_update",
        "next_update",
        "revocation_time",
        "revocation_reason",
        "extensions",
    ),
)
_v_signer, _v_delegated, _v_response, _v_single = _setters(
    ValidationResult, ("signer", "delegated", "response", "single")
)
_R_SET = {f.name: OCSPResponse.__dict__[f.name].__set__ for f in dataclasses.fields(OCSPResponse)}
_r_status, _r_der = _R_SET["status"], _R_SET["der"]
_set_facts = _LazyFacts.__dict__["_facts"].__set__


def new_facts(
    singles: tuple[SingleResponse, ...],
    responder_key_hash: bytes | None,
    responder_name_der: bytes | None,
    responder_name: x509.Name | None,
    produced_at: datetime | None,
    certificates: tuple[x509.Certificate, ...],
    extensions: tuple[Extension, ...],
    nonce: bytes | None,
    signature_algorithm_oid: str | None,
    signature: bytes,
    tbs_response_data: bytes,
    signature_algorithm_params: bytes | None,
    version: int,
) -> Facts:
    """``Facts(...)`` with every field, without the generated ``__new__``."""
    return _tuple_new(
        Facts,
        (
            singles,
            responder_key_hash,
            responder_name_der,
            responder_name,
            produced_at,
            certificates,
            extensions,
            nonce,
            signature_algorithm_oid,
            signature,
            tbs_response_data,
            signature_algorithm_params,
            version,
        ),
    )


def new_cert_id(hash_algorithm: str, name_hash: bytes, key_hash: bytes, serial: int) -> CertID:
    """``CertID(...)``, without the generated ``__init__``."""
    o = _new(CertID)
    _cid_alg(o, hash_algorithm)
    _cid_nh(o, name_hash)
    _cid_kh(o, key_hash)
    _cid_serial(o, serial)
    return o


def new_single(
    cert_id: CertID,
    status: CertStatus,
    this_update: datetime,
    next_update: datetime | None,
    revocation_time: datetime | None,
    revocation_reason: RevocationReason | None,
    extensions: tuple[Extension, ...],
) -> SingleResponse:
    """``SingleResponse(...)`` with every field, without the generated ``__init__``."""
    o = _new(SingleResponse)
    _s_cid(o, cert_id)
    _s_status(o, status)
    _s_tu(o, this_update)
    _s_nu(o, next_update)
    _s_rt(o, revocation_time)
    _s_rr(o, revocation_reason)
    _s_exts(o, extensions)
    return o


def new_result(
    signer: x509.Certificate, delegated: bool, response: OCSPResponse, single: SingleResponse
) -> ValidationResult:
    """``ValidationResult(...)``, without the generated ``__init__``."""
    o = _new(ValidationResult)
    _v_signer(o, signer)
    _v_delegated(o, delegated)
    _v_response(o, response)
    _v_single(o, single)
    return o


def lazy_response(der: bytes, facts: Facts) -> OCSPResponse:
    """A successful OCSPResponse whose fields other than status and der come from ``facts``
    when first read (see ``OCSPResponse.__getattr__``)."""
    o = _new(OCSPResponse)
    _r_status(o, ResponseStatus.SUCCESSFUL)
    _r_der(o, der)
    _set_facts(o, facts)
    return o


def materialize(response: OCSPResponse, f: Facts) -> None:
    """Set every field of a lazy response from its facts (pure; cannot fail)."""
    rid = ResponderID(
        name=f.responder_name, key_hash=f.responder_key_hash, name_der=f.responder_name_der
    )
    for name, value in (
        ("responses", f.singles),
        ("responder_id", rid),
        ("produced_at", f.produced_at),
        ("certificates", f.certificates),
        ("extensions", f.extensions),
        ("nonce", f.nonce),
        ("signature_algorithm_oid", f.signature_algorithm_oid),
        ("signature", f.signature),
        ("tbs_response_data", f.tbs_response_data),
        ("version", f.version),
        ("signature_algorithm_params", f.signature_algorithm_params),
    ):
        _R_SET[name](response, value)


def facts_of(response: OCSPResponse) -> Facts:
    """The facts of a successful response: kept by the fast decoder, else read off the model."""
    facts: Facts | None = getattr(response, "_facts", None)
    if facts is not None:
        return facts
    rid = response.responder_id
    return Facts(
        response.responses,
        rid.key_hash if rid is not None else None,
        rid.name_der if rid is not None else None,
        rid.name if rid is not None else None,
        response.produced_at,
        response.certificates,
        response.extensions,
        response.nonce,
        response.signature_algorithm_oid,
        response.signature,
        response.tbs_response_data,
        response.signature_algorithm_params,
        response.version,
    )
