"""Hostile DER made by hand: re-signed tbsResponseData, padded envelopes, odd certificates.

Everything here builds bytes an attacker (or a broken responder) could send; nothing calls
ocspkit's private modules. asn1crypto does the re-encoding; cryptography signs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asn1crypto import algos, core
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

OID_NONCE = "1.3.6.1.5.5.7.48.1.2"
OID_TLS_FEATURE = "1.3.6.1.5.5.7.1.24"
OID_SLH_DSA = "2.16.840.1.101.3.4.3.20"
OID_GOST_SIG = "1.2.643.7.1.1.3.2"
OID_GOST_KEY = "1.2.643.7.1.1.1.1"
OID_SECP112R1 = "1.3.132.0.6"


# -- raw DER ---------------------------------------------------------------------------------


def length(n: int, *, long_form: bool = False) -> bytes:
    """A DER length; ``long_form`` forces the (non-minimal) 0x81.. form."""
    if n < 0x80 and not long_form:
        return bytes([n])
    size = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return bytes([0x80 | len(size)]) + size


def tlv(tag: int, content: bytes, *, long_form: bool = False) -> bytes:
    return bytes([tag]) + length(len(content), long_form=long_form) + content


def oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


# -- responses -------------------------------------------------------------------------------


def basic_of(der: bytes) -> a_ocsp.BasicOCSPResponse:
    return a_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed


def tbs_of(der: bytes) -> bytes:
    """The signed tbsResponseData bytes exactly as they appear in ``der``."""
    return basic_of(der)["tbs_response_data"].dump()


def wrap_basic(basic_der: bytes) -> bytes:
    """An OCSPResponse (successful) around the BasicOCSPResponse DER ``basic_der``."""
    inner = tlv(0x30, oid("1.3.6.1.5.5.7.48.1.1") + tlv(0x04, basic_der))
    return tlv(0x30, b"\x0a\x01\x00" + tlv(0xA0, inner))


def assemble(
    tbs: bytes, sig_alg_der: bytes, signature: bytes, certs: Sequence[bytes] | None = None
) -> bytes:
    """BasicOCSPResponse {tbs, signatureAlgorithm, signature, [0] certs} wrapped as a response."""
    body = tbs + sig_alg_der + tlv(0x03, b"\x00" + signature)
    if certs is not None:
        body += tlv(0xA0, tlv(0x30, b"".join(certs)))
    return wrap_basic(tlv(0x30, body))


def with_certs(der: bytes, certs: Sequence[bytes]) -> bytes:
    """``der`` with its ``certs`` field replaced (the signed tbsResponseData untouched).

    Re-encoded with asn1crypto: the unchanged children keep their original encoding.
    """
    b = basic_of(der)
    new = a_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": b["tbs_response_data"],
            "signature_algorithm": b["signature_algorithm"],
            "signature": b["signature"],
            "certs": [a_x509.Certificate.load(c) for c in certs],
        }
    )
    out = a_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": new},
        }
    ).dump()
    assert tbs_of(out) == b["tbs_response_data"].dump()
    return out


def sig_alg(key: object, *, pss_mgf: str | None = None) -> bytes:
    """The AlgorithmIdentifier DER ``sign_bytes`` uses for ``key``."""
    if pss_mgf is not None:
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": pss_mgf}},
                "salt_length": 32,
            }
        )
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params}).dump()
    if isinstance(key, rsa.RSAPrivateKey):
        return algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa", "parameters": None}).dump()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return algos.SignedDigestAlgorithm({"algorithm": "ed25519"}).dump()
    raise TypeError(type(key).__name__)


_PSS_HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256}


def sign_bytes(key: object, data: bytes, *, pss_mgf: str | None = None) -> bytes:
    if pss_mgf is not None:
        assert isinstance(key, rsa.RSAPrivateKey)
        pad = padding.PSS(padding.MGF1(_PSS_HASHES[pss_mgf]()), 32)
        return key.sign(data, pad, hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise TypeError(type(key).__name__)


def sign_tbs(
    tbs: bytes,
    key: object,
    certs: Sequence[bytes] | None = None,
    *,
    pss_mgf: str | None = None,
    alg_der: bytes | None = None,
) -> bytes:
    """A response whose tbsResponseData is exactly ``tbs``, signed by ``key``."""
    signature = sign_bytes(key, tbs, pss_mgf=pss_mgf)
    return assemble(tbs, alg_der or sig_alg(key, pss_mgf=pss_mgf), signature, certs)


def resign(
    der: bytes,
    key: object,
    edit: Callable[[a_ocsp.ResponseData], None] | None = None,
    *,
    keep_certs: bool = True,
    pss_mgf: str | None = None,
) -> bytes:
    """``der`` with its tbsResponseData edited by ``edit`` (asn1crypto) and signed by ``key``."""
    b = basic_of(der)
    tbs = a_ocsp.ResponseData.load(b["tbs_response_data"].dump())
    if edit is not None:
        edit(tbs)
    certs = None
    if keep_certs and not isinstance(b["certs"], core.Void):
        certs = [c.dump() for c in b["certs"]]
    return sign_tbs(tbs.dump(force=True) if edit else tbs.dump(), key, certs, pss_mgf=pss_mgf)


def single_parts(der: bytes, index: int = 0) -> dict[str, bytes]:
    """The DER of each field of one SingleResponse, and of the tbs fields around it."""
    tbs = a_ocsp.ResponseData.load(tbs_of(der))
    s = tbs["responses"][index]
    return {
        "responder_id": tbs["responder_id"].dump(),
        "produced_at": tbs["produced_at"].dump(),
        "responses": tbs["responses"].dump(),
        "cert_id": s["cert_id"].dump(),
        "cert_status": s["cert_status"].dump(),
        "this_update": s["this_update"].dump(),
        "next_update": s["next_update"].dump() if s["next_update"].native is not None else b"",
    }


# -- certificates ----------------------------------------------------------------------------


def resign_cert(
    cert: x509.Certificate | bytes,
    issuer_key: object,
    edit: Callable[[dict[str, bytes]], None],
    *,
    outer_alg: bytes | None = None,
) -> bytes:
    """``cert`` with TBS fields replaced by ``edit`` and signed again by ``issuer_key``.

    ``edit`` gets the DER of each TBSCertificate field by name (``subject``,
    ``subject_public_key_info``, ``signature``, ``extensions``, ...) and may replace any with raw
    bytes that no certificate library would produce.
    """
    raw = cert if isinstance(cert, bytes) else der_of(cert)
    tbs = a_x509.Certificate.load(raw)["tbs_certificate"]
    fields = {name: tbs[name].dump() for name, _, _ in a_x509.TbsCertificate._fields}
    edit(fields)
    tbs_der = tlv(0x30, b"".join(fields.values()))
    alg = outer_alg if outer_alg is not None else sig_alg(issuer_key)
    return tlv(0x30, tbs_der + alg + tlv(0x03, b"\x00" + sign_bytes(issuer_key, tbs_der)))


def bitstring_cn_name() -> bytes:
    """A Name whose CN attribute value is a BIT STRING (no certificate library expects one)."""
    atv = tlv(0x30, oid("2.5.4.3") + b"\x03\x02\x04\xb0")
    return tlv(0x30, tlv(0x31, atv))


def empty_rdn_name() -> bytes:
    """A Name with one empty RelativeDistinguishedName (SET OF nothing)."""
    return tlv(0x30, tlv(0x31, b""))


def set_field(name: str, value: bytes) -> Callable[[dict[str, bytes]], None]:
    def edit(fields: dict[str, bytes]) -> None:
        fields[name] = value

    return edit


def set_subject(name_der: bytes) -> Callable[[dict[str, bytes]], None]:
    return set_field("subject", name_der)


def set_spki(
    algorithm_oid: str, parameters: bytes | None, key_bits: bytes
) -> Callable[[dict[str, bytes]], None]:
    """An edit that replaces the SubjectPublicKeyInfo with an algorithm nobody supports."""
    alg = tlv(0x30, oid(algorithm_oid) + (parameters if parameters is not None else b""))
    return set_field("subject_public_key_info", tlv(0x30, alg + tlv(0x03, b"\x00" + key_bits)))


def add_extension(
    cert: x509.Certificate, ext_oid: str, value: bytes
) -> Callable[[dict[str, bytes]], None]:
    """An edit that appends a non-critical extension with extnValue contents ``value``."""
    tbs = a_x509.Certificate.load(der_of(cert))["tbs_certificate"]
    existing = b"".join(e.dump() for e in tbs["extensions"])
    new = tlv(0x30, oid(ext_oid) + tlv(0x04, value))
    return set_field("extensions", tlv(0xA3, tlv(0x30, existing + new)))


def set_version(der: bytes, version: int) -> bytes:
    """A certificate DER whose explicit version INTEGER says ``version`` (0-based), unsigned."""
    marker = b"\xa0\x03\x02\x01\x02"
    assert marker in der
    return der.replace(marker, b"\xa0\x03\x02\x01" + bytes([version]), 1)
