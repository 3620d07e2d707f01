"""The only module that imports asn1crypto: tolerant decoding of OCSP structures.

Everything here returns ocspkit's own models; asn1crypto objects never leave this module.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from asn1crypto import algos, core
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ObjectIdentifier

from ._der import nonce_value
from ._sigalgs import OID_RSASSA_PSS
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
    "asn1_certificate",
    "decode_request",
    "decode_response",
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
    if version not in (None, "v1"):
        raise DecodeError(f"unsupported ResponseData version {version!r}")
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
            if sig_alg["algorithm"].dotted == OID_RSASSA_PSS and not isinstance(params, core.Void)
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
        trailer = p["trailer_field"].native
    except Exception as exc:
        raise DecodeError(f"bad RSASSA-PSS parameters: {exc}") from None
    if not 0 <= salt <= 1024:
        raise DecodeError(f"RSASSA-PSS salt length {salt} is out of range")
    if trailer not in (None, 1, "trailer_field_bc"):
        raise DecodeError(f"unsupported RSASSA-PSS trailerField {trailer!r}")
    return (h, mgf_h, salt)


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


def asn1_certificate(cert: x509.Certificate) -> Any:
    """The asn1crypto form of ``cert`` (pyhanko-certvalidator accepts nothing else)."""
    return a_x509.Certificate.load(cert.public_bytes(Encoding.DER))
