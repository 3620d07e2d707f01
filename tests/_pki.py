"""The core tests' PKI at a fixed time (``NOW``): a thin layer over :class:`ocspkit.testing.CA`.

The names here (``NOW``, ``PKI``, ``make_cert``, ``new_key``) are the ones the core test modules
import; every certificate still comes from ``ocspkit.testing`` (its CA and its one builder,
:func:`ocspkit.testing.profiles.build_certificate`), so the project has one PKI builder.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocspkit.testing import CA, generate_key
from ocspkit.testing.keys import PrivateKey, subject_name
from ocspkit.testing.profiles import build_certificate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
_NOT_BEFORE = NOW - timedelta(days=30)
_NOT_AFTER = NOW + timedelta(days=365)
_DEFAULT_OCSP_URL = "http://127.0.0.1:9/ocsp"


def new_key(kind: str) -> PrivateKey:
    """A fresh key: ``"rsa"`` (2048), ``"ecdsa"`` (P-256) or ``"ed25519"``."""
    return generate_key(kind)  # type: ignore[arg-type]  # ValueError for another kind


def make_cert(
    subject: str,
    key: PrivateKey,
    issuer_name: x509.Name | None,
    issuer_key: PrivateKey | None,
    *,
    ca: bool = False,
    ocsp_signing: bool = False,
    nocheck: bool = False,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    serial: int | None = None,
    ocsp_url: str | None = _DEFAULT_OCSP_URL,
    must_staple: bool = False,
) -> x509.Certificate:
    """Any certificate, ``CN=subject``: self-signed when ``issuer_name`` is ``None``, and signed
    by ``issuer_key`` (``key`` itself when ``None``: a forgery). Valid NOW-30d..NOW+365d by
    default; no key identifiers, so the name and the signature alone link it to its issuer."""
    return build_certificate(
        subject_name(subject),
        key.public_key(),
        issuer_key or key,
        issuer=issuer_name,
        not_before=not_before or _NOT_BEFORE,
        not_after=not_after or _NOT_AFTER,
        serial=serial,
        ca=ca,
        extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,) if ocsp_signing else (),
        ocsp_nocheck=nocheck,
        ocsp_url=None if ca else ocsp_url,
        must_staple=must_staple,
        key_identifiers=False,
    )


class PKI:
    """Root → issuing CA of one key type, valid around ``NOW``, from :class:`~ocspkit.testing.CA`.

    ``root``, ``root_key``, ``issuer`` and ``issuer_key`` are plain attributes (a test may
    replace them); :meth:`leaf` and :meth:`responder` sign with whatever they hold.
    """

    kind: str
    root_key: PrivateKey
    root: x509.Certificate
    issuer_key: PrivateKey
    issuer: x509.Certificate

    def __init__(self, kind: str = "rsa") -> None:
        self.kind = kind
        self.ca = CA(
            kind,  # type: ignore[arg-type]
            name=f"{kind} Test",
            not_before=_NOT_BEFORE,
            not_after=_NOT_AFTER,
        )
        self.root_key, self.root = self.ca.root_key, self.ca.root
        self.issuer_key, self.issuer = self.ca.issuer_key, self.ca.issuer

    def leaf(self, **kw: Any) -> x509.Certificate:
        """A ``leaf.test`` end-entity certificate under :attr:`issuer` (``make_cert`` options)."""
        return make_cert(
            "leaf.test", new_key(self.kind), self.issuer.subject, self.issuer_key, **kw
        )

    def responder(self, **kw: Any) -> tuple[x509.Certificate, PrivateKey]:
        """A delegated responder (OCSPSigning + nocheck unless overridden) and its key."""
        key = new_key(self.kind)
        opts: dict[str, Any] = {"ocsp_signing": True, "nocheck": True, "ocsp_url": None}
        opts.update(kw)
        cert = make_cert(
            f"{self.kind} OCSP Responder", key, self.issuer.subject, self.issuer_key, **opts
        )
        return cert, key
