"""Jupyter output: ``_repr_html_`` of responses, results and probe reports.

Compact tables, the status coloured, and every text taken from certificates HTML-escaped.
"""

from __future__ import annotations

import html.parser

import pytest

import ocspkit
from ocspkit.testing import CA, Responder, StaplingTLSServer

NASTY = '<script>alert("x")</script> & co'


class _Collector(html.parser.HTMLParser):
    """Tags and text of a fragment (to check structure without string matching on markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(fragment: str) -> _Collector:
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name=NASTY, ocsp_url="http://127.0.0.1:9/")


def answer(ca: CA, cert: object) -> ocspkit.OCSPResponse:
    """A real signed response from the test responder's logic (no socket needed)."""
    request = ocspkit.build_request(cert, ca.issuer)  # type: ignore[arg-type]
    return Responder(ca).respond(request.der)


def test_result_html_is_a_table_with_the_status_and_escaped_names(ca: CA) -> None:
    leaf = ca.issue("localhost")
    result = ocspkit.validate_response(answer(ca, leaf.cert), leaf.cert, ca.issuer)
    out = result._repr_html_()
    doc = parse(out)
    assert doc.tags.count("table") == 1 and "script" not in doc.tags
    text = "".join(doc.text)
    assert "GOOD" in text and "signed by" in text
    assert "script\\>alert(" in text  # shown to the reader as text (RFC 4514 escaped)...
    assert "<script>" not in out  # ...never as markup
    assert "#1a7f37" in out  # good is green


def test_revoked_result_is_red_with_reason(ca: CA) -> None:
    leaf = ca.issue("localhost")
    ca.revoke(leaf.cert, ocspkit.RevocationReason.SUPERSEDED)
    result = ocspkit.validate_response(answer(ca, leaf.cert), leaf.cert, ca.issuer)
    out = result._repr_html_()
    text = "".join(parse(out).text)
    assert "REVOKED" in text and "superseded" in text and "revoked at" in text
    assert "#cf222e" in out


def test_response_html_lists_each_single_response(ca: CA) -> None:
    leaves = [ca.issue("localhost") for _ in range(2)]
    request = ocspkit.build_request([leaf.cert for leaf in leaves], ca.issuer)
    response = Responder(ca).respond(request.der)
    out = response._repr_html_()
    doc = parse(out)
    assert doc.tags.count("table") == 3  # the response, then one per SingleResponse
    text = "".join(doc.text)
    assert "not validated" in text and "successful" in text
    assert format(leaves[1].cert.serial_number, "x") in text


def test_unsuccessful_response_html() -> None:
    response = ocspkit.build_error_response(ocspkit.ResponseStatus.TRY_LATER)
    text = "".join(parse(response._repr_html_()).text)
    assert "try_later" in text


@pytest.mark.timeout(60)
def test_probe_report_html() -> None:
    from ocspkit.probing import probe

    ca = CA("ecdsa", name=NASTY)
    with Responder(ca):
        leaf = ca.issue("localhost", must_staple=True)
        with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:]) as server:
            report = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root])
    out = report._repr_html_()
    doc = parse(out)
    assert "script" not in doc.tags and "<script>" not in out
    text = "".join(doc.text)
    assert "no staple" in text and "Must-Staple" in text and "violation" in text
    assert "TLSv1" in text and "localhost" in text


def test_revocation_result_html_from_a_crl(ca: CA) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = ca.issue("crl-html.test", ocsp_url="", crl_url="http://crl.test/ca.crl")
    ca.revoke(leaf.cert, ocspkit.RevocationReason.KEY_COMPROMISE)
    crl = ca.sign_crl().public_bytes(Encoding.DER)
    result = ocspkit.crl_status(leaf.cert, ca.issuer, crl, url="http://crl.test/ca.crl")
    out = result._repr_html_()
    assert out is not None and "REVOKED" in out and "key_compromise" in out
    assert "crl" in out and "http://crl.test/ca.crl" in out and "<svg" in out
    assert "<script" not in out  # the CA's hostile name is escaped
    parse(out)


def test_revocation_outcomes_table_names_the_source_and_the_unanswered(ca: CA) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    url = "http://crl.test/ca.crl"
    good = ca.issue("good.test", ocsp_url="", crl_url=url)
    crl = ca.sign_crl().public_bytes(Encoding.DER)
    answered = ocspkit.crl_status(good.cert, ca.issuer, crl, url=url)
    failed = ocspkit.FetchError("responder down", url="http://ocsp.test/")
    attempt = ocspkit.RevocationAttempt(ocspkit.RevocationSource.OCSP, "http://ocsp.test/", failed)
    unknown = ocspkit.RevocationResult(ocspkit.CertStatus.UNKNOWN, None, attempts=(attempt,))
    outcomes = [
        ocspkit.RevocationOutcome(0, good.cert, good.cert, answered, None),
        ocspkit.RevocationOutcome(1, good.cert, good.cert, unknown, None),
    ]
    out = ocspkit.outcomes_html(outcomes)
    assert "Revocation checks: 2" in out and f"crl {url}" in out
    assert "no source answered" in out
    assert out.count("<rect") == 1  # one window: the UNKNOWN has none
    table = unknown._repr_html_()
    assert table is not None and "tried" in table and "responder down" in table
    assert "<svg" not in table
