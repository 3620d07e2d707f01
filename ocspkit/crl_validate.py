"""validate_crl: every check of RFC 5280 §6.3 that applies to one CRL, plus policy.

Owns the verdict on a CRL by itself: who signed it (the issuer, or a CRL signer issued by
the issuer with cRLSign), the signature, the structural rules of RFC 5280 §5 that
cryptography's decoder leaves unchecked, critical extensions, the time window, and the scope
against the URL it was fetched from. Every fact comes from the CRL's DER (through
:func:`ocspkit.crl.crl_facts`), never from a model's fields. Whether a given certificate is in
the CRL's scope is :mod:`ocspkit.crl_check`. Pure: the time is an argument; it must never do
I/O. The first failure raises its own :class:`~ocspkit.CRLValidationError` subclass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509

from ._cache import BoundedCache
from ._guard import typed_errors
from ._sigalgs import verify_signature
from ._time import after, fmt, utc
from .certs import (
    describe,
    extension,
    parts_of,
    public_key,
    unknown_critical_extension,
)
from .crl import OID_CRL_NUMBER, OID_DELTA_CRL_INDICATOR, OID_IDP, CRLFacts, crl_der, crl_facts
from .crlmodels import CRL
from .errors import (
    CRLCriticalExtensionError,
    CRLExpiredError,
    CRLIssuerMismatchError,
    CRLNotYetValidError,
    CRLScopeError,
    CRLSignatureError,
    CRLSignerError,
    CRLStaleError,
    DeltaCRLError,
    MalformedCRLError,
    SignatureError,
)
from .issuers import algorithm_identifier, issued_by_problem
from .policy import ValidationPolicy

__all__ = ["validate_crl"]

_DEFAULT_POLICY = ValidationPolicy()
OID_KEY_USAGE = "2.5.29.15"
#: CRL extensions ocspkit understands (a critical one outside the set refuses the CRL).
KNOWN_CRL_EXTENSIONS = frozenset(
    {
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.18",  # issuerAltName
        OID_CRL_NUMBER,
        OID_DELTA_CRL_INDICATOR,
        OID_IDP,
        "2.5.29.46",  # freshestCRL
        "2.5.29.60",  # expiredCertsOnCRL (X.509)
        "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
    }
)


def name_is(name_der: bytes, name: x509.Name | None, other_der: bytes, other: object) -> bool:
    """Two names are the same: the same encoding, or equal decoded names (cryptography's
    comparison) when the encodings differ; never raises."""
    if name_der == other_der:
        return True
    try:
        return name is not None and bool(name == other)
    except Exception:  # a name cryptography cannot compare matches nothing
        return False


def _subject_is_crl_issuer(cert: x509.Certificate, crl: CRL) -> bool:
    try:
        subject: object = cert.subject
    except Exception:  # an undecodable subject can still match by its encoding
        subject = None
    return name_is(crl.issuer_der, crl.issuer, parts_of(cert).subject_der, subject)


def crl_sign_bit(cert: x509.Certificate) -> bool | None:
    """Whether keyUsage asserts cRLSign (bit 6); None when the certificate has no keyUsage."""
    ext = extension(cert, OID_KEY_USAGE)
    if ext is None:
        return None
    value = ext[1]
    # BIT STRING: 03 len unused bits...; cRLSign is bit 6 of the first octet (0x02)
    return len(value) >= 4 and value[0] == 0x03 and bool(value[3] & 0x02)


#: (CRL DER, signer certificate DER, SHA-1 allowed) of each signature that verified: a batch
#: checking thousands of certificates against one CRL hashes its megabytes once, not once per
#: certificate. Only successes are kept; the key holds the DER object the CRL facts hold.
_verified = BoundedCache[tuple[bytes, bytes, bool], bool]("crl_validate.verified", 16)


def _verify(facts: CRLFacts, cert: x509.Certificate, policy: ValidationPolicy) -> None:
    allow_sha1 = policy.allow_sha1_signatures
    key = (facts.crl.der, parts_of(cert).der, allow_sha1)
    if _verified.get(key):
        return
    oid, params = algorithm_identifier(facts.outer_algorithm)
    verify_signature(
        public_key(cert), oid, params, facts.signature, facts.tbs, allow_sha1=allow_sha1
    )
    _verified.put(key, True)


def _signer_problem(
    cand: x509.Certificate, issuer: x509.Certificate, policy: ValidationPolicy, now: datetime
) -> str:
    if cand is issuer or parts_of(cand).der == parts_of(issuer).der:
        if crl_sign_bit(issuer) is False:
            return f"the issuer {describe(issuer)} has a keyUsage without cRLSign"
        return ""
    who = f"CRL signer {describe(cand)}"
    if problem := issued_by_problem(cand, issuer, allow_sha1=policy.allow_sha1_signatures):
        return f"{who} is not issued by the issuer: {problem}"
    if not crl_sign_bit(cand):
        return f"{who} lacks the cRLSign key usage"
    if (unknown := unknown_critical_extension(cand)) is not None:
        return f"{who} has an unknown critical extension ({unknown})"
    skew = policy.clock_skew
    nb, na = cand.not_valid_before_utc, cand.not_valid_after_utc
    if after(nb, now, skew) or after(now, na, skew):
        return f"{who} is outside its validity ({fmt(nb)} to {fmt(na)})"
    return ""


def find_crl_signer(
    facts: CRLFacts,
    issuer: x509.Certificate,
    policy: ValidationPolicy,
    extra_certs: Sequence[x509.Certificate],
    now: datetime,
) -> x509.Certificate:
    """The certificate whose key signed the CRL and may sign it (RFC 5280 §6.3.3 (f), (g))."""
    crl = facts.crl
    candidates = [c for c in (issuer, *extra_certs) if _subject_is_crl_issuer(c, crl)]
    if not candidates:
        raise CRLIssuerMismatchError(
            f"the CRL's issuer is not {describe(issuer)} nor an authorised CRL signer"
        )
    failure: SignatureError | None = None
    for cand in candidates:
        try:
            _verify(facts, cand, policy)
        except SignatureError as exc:  # WeakAlgorithmError is not one: it propagates
            failure = failure or exc
            continue
        problem = _signer_problem(cand, issuer, policy, now)
        if problem:
            raise CRLSignerError(problem)
        return cand
    raise CRLSignatureError(f"the CRL's signature does not verify: {failure}")


def check_structure(facts: CRLFacts) -> None:
    """The structural rules of RFC 5280 §5 (signed content that no valid CRL has)."""
    crl, index = facts.crl, facts.index
    if index.problems:
        raise MalformedCRLError(index.problems[0])
    if crl.issuer_der == b"\x30\x00":
        raise MalformedCRLError("an empty issuer name (RFC 5280 §5.1.2.3)")
    if crl.version not in (1, 2):
        raise MalformedCRLError(f"CRL version {crl.version} (only v1 and v2 exist)")
    if crl.version == 1 and (crl.extensions or index.entry_extensions):
        raise MalformedCRLError("a v1 CRL carries extensions (RFC 5280 §5.1.2.1)")
    if facts.inner_algorithm != facts.outer_algorithm:
        raise MalformedCRLError("the inner and outer signature algorithms differ")
    if crl.next_update is not None and crl.next_update < crl.this_update:
        raise MalformedCRLError(
            f"nextUpdate {fmt(crl.next_update)} precedes thisUpdate {fmt(crl.this_update)}"
        )
    by_oid = {e.oid: e for e in crl.extensions}
    number = by_oid.get(OID_CRL_NUMBER)
    if number is not None and (number.critical or (crl.crl_number or 0) < 0):
        raise MalformedCRLError("cRLNumber must be non-critical and non-negative")
    delta = by_oid.get(OID_DELTA_CRL_INDICATOR)
    if delta is not None:
        if not delta.critical:
            raise MalformedCRLError("deltaCRLIndicator must be critical (RFC 5280 §5.2.4)")
        if crl.crl_number is None:
            raise DeltaCRLError("a delta CRL without a cRLNumber")
    elif index.remove_from_crl:
        raise MalformedCRLError("removeFromCRL in a complete CRL (only deltas may carry it)")
    idp = crl.issuing_distribution_point
    if idp is not None:
        if not by_oid[OID_IDP].critical:
            raise MalformedCRLError("issuingDistributionPoint must be critical (§5.2.5)")
        if idp.der == b"\x30\x00":
            raise MalformedCRLError("an empty issuingDistributionPoint (§5.2.5)")
        flags = (
            idp.only_contains_user_certs,
            idp.only_contains_ca_certs,
            idp.only_contains_attribute_certs,
        )
        if sum(flags) > 1:
            raise MalformedCRLError("issuingDistributionPoint asserts more than one 'only'")
    if index.certificate_issuers and (idp is None or not idp.indirect_crl):
        raise MalformedCRLError("certificateIssuer entries in a CRL that is not indirect")


def check_extensions(facts: CRLFacts) -> None:
    """No critical CRL or entry extension ocspkit does not understand (§5.2, §5.3)."""
    for ext in facts.crl.extensions:
        if ext.critical and ext.oid not in KNOWN_CRL_EXTENSIONS:
            raise CRLCriticalExtensionError(f"unknown critical CRL extension {ext.oid}")
    if facts.index.unknown_critical is not None:
        raise CRLCriticalExtensionError(
            f"unknown critical CRL entry extension {facts.index.unknown_critical}"
        )


def check_times(crl: CRL, policy: ValidationPolicy, now: datetime) -> None:
    """thisUpdate and nextUpdate against ``now``, with the policy's skew and max ages."""
    skew = policy.clock_skew
    tu, nu = crl.this_update, crl.next_update
    if after(tu, now, skew):
        raise CRLNotYetValidError(f"thisUpdate {fmt(tu)} is in the future (now {fmt(now)})")
    if nu is not None:
        if after(now, nu, skew):
            raise CRLExpiredError(f"the CRL expired at nextUpdate {fmt(nu)}")
    elif after(now, tu, policy.max_age_without_next_update + skew):
        raise CRLExpiredError(
            f"no nextUpdate and thisUpdate {fmt(tu)} is older than "
            f"{policy.max_age_without_next_update}"
        )
    if policy.max_age is not None and after(now, tu, policy.max_age + skew):
        raise CRLStaleError(f"thisUpdate {fmt(tu)} is older than {policy.max_age}")


