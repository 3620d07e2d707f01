"""A throwaway certificate authority for tests: root, intermediate, leaves, delegated responders.

The CA keeps a live status table (what it issued, what it revoked) that
:class:`~ocspkit.testing.Responder` reads on every request, and it can export that table as an
OpenSSL ``index.txt`` database for ``openssl ocsp -index``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..certs import cert_id, issuer_hashes
from ..models import (
    CertID,
    CertStatus,
    OCSPResponse,
    RevocationReason,
    SingleResponse,
)

__all__ = [
    "CA",
    "KeyType",
    "Leaf",
    "LeafFiles",
    "Signer",
    "StatusLookup",
    "generate_key",
    "utcnow",
]

#: Key types the test CA can make.
KeyType = Literal["rsa", "ecdsa", "ed25519"]

#: Who signs an OCSP response: the issuing CA, its delegated responder, or an explicit certificate.
Signer = Union[Literal["ca", "delegated"], "Leaf"]

PrivateKey = CertificateIssuerPrivateKeyTypes

#: serial -> (status, revocation time, reason): a status table.
StatusLookup = Callable[[int], tuple[CertStatus, "datetime | None", "RevocationReason | None"]]

_KEY_TYPES: tuple[str, ...] = ("rsa", "ecdsa", "ed25519")

# OpenSSL's CRL reason strings (apps/ca.c crl_reasons); the other reasons have no spelling.
_OPENSSL_REASONS: dict[RevocationReason, str] = {
    RevocationReason.UNSPECIFIED: "unspecified",
    RevocationReason.KEY_COMPROMISE: "keyCompromise",
    RevocationReason.CA_COMPROMISE: "CACompromise",
    RevocationReason.AFFILIATION_CHANGED: "affiliationChanged",
    RevocationReason.SUPERSEDED: "superseded",
    RevocationReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    RevocationReason.CERTIFICATE_HOLD: "certificateHold",
    RevocationReason.REMOVE_FROM_CRL: "removeFromCRL",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to whole seconds (OCSP's resolution)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def generate_key(key_type: KeyType = "rsa") -> PrivateKey:
    """A fresh private key: RSA-2048, ECDSA P-256 or Ed25519."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key_type {key_type!r}; use one of {_KEY_TYPES}")


def _sig_hash(key: PrivateKey) -> hashes.SHA256 | None:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(timezone.utc))")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class LeafFiles:
    """Paths written by :meth:`Leaf.write`.

    :ivar cert: the certificate alone (PEM).
    :ivar key: the private key (PKCS#8 PEM, mode 0600).
    :ivar chain: certificate + intermediate (PEM), what a TLS server sends.
    :ivar combined: chain followed by the key in one file (HAProxy's ``crt`` format).
    """

    cert: Path
    key: Path
    chain: Path
    combined: Path


@dataclass(frozen=True)
class Leaf:
    """A certificate issued by a test :class:`CA`, with its key and chain.

    :ivar cert: the certificate.
    :ivar key: its private key.
    :ivar chain: ``(cert, intermediate)``, the chain a server presents (root excluded).
    """

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return _cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return _key_pem(self.key)

    @property
    def chain_pem(self) -> bytes:
        """The certificate followed by its intermediate(s), PEM."""
        return b"".join(_cert_pem(c) for c in self.chain)

    @property
    def serial_number(self) -> int:
        """The certificate's serial number."""
        return self.cert.serial_number

    def write(self, directory: str | os.PathLike[str], name: str | None = None) -> LeafFiles:
        """Write ``NAME.crt``, ``NAME.key``, ``NAME.chain.pem`` and ``NAME.pem`` (chain + key).

        ``name`` defaults to the certificate's common name made filename-safe.
        """
        base = Path(directory)
        base.mkdir(parents=True, exist_ok=True)
        if name is None:
            cns = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            raw = str(cns[0].value) if cns else f"cert-{self.cert.serial_number:x}"
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "cert"
        files = LeafFiles(
            cert=base / f"{name}.crt",
            key=base / f"{name}.key",
            chain=base / f"{name}.chain.pem",
            combined=base / f"{name}.pem",
        )
        files.cert.write_bytes(self.cert_pem)
        fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.key_pem)
        files.chain.write_bytes(self.chain_pem)
        fd = os.open(files.combined, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.chain_pem + self.key_pem)
        return files


