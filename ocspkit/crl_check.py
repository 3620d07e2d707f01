"""crl_status and revocation_not_needed: one certificate's revocation answer from CRLs.

Owns the use of a validated CRL for one certificate: the issuer proof (as for OCSP), the
certificate's place in the CRL's scope (RFC 5280 §6.3.3 (b): distribution point against the
issuing distribution point, cRLIssuer and indirect CRLs, user-only and CA-only CRLs), the
delta CRL rules (§5.2.4, §6.3.3 (c)) and the lookup, and the rules for certificates that need
no answer (RFC 9608 noRevAvail, short-lived certificates). Every CRL passes
:func:`ocspkit.validate_crl` first; a delta that fails raises, it is never ignored. Pure: the
time is an argument; it must never do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from ._der import children, expect
from ._guard import typed_errors
from ._time import utc
from .certs import (
    crl_urls,
    describe,
    extension,
    ocsp_urls,
    parts_of,
)
from .crl import ALL_REASONS, crl_facts, reason_flags
from .crl_validate import name_is, same_url, validate_crl
from .crlmodels import CRL, CRLEntry
from .errors import (
    CRLIssuerMismatchError,
    CRLScopeError,
    CRLValidationError,
    DecodeError,
    DeltaCRLError,
    MalformedCRLError,
    OCSPError,
)
from .issuers import prove_issuer
from .models import (
    CertStatus,
    RevocationReason,
    RevocationResult,
    RevocationSource,
)
from .policy import ValidationPolicy

__all__ = ["crl_status", "revocation_not_needed"]

_DEFAULT_POLICY = ValidationPolicy()
OID_CRL_DP = "2.5.29.31"
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_NO_REV_AVAIL = "2.5.29.56"


@dataclass(frozen=True)
class _DistributionPoint:
    full_names: tuple[str, ...]
    relative: bool
    crl_issuers: tuple[bytes, ...]  # directoryName DERs of cRLIssuer
    reasons: frozenset[int] | None  # the reasons this point's CRLs cover (None: all)


def _distribution_points(cert: x509.Certificate) -> tuple[_DistributionPoint, ...]:
    ext = extension(cert, OID_CRL_DP)
    if ext is None:
        return ()
    value = ext[1]
    start, end = expect(value, 0, 0x30)
    out = []
    for tag, _, dstart, dend in children(value, start, end):
        if tag != 0x30:
            continue
        names: list[str] = []
        issuers: list[bytes] = []
        relative = False
        reasons: frozenset[int] | None = None
        for ptag, _, pstart, pend in children(value, dstart, dend):
            if ptag == 0xA0:  # distributionPoint
                for ntag, _, nstart, nend in children(value, pstart, pend):
                    if ntag == 0xA1:
                        relative = True
                    elif ntag == 0xA0:
                        names.extend(
                            value[g[2] : g[3]].decode("ascii")
                            for g in children(value, nstart, nend)
                            if g[0] == 0x86 and value[g[2] : g[3]].isascii()
                        )
            elif ptag == 0x81:  # reasons
                reasons = reason_flags(value[pstart:pend])
            elif ptag == 0xA2:  # cRLIssuer GeneralNames, directoryName [4] EXPLICIT
                issuers.extend(
                    value[g[2] : g[3]] for g in children(value, pstart, pend) if g[0] == 0xA4
                )
        out.append(_DistributionPoint(tuple(names), relative, tuple(issuers), reasons))
    return tuple(out)


def _is_ca(cert: x509.Certificate) -> bool:
    ext = extension(cert, OID_BASIC_CONSTRAINTS)
    if ext is None:
        return False
    value = ext[1]
    start, end = expect(value, 0, 0x30)
    items = children(value, start, end)
    return bool(items) and items[0][0] == 0x01 and any(value[items[0][2] : items[0][3]])


def _dp_problem(
    dp: _DistributionPoint | None, crl: CRL, crl_is_cert_issuer: bool
) -> tuple[type[CRLValidationError], str] | None:
    """Why the CRL does not serve this distribution point (None: it does)."""
    idp = crl.issuing_distribution_point
    if dp is not None and dp.crl_issuers:  # §6.3.3 (b)(1)
        if idp is None or not idp.indirect_crl:
            return CRLIssuerMismatchError, (
                "the distribution point names a cRLIssuer, but the CRL is not indirect"
            )
        if crl.issuer_der not in dp.crl_issuers:
            return CRLIssuerMismatchError, (
                "the CRL is not from the distribution point's cRLIssuer"
            )
    elif not crl_is_cert_issuer:
        return CRLIssuerMismatchError, "the CRL's issuer is not the certificate's issuer"
    if idp is not None and idp.has_distribution_point:  # §6.3.3 (b)(2)(i)
        if dp is None or not dp.full_names:
            return CRLScopeError, (
                "the CRL is a partition; the certificate names no distribution point it matches"
            )
        if not any(same_url(a, b) for a in idp.full_names for b in dp.full_names):
            return CRLScopeError, (
                f"the CRL covers {', '.join(idp.full_names) or 'a partition named by no URL'}, the "
                f"certificate's distribution point is {', '.join(dp.full_names)}"
            )
    return None


def _check_scope(cert: x509.Certificate, crl: CRL, url: str | None) -> frozenset[int]:
    """Refuse a CRL that does not cover ``cert`` (§6.3.3 (b)); the reasons it covers for
    ``cert`` otherwise: onlySomeReasons ∩ the served distribution points' reasons (§6.3.3 (d))."""
    cert_issuer_der = parts_of(cert).issuer_der
    try:
        cert_issuer: object = cert.issuer
    except Exception:  # undecodable: the encoding still compares
        cert_issuer = None
    crl_is_cert_issuer = name_is(crl.issuer_der, crl.issuer, cert_issuer_der, cert_issuer)
    points = _distribution_points(cert)
    if url is not None and any(any(same_url(url, n) for n in p.full_names) for p in points):
        points = tuple(p for p in points if any(same_url(url, n) for n in p.full_names))
    candidates = points or (None,)
    verdicts = [(dp, _dp_problem(dp, crl, crl_is_cert_issuer)) for dp in candidates]
    served = [dp for dp, problem in verdicts if problem is None]
    if not served:  # no distribution point is served by this CRL
        problems = [p for _, p in verdicts if p is not None]
        issuer_problem = [p for p in problems if p[0] is CRLIssuerMismatchError]
        kind, message = (issuer_problem or problems)[0]
        raise kind(message)
    reasons = frozenset[int]().union(
        *(dp.reasons if dp is not None and dp.reasons is not None else ALL_REASONS for dp in served)
    )
    idp = crl.issuing_distribution_point
    if idp is None:
        return reasons
    is_ca = _is_ca(cert)
    if idp.only_contains_user_certs and (is_ca or cert.version is x509.Version.v1):
        raise CRLScopeError(
            f"the CRL covers user certificates only; {describe(cert)} is a CA or v1 certificate"
        )
    if idp.only_contains_ca_certs and not is_ca:
        raise CRLScopeError(f"the CRL covers CA certificates only; {describe(cert)} is not one")
    if idp.only_contains_attribute_certs:
        raise CRLScopeError("the CRL covers attribute certificates only")
    return reasons if idp.only_some_reasons is None else reasons & idp.only_some_reasons


