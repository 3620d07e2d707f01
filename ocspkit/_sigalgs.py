"""Signature algorithms: OID → (name, kind, hash), verification and signing.

A codec: owns the table of algorithms ocspkit verifies and the policy that MD5 is never
accepted (in any hash position, RSASSA-PSS's MGF1 included) and SHA-1 only when allowed.
Everything it cannot verify is a :class:`~ocspkit.SignatureError` naming the OID; it must
never let an exception of cryptography escape.
"""

from __future__ import annotations

from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from ._der import children, decode_integer, decode_oid, expect
from .errors import DecodeError, SignatureError, WeakAlgorithmError
from .models import HASH_OIDS

try:  # ML-DSA (FIPS 204): cryptography 47 and later
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # pragma: no cover - older cryptography
    mldsa = None  # type: ignore[assignment]

__all__ = [
    "HASHES",
    "OID_RSASSA_PSS",
    "algorithm_name",
    "pss_parameters",
    "sign",
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
_OID_MGF1 = "1.2.840.113549.1.1.8"

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
    "2.16.840.1.101.3.4.3.17": ("ML-DSA-44", "mldsa44", None),
    "2.16.840.1.101.3.4.3.18": ("ML-DSA-65", "mldsa65", None),
    "2.16.840.1.101.3.4.3.19": ("ML-DSA-87", "mldsa87", None),
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


def pss_parameters(params: bytes | None) -> tuple[str, str, int]:
    """(hash, MGF1 hash, salt length) of RSASSA-PSS-params DER (RFC 4055 defaults: SHA-1)."""
    if not params or params == b"\x05\x00":
        return ("sha1", "sha1", 20)
    h, mgf_h, salt = "sha1", "sha1", 20
    try:
        start, end = expect(params, 0, 0x30)
        if end != len(params):
            raise DecodeError("trailing data")
        for tag, _, cstart, cend in children(params, start, end):
            if tag == 0xA0:
                h = _hash_of(params, cstart, cend)
            elif tag == 0xA1:
                astart, aend = expect(params, cstart, 0x30, cend)
                alg = children(params, astart, aend)
                if len(alg) != 2 or alg[0][0] != 0x06:
                    raise DecodeError("bad maskGenAlgorithm")
                if decode_oid(params[alg[0][2] : alg[0][3]]) != _OID_MGF1:
                    raise SignatureError("RSASSA-PSS with a mask generation other than MGF1")
                mgf_h = _hash_of(params, alg[1][1], alg[1][3])
            elif tag == 0xA2:
                istart, iend = expect(params, cstart, 0x02, cend)
                salt = decode_integer(params[istart:iend], max_octets=4)
            elif tag == 0xA3:
                istart, iend = expect(params, cstart, 0x02, cend)
                if decode_integer(params[istart:iend], max_octets=4) != 1:
                    raise SignatureError("unsupported RSASSA-PSS trailerField")
            else:
                raise DecodeError("unexpected element")
    except DecodeError as exc:
        raise SignatureError(f"bad RSASSA-PSS parameters: {exc}") from None
    if not 0 <= salt <= 1024:
        raise SignatureError(f"RSASSA-PSS salt length {salt} is out of range")
    return (h, mgf_h, salt)


def _hash_of(der: bytes, start: int, end: int) -> str:
    astart, aend = expect(der, start, 0x30, end)
    alg = children(der, astart, aend)
    if not alg or alg[0][0] != 0x06 or len(alg) > 2:
        raise DecodeError("bad hash AlgorithmIdentifier")
    oid = decode_oid(der[alg[0][2] : alg[0][3]])
    name = HASH_OIDS.get(oid)
    if name is None:
        raise SignatureError(f"unsupported hash algorithm {oid} in RSASSA-PSS parameters")
    return name


def _refuse_weak(hname: str | None, what: str, allow_sha1: bool) -> None:
    if hname == "md5":
        raise WeakAlgorithmError(f"{what} with MD5 is never accepted")
    if hname == "sha1" and not allow_sha1:
        raise WeakAlgorithmError(f"{what} with SHA-1 is refused by policy")


def verify_signature(
    key: CertificatePublicKeyTypes,
    oid: str,
    params: bytes | None,
    signature: bytes,
    data: bytes,
    *,
    allow_sha1: bool,
) -> None:
    """Verify ``signature`` over ``data`` made with algorithm ``oid`` (``params``: the
    AlgorithmIdentifier's parameters DER, for RSASSA-PSS); raise SignatureError or
    WeakAlgorithmError."""
    entry = _ALGS.get(oid)
    if entry is None:
        raise SignatureError(f"unsupported signature algorithm {oid}")
    name, kind, hname = entry
    pss = None
    if kind == "rsa-pss":
        pss = pss_parameters(params)
        hname = pss[0]
        _refuse_weak(pss[1], f"{name} (MGF1)", allow_sha1)
    _refuse_weak(hname, name, allow_sha1)
    family = "rsa" if kind == "rsa-pss" else kind
    if _key_family(key) != family:
        raise SignatureError(f"{name} signature but the signer key is not {_FAMILY_LABEL[family]}")
    try:
        if family == "rsa":
            assert hname is not None
            if pss is not None:
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
        else:  # EdDSA, ML-DSA: the algorithm hashes for itself
            cast(Any, key).verify(signature, data)
    except InvalidSignature:
        raise SignatureError(f"the {name} signature does not verify") from None
    except Exception as exc:  # UnsupportedAlgorithm, ValueError, ... from the backend
        raise SignatureError(
            f"the {name} signature cannot be checked ({type(exc).__name__})"
        ) from None


# Key family by concrete key type, found with isinstance once per type (ABC checks cost
# ~0.3 µs each on the hot path). Hash and padding objects are immutable, so shared.
_KEY_FAMILIES: tuple[tuple[type, str], ...] = (
    (rsa.RSAPublicKey, "rsa"),
    (ec.EllipticCurvePublicKey, "ecdsa"),
    (dsa.DSAPublicKey, "dsa"),
    (ed25519.Ed25519PublicKey, "ed25519"),
    (ed448.Ed448PublicKey, "ed448"),
    *(
        (
            (mldsa.MLDSA44PublicKey, "mldsa44"),
            (mldsa.MLDSA65PublicKey, "mldsa65"),
            (mldsa.MLDSA87PublicKey, "mldsa87"),
        )
        if mldsa is not None
        else ()
    ),
)
_FAMILY_LABEL = {
    "rsa": "RSA",
    "ecdsa": "EC",
    "dsa": "DSA",
    "ed25519": "Ed25519",
    "ed448": "Ed448",
    "mldsa44": "ML-DSA-44",
    "mldsa65": "ML-DSA-65",
    "mldsa87": "ML-DSA-87",
}
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
    if mldsa is not None:
        for cls, kind in (
            (mldsa.MLDSA44PrivateKey, "mldsa44"),
            (mldsa.MLDSA65PrivateKey, "mldsa65"),
            (mldsa.MLDSA87PrivateKey, "mldsa87"),
        ):
            if isinstance(key, cls):
                return key.sign(data), _SIGN_OIDS[(kind, None)]
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
