"""Results that code and notebooks can use (issue 15 §4): ``to_dict`` and the HTML renderings.

Real certificates, a real loopback responder and real bulk checks; the validity-window picture
is screenshotted in a real headless Chromium (skipped only when chromium is missing and
OCSPKIT_REQUIRE_SERVERS is unset).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

import ocspkit
from ocspkit import _html
from ocspkit.client import CheckOutcome, check_many
from ocspkit.testing import CA, Responder, StaplingTLSServer
from tests._servers import need_binary
from tests.test_cli import closed_port
from tests.test_html import parse

pytestmark = pytest.mark.timeout(120)

FLAT_KEYS = {
    "status", "source", "this_update", "next_update", "revocation_time", "reason", "url",
    "error",
}  # fmt: skip


@pytest.fixture(scope="module")
def outcomes() -> list[CheckOutcome]:
    ca = CA("ecdsa", name="notebook")
    with Responder(ca) as responder:
        leaves = [ca.issue(f"site{i}.example", ocsp_url=responder.url) for i in range(3)]
        ca.revoke(leaves[1].cert, ocspkit.RevocationReason.KEY_COMPROMISE)
        down = ca.issue("down.example", ocsp_url=f"http://127.0.0.1:{closed_port()}/")
        items = [(leaf.cert, ca.issuer) for leaf in [*leaves, down]]
        return sorted(check_many(items), key=lambda o: o.index)


def test_to_dict_is_flat_json_and_the_same_keys_for_every_row(
    outcomes: list[CheckOutcome],
) -> None:
    rows = [o.to_dict() for o in outcomes]
    text = json.dumps(rows)  # JSON-serialisable as is
    assert json.loads(text) == rows
    assert len({tuple(r) for r in rows}) == 1  # same keys in the same order: a clean table
    assert FLAT_KEYS <= set(rows[0])
    assert all(not isinstance(v, (dict, list)) for r in rows for v in r.values())  # flat
    # "pandas-style" use without pandas: columns by key
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    assert columns["status"] == ["good", "revoked", "good", None]
    assert columns["reason"][1] == "key_compromise" and columns["revocation_time"][1]
    assert columns["error"][3] and columns["error_type"][3] == "ConnectError"
    assert columns["url"][3].startswith("http://127.0.0.1:")
    assert columns["source"][:3] == ["ocsp"] * 3
    result = outcomes[0].result
    assert result is not None
    flat = result.to_dict()
    assert set(flat) <= set(rows[0]) and flat["status"] == "good"
    datetime.fromisoformat(str(flat["this_update"]).replace("Z", "+00:00"))


def test_outcomes_html_is_one_table_with_a_row_per_certificate(
    outcomes: list[CheckOutcome],
) -> None:
    out = _html.outcomes_html(outcomes)
    doc = parse(out)
    assert doc.tags.count("table") == 1
    assert doc.tags.count("tr") == 1 + len(outcomes)  # header + one row each
    text = "".join(doc.text)
    for word in ("GOOD", "REVOKED", "NO ANSWER", "site1.example", "ConnectError"):
        assert word in text
    assert doc.tags.count("svg") == 1 and doc.tags.count("rect") == 3  # the three answers


def test_result_html_has_the_validity_window(outcomes: list[CheckOutcome]) -> None:
    result = outcomes[1].result
    assert result is not None
    out = result._repr_html_()
    doc = parse(out)
    assert doc.tags.count("table") == 1 and doc.tags.count("svg") == 1
    text = "".join(doc.text)
    assert "producedAt" in text and "refresh" in text and "now" in text
    assert "#cf222e" in out  # the revoked bar is red


def test_svg_without_next_update_fades_to_the_edge() -> None:
    ca = CA("ecdsa", name="no next update")
    leaf = ca.issue("x")
    request = ocspkit.build_request(leaf.cert, ca.issuer)
    real = ocspkit.validate_response(Responder(ca).respond(request.der), leaf.cert, ca.issuer)
    result = replace(real, single=replace(real.single, next_update=None))  # a renderer input
    svg = _html.validity_svg([("x", result)], now=datetime.now(timezone.utc))
    assert "url(#ocspkit-fade)" in svg and "<title>" in svg


@pytest.mark.timeout(60)
def test_probe_html_says_invalid_for_a_staple_that_does_not_validate() -> None:
    from ocspkit.probing import probe

    ca = CA("ecdsa", name="invalid staple")
    leaf = ca.issue("localhost")
    # a real answer from a responder that does not serve this CA: sent, but not valid
    request = ocspkit.build_request(leaf.cert, ca.issuer)
    wrong = Responder(CA("ecdsa", name="someone else")).respond(request.der).der
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:], staple=lambda: wrong) as s:
        report = probe("127.0.0.1", s.port, servername="localhost", trust_roots=[ca.root])
    assert report.stapled and report.staple_result is None
    text = "".join(parse(report._repr_html_()).text)
    assert "INVALID" in text and "NO ANSWER" not in text


def test_single_response_tables_share_the_label_width() -> None:
    ca = CA("ecdsa", name="aligned")
    leaves = [ca.issue("localhost") for _ in range(2)]
    request = ocspkit.build_request([leaf.cert for leaf in leaves], ca.issuer)
    out = Responder(ca).respond(request.der)._repr_html_()
    assert out.count("<th ") == out.count("width:9em;min-width:9em")


@pytest.mark.timeout(120)
def test_validity_window_screenshot_in_headless_chromium(
    outcomes: list[CheckOutcome], tmp_path: Path
) -> None:
    chromium = need_binary("chromium", "chromium-browser", "google-chrome")
    result = outcomes[0].result
    assert result is not None
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><html><body style='font-family:sans-serif;background:#fff'>"
        + result._repr_html_()
        + "<hr>"
        + _html.outcomes_html(outcomes)
        + "</body></html>"
    )
    shot = tmp_path / "validity.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=900,900", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (900, 900)
