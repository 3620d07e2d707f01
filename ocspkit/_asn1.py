"""The only module that imports asn1crypto: OCSP requests, and names cryptography cannot load.

A codec: everything here returns ocspkit's own models; asn1crypto objects never leave this
module. It must never decode responses (one decoder reads those: :mod:`ocspkit._decode`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from asn1crypto import core
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from ._der import nonce_value
from .errors import DecodeError
from .models import (
    OID_NONCE,
    CertID,
    Extension,
    OCSPRequest,
)

__all__ = [
    "decode_request",
    "name_from_der",
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


def _response_nonce(exts: tuple[Extension, ...]) -> bytes | None:
    for e in exts:
        if e.oid == OID_NONCE:
            return nonce_value(e.value)
    return None


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
        raise DecodeError(f"malformed OCSP request ({type(exc).__name__})") from None
