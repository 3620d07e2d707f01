"""Signature algorithms: OID → (name, kind, hash), and signature verification."""

from __future__ import annotations

from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from .errors import SignatureError, WeakAlgorithmError

__all__ = [
    "HASHES",
    "OID_RSASSA_PSS",
    "algorithm_name",
    "sign",
    "verify_certificate_signature",
    "verify_signature",
]

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

#: id-RSASSA-PSS, whose hash lives in the AlgorithmIdentifier parameters.
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"

# OID -> (readable name, key kind, hash name or None)
_ALGS: dict[str, tuple[str, str, str | None]] = {
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "rsa", "md5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "rsa", "sha1"),
    "1.3.14.3.2.29": ("sha1WithRSAEncryption", "rsa", "sha1"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "rsa", "sha224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "rsa", "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "rsa", "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "rsa", "sha512"),
    OID_RSASSA_PSS: ("RSASSA-PSS", "rsa-pss", None),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "ecdsa", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "ecdsa", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "ecdsa", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "ecdsa", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "ecdsa", "sha512"),
    "1.2.840.10040.4.3": ("dsa-with-SHA1", "dsa", "sha1"),
    "2.16.840.1.101.3.4.3.1": ("dsa-with-SHA224", "dsa", "sha224"),
    "2.16.840.1.101.3.4.3.2": ("dsa-with-SHA256", "dsa", "sha256"),
    "1.3.101.112": ("Ed25519", "ed25519", None),
    "1.3.101.113": ("Ed448", "ed448", None),
}

_SIGN_OIDS: dict[tuple[str, str | None], str] = {
    (kind, h): oid for oid, (_, kind, h) in _ALGS.items() if oid != "1.3.14.3.2.29"
}


def algorithm_name(oid: str | None) -> str | None:
    """A readable name for a signature algorithm OID (the OID itself if unknown)."""
    if oid is None:
        return None
    entry = _ALGS.get(oid)
    return entry[0] if entry else oid


def verify_signature(
    key: CertificatePublicKeyTypes,
    oid: str | None,
    signature: bytes,
    data: bytes,
    *,
    allow_sha1: bool,
    pss: tuple[str, str, int] | None = None,
) -> None:
    """Verify ``signature`` over ``data``; raise SignatureError or WeakAlgorithmError.

    ``pss`` is (hash, mgf1 hash, salt length) for RSASSA-PSS.
    """
    entry = _ALGS.get(oid or "")
    if entry is None:
        raise SignatureError(f"unsupported signature algorithm {oid}")
    name, kind, hname = entry
    if kind == "rsa-pss":
        if pss is None:
            raise SignatureError("RSASSA-PSS signature without parameters")
        hname = pss[0]
    if hname == "md5":
        raise WeakAlgorithmError(f"{name} signatures are never accepted")
    if hname == "sha1" and not allow_sha1:
        raise WeakAlgorithmError(f"{name} signatures are refused by policy")
    family = "rsa" if kind == "rsa-pss" else kind
    if _key_family(key) != family:
        raise SignatureError(f"{name} signature but the signer key is not {_FAMILY_LABEL[family]}")
    try:
        if family == "rsa":
            assert hname is not None
            if pss is not None and kind == "rsa-pss":
                if pss[1] not in HASHES or hname not in HASHES:
                    raise SignatureError("unsupported RSASSA-PSS hash")
                pad: padding.AsymmetricPadding = padding.PSS(padding.MGF1(HASHES[pss[1]]()), pss[2])
            else:
                pad = _PKCS1V15
            cast(rsa.RSAPublicKey, key).verify(signature, data, pad, _HASH_INSTANCES[hname])
        elif family == "ecdsa":
            assert hname is not None
            cast(ec.EllipticCurvePublicKey, key).verify(signature, data, _ECDSA[hname])
        elif family == "dsa":
            assert hname is not None
            cast(dsa.DSAPublicKey, key).verify(signature, data, _HASH_INSTANCES[hname])
        else:  # EdDSA
            cast(ed25519.Ed25519PublicKey | ed448.Ed448PublicKey, key).verify(signature, data)
    except InvalidSignature:
        raise SignatureError(f"the {name} signature does not verify") from None
    except (UnsupportedAlgorithm, ValueError, TypeError, OverflowError) as exc:
        raise SignatureError(f"the {name} signature cannot be checked: {exc}") from None


