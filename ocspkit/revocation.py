"""The one revocation verdict: which source answers, in what order, and what was tried.

Owns the decisions of :func:`ocspkit.check_revocation`, written once as a generator (a
*verdict flow*) that both the blocking and the asyncio runners drive:

1. a staple, when one is given, is validated first (nonces ignored: it answers no request of
   ours); a valid GOOD or REVOKED staple is the answer;
2. a certificate that needs no answer (RFC 9608 noRevAvail, short-lived) is GOOD with source
   NO_REVOCATION_INFO or SHORT_LIVED (:func:`ocspkit.revocation_not_needed`);
3. then each source of ``sources`` in order: ``"ocsp"`` asks every OCSP URL in turn,
   ``"crl"`` every CRL distribution point (with the delta CRL that freshestCRL names, when
   the certificate or the CRL names one), then the CRLs of distribution points that each
   cover only some reasons, together (RFC 5280 §6.3.3 (d)); a source falls through to the
   next when it has no URL or when every URL failed (transport, responder status, decoding,
   any validation failure: signature, nonce, freshness, scope, a delta that cannot be used);
4. the first validated GOOD or REVOKED answer wins; every failure before it is a
   :class:`~ocspkit.RevocationAttempt`. A validated OCSP "unknown" does not stop the search; it
   is the answer only when no later source says GOOD or REVOKED.
5. when nothing answered: UNKNOWN with source None, or, with ``require=True``,
   :class:`~ocspkit.RevocationUnavailableError` listing the attempts.

The flow yields requests (:class:`NeedIssuer`, :class:`AskOCSP`, :class:`AskCRL`) and receives
their outcome, or has the runner's :class:`~ocspkit.OCSPError` thrown into it. Verdicts are
made here from signed bytes (an OCSP answer arrives validated by
:func:`ocspkit.validate_response`; a CRL is checked here by :func:`ocspkit.crl_status`). Pure:
no I/O, no clock (``now`` is an argument); it must never fetch anything itself.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Union

from cryptography import x509

from .certs import (
    OID_FRESHEST_CRL,
    crl_urls,
    describe,
    distribution_point_uris,
    freshest_crl_urls,
    ocsp_urls,
)
from .crl_check import covers_some_reasons, crl_status, revocation_not_needed
from .crlmodels import CRL
from .errors import (
    CRLScopeError,
    DeltaCRLError,
    NoCRLURLError,
    NoOCSPURLError,
    OCSPError,
    RevocationUnavailableError,
)
from .models import (
    CertStatus,
    OCSPResponse,
    RevocationAttempt,
    RevocationResult,
    RevocationSource,
    ValidationResult,
)
from .policy import NonceRule, ValidationPolicy
from .response import parse_response
from .validate import validate_response

__all__ = [
    "SOURCES",
    "AskCRL",
    "AskOCSP",
    "NeedIssuer",
    "Request",
    "VerdictFlow",
    "check_sources",
    "from_validation",
    "revocation_flow",
    "staple_answer",
]

#: The network sources :func:`ocspkit.check_revocation` knows, by name.
SOURCES: tuple[str, ...] = ("ocsp", "crl")


@dataclass(frozen=True, slots=True)
class NeedIssuer:
    """The flow needs the certificate's issuer (from the bundle, else AIA caIssuers)."""


@dataclass(frozen=True, slots=True)
class AskOCSP:
    """Ask the OCSP responder at ``url`` about the certificate; answer with the
    :class:`~ocspkit.ValidationResult` (validated), or throw the error it ended with."""

    url: str
    issuer: x509.Certificate


@dataclass(frozen=True, slots=True)
class AskCRL:
    """Fetch the CRL at ``url`` (validated against ``issuer`` when the runner can); answer with
    the :class:`~ocspkit.CRL`, or throw the error it ended with. The flow checks it again.

    ``scope_url`` is the URL its issuingDistributionPoint must name when that is not ``url``
    (a delta CRL's is its complete CRL's); ``refresh`` asks the server even when a cached
    copy is still fresh (a delta cached before the complete CRL just fetched)."""

    url: str
    issuer: x509.Certificate
    scope_url: str | None = None
    refresh: bool = False


#: What a verdict flow asks its runner for.
Request = Union[NeedIssuer, AskOCSP, AskCRL]  # noqa: UP007 - a runtime alias
#: A verdict flow: yields requests, receives their outcome, returns the one answer.
VerdictFlow = Generator[Request, Any, RevocationResult]


def check_sources(sources: Sequence[str]) -> tuple[str, ...]:
    """``sources`` as a tuple of known names, each once, in order; ``ValueError`` otherwise."""
    if isinstance(sources, str):
        sources = (sources,)
    names = tuple(dict.fromkeys(sources))
    unknown = [s for s in names if s not in SOURCES]
    if unknown or not names:
        raise ValueError(
            f"sources must name one or more of {', '.join(SOURCES)}, not {list(sources)!r}"
        )
    return names


