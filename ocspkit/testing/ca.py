"""A throwaway certificate authority for tests: root, intermediate, leaves, delegated responders.

This module owns :class:`CA`: its keys and certificates, the status table it keeps
(:mod:`ocspkit.testing.status`), and the signing of what it publishes about that table. Today
that is OCSP responses (:meth:`CA.sign_response`, read by :class:`~ocspkit.testing.Responder`
on every request), the OpenSSL ``index.txt`` export (:meth:`CA.write_index`) and CRLs
(:meth:`CA.sign_crl`: complete, partitioned, delta, from the same table, with the
intermediate's key, which carries cRLSign, or a dedicated CRL signer from
:meth:`CA.issue_crl_signer`; the choice of entries and the CRL numbers are
:mod:`ocspkit.testing.crls`).

It must never build certificates itself (profiles live in :mod:`ocspkit.testing.profiles`),
serve HTTP, or be imported by the library's own non-testing modules: ``ocspkit.testing`` sits
on the core (it uses ``ocspkit.models`` and ``ocspkit.response``), never below it.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509

from ..issuers import cert_id, issuer_hashes
from ..models import (
    CertID,
    CertStatus,
    OCSPResponse,
    RevocationReason,
    SingleResponse,
)
from .crls import CRLNumbers, sign_crl
from .keys import (
    KEY_TYPES,
    KeyType,
    PrivateKey,
    aware,
    cert_pem,
    generate_key,
    key_pem,
    signature_hash,
    subject_name,
    utcnow,
)
from .leaf import Leaf, LeafFiles
from .profiles import (
    CRLEntrySpec,
    crl_signer_certificate,
    intermediate_certificate,
    responder_certificate,
    root_certificate,
    tls_leaf_certificate,
)
from .status import StatusLookup, StatusTable

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

#: Who signs an OCSP response: the issuing CA, its delegated responder, or an explicit certificate.
Signer = Literal["ca", "delegated"] | Leaf


class CA:
    """A throwaway two-level CA: a self-signed root and an intermediate that issues leaves.

    The intermediate (:attr:`issuer`) is the OCSP issuer of every leaf. All state lives in
    memory; the object is safe to use from several threads (a responder thread reads the status
    table while a test revokes).

    :param key_type: ``"rsa"`` (2048, default), ``"ecdsa"`` (P-256) or ``"ed25519"``; used for
        the CA keys and, by default, for leaves.
    :param ocsp_url: the AIA OCSP URL put in leaves issued afterwards (settable later; a
        :class:`~ocspkit.testing.Responder` sets it to its own URL when it is still ``None``).
    :param crl_url: the crlDistributionPoints URI put in leaves issued afterwards (settable
        later); with ``ocsp_url=""`` leaves have the Let's Encrypt shape of 2025 (CRL only).
    :param name: the organisation name in every subject.
    :param not_before: start of the root's and intermediate's validity (default: a day ago);
        set it, with ``not_after``, to test at a fixed time in the past.
    :param not_after: end of their validity (default: ten years from now).
    """

    def __init__(
        self,
        key_type: KeyType = "rsa",
        *,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        name: str = "ocspkit test",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> None:
        if key_type not in KEY_TYPES:
            raise ValueError(f"unknown key_type {key_type!r}; use one of {KEY_TYPES}")
        self.key_type: KeyType = key_type
        self.name = name
        self.ocsp_url: str | None = ocsp_url
        self.crl_url: str | None = crl_url
        self._table = StatusTable()
        #: this CA's CRL numbers (:meth:`sign_crl`)
        self.crl_numbers = CRLNumbers()
        self._lock = threading.Lock()  # guards _delegated
        self._delegated: Leaf | None = None
        now = utcnow()
        start = aware(not_before) if not_before is not None else now - timedelta(days=1)
        end = aware(not_after) if not_after is not None else now + timedelta(days=3650)
        self.root_key: PrivateKey = generate_key(key_type)
        self.root: x509.Certificate = root_certificate(
            self.root_key, subject_name(f"{name} Root CA", name), start, end
        )
        self.issuer_key: PrivateKey = generate_key(key_type)
        self.issuer: x509.Certificate = intermediate_certificate(
            self.issuer_key,
            subject_name(f"{name} Intermediate CA", name),
            self.root,
            self.root_key,
            start,
            end,
        )

    # -- PEM exports -------------------------------------------------------------------------

    @property
    def root_pem(self) -> bytes:
        """The root certificate as PEM: the trust anchor (``-CAfile``, ``cafile=``)."""
        return cert_pem(self.root)

    @property
    def issuer_pem(self) -> bytes:
        """The intermediate (issuing) certificate as PEM (``openssl ocsp -issuer``)."""
        return cert_pem(self.issuer)

    @property
    def issuer_key_pem(self) -> bytes:
        """The intermediate's private key as unencrypted PKCS#8 PEM."""
        return key_pem(self.issuer_key)

    @property
    def ca_bundle_pem(self) -> bytes:
        """Intermediate followed by root, PEM."""
        return self.issuer_pem + self.root_pem

    # -- issuing -----------------------------------------------------------------------------

    def _validity(
        self, not_before: datetime | None, not_after: datetime | None, default_days: int
    ) -> tuple[datetime, datetime]:
        now = utcnow()
        nb = aware(not_before) if not_before is not None else now - timedelta(hours=1)
        na = aware(not_after) if not_after is not None else now + timedelta(days=default_days)
        return nb, na

    def _record(self, cert: x509.Certificate, key: PrivateKey) -> Leaf:
        self._table.add(cert)
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
        crl_url: str | Sequence[str] | None = None,
        no_rev_avail: bool = False,
        lifetime: timedelta | None = None,
        freshest_crl_url: str | None = None,
    ) -> Leaf:
        """Issue a TLS server/client leaf certificate.

        :param crl_url: crlDistributionPoints URI(s); ``None`` uses :attr:`crl_url`, ``()``
            or ``""`` omits the extension (``ocsp_url=""`` too: the Let's Encrypt shape).
        :param no_rev_avail: add the RFC 9608 noRevAvail extension.
        :param freshest_crl_url: a freshestCRL URI (where the delta CRLs are).
        :param lifetime: notAfter - notBefore (e.g. ``timedelta(days=6)`` with
            ``ocsp_url=""`` and ``crl_url=""``: a short-lived certificate); ``not_after`` wins.

        :param sans: DNS names and IP addresses for the subjectAltName.
        :param ocsp_url: AIA OCSP URL; ``None`` uses :attr:`ocsp_url`, ``""`` omits it.
        :param must_staple: add the TLS Feature extension with status_request (RFC 7633).
        :param key_type: the leaf's key type (default: the CA's).
        """
        key = generate_key(key_type or self.key_type)
        nb, na = self._validity(not_before, not_after, 90)
        if lifetime is not None and not_after is None:
            na = nb + lifetime
        crls = self.crl_url if crl_url is None else crl_url
        urls = tuple(u for u in ((crls,) if isinstance(crls, str) else crls or ()) if u)
        cert = tls_leaf_certificate(
            key,
            subject_name(common_name, self.name),
            self.issuer,
            self.issuer_key,
            nb,
            na,
            sans=sans,
            ocsp_url=self.ocsp_url if ocsp_url is None else ocsp_url,
            ca_issuers_url=ca_issuers_url,
            must_staple=must_staple,
            crl_urls=urls,
            no_rev_avail=no_rev_avail,
            freshest_crl_urls=(freshest_crl_url,) if freshest_crl_url else (),
        )
        return self._record(cert, key)

    def issue_crl_signer(self, *, crl_sign: bool = True, common_name: str | None = None) -> Leaf:
        """Issue a dedicated CRL signer under the intermediate (keyUsage cRLSign unless
        ``crl_sign=False``). Its subject is the intermediate's own name by default, so it can
        sign the intermediate's direct CRLs with another key."""
        key = generate_key(self.key_type)
        nb, na = self._validity(None, None, 30)
        subject = subject_name(common_name, self.name) if common_name else self.issuer.subject
        cert = crl_signer_certificate(
            key, subject, self.issuer, self.issuer_key, nb, na, crl_sign=crl_sign
        )
        return self._record(cert, key)

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
        nb, na = self._validity(not_before, not_after, 30)
        cn = common_name or f"{self.name} OCSP Responder"
        cert = responder_certificate(
            key,
            subject_name(cn, self.name),
            self.issuer,
            self.issuer_key,
            nb,
            na,
            eku=eku,
            nocheck=nocheck,
        )
        return self._record(cert, key)

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
        when = aware(at).replace(microsecond=0) if at is not None else utcnow()
        self._table.revoke(_serial_of(cert), when, reason)

    def unrevoke(self, cert: x509.Certificate | Leaf | int) -> None:
        """Mark a revoked certificate good again (as after removeFromCRL of a hold)."""
        self._table.unrevoke(_serial_of(cert))

    def status_of(
        self, cert_or_serial: x509.Certificate | Leaf | int
    ) -> tuple[CertStatus, datetime | None, RevocationReason | None]:
        """``(status, revocation_time, reason)``; UNKNOWN for a serial this CA never issued."""
        return self._table.lookup(_serial_of(cert_or_serial))

    @property
    def status_table(self) -> StatusTable:
        """The live status table (what :meth:`sign_response` and :meth:`sign_crl` read)."""
        return self._table

    @property
    def issued(self) -> tuple[x509.Certificate, ...]:
        """Every certificate the intermediate issued (leaves and responders), oldest first."""
        return self._table.certificates()

    def index_lines(self) -> list[str]:
        """The OpenSSL ``index.txt`` lines for everything issued (see :meth:`write_index`)."""
        return self._table.index_lines()

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
        produced = aware(now).replace(microsecond=0) if now is not None else utcnow()
        tu = aware(this_update).replace(microsecond=0) if this_update is not None else produced
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
            signature_hash=None if signature_hash(key) is None else "sha256",
        )

    # -- signing CRLs ------------------------------------------------------------------------

    def sign_crl(
        self,
        *,
        now: datetime | None = None,
        validity: timedelta = timedelta(days=1),
        crl_number: int | None = None,
        idp_url: str | None = None,
        delta_base: int | None = None,
        since: datetime | None = None,
        entries: Iterable[CRLEntrySpec] | None = None,
        signer: Leaf | None = None,
        **options: object,
    ) -> x509.CertificateRevocationList:
        """A signed CRL of the intermediate from the live status table (DER:
        ``crl.public_bytes(Encoding.DER)``); see :mod:`ocspkit.testing.crls`.

        :param now: thisUpdate (default: the current time); nextUpdate is ``now + validity``.
        :param crl_number: default: the next of this CA's CRL numbers (:attr:`crl_numbers`,
            shared by complete and delta CRLs; an explicit number moves the sequence on).
        :param idp_url: make a partition: a critical issuingDistributionPoint naming this URL,
            listing only the revoked certificates whose distribution point names it.
        :param delta_base: make a delta CRL on this base CRL number.
        :param since: list only revocations at or after this time (a delta's entries).
        :param entries: list these instead of the table's revocations.
        :param signer: a CRL signer (:meth:`issue_crl_signer`) signs instead of the
            intermediate; the issuer name stays the signer's subject.
        :param options: passed to :func:`ocspkit.testing.profiles.build_crl` (``only_user``,
            ``only_ca``, ``indirect``, ``only_some_reasons``, ``extensions``).
        """
        return sign_crl(
            self._table,
            self.crl_numbers,
            self.issuer,
            self.issuer_key,
            now=now,
            validity=validity,
            crl_number=crl_number,
            idp_url=idp_url,
            delta_base=delta_base,
            since=since,
            entries=entries,
            signer=signer,
            **options,
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
