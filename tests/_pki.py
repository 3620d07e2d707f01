"""A small PKI made at test time for the core tests (root → issuer → leaves, responders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)

_KEYS: dict[str, list[CertificateIssuerPrivateKeyTypes]] = {}


def new_key(kind: str) -> CertificateIssuerPrivateKeyTypes:
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    subject: str,
    key: CertificateIssuerPrivateKeyTypes,
    issuer_name: x509.Name | None,
    issuer_key: CertificateIssuerPrivateKeyTypes | None,
    *,
    ca: bool = False,
    ocsp_signing: bool = False,
    nocheck: bool = False,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    serial: int | None = None,
    ocsp_url: str | None = "http://127.0.0.1:9/ocsp",
    must_staple: bool = False,
) -> x509.Certificate:
    name = _name(subject)
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ocsp_signing:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    if nocheck:
        b = b.add_extension(x509.OCSPNoCheck(), critical=False)
    if not ca and ocsp_url:
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    if must_staple:
        b = b.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
    signer = issuer_key or key
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(signer, algo)  # type: ignore[arg-type]


@dataclass
class PKI:
    kind: str = "rsa"
    root_key: CertificateIssuerPrivateKeyTypes = field(init=False)
    root: x509.Certificate = field(init=False)
    issuer_key: CertificateIssuerPrivateKeyTypes = field(init=False)
    issuer: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.root_key = new_key(self.kind)
        self.root = make_cert(f"{self.kind} Test Root", self.root_key, None, None, ca=True)
        self.issuer_key = new_key(self.kind)
        self.issuer = make_cert(
            f"{self.kind} Test Issuing CA",
            self.issuer_key,
            self.root.subject,
            self.root_key,
            ca=True,
        )

    def leaf(self, **kw: object) -> x509.Certificate:
        key = new_key(self.kind)
        return make_cert("leaf.test", key, self.issuer.subject, self.issuer_key, **kw)  # type: ignore[arg-type]

    def responder(self, **kw: object) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
        key = new_key(self.kind)
        opts: dict[str, object] = {"ocsp_signing": True, "nocheck": True, "ocsp_url": None}
        opts.update(kw)
        cert = make_cert(
            f"{self.kind} OCSP Responder", key, self.issuer.subject, self.issuer_key, **opts
        )  # type: ignore[arg-type]
        return cert, key