@dataclass(frozen=True)
class _Entry:
    cert: x509.Certificate
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _general_names(sans: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for san in sans:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            out.append(x509.DNSName(san))
    return out


def _openssl_time(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    if 1950 <= value.year < 2050:
        return value.strftime("%y%m%d%H%M%SZ")
    return value.strftime("%Y%m%d%H%M%SZ")


def _openssl_serial(serial: int) -> str:
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def _openssl_dn(name: x509.Name) -> str:
    parts = []
    for attr in name:
        key = attr.rfc4514_attribute_name
        value = str(attr.value).replace("/", "\\/")
        parts.append(f"/{key}={value}")
    return "".join(parts) or "/"


class CA:
    """A throwaway two-level CA: a self-signed root and an intermediate that issues leaves.

    The intermediate (:attr:`issuer`) is the OCSP issuer of every leaf. All state lives in
    memory; the object is safe to use from several threads (a responder thread reads the status
    table while a test revokes).

    :param key_type: ``"rsa"`` (2048, default), ``"ecdsa"`` (P-256) or ``"ed25519"``; used for
        the CA keys and, by default, for leaves.
    :param ocsp_url: the AIA OCSP URL put in leaves issued afterwards (settable later; a
        :class:`~ocspkit.testing.Responder` sets it to its own URL when it is still ``None``).
    :param name: the organisation name in every subject.
    """

    def __init__(
        self,
        key_type: KeyType = "rsa",
        *,
        ocsp_url: str | None = None,
        name: str = "ocspkit test",
    ) -> None:
        if key_type not in _KEY_TYPES:
            raise ValueError(f"unknown key_type {key_type!r}; use one of {_KEY_TYPES}")
        self.key_type: KeyType = key_type
        self.name = name
        self.ocsp_url: str | None = ocsp_url
        self._lock = threading.RLock()
        self._entries: dict[int, _Entry] = {}
        self._delegated: Leaf | None = None
        now = utcnow()
        self.root_key: PrivateKey = generate_key(key_type)
        root_name = _name(f"{name} Root CA", name)
        root_ski = x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key())
        self.root: x509.Certificate = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(root_ski, critical=False)
            .sign(self.root_key, _sig_hash(self.root_key))
        )
        self.issuer_key: PrivateKey = generate_key(key_type)
        self.issuer: x509.Certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{name} Intermediate CA", name))
            .issuer_name(root_name)
            .public_key(self.issuer_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.issuer_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
            .sign(self.root_key, _sig_hash(self.root_key))
        )

    # -- PEM exports -------------------------------------------------------------------------

    @property
    def root_pem(self) -> bytes:
        """The root certificate as PEM: the trust anchor (``-CAfile``, ``cafile=``)."""
        return _cert_pem(self.root)

    @property
    def issuer_pem(self) -> bytes:
        """The intermediate (issuing) certificate as PEM (``openssl ocsp -issuer``)."""
        return _cert_pem(self.issuer)

    @property
    def issuer_key_pem(self) -> bytes:
        """The intermediate's private key as unencrypted PKCS#8 PEM."""
        return _key_pem(self.issuer_key)

    @property
    def ca_bundle_pem(self) -> bytes:
        """Intermediate followed by root, PEM."""
        return self.issuer_pem + self.root_pem

    # -- issuing -----------------------------------------------------------------------------

    def _base_builder(
        self,
        subject: x509.Name,
        public_key: object,
        not_before: datetime | None,
        not_after: datetime | None,
        default_days: int,
    ) -> x509.CertificateBuilder:
        now = utcnow()
        nb = _aware(not_before) if not_before is not None else now - timedelta(hours=1)
        na = _aware(not_after) if not_after is not None else now + timedelta(days=default_days)
        issuer_ski = self.issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuer.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
                critical=False,
            )
        )

    def _record(self, builder: x509.CertificateBuilder, key: PrivateKey) -> Leaf:
        cert = builder.sign(self.issuer_key, _sig_hash(self.issuer_key))
        with self._lock:
            self._entries[cert.serial_number] = _Entry(cert)
        return Leaf(cert=cert, key=key, chain=(cert, self.issuer))

    def issue(
        self,
        common_name: str = "localhost",
        *,
        sans: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        ocsp_url: str | None = None,
        must_staple: bool = False,
        key_type: KeyType | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        ca_issuers_url: str | None = None,
    ) -> Leaf:
        """Issue a TLS server/client leaf certificate.

        :param sans: DNS names and IP addresses for the subjectAltName.
        :param ocsp_url: AIA OCSP URL; ``None`` uses :attr:`ocsp_url`, ``""`` omits it.
        :param must_staple: add the TLS Feature extension with status_request (RFC 7633).
        :param key_type: the leaf's key type (default: the CA's).
        """
        key = generate_key(key_type or self.key_type)
        url = self.ocsp_url if ocsp_url is None else ocsp_url
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        builder = self._base_builder(
            _name(common_name, self.name), key.public_key(), not_before, not_after, 90
        )
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_general_names(sans)), critical=False
            )
        access: list[x509.AccessDescription] = []
        if url:
            access.append(
                x509.AccessDescription(
                    x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
                )
            )
        if ca_issuers_url:
            access.append(
                x509.AccessDescription(
                    x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(ca_issuers_url),
                )
            )
        if access:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        if must_staple:
            builder = builder.add_extension(
                x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
            )
        return self._record(builder, key)

    def issue_responder(
        self,
        *,
        eku: bool = True,
        nocheck: bool = True,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key_type: KeyType | None = None,
        common_name: str | None = None,
    ) -> Leaf:
        """Issue a delegated OCSP responder certificate (RFC 6960 §4.2.2.2).

        :param eku: include id-kp-OCSPSigning (without it the certificate is *not* authorised).
        :param nocheck: include id-pkix-ocsp-nocheck.
        """
        key = generate_key(key_type or self.key_type)
        cn = common_name or f"{self.name} OCSP Responder"
        builder = self._base_builder(
            _name(cn, self.name), key.public_key(), not_before, not_after, 30
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        if eku:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
        if nocheck:
            builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        return self._record(builder, key)

    @property
    def delegated(self) -> Leaf:
        """The CA's default delegated responder (OCSPSigning + nocheck), made on first use.

        Assign another :class:`Leaf` (from :meth:`issue_responder`) to replace it.
        """
        with self._lock:
            if self._delegated is None:
                self._delegated = self.issue_responder()
            return self._delegated

    @delegated.setter
    def delegated(self, leaf: Leaf) -> None:
        with self._lock:
            self._delegated = leaf

    # -- status table ------------------------------------------------------------------------

    def revoke(
        self,
        cert: x509.Certificate | Leaf | int,
        reason: RevocationReason | None = RevocationReason.KEY_COMPROMISE,
        at: datetime | None = None,
    ) -> None:
        """Record ``cert`` (a certificate, a :class:`Leaf` or a serial) as revoked.

        The change is live: a running responder answers ``revoked`` from its next request.
        ``reason=None`` records a revocation without a reason code. Raises ``ValueError`` for a
        certificate this CA never issued.
        """
        serial = _serial_of(cert)
        when = _aware(at).replace(microsecond=0) if at is not None else utcnow()
        with self._lock:
            entry = self._entries.get(serial)
            if entry is None:
                raise ValueError(f"serial {serial:#x} was not issued by this CA")
            self._entries[serial] = _Entry(entry.cert, when, reason)

    def unrevoke(self, cert: x509.Certificate | Leaf | int) -> None:
        """Mark a revoked certificate good again (as after removeFromCRL of a hold)."""
        serial = _serial_of(cert)
        with self._lock:
            entry = self._entries.get(serial)
            if entry is None:
                raise ValueError(f"serial {serial:#x} was not issued by this CA")
            self._entries[serial] = _Entry(entry.cert)

    def status_of(
        self, cert_or_serial: x509.Certificate | Leaf | int
    ) -> tuple[CertStatus, datetime | None, RevocationReason | None]:
        """``(status, revocation_time, reason)``; UNKNOWN for a serial this CA never issued."""
        serial = _serial_of(cert_or_serial)
        with self._lock:
            entry = self._entries.get(serial)
        if entry is None:
            return CertStatus.UNKNOWN, None, None
        if entry.revoked_at is not None:
            return CertStatus.REVOKED, entry.revoked_at, entry.reason
        return CertStatus.GOOD, None, None

    @property
    def issued(self) -> tuple[x509.Certificate, ...]:
        """Every certificate the intermediate issued (leaves and responders), oldest first."""
        with self._lock:
            return tuple(e.cert for e in self._entries.values())

    def index_lines(self) -> list[str]:
        """The OpenSSL ``index.txt`` lines for everything issued (see :meth:`write_index`)."""
        with self._lock:
            entries = list(self._entries.values())
        lines = []
        for e in entries:
            expiry = _openssl_time(e.cert.not_valid_after_utc)
            if e.revoked_at is None:
                flag, rev = "V", ""
            else:
                flag = "R"
                rev = _openssl_time(e.revoked_at)
                if e.reason is not None:
                    rev += "," + _OPENSSL_REASONS.get(e.reason, "unspecified")
            serial = _openssl_serial(e.cert.serial_number)
            lines.append(
                f"{flag}\t{expiry}\t{rev}\t{serial}\tunknown\t{_openssl_dn(e.cert.subject)}"
            )
        return lines

    def write_index(self, path: str | os.PathLike[str]) -> Path:
        """Write the OpenSSL CA database (``index.txt``) of everything issued and revoked.

        Also writes ``PATH.attr`` (``unique_subject = no``). The file is replaced atomically, so
        a responder reading it never sees half a file. Reasons OpenSSL cannot spell
        (privilegeWithdrawn, aACompromise) are written as ``unspecified``.
        """
        target = Path(path)
        text = "".join(line + "\n" for line in self.index_lines())
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
        attr = target.with_name(target.name + ".attr")
        if not attr.exists():
            attr.write_text("unique_subject = no\n")
        return target

    # -- signing responses -------------------------------------------------------------------

    def owns(self, cert_id: CertID) -> bool:
        """True if ``cert_id`` names this CA's intermediate as the issuer (any known hash)."""
        try:
            name_hash, key_hash = issuer_hashes(self.issuer, cert_id.hash_algorithm)
        except ValueError:
            return False
        return cert_id.issuer_name_hash == name_hash and cert_id.issuer_key_hash == key_hash

    def single_responses(
        self,
        cert_ids: Iterable[CertID | x509.Certificate],
        *,
        this_update: datetime,
        next_update: datetime | None,
        lookup: StatusLookup | None = None,
    ) -> tuple[SingleResponse, ...]:
        """One SingleResponse per CertID from the live status table (unknown if not issued).

        ``lookup`` replaces the table (for instance an OpenSSL ``index.txt`` reader); CertIDs of
        another issuer are always answered unknown.
        """
        find = lookup or self.status_of
        out = []
        for item in cert_ids:
            cid = cert_id(item, self.issuer) if isinstance(item, x509.Certificate) else item
            if self.owns(cid):
                status, rev_time, reason = find(cid.serial_number)
            else:
                status, rev_time, reason = CertStatus.UNKNOWN, None, None
            out.append(
                SingleResponse(
                    cert_id=cid,
                    status=status,
                    this_update=this_update,
                    next_update=next_update,
                    revocation_time=rev_time,
                    revocation_reason=reason,
                )
            )
        return tuple(out)

    def signer_for(
        self, signer: Signer
    ) -> tuple[x509.Certificate, PrivateKey, tuple[x509.Certificate, ...]]:
        """``(certificate, key, certificates to embed)`` for a :data:`Signer` choice."""
        if signer == "ca":
            return self.issuer, self.issuer_key, ()
        if signer == "delegated":
            d = self.delegated
            return d.cert, d.key, (d.cert,)
        if isinstance(signer, Leaf):
            return signer.cert, signer.key, (signer.cert,)
        raise ValueError(f"signer must be 'ca', 'delegated' or a Leaf, not {signer!r}")

    def sign_response(
        self,
        cert_ids: CertID | x509.Certificate | Iterable[CertID | x509.Certificate],
        *,
        nonce: bytes | None = None,
        now: datetime | None = None,
        validity: timedelta | None = timedelta(hours=1),
        signer: Signer = "ca",
        this_update: datetime | None = None,
        responder_id: Literal["key", "name"] = "key",
        lookup: StatusLookup | None = None,
    ) -> OCSPResponse:
        """A signed, successful OCSP response about ``cert_ids`` from the live status table.

        :param cert_ids: CertIDs (as requested) or certificates (SHA-1 CertIDs are made).
        :param now: producedAt (default: the current time); thisUpdate defaults to it.
        :param validity: nextUpdate - thisUpdate; ``None`` omits nextUpdate.
        :param signer: ``"ca"`` (the intermediate signs), ``"delegated"`` (:attr:`delegated`
            signs and is embedded) or any :class:`Leaf` (embedded).
        :param lookup: serial -> status, instead of the CA's own table.
        """
        from ..response import build_response

        items: Iterable[CertID | x509.Certificate]
        if isinstance(cert_ids, (CertID, x509.Certificate)):
            items = (cert_ids,)
        else:
            items = cert_ids
        produced = _aware(now).replace(microsecond=0) if now is not None else utcnow()
        tu = _aware(this_update).replace(microsecond=0) if this_update is not None else produced
        nu = tu + validity if validity is not None else None
        singles = self.single_responses(items, this_update=tu, next_update=nu, lookup=lookup)
        cert, key, embed = self.signer_for(signer)
        return build_response(
            singles,
            responder_cert=cert,
            responder_key=key,
            produced_at=produced,
            responder_id=responder_id,
            certificates=embed,
            nonce=nonce,
            signature_hash=None if _sig_hash(key) is None else "sha256",
        )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _serial_of(value: x509.Certificate | Leaf | int) -> int:
    if isinstance(value, Leaf):
        return value.cert.serial_number
    if isinstance(value, x509.Certificate):
        return value.serial_number
    if isinstance(value, int):
        return value
    kind = type(value).__name__
    raise TypeError(f"expected a certificate, a Leaf or a serial number, not {kind}")
