"""Certificate profiles of the test PKI: which extensions each kind of certificate carries.

This module owns the one certificate builder of the toolkit, :func:`build_certificate`, and the
profiles the test CA issues with it: a root, an intermediate, a TLS leaf and a delegated OCSP
responder (RFC 5280 and RFC 6960 §4.2.2.2). A future CRL profile (crlDistributionPoints in
leaves, a CRL-signing certificate) belongs here too. It must never keep state (serials,
revocations: that is :mod:`ocspkit.testing.status`), choose a validity from the clock (callers
pass both ends), or import the core: it only turns arguments into signed certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .keys import PrivateKey, general_names, signature_hash

__all__ = [
    "build_certificate",
    "ca_key_usage",
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
    return builder.sign(signing_key, signature_hash(signing_key))


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