def covers_some_reasons(cert: x509.Certificate, crl: CRL, url: str | None) -> bool:
    """True if ``crl`` (fetched from ``url``) is in ``cert``'s scope but covers only some
    revocation reasons for it (§6.3.3 (d)): a partition that needs the CRLs of the other
    reasons beside it to say GOOD. False for a CRL out of scope (its own error stands)."""
    try:
        return _check_scope(cert, crl, url) != ALL_REASONS
    except OCSPError:
        return False


def _check_delta(base: CRL, delta: CRL) -> None:
    if not delta.is_delta:
        raise DeltaCRLError("the CRL given as the delta has no deltaCRLIndicator")
    if base.crl_number is None:
        raise DeltaCRLError("the complete CRL has no cRLNumber, so no delta can apply to it")
    if not name_is(base.issuer_der, base.issuer, delta.issuer_der, delta.issuer):
        raise DeltaCRLError("the delta CRL is from another issuer than the complete CRL")
    base_idp, delta_idp = base.issuing_distribution_point, delta.issuing_distribution_point
    if (base_idp.der if base_idp else None) != (delta_idp.der if delta_idp else None):
        raise DeltaCRLError("the delta CRL has another scope than the complete CRL")
    assert delta.base_crl_number is not None and delta.crl_number is not None
    if delta.base_crl_number > base.crl_number:
        raise DeltaCRLError(
            f"the delta is built on CRL number {delta.base_crl_number}, newer than the "
            f"complete CRL's {base.crl_number}"
        )
    if delta.crl_number < base.crl_number:
        raise DeltaCRLError(
            f"the delta (CRL number {delta.crl_number}) is older than the complete CRL "
            f"({base.crl_number})"
        )


