"""``ocspkit check`` and ``check-many`` through check_revocation, run as real subprocesses
against a real CRLServer and OCSP Responder on loopback: the source is printed, ``--source``
forces one, the exit codes are those of ``check``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocspkit import RevocationReason
from ocspkit.testing import CA, CRLServer, Responder
from tests._lab import pyopenssl_staple_server
from tests.test_cli import closed_port, ocspkit_cmd

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="revocation cli")


@pytest.fixture
def crls(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as server:
        yield server


def test_check_a_crl_only_certificate_good_then_revoked(
    ca: CA, crls: CRLServer, tmp_path: Path
) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("crl-only.test", ocsp_url="", crl_url=url)
    leaf.write(tmp_path, "le")
    chain = str(tmp_path / "le.chain.pem")
    run = ocspkit_cmd("check", "--cert", chain)
    assert run.code == 0, run.err
    assert "GOOD" in run.out and "crl " + url in run.out.replace("  ", " ")
    assert "no OCSP responder URL" in run.out  # the OCSP attempt is shown
    ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
    run = ocspkit_cmd("check", "--cert", chain)
    assert run.code == 1, run.err
    assert "REVOKED" in run.out and "key_compromise" in run.out
    doc = ocspkit_cmd("check", "--json", "--cert", chain).json()
    assert doc["exit_code"] == 1 and doc["status"] == "revoked" and doc["source"] == "crl"
    assert doc["result"]["source"] == "crl" and doc["result"]["url"] == url
    assert doc["result"]["reason"] == "key_compromise" and doc["result"]["crl_number"]
    assert doc["crl_urls"] == [url] and doc["ocsp_urls"] == []
    assert [a["source"] for a in doc["attempts"]] == ["ocsp"]
    assert doc["attempts"][0]["error"]["type"] == "NoOCSPURLError"


def test_check_ocsp_down_answers_from_the_crl_and_source_forces(
    ca: CA, crls: CRLServer, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{closed_port()}/ocsp"
    leaf = ca.issue("both.test", ocsp_url=down, crl_url=crls.url_for("/ca.crl"))
    leaf.write(tmp_path, "both")
    chain = str(tmp_path / "both.chain.pem")
    doc = ocspkit_cmd("check", "--json", "--timeout", "5", "--cert", chain).json()
    assert doc["exit_code"] == 0 and doc["source"] == "crl"
    assert [(a["source"], a["url"]) for a in doc["attempts"]] == [("ocsp", down)]
    run = ocspkit_cmd("check", "--source", "ocsp", "--timeout", "5", "--cert", chain)
    assert run.code == 3
    assert "127.0.0.1" in run.one_line_error()
    before = len(crls.requests)
    with Responder(ca) as responder:
        via = ca.issue("forced.test", ocsp_url=responder.url, crl_url=crls.url_for("/ca.crl"))
        via.write(tmp_path, "forced")
        run = ocspkit_cmd("check", "--source", "crl", "--cert", str(tmp_path / "forced.chain.pem"))
        assert run.code == 0, run.err
        assert responder.records == ()
    assert len(crls.requests) == before + 1
    assert ocspkit_cmd("check", "--source", "ldap", "--cert", chain).code == 4


def test_check_many_one_crl_for_all(ca: CA, crls: CRLServer, tmp_path: Path) -> None:
    url = crls.url_for("/ca.crl")
    names = []
    for i in range(6):
        leaf = ca.issue(f"many{i}.test", ocsp_url="", crl_url=url)
        leaf.write(tmp_path, f"m{i}")
        names.append(str(tmp_path / f"m{i}.chain.pem"))
        if i == 3:
            ca.revoke(leaf.cert)
    run = ocspkit_cmd("check-many", "--jsonl", *names)
    assert run.code == 1, run.err  # one is revoked
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert sorted(r["index"] for r in rows) == list(range(6))
    assert {r["source"] for r in rows} == {"crl"}
    assert [r["status"] for r in sorted(rows, key=lambda r: r["index"])] == [
        "good", "good", "good", "revoked", "good", "good",
    ]  # fmt: skip
    assert len(crls.requests) == 1
    doc = ocspkit_cmd("check-many", "--json", "--source", "crl", *names[:2]).json()
    assert doc["summary"]["good"] == 2 and doc["results"][0]["source"] == "crl"


def test_probe_says_how_revocation_can_be_checked_and_answers_on_request(
    ca: CA, crls: CRLServer, tmp_path: Path
) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("localhost", ocsp_url="", crl_url=url)
    ca.revoke(leaf.cert)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with pyopenssl_staple_server(leaf.chain, leaf.key, None) as server:
        target = f"127.0.0.1:{server.port}"
        common = ("--servername", "localhost", "--cafile", str(tmp_path / "root.pem"))
        run = ocspkit_cmd("probe", target, *common)
        assert "revocation via" in run.out and "crl" in run.out
        assert crls.requests == ()  # no fetch without --revocation
        doc = ocspkit_cmd("probe", target, *common, "--revocation", "--json").json()
    assert doc["revocation_methods"] == ["crl"] and doc["crl_urls"] == [url]
    assert doc["revocation"]["status"] == "revoked" and doc["revocation"]["source"] == "crl"
    assert doc["exit_code"] == 3  # the exit code stays that of the staple (none was sent)
    assert len(crls.requests) == 1


def test_check_answers_from_the_crl_when_the_responder_hangs(
    ca: CA, crls: CRLServer, tmp_path: Path
) -> None:
    from ocspkit.testing import Fault

    with Responder(ca, fault=Fault.HANG) as hanging:
        leaf = ca.issue("hang.test", ocsp_url=hanging.url, crl_url=crls.url_for("/ca.crl"))
        leaf.write(tmp_path, "hang")
        run = ocspkit_cmd("check", "--timeout", "3", "--cert", str(tmp_path / "hang.chain.pem"))
    assert run.code == 0, run.out + run.err
    assert "GOOD" in run.out and "crl" in run.out
