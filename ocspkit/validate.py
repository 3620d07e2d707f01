"""validate_response: every check of RFC 6960 §3.2, plus policy.

Owns the OCSP verdict. Every fact it decides on comes from the response's DER (through
:func:`ocspkit.response.response_facts`), never from a model's fields, so no edited, replaced,
unpickled or hand-built model can change a verdict. The issuer is proved, not assumed: its
key must verify the certificate's signature (``policy.verify_issuer_signature``).

Pure: the time is an argument (``now``; the current time only when the caller omits it). It
must never do I/O. Order of checks: responseStatus, issuer, CertID match, signer authority,
signature, time window, nonce, critical extensions. The first failure raises its own
:class:`~ocspkit.ValidationError` subclass; contradictory answers resolve to the strictest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from ._cache import BoundedCache
from ._decode import Facts
from ._guard import typed_errors
from ._sigalgs import verify_signature
from ._time import after, fmt, utc
from .certs import (
    CertParts,
    describe,
    has_extended_key_usage,
    parts_of,
    public_key,
    unknown_critical_extension,
)
from .errors import (
    CriticalExtensionError,
    ExpiredResponseError,
    NoMatchingResponseError,
    NonceMismatchError,
    NonceMissingError,
    NotYetValidError,
    OCSPError,
    ProducedAtError,
    ResponderError,
    SignatureError,
    SignerNotFoundError,
    StaleResponseError,
    UnauthorizedResponderError,
    ValidationError,
    WeakAlgorithmError,
)
from .issuers import cert_id_matches, issued_by_problem, prove_issuer, responder_matches
from .models import (
    OID_ARCHIVE_CUTOFF,
    OID_CRL_ID,
    OID_EXTENDED_REVOKE,
    OID_NONCE,
    CertStatus,
    Extension,
    OCSPRequest,
    OCSPResponse,
    SingleResponse,
    ValidationResult,
)
from .policy import NonceRule, ValidationPolicy
from .response import response_facts

__all__ = ["validate_response"]

_DEFAULT_POLICY = ValidationPolicy()
_STRICTNESS = {CertStatus.GOOD: 0, CertStatus.UNKNOWN: 1, CertStatus.REVOKED: 2}
_UNDERSTOOD_RESPONSE_EXTS = frozenset({OID_NONCE, OID_EXTENDED_REVOKE})
_UNDERSTOOD_SINGLE_EXTS = frozenset({OID_ARCHIVE_CUTOFF, OID_CRL_ID})
_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"


def _select(
    singles: tuple[SingleResponse, ...], cert: CertParts, issuer: CertParts
) -> tuple[SingleResponse, list[SingleResponse], bool]:
    """(the SingleResponse to use, all that match the full CertID, whether they disagree)."""
    serial = cert.serial  # compared first: the one field that tells a response's entries apart
    matches = [
        s
        for s in singles
        if s.cert_id.serial_number == serial and cert_id_matches(s.cert_id, cert, issuer)
    ]
    if not matches:
        raise NoMatchingResponseError(
            f"no SingleResponse matches serial {cert.serial:x} under this issuer "
            f"({len(singles)} in the response)"
        )
    if len(matches) == 1:
        return matches[0], matches, False
    first = matches[0]
    contradicted = any(
        (s.status, s.revocation_time, s.revocation_reason)
        != (first.status, first.revocation_time, first.revocation_reason)
        for s in matches[1:]
    )
    # The strictest signed status wins (REVOKED over UNKNOWN over GOOD), as browsers decide;
    # among equals, the newest thisUpdate.
    chosen = max(matches, key=lambda s: (_STRICTNESS[s.status], s.this_update))
    return chosen, matches, contradicted


def _check_validity(cert: x509.Certificate, at: datetime, skew: timedelta, when: str) -> None:
    nb = cert.not_valid_before_utc
    na = cert.not_valid_after_utc
    if after(nb, at, skew):
        raise UnauthorizedResponderError(f"{_who(cert)}{when} is not valid until {fmt(nb)}")
    if after(at, na, skew):
        raise UnauthorizedResponderError(f"{_who(cert)}{when} expired at {fmt(na)}")


def _who(cert: x509.Certificate) -> str:
    return f"responder certificate {describe(cert)}"


# Time-independent checks of a delegated responder certificate against an issuer: the problem
# ("" if none), keyed by the DER of both and the SHA-1 rule.
_delegates = BoundedCache[tuple[bytes, bytes, bool], str]("validate.delegates", 1024)


def _delegate_problem(cand: x509.Certificate, issuer: CertParts, allow_sha1: bool) -> str:
    parts = parts_of(cand)
    key = (parts.der, issuer.der, allow_sha1)
    hit = _delegates.get(key)
    if hit is not None:
        return hit
    if parts.inner_algorithm != parts.outer_algorithm:
        problem = f"{_who(cand)} has differing inner and outer signature algorithms"
    elif issued := issued_by_problem(cand, issuer, allow_sha1=allow_sha1):
        problem = f"{_who(cand)} is not issued directly by the issuer: {issued}"
    elif not has_extended_key_usage(cand, _OCSP_SIGNING):
        problem = f"{_who(cand)} lacks the id-kp-OCSPSigning extended key usage"
    elif (unknown := unknown_critical_extension(cand)) is not None:
        problem = f"{_who(cand)} has an unknown critical extension ({unknown})"
    else:
        problem = ""
    return _delegates.put(key, problem)


def _find_signer(
    facts: Facts,
    embedded: tuple[x509.Certificate, ...],
    issuer: CertParts,
    policy: ValidationPolicy,
    extra_certs: Sequence[x509.Certificate],
    now: datetime,
) -> tuple[x509.Certificate, CertificatePublicKeyTypes, bool]:
    """(signer certificate, key, delegated?) per RFC 6960 §4.2.2.2; raise if none is authorised."""
    key_hash, name_der = facts.responder_key_hash, facts.responder_name_der
    if responder_matches(key_hash, name_der, issuer):
        return issuer.cert, public_key(issuer), False
    skew = policy.clock_skew
    for trusted in policy.trusted_responders:
        if responder_matches(key_hash, name_der, trusted):
            _check_validity(trusted, now, skew, " (locally trusted)")
            return trusted, public_key(trusted), False
    problem: ValidationError | None = None
    for cand in (*embedded, *extra_certs):
        if not responder_matches(key_hash, name_der, cand):
            continue
        try:
            reason = _delegate_problem(cand, issuer, policy.allow_sha1_signatures)
            if reason:
                raise UnauthorizedResponderError(reason)
            if policy.check_responder_validity:
                _check_validity(cand, now, skew, "")
                _check_validity(cand, facts.produced_at, skew, " (at producedAt)")
            return cand, public_key(cand), True
        except (UnauthorizedResponderError, WeakAlgorithmError, SignatureError) as exc:
            problem = problem or exc  # a decoy placed first must not hide a valid delegate
        except OCSPError as exc:  # a malformed candidate
            problem = problem or UnauthorizedResponderError(
                f"{_who(cand)} cannot be checked: {exc}"
            )
    if problem is not None:
        raise problem
    raise SignerNotFoundError(
        "the ResponderID names neither the issuer nor an authorised responder certificate"
    )


def _check_times(
    single: SingleResponse,
    produced_at: datetime,
    cert: x509.Certificate,
    policy: ValidationPolicy,
    now: datetime,
) -> None:
    skew = policy.clock_skew
    tu, nu, pa = single.this_update, single.next_update, produced_at
    if after(tu, now, skew):
        raise NotYetValidError(f"thisUpdate {fmt(tu)} is in the future (now {fmt(now)})")
    if nu is not None:
        if nu < tu:
            raise ExpiredResponseError(f"nextUpdate {fmt(nu)} precedes thisUpdate {fmt(tu)}")
        if after(now, nu, skew):
            raise ExpiredResponseError(f"the response expired at nextUpdate {fmt(nu)}")
    elif after(now, tu, policy.max_age_without_next_update + skew):
        raise StaleResponseError(
            f"no nextUpdate and thisUpdate {fmt(tu)} is older than "
            f"{policy.max_age_without_next_update}"
        )
    if policy.max_age is not None and after(now, tu, policy.max_age + skew):
        raise StaleResponseError(f"thisUpdate {fmt(tu)} is older than {policy.max_age}")
    if after(pa, now, skew):
        raise ProducedAtError(f"producedAt {fmt(pa)} is in the future (now {fmt(now)})")
    if after(tu, pa, skew):
        raise ProducedAtError(f"thisUpdate {fmt(tu)} is after producedAt {fmt(pa)}")
    if nu is not None and after(pa, nu, skew):
        raise ExpiredResponseError(
            f"the response was produced at {fmt(pa)}, after its nextUpdate {fmt(nu)}"
        )
    if not policy.allow_produced_outside_validity:
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
        if after(nb, pa, skew) or after(pa, na, skew):
            raise ProducedAtError(
                f"producedAt {fmt(pa)} lies outside the certificate's validity "
                f"({fmt(nb)} to {fmt(na)})"
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


@typed_errors(ValidationError, "validate_response")
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
    responseStatus, :class:`~ocspkit.DecodeError` for bytes that are not a response, or one
    :class:`~ocspkit.ValidationError` subclass for the first failed check:

    - the issuer: its subject is the certificate's issuer name
      (:class:`~ocspkit.IssuerMismatchError`) and its key verifies the certificate's signature
      (:class:`~ocspkit.IssuerSignatureError`; ``policy.verify_issuer_signature``);
    - the SingleResponse is chosen by the full CertID (hash algorithm, issuer name hash, issuer
      key hash, serial); none → :class:`~ocspkit.NoMatchingResponseError`; several that
      disagree → the strictest status (REVOKED over UNKNOWN over GOOD) and
      ``result.contradicted``;
    - the signer is the issuer itself, a locally trusted responder (``policy``), or a delegated
      responder certificate (embedded, or given in ``extra_certs``) issued *directly* by the
      issuer (signature verified, same inner and outer signature algorithm), carrying
      id-kp-OCSPSigning and no unknown critical extension, valid at ``now`` and at producedAt,
      named by the ResponderID; nothing else is ever trusted;
    - the signature over tbsResponseData (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, DSA, Ed25519,
      Ed448, ML-DSA; MD5 never, SHA-1 per policy);
    - thisUpdate ≤ now + skew; nextUpdate ≥ now - skew; without nextUpdate, thisUpdate within
      ``policy.max_age_without_next_update``; ``policy.max_age``; producedAt not in the future,
      not before thisUpdate, and within the certificate's validity period;
    - the nonce, when ``request`` is given (see :class:`~ocspkit.NonceRule`);
    - no unknown critical extension.

    Every fact is read from the response's DER: for an :class:`~ocspkit.OCSPResponse`, from
    its :attr:`~ocspkit.OCSPResponse.der`, whatever its other fields say.

    :param now: the validation time (aware or naive UTC); the current time when omitted.
    :param request: the request this response answers, for the nonce check.
    :param extra_certs: candidate delegated responder certificates that the response does not
        embed; they are checked exactly like embedded ones.
    """
    der = response.der if isinstance(response, OCSPResponse) else response
    facts, model = response_facts(der)
    if facts is None:
        raise ResponderError(model.status)
    policy = policy or _DEFAULT_POLICY
    now = utc(now)

    cp, ip = parts_of(cert), parts_of(issuer)  # read once, passed to every helper
    prove_issuer(cp, ip, policy)
    single, matches, contradicted = _select(facts.singles, cp, ip)
    signer, key, delegated = _find_signer(facts, model.certificates, ip, policy, extra_certs, now)
    verify_signature(
        key,
        facts.signature_algorithm_oid,
        facts.signature_algorithm_params,
        facts.signature,
        facts.tbs_response_data,
        allow_sha1=policy.allow_sha1_signatures,
    )
    _check_times(single, facts.produced_at, cert, policy, now)
    _check_nonce(facts.nonce, request, policy)
    _check_extensions(facts.extensions, matches)
    return ValidationResult(signer, delegated, model, single, contradicted)