def _reason(entry: CRLEntry) -> RevocationReason | None:
    reason = entry.reason
    return reason if isinstance(reason, RevocationReason) else None


# string types compared as text (RFC 5280 §7.1, simplified: case and spaces folded)
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be"}


def _canonical_name(der: bytes) -> tuple[frozenset[tuple[bytes, object]], ...] | None:
    """A Name's DER in a comparable form: the same for two encodings of one name (string
    type, case, spaces); None when it does not decode."""
    try:
        start, end = expect(der, 0, 0x30)
        rdns = []
        for tag, _, rstart, rend in children(der, start, end):
            if tag != 0x31:
                return None
            atvs = []
            for _, _, astart, aend in children(der, rstart, rend):
                (otag, _, os_, oe), (vtag, _, vs, ve) = children(der, astart, aend)
                codec = _STRING_TAGS.get(vtag)
                raw = der[vs:ve]
                text = " ".join(raw.decode(codec).split()).casefold() if codec else (vtag, raw)
                atvs.append((bytes([otag]) + der[os_:oe], text))
            rdns.append(frozenset(atvs))
        return tuple(rdns)
    except (DecodeError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def _issuer_keys(cert: x509.Certificate, crl: CRL) -> list[bytes | None]:
    """The index keys under which ``crl`` may list ``cert`` (None: the CRL issuer's own
    entries): its issuer's DER, and every certificateIssuer that is the same name in another
    encoding, so that a re-encoded name never turns a listing into "not listed"."""
    cert_issuer = parts_of(cert).issuer_der
    want = _canonical_name(cert_issuer)
    try:
        decoded: object = cert.issuer
    except Exception:  # undecodable: the encodings still compare
        decoded = None
    same = name_is(crl.issuer_der, crl.issuer, cert_issuer, decoded) or (
        want is not None and want == _canonical_name(crl.issuer_der)
    )
    keys: list[bytes | None] = [None if same else cert_issuer]
    for other in crl_facts(crl.der).index.certificate_issuers:
        if other != cert_issuer and want is not None and _canonical_name(other) == want:
            keys.append(other)
    return keys


def _reason_names(codes: frozenset[int]) -> str:
    return ", ".join(RevocationReason(c).name.lower() for c in sorted(codes))


@typed_errors(MalformedCRLError, "crl_status")
def crl_status(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crl: CRL | bytes,
    *,
    now: datetime | None = None,
    url: str | None = None,
    delta: CRL | bytes | None = None,
    policy: ValidationPolicy | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
    more_crls: Sequence[tuple[CRL | bytes, str | None]] = (),
) -> RevocationResult:
    """Whether ``cert`` (issued by ``issuer``) is listed on ``crl``, fetched from ``url``.

    The issuer is proved as for OCSP (its name, and its key on the certificate's signature
    unless ``policy.verify_issuer_signature`` is off). ``crl`` (and ``delta``) pass
    :func:`validate_crl`; a delta given as ``crl`` is refused. The certificate must be in the
    CRL's scope (RFC 5280 §6.3.3 (b)). A delta must fit its complete CRL: same issuer and
    scope, BaseCRLNumber ≤ the complete CRL's number, not older than it; its entries override
    the complete CRL's, and removeFromCRL un-revokes.

    Reasons (§6.3.3 (d), (e)): a CRL covers, for ``cert``, the reasons of its
    onlySomeReasons intersected with those of the certificate's distribution point. A CRL
    covering only some reasons can say REVOKED, never GOOD by itself: pass the CRLs for the
    other reasons as ``more_crls`` (complete CRLs, each with the URL it was fetched from,
    each validated and scope-checked like ``crl``); GOOD needs the union of the reasons
    covered to be every reason, else :class:`~ocspkit.CRLScopeError` (not UNKNOWN: no CA
    said "unknown", the CRLs given are not enough).

    Returns a :class:`~ocspkit.RevocationResult` with source CRL: REVOKED when listed
    (certificateHold included) with the time and reason and, as ``crl`` and ``url``, the
    CRL that lists it; GOOD when no CRL lists it.
    """
    policy = policy or _DEFAULT_POLICY
    at = utc(now)
    prove_issuer(cert, issuer, policy)

    def consult(given: CRL | bytes, where: str | None) -> tuple[CRL, frozenset[int]]:
        checked = validate_crl(
            given, issuer, now=at, url=where, policy=policy, extra_certs=extra_certs
        )
        if checked.is_delta:
            raise DeltaCRLError("a delta CRL was given as a complete CRL")
        return checked, _check_scope(cert, checked, where)

    def listed(on: CRL) -> CRLEntry | None:
        for key in _issuer_keys(cert, on):
            if (hit := on.lookup(cert.serial_number, key)) is not None:
                return hit
        return None

    base, covered = consult(crl, url)
    entry = listed(base)
    applied: CRL | None = None
    if delta is not None:
        applied = validate_crl(delta, issuer, now=at, policy=policy, extra_certs=extra_certs)
        _check_delta(base, applied)
        newer = listed(applied)
        if newer is not None:
            entry = None if newer.reason == RevocationReason.REMOVE_FROM_CRL else newer
    evidence, where = base, url
    nexts = [c.next_update for c in (base, applied) if c is not None and c.next_update]
    for other, other_url in more_crls:
        checked, reasons = consult(other, other_url)
        covered |= reasons
        if checked.next_update is not None:
            nexts.append(checked.next_update)
        if entry is None and (entry := listed(checked)) is not None:
            evidence, where = checked, other_url
    common = {
        "source": RevocationSource.CRL,
        "this_update": (applied or evidence).this_update,
        "next_update": min(nexts) if nexts else None,
        "url": where,
        "crl": evidence,
        "delta": applied,
    }
    if entry is not None:
        return RevocationResult(
            status=CertStatus.REVOKED,
            revocation_time=entry.revocation_time,
            revocation_reason=_reason(entry),
            **common,  # type: ignore[arg-type]
        )
    if covered != ALL_REASONS:
        raise CRLScopeError(
            "the CRLs given cover only some reasons, so they cannot say 'not revoked' "
            f"(missing: {_reason_names(ALL_REASONS - covered)})"
        )
    return RevocationResult(status=CertStatus.GOOD, **common)  # type: ignore[arg-type]


@typed_errors(MalformedCRLError, "revocation_not_needed")
def revocation_not_needed(
    cert: x509.Certificate, policy: ValidationPolicy | None = None
) -> RevocationResult | None:
    """A GOOD answer for a certificate that needs no revocation check, else None.

    - RFC 9608 noRevAvail (2.5.29.56): source NO_REVOCATION_INFO (its CA publishes none);
    - a short-lived certificate (validity, both ends included, of at most
      ``policy.short_lived_max_validity``, 7 days by default) with no
      OCSP URL and no CRL distribution point: source SHORT_LIVED.

    The answer lasts as long as the certificate (``next_update`` is its notAfter).
    """
    limit = (policy or _DEFAULT_POLICY).short_lived_max_validity
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    source = None
    if extension(cert, OID_NO_REV_AVAIL) is not None:
        source = RevocationSource.NO_REVOCATION_INFO
    elif na - nb + timedelta(seconds=1) <= limit and not ocsp_urls(cert) and not crl_urls(cert):
        source = RevocationSource.SHORT_LIVED
    if source is None:
        return None
    return RevocationResult(status=CertStatus.GOOD, source=source, this_update=nb, next_update=na)