def from_validation(
    result: ValidationResult,
    source: RevocationSource,
    url: str | None,
    attempts: Sequence[RevocationAttempt] = (),
) -> RevocationResult:
    """The :class:`~ocspkit.RevocationResult` of a validated OCSP answer (an OCSP fetch or a
    staple), with ``attempts`` as what was tried before it."""
    return RevocationResult(
        status=result.status,
        source=source,
        this_update=result.this_update,
        next_update=result.next_update,
        revocation_time=result.revocation_time,
        revocation_reason=result.revocation_reason,
        url=url,
        ocsp=result,
        attempts=tuple(attempts),
    )


def staple_answer(
    staple: OCSPResponse | bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime | None = None,
    policy: ValidationPolicy | None = None,
) -> ValidationResult:
    """A staple (DER or parsed) validated for ``cert``: nonces are ignored (a staple answers
    no request of ours), every other check of ``policy`` applies. Raises what
    :func:`ocspkit.parse_response` and :func:`ocspkit.validate_response` raise."""
    response = staple if isinstance(staple, OCSPResponse) else parse_response(staple)
    rules = replace(policy or ValidationPolicy(), nonce=NonceRule.IGNORE)
    return validate_response(response, cert, issuer, now=now, policy=rules)


def revocation_flow(
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    *,
    staple: OCSPResponse | bytes | None = None,
    sources: Sequence[str] = SOURCES,
    ocsp_url: str | None = None,
    require: bool = False,
    now: datetime | None = None,
    policy: ValidationPolicy | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> VerdictFlow:
    """The verdict flow for ``cert`` (see the module's docstring for the order).

    :param issuer: ``None`` makes the flow yield :class:`NeedIssuer` before the first source
        that needs it (never for a certificate that needs no answer).
    :param ocsp_url: ask this OCSP responder instead of the certificate's AIA URLs.
    :param extra_certs: other certificates of the CA (a CRL signer's, for a CRL it signed).
    :raises RevocationUnavailableError: with ``require=True``, when no source answered.
    """
    names = check_sources(sources)
    policy = policy or ValidationPolicy()
    attempts: list[RevocationAttempt] = []
    fallback: RevocationResult | None = None  # the first validated "unknown"
    unknowns: list[RevocationAttempt] = []  # its record among the attempts, and later ones'

    def keep_unknown(result: RevocationResult, source: RevocationSource) -> None:
        nonlocal fallback
        if fallback is None:
            fallback = result
        where = f" at {result.url}" if result.url else ""
        said = OCSPError(f"the {source.value} answer{where} is 'unknown' (a validated answer)")
        unknowns.append(RevocationAttempt(source, result.url, said))
        attempts.append(unknowns[-1])

    def need_issuer() -> Generator[Request, Any, x509.Certificate]:
        nonlocal issuer
        if issuer is None:
            issuer = yield NeedIssuer()
        return issuer

    if staple is not None:
        found = yield from need_issuer()
        try:
            answer = staple_answer(staple, cert, found, now=now, policy=policy)
        except OCSPError as exc:
            attempts.append(RevocationAttempt(RevocationSource.STAPLE, None, exc))
        else:
            result = from_validation(answer, RevocationSource.STAPLE, None, attempts)
            if answer.status is not CertStatus.UNKNOWN:
                return result
            keep_unknown(result, RevocationSource.STAPLE)
    not_needed = revocation_not_needed(cert, policy)
    if not_needed is not None:
        return replace(not_needed, attempts=tuple(attempts))
    for name in names:
        if name == "ocsp":
            urls = (ocsp_url,) if ocsp_url else tuple(dict.fromkeys(ocsp_urls(cert)))
            if not urls:
                missing = NoOCSPURLError(f"{describe(cert)} has no OCSP responder URL")
                attempts.append(RevocationAttempt(RevocationSource.OCSP, None, missing))
            for url in urls:
                found = yield from need_issuer()
                try:
                    answer = yield AskOCSP(url, found)
                except OCSPError as exc:
                    attempts.append(RevocationAttempt(RevocationSource.OCSP, url, exc))
                    continue
                result = from_validation(answer, RevocationSource.OCSP, url, attempts)
                if answer.status is not CertStatus.UNKNOWN:
                    return result
                keep_unknown(result, RevocationSource.OCSP)
        else:
            urls = tuple(dict.fromkeys(crl_urls(cert)))
            if not urls:
                missing_dp = NoCRLURLError(f"{describe(cert)} has no CRL distribution point")
                attempts.append(RevocationAttempt(RevocationSource.CRL, None, missing_dp))
            partitions: list[tuple[CRL, str, RevocationAttempt]] = []
            for url in urls:
                found = yield from need_issuer()
                crl: CRL | None = None  # this URL's CRL, once fetched
                try:
                    crl = yield AskCRL(url, found)
                    checked = yield from _crl_answer(
                        cert, found, crl, url, now, policy, extra_certs, attempts
                    )
                except OCSPError as exc:
                    attempts.append(RevocationAttempt(RevocationSource.CRL, url, exc))
                    if crl is not None and _reasons_partition(cert, crl, url, exc):
                        partitions.append((crl, url, attempts[-1]))
                    continue
                return replace(checked, attempts=tuple(attempts))
            if len(partitions) > 1:  # together they may cover every reason (§6.3.3 (d))
                (first, first_url, _), *rest = partitions
                try:
                    joined = crl_status(
                        cert, (yield from need_issuer()), first, now=now, url=first_url,
                        policy=policy, extra_certs=extra_certs,
                        more_crls=[(other, where) for other, where, _ in rest],
                    )  # fmt: skip
                except OCSPError as exc:
                    attempts.append(RevocationAttempt(RevocationSource.CRL, None, exc))
                else:
                    used = [a for _, _, a in partitions]
                    left = tuple(a for a in attempts if all(a is not u for u in used))
                    return replace(joined, attempts=left)
    if fallback is not None:
        others = tuple(a for a in attempts if all(a is not u for u in unknowns))
        return replace(fallback, attempts=others)
    if require:
        raise RevocationUnavailableError(
            f"no revocation source answered for {describe(cert)}", attempts=tuple(attempts)
        )
    return RevocationResult(status=CertStatus.UNKNOWN, source=None, attempts=tuple(attempts))


def delta_urls(cert: x509.Certificate, crl: CRL) -> tuple[str, ...]:
    """Where the delta CRLs of ``crl`` are, for ``cert``: the certificate's freshestCRL URIs,
    then the complete CRL's (RFC 5280 §4.2.1.15, §5.2.6), each once."""
    named = list(freshest_crl_urls(cert))
    for ext in crl.extensions:
        if ext.oid == OID_FRESHEST_CRL:
            named += distribution_point_uris(ext.value)
    return tuple(dict.fromkeys(named))


def _crl_answer(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crl: CRL,
    url: str,
    now: datetime | None,
    policy: ValidationPolicy,
    extra_certs: Sequence[x509.Certificate],
    attempts: list[RevocationAttempt],
) -> Generator[Request, Any, RevocationResult]:
    """The answer of the complete CRL ``crl`` fetched from ``url``, with its delta CRL when the
    certificate or the CRL names one (§6.3.3 (c)). A complete CRL whose delta may say more
    is not the current answer: when no delta named at an http(s) URL can be fetched and
    fits, this CRL fails (:class:`~ocspkit.DeltaCRLError`) rather than say GOOD, but a
    revocation it lists stands (certificateHold too: only the delta could lift it, and the
    strictest signed answer at hand wins). Each delta that failed is an attempt."""

    def status(delta: CRL | None = None) -> RevocationResult:
        return crl_status(
            cert, issuer, crl, now=now, url=url, delta=delta, policy=policy,
            extra_certs=extra_certs,
        )  # fmt: skip

    alone = status()  # the complete CRL's own errors (and the certificate's) come first
    named = delta_urls(cert, crl)
    if not named:
        return alone
    failure: OCSPError | None = None
    for where in named:
        if not where.lower().startswith(("http://", "https://")):
            continue  # ldap:// and the like: not fetched (as for distribution points)
        try:
            delta: CRL = yield AskCRL(where, issuer, scope_url=url)
            if _older(delta, crl):  # a copy cached before this complete CRL: ask again
                delta = yield AskCRL(where, issuer, scope_url=url, refresh=True)
            return status(delta)
        except OCSPError as exc:
            failure = exc
            attempts.append(RevocationAttempt(RevocationSource.CRL, where, exc))
    if alone.revoked:
        return alone
    why = f"the last failed: {failure}" if failure else "none is at an http or https URL"
    raise DeltaCRLError(
        f"the CRL names delta CRLs ({', '.join(named)}) and none could be used ({why}), so "
        "it cannot say the certificate is not revoked"
    )


def _reasons_partition(cert: x509.Certificate, crl: CRL, url: str, exc: OCSPError) -> bool:
    """True if ``crl`` failed only because it covers some of the reasons for ``cert`` (and
    names no delta CRL, which a combination of partitions could not apply)."""
    return (
        isinstance(exc, CRLScopeError)
        and covers_some_reasons(cert, crl, url)
        and not delta_urls(cert, crl)
    )


def _older(delta: CRL, complete: CRL) -> bool:
    return (
        delta.crl_number is not None
        and complete.crl_number is not None
        and delta.crl_number < complete.crl_number
    )