def same_url(a: str, b: str) -> bool:
    """Two URLs name the same resource: scheme and host compare case-insensitively, the
    default port may be omitted, the rest compares exactly."""
    if a == b:
        return True
    try:
        pa, pb = urlsplit(a), urlsplit(b)
        ports = {"http": 80, "https": 443, "ldap": 389}
        porta = pa.port or ports.get(pa.scheme.lower())
        portb = pb.port or ports.get(pb.scheme.lower())
    except ValueError:
        return False
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "") == (pb.hostname or "")
        and porta == portb
        and (pa.path or "/") == (pb.path or "/")
        and pa.query == pb.query
    )


def check_url(crl: CRL, url: str | None) -> None:
    """A partition must name the URL it was fetched from (CA/B Forum SC-058)."""
    idp = crl.issuing_distribution_point
    if url is None or idp is None or not idp.has_distribution_point:
        return
    if not any(same_url(url, name) for name in idp.full_names):
        names = ", ".join(idp.full_names) or "no URL"
        raise CRLScopeError(
            f"the CRL's issuing distribution point names {names}, not {url}: "
            "a partition served in place of another"
        )


@typed_errors(MalformedCRLError, "validate_crl")
def validate_crl(
    crl: CRL | bytes | str | os.PathLike[str],
    issuer: x509.Certificate,
    *,
    now: datetime | None = None,
    url: str | None = None,
    policy: ValidationPolicy | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> CRL:
    """Validate ``crl`` (a :class:`CRL`, or what :func:`~ocspkit.parse_crl` reads: DER or PEM
    bytes, PEM text, a file path) as published by ``issuer``.

    Checks, in order: the signer (the issuer, or a certificate of ``extra_certs`` whose
    subject is the CRL's issuer, issued by ``issuer`` with cRLSign and valid at ``now``) and
    the signature; the issuer's keyUsage permits cRLSign; the structural rules of RFC 5280 §5;
    unknown critical CRL and entry extensions; thisUpdate/nextUpdate against ``now``
    (``policy.clock_skew``; without nextUpdate ``policy.max_age_without_next_update``;
    ``policy.max_age``); and, when ``url`` is given, that an issuing distribution point names
    it. A CRL signed under another name than the issuer's must be indirect.

    Returns the CRL as decoded from its DER. Raises a :class:`~ocspkit.CRLValidationError`
    subclass (or :class:`~ocspkit.WeakAlgorithmError`, or :class:`~ocspkit.DecodeError` for
    bytes that are no CRL).
    """
    der = crl.der if isinstance(crl, CRL) else crl_der(crl)
    facts = crl_facts(der)
    decoded = facts.crl
    policy = policy or _DEFAULT_POLICY
    at = utc(now)
    signer = find_crl_signer(facts, issuer, policy, extra_certs, at)
    idp = decoded.issuing_distribution_point
    if signer is not issuer and not _subject_is_crl_issuer(issuer, decoded):
        if idp is None or not idp.indirect_crl:
            raise CRLIssuerMismatchError(
                f"the CRL is signed under the name of {describe(signer)}, not the issuer's, "
                "and is not an indirect CRL"
            )
    check_structure(facts)
    check_extensions(facts)
    check_times(decoded, policy, at)
    check_url(decoded, url)
    return decoded
