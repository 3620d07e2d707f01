"""Keys, names and clocks for the test PKI: the raw materials every certificate is made of.

This module owns key generation (:func:`generate_key`), the signature hash a key needs, PEM
encoding of keys and certificates, subject names and subjectAltNames, and the one clock the
toolkit reads (:func:`utcnow`). It must never build or sign a certificate (that is
:mod:`ocspkit.testing.profiles`), hold state, or import anything else from ocspkit: it sits at
the bottom of the testing toolkit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

__all__ = [
    "KEY_TYPES",
    "KeyType",
    "PrivateKey",
    "aware",
    "cert_pem",
    "general_names",
    "generate_key",
    "key_pem",
    "signature_hash",
    "subject_name",
    "utcnow",
]

#: Key types the test CA can make.
KeyType = Literal["rsa", "ecdsa", "ed25519"]

#: Any private key that can sign a certificate.
PrivateKey = CertificateIssuerPrivateKeyTypes

KEY_TYPES: tuple[str, ...] = ("rsa", "ecdsa", "ed25519")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to whole seconds (OCSP's resolution)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def aware(value: datetime) -> datetime:
    """``value`` in UTC; ``ValueError`` for a naive datetime."""
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(timezone.utc))")
    return value.astimezone(timezone.utc)


def generate_key(key_type: KeyType = "rsa") -> PrivateKey:
    """A fresh private key: RSA-2048, ECDSA P-256 or Ed25519."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key_type {key_type!r}; use one of {KEY_TYPES}")


def signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    """The hash to sign with ``key``: SHA-256, or ``None`` for Ed25519/Ed448 (no pre-hash)."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


def key_pem(key: PrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """``cert`` as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def subject_name(common_name: str, org: str | None = None) -> x509.Name:
    """``O=org, CN=common_name`` (``CN=common_name`` alone when ``org`` is ``None``)."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org is not None:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def general_names(sans: Iterable[str]) -> list[x509.GeneralName]:
    """subjectAltName entries: IP addresses where the text is one, DNS names otherwise."""
    out: list[x509.GeneralName] = []
    for san in sans:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            out.append(x509.DNSName(san))
    return out
