"""The probe's revocation part, against real TLS servers on loopback: how the served leaf's
revocation can be checked, the opt-in answer of check_revocation, to_dict, and a staple for
another certificate (served by a real ``openssl s_server``) reported as stapled and invalid."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import CertStatus, NoMatchingResponseError, RevocationSource
from ocspkit.probing import ProbeOutcome, ProbeTarget, aprobe, probe
from ocspkit.probing.report import REPORT_KEYS
from ocspkit.testing import CA, CRLServer, Leaf
from tests._lab import free_ports, pyopenssl_staple_server
from tests._servers import need_binary

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="probe revocation")


@pytest.fixture
def crls(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as server:
        yield server


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"openssl s_server exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("openssl s_server did not start")


def _s_server(leaf: Leaf, staple: bytes, directory: Path) -> Iterator[int]:
    openssl = need_binary("openssl")
    files = leaf.write(directory, "served")
    (directory / "staple.der").write_bytes(staple)
    (directory / "issuer.pem").write_bytes(b"".join(
        c.public_bytes(Encoding.PEM) for c in leaf.chain[1:]
    ))  # fmt: skip
    port = free_ports(1)[0]
    proc = subprocess.Popen(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(files.cert),
         "-cert_chain", str(directory / "issuer.pem"),
         "-key", str(files.key), "-status_file", str(directory / "staple.der"), "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_valid_staple_for_another_certificate_is_stapled_and_invalid(
    ca: CA, tmp_path: Path
) -> None:
    # OpenSSL 3 servers send whatever staple they were given; the probe must say it came
    leaf, other = ca.issue("localhost"), ca.issue("someone-else.test")
    staple = ca.sign_response(other.cert).der
    for port in _s_server(leaf, staple, tmp_path):
        report = probe("127.0.0.1", port, servername="localhost", trust_roots=[ca.root], timeout=5)
        assert report.stapled and report.staple_der == staple
        assert isinstance(report.staple_error, NoMatchingResponseError)
        assert report.staple_status is None and not report.ok
        assert report.revocation_methods[0] is RevocationSource.STAPLE
        row = report.to_dict()
        assert row["stapled"] is True and row["staple_status"] is None
        assert row["status"] is None and row["error"] and row["staple_error"]


def test_revocation_answer_from_the_crl_when_nothing_is_stapled(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("localhost", ocsp_url="", crl_url=url)
    ca.revoke(leaf.cert)
    with pyopenssl_staple_server(leaf.chain, leaf.key, None) as server:
        quiet = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root])
        assert quiet.revocation is None and crls.requests == ()  # opt-in: no fetch by default
        assert quiet.revocation_methods == (RevocationSource.CRL,)
        assert quiet.crl_urls == (url,)
        report = probe(
            "127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root],
            revocation=True, timeout=5,
        )  # fmt: skip
        areport = __import__("asyncio").run(
            aprobe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root],
                   revocation=True, timeout=5)
        )  # fmt: skip
    for r in (report, areport):
        assert r.revocation is not None and r.revocation_error is None
        assert r.revocation.status is CertStatus.REVOKED
        assert r.revocation.source is RevocationSource.CRL
    row = report.to_dict()
    assert tuple(row) == REPORT_KEYS
    assert json.loads(json.dumps(row)) == row
    assert row["status"] == "revoked" and row["source"] == "crl" and row["url"] == url
    assert row["revocation_methods"] == "crl" and row["crl_urls"] == url
    assert areport.to_dict()["status"] == "revoked"


def test_a_valid_staple_answers_without_any_fetch(ca: CA, crls: CRLServer) -> None:
    leaf = ca.issue("localhost", ocsp_url="http://127.0.0.1:9/ocsp", crl_url=crls.url_for("x"))
    staple = ca.sign_response(leaf.cert).der
    with pyopenssl_staple_server(leaf.chain, leaf.key, staple) as server:
        report = probe(
            "127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root],
            revocation=True,
        )  # fmt: skip
    assert report.revocation is not None and report.revocation.source is RevocationSource.STAPLE
    assert crls.requests == ()
    assert report.revocation_methods == (
        RevocationSource.STAPLE, RevocationSource.OCSP, RevocationSource.CRL,
    )  # fmt: skip
    assert report.to_dict()["source"] == "staple"


def test_outcome_rows_have_the_same_keys_with_or_without_a_report(ca: CA) -> None:
    leaf = ca.issue("localhost", ocsp_url="")
    with pyopenssl_staple_server(leaf.chain, leaf.key, None) as server:
        targets = [f"127.0.0.1:{server.port}", f"127.0.0.1:{free_ports(1)[0]}"]
        outcomes = sorted(
            ocspkit.probe_many(targets, servername="localhost", trust_roots=[ca.root], timeout=3),
            key=lambda o: o.index,
        )
    rows = [o.to_dict() for o in outcomes]
    assert tuple(rows[0]) == tuple(rows[1])
    assert rows[0]["revocation_methods"] == "none" and rows[0]["error_type"] is None
    assert rows[1]["error_type"] and rows[1]["error"] and rows[1]["host"] == "127.0.0.1"
    empty = ProbeOutcome(ProbeTarget("h.test"), 0).to_dict()
    assert tuple(empty) == tuple(rows[0]) and empty["target"] == "h.test:443"
