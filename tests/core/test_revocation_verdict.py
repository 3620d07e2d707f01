"""The pure verdict flow (ocspkit.revocation): source order, fall-through, the staple first,
certificates that need no answer, soft and hard failure. The flow's requests are answered
with real signed bytes from ocspkit.testing's CA (OCSP responses validated by the core, CRLs
signed at test time); no network is involved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import (
    CertStatus,
    ExpiredResponseError,
    FetchError,
    NoCRLURLError,
    NoOCSPURLError,
    OCSPError,
    RevocationReason,
    RevocationResult,
    RevocationSource,
    RevocationUnavailableError,
    SignatureError,
    validate_response,
)
from ocspkit.crl import parse_crl
from ocspkit.revocation import (
    AskCRL,
    AskOCSP,
    NeedIssuer,
    Request,
    check_sources,
    revocation_flow,
)
from ocspkit.testing import CA

OCSP_A = "http://ocsp.test/a"
OCSP_B = "http://ocsp.test/b"
CRL_A = "http://crl.test/a.crl"
CRL_B = "http://crl.test/b.crl"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


Answer = Callable[[Request], Any]


def run(flow: Any, answer: Answer) -> tuple[RevocationResult, list[Request]]:
    """Drive a verdict flow: each request is answered by ``answer`` (a value, or an
    exception it raises, thrown into the flow)."""
    asked: list[Request] = []
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            need = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value, asked
        asked.append(need)
        value, error = None, None
        try:
            value = answer(need)
        except OCSPError as exc:
            error = exc


def ocsp_answer(ca: CA, cert: x509.Certificate, **kw: Any) -> Any:
    return validate_response(ca.sign_response(cert, **kw), cert, ca.issuer)


def crl_of(ca: CA, **kw: Any) -> Any:
    return parse_crl(ca.sign_crl(**kw).public_bytes(Encoding.DER))


def down(need: Request) -> Any:
    raise FetchError("connection refused", url=getattr(need, "url", None))


def test_ocsp_first_and_crl_never_asked_when_it_answers(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)
    result, asked = run(
        revocation_flow(leaf.cert, ca.issuer),
        lambda need: ocsp_answer(ca, leaf.cert),
    )
    assert [type(a) for a in asked] == [AskOCSP]
    assert result.status is CertStatus.GOOD and result.source is RevocationSource.OCSP
    assert result.url == OCSP_A and result.ocsp is not None and result.attempts == ()
    assert result.this_update == result.ocsp.this_update


def test_every_ocsp_url_then_every_crl_dp_in_order(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=(CRL_A, CRL_B))
    ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
    leaf2 = ca.issue(ocsp_url=OCSP_B)  # only to check the second AIA URL below

    def answer(need: Request) -> Any:
        if isinstance(need, AskCRL) and need.url == CRL_B:
            return crl_of(ca)
        return down(need)

    result, asked = run(revocation_flow(leaf.cert, ca.issuer), answer)
    assert [(type(a).__name__, getattr(a, "url", None)) for a in asked] == [
        ("AskOCSP", OCSP_A),
        ("AskCRL", CRL_A),
        ("AskCRL", CRL_B),
    ]
    assert result.status is CertStatus.REVOKED and result.source is RevocationSource.CRL
    assert result.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert result.url == CRL_B and result.crl is not None
    assert [(a.source, a.url) for a in result.attempts] == [
        (RevocationSource.OCSP, OCSP_A),
        (RevocationSource.CRL, CRL_A),
    ]
    assert all(isinstance(a.error, FetchError) for a in result.attempts)
    assert leaf2.cert.serial_number != leaf.cert.serial_number


def test_a_validation_failure_falls_through_like_a_transport_failure(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)
    other = CA("ecdsa")

    def answer(need: Request) -> Any:
        if isinstance(need, AskOCSP):  # signed by another CA: the core refuses it
            return validate_response(other.sign_response(leaf.cert), leaf.cert, ca.issuer)
        return crl_of(ca)

    result, _ = run(revocation_flow(leaf.cert, ca.issuer), answer)
    assert result.source is RevocationSource.CRL and result.good
    assert isinstance(result.attempts[0].error, OCSPError)
    assert result.attempts[0].source is RevocationSource.OCSP


def test_a_crl_from_another_ca_is_refused_by_the_flow_itself(ca: CA) -> None:
    leaf = ca.issue(ocsp_url="", crl_url=CRL_A)
    impostor = CA("ecdsa")
    result, _ = run(revocation_flow(leaf.cert, ca.issuer), lambda need: crl_of(impostor))
    assert result.status is CertStatus.UNKNOWN and result.source is None
    assert [a.source for a in result.attempts] == [RevocationSource.OCSP, RevocationSource.CRL]
    assert isinstance(result.attempts[0].error, NoOCSPURLError)
    assert result.to_dict()["error"] == str(result.attempts[-1].error)


def test_sources_order_and_selection(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)
    answer: Answer = lambda need: crl_of(ca) if isinstance(need, AskCRL) else down(need)  # noqa: E731
    _, asked = run(revocation_flow(leaf.cert, ca.issuer, sources=("crl", "ocsp")), answer)
    assert [type(a) for a in asked] == [AskCRL]
    _, asked = run(revocation_flow(leaf.cert, ca.issuer, sources=("crl",)), down)
    assert [type(a) for a in asked] == [AskCRL]
    _, asked = run(revocation_flow(leaf.cert, ca.issuer, sources=("ocsp",)), down)
    assert [type(a) for a in asked] == [AskOCSP]
    assert check_sources("crl") == ("crl",)
    for bad in ((), ("ldap",), ("ocsp", "staple")):
        with pytest.raises(ValueError):
            check_sources(bad)


def test_ocsp_url_override_replaces_the_aia_urls(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A)
    _, asked = run(revocation_flow(leaf.cert, ca.issuer, ocsp_url=OCSP_B, sources=("ocsp",)), down)
    assert [getattr(a, "url", None) for a in asked] == [OCSP_B]


def test_staple_first_and_nothing_else_asked(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)
    staple = ca.sign_response(leaf.cert, nonce=b"n" * 16).der  # a staple's nonce is ignored
    result, asked = run(revocation_flow(leaf.cert, ca.issuer, staple=staple), down)
    assert asked == []
    assert result.source is RevocationSource.STAPLE and result.good and result.url is None


def test_an_invalid_staple_is_an_attempt_then_ocsp_answers(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A)
    past = NOW - timedelta(hours=5)
    expired = ca.sign_response(leaf.cert, now=past, validity=timedelta(hours=1)).der
    result, _ = run(
        revocation_flow(leaf.cert, ca.issuer, staple=expired),
        lambda need: ocsp_answer(ca, leaf.cert),
    )
    assert result.source is RevocationSource.OCSP and result.good
    assert result.attempts[0].source is RevocationSource.STAPLE
    assert isinstance(result.attempts[0].error, ExpiredResponseError)


def test_a_staple_for_another_certificate_is_refused(ca: CA) -> None:
    leaf, other = ca.issue(ocsp_url=""), ca.issue(ocsp_url="")
    staple = ca.sign_response(other.cert).der
    result, _ = run(revocation_flow(leaf.cert, ca.issuer, staple=staple), down)
    assert result.status is CertStatus.UNKNOWN
    assert result.attempts[0].source is RevocationSource.STAPLE


def test_unknown_is_kept_only_when_nothing_better_answers(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)

    def unknown(serial: int) -> Any:
        return (CertStatus.UNKNOWN, None, None)

    said_unknown = validate_response(
        ca.sign_response(leaf.cert, lookup=unknown), leaf.cert, ca.issuer
    )

    def crl_answers(need: Request) -> Any:
        return said_unknown if isinstance(need, AskOCSP) else crl_of(ca)

    result, _ = run(revocation_flow(leaf.cert, ca.issuer), crl_answers)
    assert result.source is RevocationSource.CRL and result.good
    assert result.attempts[0].source is RevocationSource.OCSP

    def crl_down(need: Request) -> Any:
        return said_unknown if isinstance(need, AskOCSP) else down(need)

    result, _ = run(revocation_flow(leaf.cert, ca.issuer, require=True), crl_down)
    assert result.status is CertStatus.UNKNOWN and result.source is RevocationSource.OCSP
    assert result.ocsp is said_unknown
    assert [a.source for a in result.attempts] == [RevocationSource.CRL]


def test_no_rev_avail_and_short_lived_need_no_request(ca: CA) -> None:
    marked = ca.issue(ocsp_url="", no_rev_avail=True)
    result, asked = run(revocation_flow(marked.cert, None), down)
    assert asked == [] and result.good
    assert result.source is RevocationSource.NO_REVOCATION_INFO
    brief = ca.issue(ocsp_url="", not_after=NOW + timedelta(days=3))
    result, asked = run(revocation_flow(brief.cert, None, require=True), down)
    assert asked == [] and result.good and result.source is RevocationSource.SHORT_LIVED
    assert result.next_update == brief.cert.not_valid_after_utc


def test_the_issuer_is_asked_for_once_and_only_when_needed(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)

    def answer(need: Request) -> Any:
        if isinstance(need, NeedIssuer):
            return ca.issuer
        if isinstance(need, AskOCSP):
            assert need.issuer == ca.issuer
            return down(need)
        return crl_of(ca)

    result, asked = run(revocation_flow(leaf.cert, None), answer)
    assert [type(a) for a in asked] == [NeedIssuer, AskOCSP, AskCRL] and result.good


def test_soft_and_hard_failure(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=CRL_A)
    soft, _ = run(revocation_flow(leaf.cert, ca.issuer), down)
    assert soft.status is CertStatus.UNKNOWN and soft.source is None
    assert [(a.source, a.url) for a in soft.attempts] == [
        (RevocationSource.OCSP, OCSP_A),
        (RevocationSource.CRL, CRL_A),
    ]
    with pytest.raises(RevocationUnavailableError) as caught:
        run(revocation_flow(leaf.cert, ca.issuer, require=True), down)
    assert [(a.source, a.url) for a in caught.value.attempts] == [
        (a.source, a.url) for a in soft.attempts
    ]
    assert OCSP_A in str(caught.value) and CRL_A in str(caught.value)


def test_a_bad_signature_on_the_crl_is_an_attempt(ca: CA) -> None:
    leaf = ca.issue(ocsp_url="", crl_url=CRL_A)
    good = ca.sign_crl().public_bytes(Encoding.DER)
    tampered = good[:-3] + bytes(b ^ 0x55 for b in good[-3:])
    result, _ = run(revocation_flow(leaf.cert, ca.issuer), lambda need: parse_crl(tampered))
    assert result.status is CertStatus.UNKNOWN
    assert isinstance(result.attempts[-1].error, (SignatureError, OCSPError))


def test_no_crl_distribution_point_is_a_typed_attempt(ca: CA) -> None:
    leaf = ca.issue(ocsp_url=OCSP_A, crl_url=())

    def answer(need: Request) -> Any:
        raise FetchError("responder down", url=OCSP_A)

    result, asked = run(revocation_flow(leaf.cert, ca.issuer), answer)
    assert result.status is CertStatus.UNKNOWN and result.source is None
    assert [a.source for a in result.attempts] == [RevocationSource.OCSP, RevocationSource.CRL]
    assert isinstance(result.attempts[1].error, NoCRLURLError)
    assert result.attempts[1].url is None
    assert all(isinstance(n, AskOCSP) for n in asked)
