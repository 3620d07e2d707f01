"""Certificate profiles of the test PKI: which extensions each kind of certificate carries.

This module owns the one certificate builder of the toolkit, :func:`build_certificate`, and the
profiles the test CA issues with it: a root, an intermediate, a TLS leaf and a delegated OCSP
responder (RFC 5280 and RFC 6960 §4.2.2.2), the CRL profile (crlDistributionPoints and
noRevAvail in leaves, a dedicated CRL signer) and the one CRL builder, :func:`build_crl`
(complete, partitioned, delta and indirect CRLs, RFC 5280 §5). It must never keep state (serials,
revocations: that is :mod:`ocspkit.testing.status`), choose a validity from the clock (callers
pass both ends), or import the core: it only turns arguments into signed certificates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .keys import PrivateKey, general_names, signature_hash

__all__ = [
    "CRLEntrySpec",
    "build_certificate",
    "build_crl",
    "ca_key_usage",
    "crl_signer_certificate",
    "end_entity_key_usage",
    "intermediate_certificate",
    "responder_certificate",
    "root_certificate",
    "tls_leaf_certificate",
]


def ca_key_usage() -> x509.KeyUsage:
    """keyCertSign + cRLSign + digitalSignature: a CA that signs certificates, CRLs and OCSP."""
    return _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)


def end_entity_key_usage(*, key_encipherment: bool = False) -> x509.KeyUsage:
    """digitalSignature (plus keyEncipherment, for RSA TLS keys)."""
    return _key_usage(digital_signature=True, key_encipherment=key_encipherment)


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def build_certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    signing_key: PrivateKey,
    *,
    issuer: x509.Certificate | x509.Name | None = None,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
    ca: bool = False,
    path_length: int | None = None,
    key_usage: x509.KeyUsage | None = None,
    extended_key_usage: Sequence[x509.ObjectIdentifier] = (),
    ocsp_nocheck: bool = False,
    sans: Sequence[str] = (),
    ocsp_url: str | None = None,
    ca_issuers_url: str | None = None,
    must_staple: bool = False,
    key_identifiers: bool = True,
    crl_urls: Sequence[str] = (),
    crl_issuer: x509.Name | None = None,
    crl_reasons: frozenset[x509.ReasonFlags] | None = None,
    crl_points: Sequence[x509.DistributionPoint] = (),
    no_rev_avail: bool = False,
    freshest_crl_urls: Sequence[str] = (),
) -> x509.Certificate:
    """Build and sign one certificate.

    :param issuer: the issuing certificate (its subject becomes the issuer name and its SKI the
        AKI), a bare issuer name (no AKI), or ``None`` for a self-signed certificate.
    :param signing_key: the issuer's key (the subject's own key when self-signed or forged).
    :param serial: default: a random 159-bit serial.
    :param ca: basicConstraints cA (always present, critical).
    :param ocsp_nocheck: add id-pkix-ocsp-nocheck.
    :param sans: DNS names and IP addresses for the subjectAltName.
    :param ocsp_url: AIA OCSP URL (none when empty or ``None``).
    :param must_staple: add the TLS Feature extension with status_request (RFC 7633).
    :param key_identifiers: add subjectKeyIdentifier and, for a certificate issuer,
        authorityKeyIdentifier.
    :param crl_urls: crlDistributionPoints: one distribution point with these fullName URIs.
    :param crl_issuer: the cRLIssuer of that distribution point (an indirect CRL's issuer).
    :param crl_reasons: the reasons of that distribution point (its CRLs cover only these).
    :param crl_points: more distribution points, after that one, as given.
    :param no_rev_avail: add the RFC 9608 noRevAvail extension (2.5.29.56, non-critical).
    :param freshest_crl_urls: freshestCRL (where the delta CRLs are): one distribution point
        with these fullName URIs.
    """
    if issuer is None:
        issuer_name = subject
    elif isinstance(issuer, x509.Certificate):
        issuer_name = issuer.subject
    else:
        issuer_name = issuer
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if key_identifiers:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
        if isinstance(issuer, x509.Certificate):
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
        )
    if ocsp_nocheck:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names(sans)), critical=False
        )
    access: list[x509.AccessDescription] = []
    if ocsp_url:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    if ca_issuers_url:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            )
        )
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if must_staple:
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
        )
    points = list(crl_points)
    if crl_urls:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(u) for u in crl_urls],
            relative_name=None,
            reasons=crl_reasons,
            crl_issuer=[x509.DirectoryName(crl_issuer)] if crl_issuer is not None else None,
        )
        points.insert(0, point)
    if points:
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    if freshest_crl_urls:
        names = [x509.UniformResourceIdentifier(u) for u in freshest_crl_urls]
        freshest = x509.FreshestCRL([x509.DistributionPoint(names, None, None, None)])
        builder = builder.add_extension(freshest, critical=False)
    if no_rev_avail:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(OID_NO_REV_AVAIL), b"\x05\x00"),
            critical=False,
        )
    return builder.sign(signing_key, signature_hash(signing_key))


OID_NO_REV_AVAIL = "2.5.29.56"


def root_certificate(
    key: PrivateKey, subject: x509.Name, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed root CA (no path length limit)."""
    return build_certificate(
        subject,
        key.public_key(),
        key,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        key_usage=ca_key_usage(),
    )


def intermediate_certificate(
    key: PrivateKey,
    subject: x509.Name,
    root: x509.Certificate,
    root_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """An intermediate CA under ``root`` that issues end entities only (pathLen 0)."""
    return build_certificate(
        subject,
        key.public_key(),
        root_key,
        issuer=root,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        path_length=0,
        key_usage=ca_key_usage(),
    )


def tls_leaf_certificate(
    key: PrivateKey,
    subject: x509.Name,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    *,
    sans: Sequence[str] = (),
    ocsp_url: str | None = None,
    ca_issuers_url: str | None = None,
    must_staple: bool = False,
    crl_urls: Sequence[str] = (),
    crl_issuer: x509.Name | None = None,
    crl_reasons: frozenset[x509.ReasonFlags] | None = None,
    crl_points: Sequence[x509.DistributionPoint] = (),
    no_rev_avail: bool = False,
    freshest_crl_urls: Sequence[str] = (),
) -> x509.Certificate:
    """A TLS server/client certificate (serverAuth + clientAuth)."""
    return build_certificate(
        subject,
        key.public_key(),
        issuer_key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        key_usage=end_entity_key_usage(key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
        extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        sans=sans,
        ocsp_url=ocsp_url,
        ca_issuers_url=ca_issuers_url,
        must_staple=must_staple,
        crl_urls=crl_urls,
        crl_issuer=crl_issuer,
        crl_reasons=crl_reasons,
        crl_points=crl_points,
        no_rev_avail=no_rev_avail,
        freshest_crl_urls=freshest_crl_urls,
    )


def responder_certificate(
    key: PrivateKey,
    subject: x509.Name,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    *,
    eku: bool = True,
    nocheck: bool = True,
) -> x509.Certificate:
    """A delegated OCSP responder certificate (RFC 6960 §4.2.2.2).

    :param eku: include id-kp-OCSPSigning (without it the certificate is *not* authorised).
    :param nocheck: include id-pkix-ocsp-nocheck.
    """
    return build_certificate(
        subject,
        key.public_key(),
        issuer_key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        key_usage=end_entity_key_usage(),
        extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,) if eku else (),
        ocsp_nocheck=nocheck,
    )


def crl_signer_certificate(
    key: PrivateKey,
    subject: x509.Name,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    *,
    crl_sign: bool = True,
) -> x509.Certificate:
    """A dedicated CRL signer issued by ``issuer`` (keyUsage cRLSign; without it the
    certificate is *not* authorised to sign CRLs)."""
    return build_certificate(
        subject,
        key.public_key(),
        issuer_key,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        key_usage=_key_usage(digital_signature=not crl_sign, crl_sign=crl_sign),
    )


@dataclass(frozen=True)
class CRLEntrySpec:
    """One revokedCertificates entry for :func:`build_crl`.

    :ivar certificate_issuer: for an indirect CRL, the name the entry (and the entries after
        it) are about.
    """

    serial: int
    time: datetime
    reason: x509.ReasonFlags | None = None
    certificate_issuer: x509.Name | None = None


def build_crl(
    issuer_name: x509.Name,
    signing_key: PrivateKey,
    entries: Iterable[CRLEntrySpec],
    *,
    this_update: datetime,
    next_update: datetime,
    crl_number: int | None = None,
    delta_base: int | None = None,
    idp_urls: Sequence[str] = (),
    only_user: bool = False,
    only_ca: bool = False,
    indirect: bool = False,
    only_some_reasons: frozenset[x509.ReasonFlags] | None = None,
    aki_from: x509.Certificate | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.CertificateRevocationList:
    """Build and sign one CRL (v2).

    :param delta_base: make a delta CRL on this BaseCRLNumber (deltaCRLIndicator, critical).
    :param idp_urls: issuingDistributionPoint fullName URIs (the extension is added, critical,
        when any of ``idp_urls``, ``only_user``, ``only_ca``, ``indirect`` or
        ``only_some_reasons`` is set).
    :param aki_from: add an authorityKeyIdentifier from this certificate's key.
    :param extensions: more CRL extensions, each with its criticality.
    """
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name)
        .last_update(this_update)
        .next_update(next_update)
    )
    for spec in entries:
        rb = x509.RevokedCertificateBuilder().serial_number(spec.serial).revocation_date(spec.time)
        if spec.reason is not None:
            rb = rb.add_extension(x509.CRLReason(spec.reason), critical=False)
        if spec.certificate_issuer is not None:
            rb = rb.add_extension(
                x509.CertificateIssuer([x509.DirectoryName(spec.certificate_issuer)]),
                critical=True,
            )
        builder = builder.add_revoked_certificate(rb.build())
    if crl_number is not None:
        builder = builder.add_extension(x509.CRLNumber(crl_number), critical=False)
    if delta_base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    if idp_urls or only_user or only_ca or indirect or only_some_reasons:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(u) for u in idp_urls] or None,
            relative_name=None,
            only_contains_user_certs=only_user,
            only_contains_ca_certs=only_ca,
            only_some_reasons=only_some_reasons,
            indirect_crl=indirect,
            only_contains_attribute_certs=False,
        )
        builder = builder.add_extension(idp, critical=True)
    if aki_from is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_from.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(signing_key, signature_hash(signing_key))
