"""validate_response: every check of RFC 6960 §3.2, plus policy.

Pure: the time is an argument (``now``; the current time only when the caller omits it).
Order of checks: responseStatus, CertID match, signer authority, signature, time window,
nonce, critical extensions. The first failure raises its own ValidationError subclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import _asn1
from ._der import tbs_issuer_der
from ._facts import Facts, facts_of, new_result
from ._sigalgs import OID_RSASSA_PSS, verify_certificate_signature, verify_signature
from .certs import CERT_DECODE_ERRORS
from .errors import (
    CriticalExtensionError,
    ExpiredResponseError,
    IssuerMismatchError,
    NoMatchingResponseError,
    NonceMismatchError,
    NonceMissingError,
    NotYetValidError,
    ProducedAtError,
    ResponderError,
    SignatureError,
    SignerNotFoundError,
    StaleResponseError,
    UnauthorizedResponderError,
    ValidationError,
    WeakAlgorithmError,
)
from .models import (
    OID_ARCHIVE_CUTOFF,
    OID_CRL_ID,
    OID_EXTENDED_REVOKE,
    OID_NONCE,
    CertStatus,
    Extension,
    OCSPRequest,
    OCSPResponse,
    ResponseStatus,
    SingleResponse,
    ValidationResult,
    issuer_parts,
    remember,
    responder_matches,
)
from .policy import NonceRule, ValidationPolicy
from .response import parse_response

__all__ = ["validate_response"]

_DEFAULT_POLICY = ValidationPolicy()
_STRICTNESS = {CertStatus.GOOD: 0, CertStatus.UNKNOWN: 1, CertStatus.REVOKED: 2}
_UNDERSTOOD_RESPONSE_EXTS = frozenset({OID_NONCE, OID_EXTENDED_REVOKE})
_UNDERSTOOD_SINGLE_EXTS = frozenset({OID_ARCHIVE_CUTOFF, OID_CRL_ID})


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _select(
    singles: tuple[SingleResponse, ...], cert: x509.Certificate, issuer: x509.Certificate
) -> tuple[SingleResponse, list[SingleResponse]]:
    """(the SingleResponse to use, all that match the certificate's full CertID)."""
    if len(singles) == 1:
        only = singles[0]
        matches = [only] if only.cert_id.matches(cert, issuer) else []
    else:
        matches = [s for s in singles if s.cert_id.matches(cert, issuer)]
    if not matches:
        raise NoMatchingResponseError(
            f"no SingleResponse matches serial {cert.serial_number:x} under this issuer "
            f"({len(singles)} in the response)"
        )
    first = matches[0]
    if len(matches) == 1:
        return first, matches
    # Several answers for the same certificate: the strictest signed status wins (REVOKED over
    # UNKNOWN over GOOD), as browsers do; among equals, the newest thisUpdate.
    return max(matches, key=lambda s: (_STRICTNESS[s.status], s.this_update)), matches


def _who(cert: x509.Certificate) -> str:
    try:
        return f"responder certificate {cert.subject.rfc4514_string()!r}"
    except ValueError:
        return "a responder certificate with an undecodable subject"


def _issuer_name_matches(
    cert: x509.Certificate, issuer: x509.Certificate, tbs: bytes | None = None
) -> bool:
    """cert's issuer name equals issuer's subject: exact DER first, then semantic comparison."""
    if tbs_issuer_der(tbs or cert.tbs_certificate_bytes) == issuer_parts(issuer)[0]:
        return True
    return bool(cert.issuer == issuer.subject)


def _check_validity(cert: x509.Certificate, at: datetime, skew_s: float, when: str) -> None:
    nb = cert.not_valid_before_utc
    na = cert.not_valid_after_utc
    if (nb - at).total_seconds() > skew_s:
        raise UnauthorizedResponderError(f"{_who(cert)}{when} is not valid until {_fmt(nb)}")
    if (at - na).total_seconds() > skew_s:
        raise UnauthorizedResponderError(f"{_who(cert)}{when} expired at {_fmt(na)}")


def _find_signer(
    facts: Facts,
    issuer: x509.Certificate,
    policy: ValidationPolicy,
    extra_certs: Sequence[x509.Certificate],
    now: datetime,
    skew_s: float,
) -> tuple[x509.Certificate, CertificatePublicKeyTypes, bool]:
    """(signer certificate, delegated?) per RFC 6960 §4.2.2.2; raise if none is authorised."""
    key_hash, name_der = facts.responder_key_hash, facts.responder_name_der
    name = facts.responder_name
    if responder_matches(key_hash, name_der, name, issuer):
        return issuer, issuer.public_key(), False
    for trusted in policy.trusted_responders:
        if responder_matches(key_hash, name_der, name, trusted):
            _check_validity(trusted, now, skew_s, " (locally trusted)")
            return trusted, trusted.public_key(), False
    problem: ValidationError | None = None
    for cand in (*facts.certificates, *extra_certs):
        if not responder_matches(key_hash, name_der, name, cand):
            continue
        try:
            key = _check_delegate(cand, issuer, facts.produced_at, policy, now, skew_s)
        except (UnauthorizedResponderError, WeakAlgorithmError) as exc:
            problem = problem or exc  # a decoy placed first must not hide a valid delegate
            continue
        except CERT_DECODE_ERRORS:  # lazily decoded, malformed
            problem = problem or UnauthorizedResponderError(
                f"{_who(cand)} is malformed and cannot be checked"
            )
            continue
        return cand, key, True
    if problem is not None:
        raise problem
    raise SignerNotFoundError(
        "the ResponderID names neither the issuer nor an authorised responder certificate"
    )


# Outcome of the time-independent checks of a delegated responder certificate (issuer name,
# issuer's signature, id-kp-OCSPSigning), keyed by the certificate (compared by DER) and
# holding the issuer object it was checked against. A hit saves a signature verification.
_delegate_cache: dict[
    x509.Certificate, tuple[x509.Certificate, bool, str | None, CertificatePublicKeyTypes]
] = {}


def _delegate_problem(
    cand: x509.Certificate, issuer: x509.Certificate, allow_sha1: bool
) -> str | None:
    tbs = cand.tbs_certificate_bytes  # re-encoded by cryptography at each read: read once
    if not _issuer_name_matches(cand, issuer, tbs):
        return f"{_who(cand)} is not issued by the issuer (its issuer name differs)"
    try:
        verify_certificate_signature(cand, issuer.public_key(), allow_sha1=allow_sha1, tbs=tbs)
    except SignatureError:
        return f"{_who(cand)} is not issued directly by the issuer (its signature does not verify)"
    ocsp_signing = False
    unknown_critical = None
    for ext in cand.extensions:  # one pass: id-kp-OCSPSigning, then unknown critical ones
        value = ext.value
        if isinstance(value, x509.ExtendedKeyUsage):
            ocsp_signing = ExtendedKeyUsageOID.OCSP_SIGNING in value
        elif ext.critical and isinstance(value, x509.UnrecognizedExtension):
            unknown_critical = unknown_critical or ext.oid.dotted_string
    if not ocsp_signing:
        return f"{_who(cand)} lacks the id-kp-OCSPSigning extended key usage"
    if unknown_critical is not None:
        return f"{_who(cand)} has an unknown critical extension {unknown_critical}"
    return None


def _check_delegate(
    cand: x509.Certificate,
    issuer: x509.Certificate,
    produced_at: datetime | None,
    policy: ValidationPolicy,
    now: datetime,
    skew_s: float,
) -> CertificatePublicKeyTypes:
    """Check a delegated responder certificate; return its (possibly cached) public key."""
    allow_sha1 = policy.allow_sha1_signatures
    hit = _delegate_cache.get(cand)
    if hit is not None and hit[0] is issuer and hit[1] == allow_sha1:
        problem, key = hit[2], hit[3]
    else:
        problem = _delegate_problem(cand, issuer, allow_sha1)  # may raise WeakAlgorithmError
        key = cand.public_key()
        remember(_delegate_cache, cand, (issuer, allow_sha1, problem, key))
    if problem is not None:
        raise UnauthorizedResponderError(problem)
    if policy.check_responder_validity:
        _check_validity(cand, now, skew_s, "")
        if produced_at is not None:
            _check_validity(cand, produced_at, skew_s, " (at producedAt)")
    return key


def _check_times(
    single: SingleResponse, pa: datetime | None, policy: ValidationPolicy, now: datetime
) -> None:
    skew = policy.clock_skew
    tu, nu = single.this_update, single.next_update
    if tu > now + skew:
        raise NotYetValidError(f"thisUpdate {_fmt(tu)} is in the future (now {_fmt(now)})")
    if nu is not None:
        if nu < tu:
            raise ExpiredResponseError(f"nextUpdate {_fmt(nu)} precedes thisUpdate {_fmt(tu)}")
        if nu < now - skew:
            raise ExpiredResponseError(f"the response expired at nextUpdate {_fmt(nu)}")
    elif now - tu > policy.max_age_without_next_update + skew:
        raise StaleResponseError(
            f"no nextUpdate and thisUpdate {_fmt(tu)} is older than "
            f"{policy.max_age_without_next_update}"
        )
    if policy.max_age is not None and now - tu > policy.max_age + skew:
        raise StaleResponseError(f"thisUpdate {_fmt(tu)} is older than {policy.max_age}")
    if pa is not None:
        if pa > now + skew:
            raise ProducedAtError(f"producedAt {_fmt(pa)} is in the future (now {_fmt(now)})")
        if tu > pa + skew:
            raise ProducedAtError(f"thisUpdate {_fmt(tu)} is after producedAt {_fmt(pa)}")
        if nu is not None and pa > nu + skew:
            raise ExpiredResponseError(
                f"the response was produced at {_fmt(pa)}, after its nextUpdate {_fmt(nu)}"
            )


def _check_nonce(
    nonce: bytes | None, request: OCSPRequest | None, policy: ValidationPolicy
) -> None:
    if request is None or policy.nonce is NonceRule.IGNORE or request.nonce is None:
        return
    if nonce is None:
        if policy.nonce is NonceRule.REQUIRED:
            raise NonceMissingError("the request had a nonce; the response echoes none")
        return
    if nonce != request.nonce:
        raise NonceMismatchError("the response nonce differs from the request's")


def _check_extensions(extensions: tuple[Extension, ...], singles: list[SingleResponse]) -> None:
    for e in extensions:
        if e.critical and e.oid not in _UNDERSTOOD_RESPONSE_EXTS:
            raise CriticalExtensionError(f"unknown critical response extension {e.oid}")
    for single in singles:
        for e in single.extensions:
            if e.critical and e.oid not in _UNDERSTOOD_SINGLE_EXTS:
                raise CriticalExtensionError(f"unknown critical singleExtension {e.oid}")


# (cert, issuer) pairs whose names were found to chain, by object identity (see models.py).
_chain_cache: dict[tuple[int, int], tuple[x509.Certificate, x509.Certificate]] = {}


def _check_issuer_name(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """The certificate's issuer name must be the issuer's subject (RFC 6960 §4.2.2.2)."""
    key = (id(cert), id(issuer))
    hit = _chain_cache.get(key)
    if hit is not None and hit[0] is cert and hit[1] is issuer:
        return
    try:
        ok = _issuer_name_matches(cert, issuer)
    except CERT_DECODE_ERRORS:
        ok = False
    if not ok:
        raise IssuerMismatchError(
            "the certificate's issuer name is not the given issuer's subject: wrong issuer"
        )
    remember(_chain_cache, key, (cert, issuer))


def validate_response(
    response: OCSPResponse | bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime | None = None,
    request: OCSPRequest | None = None,
    policy: ValidationPolicy | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> ValidationResult:
    """Validate ``response`` for ``cert`` issued by ``issuer``.

    Returns a :class:`~ocspkit.ValidationResult` (whose ``status`` may be REVOKED or UNKNOWN:
    those are answers, not errors). Raises :class:`~ocspkit.ResponderError` for an unsuccessful
    responseStatus, or one :class:`~ocspkit.ValidationError` subclass for the first failed check:

    - the SingleResponse is chosen by the full CertID (hash algorithm, issuer name hash, issuer
      key hash, serial); none → :class:`~ocspkit.NoMatchingResponseError`; disagreeing
      duplicates → :class:`~ocspkit.ConflictingResponsesError`;
    - the signer is the issuer itself, a locally trusted responder (``policy``), or a delegated
      responder certificate (embedded, or given in ``extra_certs``) issued *directly* by the
      issuer (signature verified), carrying id-kp-OCSPSigning, valid at ``now`` and at
      producedAt, named by the ResponderID; nothing else is ever trusted;
    - the signature over tbsResponseData (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, DSA, Ed25519,
      Ed448; MD5 never, SHA-1 per policy);
    - thisUpdate ≤ now + skew; nextUpdate ≥ now - skew; without nextUpdate, thisUpdate within
      ``policy.max_age_without_next_update``; ``policy.max_age``; producedAt not in the future;
    - the nonce, when ``request`` is given (see :class:`~ocspkit.NonceRule`);
    - no unknown critical extension.

    :param now: the validation time (aware or naive UTC); the current time when omitted.
    :param request: the request this response answers, for the nonce check.
    :param extra_certs: candidate delegated responder certificates that the response does not
        embed; they are checked exactly like embedded ones.
    """
    if not isinstance(response, OCSPResponse):
        response = parse_response(response)
    if response.status is not ResponseStatus.SUCCESSFUL:
        raise ResponderError(response.status)
    facts = facts_of(response)
    policy = policy or _DEFAULT_POLICY
    if now is None:
        now = datetime.now(timezone.utc)  # the one clock read: the documented default
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    skew_s = policy.clock_skew.total_seconds()

    _check_issuer_name(cert, issuer)
    single, matches = _select(facts.singles, cert, issuer)
    signer, key, delegated = _find_signer(facts, issuer, policy, extra_certs, now, skew_s)
    oid = facts.signature_algorithm_oid
    verify_signature(
        key,
        oid,
        facts.signature,
        facts.tbs_response_data,
        allow_sha1=policy.allow_sha1_signatures,
        pss=_asn1.pss_parameters(facts.signature_algorithm_params)
        if oid == OID_RSASSA_PSS
        else None,
    )
    _check_times(single, facts.produced_at, policy, now)
    _check_nonce(facts.nonce, request, policy)
    _check_extensions(facts.extensions, matches)
    return new_result(signer, delegated, response, single)
