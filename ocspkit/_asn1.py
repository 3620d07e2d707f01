"""The only module that imports asn1crypto: tolerant decoding and encoding of OCSP structures.

Everything here returns ocspkit's own models; asn1crypto objects never leave this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from asn1crypto import algos, core
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from ._der import nonce_value
from .errors import DecodeError
from .models import (
    CertID,
    CertStatus,
    Extension,
    OCSPRequest,
    OCSPResponse,
    ResponderID,
    ResponseStatus,
    RevocationReason,
    SingleResponse,
)

__all__ = [
    "decode_response",
    "decode_request",
    "encode_request",
    "encode_response_data",
    "encode_basic_response",
    "encode_error_response",
    "name_from_der",
    "pss_parameters",
]

_HASH_NAMES = {"sha1", "sha224", "sha256", "sha384", "sha512", "md5"}


def _exts(seq: Any) -> tuple[Extension, ...]:
    if seq is None or isinstance(seq, core.Void):
        return ()
    return tuple(
        Extension(e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].contents)
        for e in seq
    )


def _time(value: Any) -> datetime:
    t = value.native
    if not isinstance(t, datetime):
        raise DecodeError("bad time value")
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def _opt_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, core.Void) or value.native is None:
        return None
    return _time(value)


def _cert_id(c: Any) -> CertID:
    alg = c["hash_algorithm"]["algorithm"]
    name = alg.native if alg.native in _HASH_NAMES else alg.dotted
    return CertID(
        name, c["issuer_name_hash"].native, c["issuer_key_hash"].native, c["serial_number"].native
    )


def name_from_der(der: bytes) -> x509.Name | None:
    """An x509.Name from DER, or None if cryptography cannot represent it."""
    try:
        name = a_x509.Name.load(der, strict=True)
        rdns = []
        for rdn in name.chosen:
            attrs = []
            for attr in rdn:
                value = attr["value"]
                native = value.native
                if isinstance(native, bytes):
                    return None
                attrs.append(x509.NameAttribute(ObjectIdentifier(attr["type"].dotted), str(native)))
            rdns.append(x509.RelativeDistinguishedName(attrs))
        return x509.Name(rdns)
    except Exception:  # unusual encodings, attributes cryptography refuses
        return None


def _single(s: Any) -> SingleResponse:
    status_choice = s["cert_status"]
    kind = status_choice.name
    rev_time = None
    reason = None
    if kind == "good":
        status = CertStatus.GOOD
    elif kind == "revoked":
        status = CertStatus.REVOKED
        info = status_choice.chosen
        rev_time = _time(info["revocation_time"])
        r = info["revocation_reason"]
        if not isinstance(r, core.Void) and r.native is not None:
            reason = RevocationReason[r.native.upper()]
    elif kind == "unknown":
        status = CertStatus.UNKNOWN
    else:  # pragma: no cover - asn1crypto only yields the three
        raise DecodeError(f"unknown certStatus {kind}")
    return SingleResponse(
        cert_id=_cert_id(s["cert_id"]),
        status=status,
        this_update=_time(s["this_update"]),
        next_update=_opt_time(s["next_update"]),
        revocation_time=rev_time,
        revocation_reason=reason,
        extensions=_exts(s["single_extensions"]),
    )


def _response_nonce(exts: tuple[Extension, ...]) -> bytes | None:
    for e in exts:
        if e.oid == "1.3.6.1.5.5.7.48.1.2":
            return nonce_value(e.value)
    return None


def decode_response(der: bytes) -> OCSPResponse:
    """Decode a response completely with asn1crypto (the tolerant path)."""
    try:
        return _decode_response(der)
    except DecodeError:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, ...
        raise DecodeError(f"malformed OCSP response: {exc}") from None


def _decode_response(der: bytes) -> OCSPResponse:
    outer = a_ocsp.OCSPResponse.load(der, strict=True)
    raw_status = outer["response_status"]
    if not raw_status.contents:
        raise DecodeError("empty responseStatus")
    try:
        status = ResponseStatus(int.from_bytes(raw_status.contents, "big", signed=True))
    except ValueError:
        raise DecodeError(f"unknown responseStatus {raw_status.contents.hex()}") from None
    rb = outer["response_bytes"]
    if status is not ResponseStatus.SUCCESSFUL:
        return OCSPResponse(status=status, der=der)
    if isinstance(rb, core.Void):
        raise DecodeError("successful response without responseBytes")
    if rb["response_type"].dotted != "1.3.6.1.5.5.7.48.1.1":
        raise DecodeError(f"unsupported responseType {rb['response_type'].dotted}")
    basic = a_ocsp.BasicOCSPResponse.load(rb["response"].contents, strict=True)
    tbs = basic["tbs_response_data"]
    version = tbs["version"].native
    rid = tbs["responder_id"]
    if rid.name == "by_key":
        responder = ResponderID(key_hash=rid.chosen.native)
    else:
        name_der = rid.chosen.untag().dump()
        responder = ResponderID(name=name_from_der(name_der), name_der=name_der)
    singles = tuple(_single(s) for s in tbs["responses"])
    exts = _exts(tbs["response_extensions"])
    certs: list[x509.Certificate] = []
    raw_certs = basic["certs"]
    if not isinstance(raw_certs, core.Void):
        for c in raw_certs:
            try:
                certs.append(x509.load_der_x509_certificate(c.dump()))
            except ValueError:
                continue  # a certificate cryptography cannot load can never be a signer
    sig_alg = basic["signature_algorithm"]
    params = sig_alg["parameters"]
    return OCSPResponse(
        status=status,
        der=der,
        responses=singles,
        responder_id=responder,
        produced_at=_time(tbs["produced_at"]),
        certificates=tuple(certs),
        extensions=exts,
        nonce=_response_nonce(exts),
        signature_algorithm_oid=sig_alg["algorithm"].dotted,
        signature=basic["signature"].contents[1:],
        tbs_response_data=tbs.dump(),
        version=int(version[1:]) if isinstance(version, str) else 1,
        signature_algorithm_params=(
            params.dump()
            if sig_alg["algorithm"].dotted == "1.2.840.113549.1.1.10"
            and not isinstance(params, core.Void)
            else None
        ),
    )


def pss_parameters(params_der: bytes | None) -> tuple[str, str, int]:
    """(hash, mgf1 hash, salt length) from RSASSA-PSS-params DER (defaults per RFC 4055)."""
    if not params_der:
        return ("sha1", "sha1", 20)
    try:
        p = algos.RSASSAPSSParams.load(params_der, strict=True)
        h = p["hash_algorithm"]["algorithm"].native
        mgf_h = p["mask_gen_algorithm"]["parameters"]["algorithm"].native
        salt = int(p["salt_length"].native)
        return (h, mgf_h, salt)
    except Exception as exc:
        raise DecodeError(f"bad RSASSA-PSS parameters: {exc}") from None


def decode_request(der: bytes) -> OCSPRequest:
    """Decode an OCSP request (several CertIDs, optional signature) with asn1crypto."""
    try:
        req = a_ocsp.OCSPRequest.load(der, strict=True)
        tbs = req["tbs_request"]
        cert_ids = tuple(_cert_id(r["req_cert"]) for r in tbs["request_list"])
        if not cert_ids:
            raise DecodeError("OCSP request without any CertID")
        exts = _exts(tbs["request_extensions"])
        sig = req["optional_signature"]
        signed = not isinstance(sig, core.Void)
        certs: list[x509.Certificate] = []
        if signed and not isinstance(sig["certs"], core.Void):
            for c in sig["certs"]:
                try:
                    certs.append(x509.load_der_x509_certificate(c.dump()))
                except ValueError:
                    continue
        rn = tbs["requestor_name"]
        requestor = None
        if not isinstance(rn, core.Void):
            requestor = str(rn.native) if rn.name != "directory_name" else rn.chosen.human_friendly
        return OCSPRequest(
            der=der,
            cert_ids=cert_ids,
            nonce=_response_nonce(exts),
            extensions=exts,
            signed=signed,
            requestor_name=requestor,
            certificates=tuple(certs),
        )
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"malformed OCSP request: {exc}") from None


def _a_cert_id(c: CertID) -> a_ocsp.CertId:
    return a_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": c.hash_algorithm, "parameters": core.Null()},
            "issuer_name_hash": c.issuer_name_hash,
            "issuer_key_hash": c.issuer_key_hash,
            "serial_number": c.serial_number,
        }
    )


def _a_exts(exts: Sequence[Extension]) -> list[dict[str, Any]]:
    return [
        {"extn_id": e.oid, "critical": e.critical, "extn_value": core.ParsableOctetString(e.value)}
        for e in exts
    ]


def _nonce_ext(nonce: bytes) -> Extension:
    return Extension("1.3.6.1.5.5.7.48.1.2", False, core.OctetString(nonce).dump())


def encode_request(
    cert_ids: Sequence[CertID], nonce: bytes | None, extensions: Sequence[Extension] = ()
) -> bytes:
    """DER of an unsigned OCSPRequest."""
    exts = list(extensions)
    if nonce is not None:
        exts.insert(0, _nonce_ext(nonce))
    tbs: dict[str, Any] = {"request_list": [{"req_cert": _a_cert_id(c)} for c in cert_ids]}
    if exts:
        tbs["request_extensions"] = _a_tbs_req_exts(exts)
    return bytes(a_ocsp.OCSPRequest({"tbs_request": tbs}).dump())


def _a_tbs_req_exts(exts: Sequence[Extension]) -> a_ocsp.TBSRequestExtensions:
    out = a_ocsp.TBSRequestExtensions()
    for e in exts:
        ext = a_ocsp.TBSRequestExtension()
        ext["extn_id"] = a_ocsp.TBSRequestExtensionId(e.oid)
        ext["critical"] = e.critical
        ext["extn_value"] = core.ParsableOctetString(e.value)
        out.append(ext)
    return out


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).replace(microsecond=0)


def _a_single(s: SingleResponse) -> dict[str, Any]:
    if s.status is CertStatus.GOOD:
        status = a_ocsp.CertStatus(name="good", value=core.Null())
    elif s.status is CertStatus.UNKNOWN:
        status = a_ocsp.CertStatus(name="unknown", value=core.Null())
    else:
        info: dict[str, Any] = {"revocation_time": _utc(s.revocation_time or s.this_update)}
        if s.revocation_reason is not None:
            info["revocation_reason"] = s.revocation_reason.name.lower()
        status = a_ocsp.CertStatus(name="revoked", value=a_ocsp.RevokedInfo(info))
    out: dict[str, Any] = {
        "cert_id": _a_cert_id(s.cert_id),
        "cert_status": status,
        "this_update": _utc(s.this_update),
    }
    if s.next_update is not None:
        out["next_update"] = _utc(s.next_update)
    if s.extensions:
        seq = a_ocsp.SingleResponseExtensions()
        for e in s.extensions:
            ext = a_ocsp.SingleResponseExtension()
            ext["extn_id"] = a_ocsp.SingleResponseExtensionId(e.oid)
            ext["critical"] = e.critical
            ext["extn_value"] = core.ParsableOctetString(e.value)
            seq.append(ext)
        out["single_extensions"] = seq
    return out


def encode_response_data(
    singles: Sequence[SingleResponse],
    *,
    responder_key_hash: bytes | None,
    responder_name_der: bytes | None,
    produced_at: datetime,
    nonce: bytes | None,
    extensions: Sequence[Extension],
) -> bytes:
    """DER of tbsResponseData (ResponseData)."""
    if responder_key_hash is not None:
        rid = a_ocsp.ResponderId(name="by_key", value=core.OctetString(responder_key_hash))
    else:
        assert responder_name_der is not None
        rid = a_ocsp.ResponderId(name="by_name", value=a_x509.Name.load(responder_name_der))
    data: dict[str, Any] = {
        "responder_id": rid,
        "produced_at": _utc(produced_at),
        "responses": [_a_single(s) for s in singles],
    }
    exts = list(extensions)
    if nonce is not None:
        exts.insert(0, _nonce_ext(nonce))
    if exts:
        seq = a_ocsp.ResponseDataExtensions()
        for e in exts:
            ext = a_ocsp.ResponseDataExtension()
            ext["extn_id"] = a_ocsp.ResponseDataExtensionId(e.oid)
            ext["critical"] = e.critical
            ext["extn_value"] = core.ParsableOctetString(e.value)
            seq.append(ext)
        data["response_extensions"] = seq
    return bytes(a_ocsp.ResponseData(data).dump())


def encode_basic_response(
    tbs_der: bytes, signature_oid: str, signature: bytes, certificates: Sequence[bytes]
) -> bytes:
    """DER of a successful OCSPResponse wrapping a BasicOCSPResponse."""
    alg: dict[str, Any] = {"algorithm": signature_oid}
    if signature_oid.startswith("1.2.840.113549.1.1."):
        alg["parameters"] = core.Null()
    basic: dict[str, Any] = {
        "tbs_response_data": a_ocsp.ResponseData.load(tbs_der),
        "signature_algorithm": algos.SignedDigestAlgorithm(alg),
        "signature": signature,
    }
    if certificates:
        basic["certs"] = [a_x509.Certificate.load(c) for c in certificates]
    outer = a_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {
                "response_type": "basic_ocsp_response",
                "response": a_ocsp.BasicOCSPResponse(basic),
            },
        }
    )
    return bytes(outer.dump())


def encode_error_response(status: ResponseStatus) -> bytes:
    """DER of an unsuccessful OCSPResponse (no responseBytes)."""
    return bytes(core.Sequence.load(b"\x30\x03\x0a\x01" + bytes([int(status)])).dump())