# Key family by concrete key type, found with isinstance once per type (ABC checks cost
# ~0.3 µs each on the hot path). Hash and padding objects are immutable, so shared.
_KEY_FAMILIES: tuple[tuple[type, str], ...] = (
    (rsa.RSAPublicKey, "rsa"),
    (ec.EllipticCurvePublicKey, "ecdsa"),
    (dsa.DSAPublicKey, "dsa"),
    (ed25519.Ed25519PublicKey, "ed25519"),
    (ed448.Ed448PublicKey, "ed448"),
)
_FAMILY_LABEL = {"rsa": "RSA", "ecdsa": "EC", "dsa": "DSA", "ed25519": "Ed25519", "ed448": "Ed448"}
_family_by_type: dict[type, str | None] = {}
_PKCS1V15 = padding.PKCS1v15()
_HASH_INSTANCES: dict[str, hashes.HashAlgorithm] = {n: h() for n, h in HASHES.items()}
_ECDSA = {n: ec.ECDSA(h) for n, h in _HASH_INSTANCES.items()}


def _key_family(key: object) -> str | None:
    t = type(key)
    try:
        return _family_by_type[t]
    except KeyError:
        family = next((f for base, f in _KEY_FAMILIES if isinstance(key, base)), None)
        _family_by_type[t] = family
        return family


def sign(
    key: CertificateIssuerPrivateKeyTypes, data: bytes, hash_name: str | None
) -> tuple[bytes, str]:
    """Sign ``data``: (signature, signature algorithm OID). The hash is ignored for EdDSA."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data), "1.3.101.112"
    if isinstance(key, ed448.Ed448PrivateKey):
        return key.sign(data), "1.3.101.113"
    hname = hash_name or "sha256"
    if hname not in HASHES:
        raise ValueError(f"unsupported signature hash {hname!r}")
    h = HASHES[hname]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), h), _SIGN_OIDS[("rsa", hname)]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(h)), _SIGN_OIDS[("ecdsa", hname)]
    if isinstance(key, dsa.DSAPrivateKey):
        return key.sign(data, h), _SIGN_OIDS[("dsa", hname)]
    raise TypeError(f"unsupported responder key type {type(key).__name__}")


def verify_certificate_signature(
    cert: x509.Certificate,
    issuer_key: CertificatePublicKeyTypes,
    *,
    allow_sha1: bool = True,
    tbs: bytes | None = None,
) -> None:
    """Verify ``cert``'s signature with ``issuer_key`` (SHA-1 allowed unless refused).

    ``tbs`` is ``cert.tbs_certificate_bytes`` when the caller has read it already.
    """
    if tbs is None:
        tbs = cert.tbs_certificate_bytes
    oid = cert.signature_algorithm_oid.dotted_string
    if oid == OID_RSASSA_PSS:
        params = cert.signature_algorithm_parameters
        h = cert.signature_hash_algorithm
        if not isinstance(issuer_key, rsa.RSAPublicKey) or not isinstance(params, padding.PSS):
            raise SignatureError("RSASSA-PSS certificate signature with a non-RSA key")
        if h is None:
            raise SignatureError("RSASSA-PSS certificate signature without a hash")
        if h.name == "md5" or (h.name == "sha1" and not allow_sha1):
            raise WeakAlgorithmError(f"RSASSA-PSS with {h.name} certificate signatures are refused")
        try:
            issuer_key.verify(cert.signature, tbs, params, h)
        except InvalidSignature:
            raise SignatureError("the certificate signature does not verify") from None
        except (UnsupportedAlgorithm, ValueError, TypeError, OverflowError) as exc:
            raise SignatureError(f"the certificate signature cannot be checked: {exc}") from None
        return
    verify_signature(issuer_key, oid, cert.signature, tbs, allow_sha1=allow_sha1)
