"""The ``ocspkit`` command, driven as a user would: ``python -m ocspkit ...`` in a subprocess.

A throwaway CA, a real loopback responder and a real stapling TLS server run in this process;
the command talks to them over 127.0.0.1. Bad input must give one readable line on stderr and
the documented exit code: 0 good, 1 revoked, 2 unknown, 3 no valid answer, 4 usage.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ocspkit
from ocspkit.client import check
from ocspkit.testing import CA, Fault, Leaf, Responder, StaplingTLSServer

pytestmark = pytest.mark.timeout(120)

SUBCOMMANDS = ("demo", "uris", "check", "probe", "staple-file", "check-many", "inspect")
ROOT = Path(__file__).resolve().parent.parent


class Run:
    """The outcome of one command: exit code, stdout, stderr."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def one_line_error(self) -> str:
        """The single stderr line (asserting there is exactly one and no traceback)."""
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


def ocspkit_cmd(*args: str, timeout: float = 60) -> Run:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Run(proc)


def closed_port() -> int:
    """A loopback TCP port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="ocspkit cli test")


@pytest.fixture(scope="module")
def responder(ca: CA) -> Iterator[Responder]:
    with Responder(ca) as r:
        yield r


def write_leaf(ca: CA, responder: Responder, directory: Path, name: str, **kw: Any) -> Leaf:
    leaf = ca.issue("localhost", ocsp_url=kw.pop("ocsp_url", responder.url), **kw)
    leaf.write(directory, name)
    return leaf


def test_help_on_every_subcommand() -> None:
    top = ocspkit_cmd("--help")
    assert top.code == 0
    for sub in SUBCOMMANDS:
        assert sub in top.out
    assert "exit codes" in top.out
    for sub in SUBCOMMANDS:
        run = ocspkit_cmd(sub, "--help")
        assert run.code == 0, (sub, run.err)
        assert f"usage: ocspkit {sub}" in run.out
        assert "--json" in run.out


def test_version() -> None:
    run = ocspkit_cmd("--version")
    assert run.code == 0 and ocspkit.__version__ in run.out


def test_usage_errors_are_one_line_and_exit_4() -> None:
    run = ocspkit_cmd()
    assert run.code == 4
    run = ocspkit_cmd("frobnicate")
    assert run.code == 4
    assert "invalid choice" in run.one_line_error()
    run = ocspkit_cmd("check")
    assert run.code == 4
    assert "--cert" in run.one_line_error()
    run = ocspkit_cmd("probe", "localhost:99999")
    assert run.code == 4
    assert "port" in run.one_line_error()
    run = ocspkit_cmd("probe", "x", "--tls1_2", "--tls1_3")
    assert run.code == 4
    run.one_line_error()


def test_demo_runs_offline_and_exits_0() -> None:
    run = ocspkit_cmd("demo")
    assert run.code == 0, run.err
    for word in ("GOOD", "REVOKED", "staple", "Done"):
        assert word in run.out
    assert "\033[" not in run.out  # no colour when not on a terminal


def test_demo_json() -> None:
    doc = ocspkit_cmd("demo", "--json").json()
    assert doc["command"] == "demo" and doc["exit_code"] == 0
    steps = {s["step"]: s for s in doc["steps"]}
    assert steps["validate"]["result"]["status"] == "good"
    assert steps["revoke-and-check"]["result"]["status"] == "revoked"
    assert steps["probe"]["staple_status"] == "good"
    assert steps["probe-after-revoke"]["staple_status"] == "revoked"
    assert steps["crl-check"]["result"]["status"] == "good"
    assert steps["crl-check"]["result"]["source"] == "crl"
    assert steps["crl-revoke-and-check"]["result"]["status"] == "revoked"


def test_uris_of_a_file(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "site")
    run = ocspkit_cmd("uris", str(tmp_path / "site.chain.pem"))
    assert run.code == 0
    assert responder.url in run.out
    assert "(no OCSP URI)" in run.out  # the intermediate names none
    doc = ocspkit_cmd("uris", "--json", str(tmp_path / "site.crt")).json()
    assert doc["command"] == "uris" and doc["exit_code"] == 0
    assert doc["certificates"][0]["ocsp_urls"] == [responder.url]
    assert doc["certificates"][0]["subject"].startswith("CN=localhost")


def test_uris_without_ocsp_uri_exits_3(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "plain", ocsp_url="")
    run = ocspkit_cmd("uris", str(tmp_path / "plain.crt"))
    assert run.code == 3
    assert "(no OCSP URI)" in run.out


def test_uris_of_a_server(ca: CA, responder: Responder) -> None:
    leaf = ca.issue("localhost", ocsp_url=responder.url)
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:]) as server:
        run = ocspkit_cmd("uris", f"127.0.0.1:{server.port}", "--servername", "localhost")
    assert run.code == 0, run.err
    assert responder.url in run.out
    assert "CN=localhost" in run.out and "Intermediate" in run.out


def test_check_good(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "good")
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "good.chain.pem"))
    assert run.code == 0, run.err
    assert "GOOD" in run.out and responder.url in run.out
    assert run.err == ""
    run = ocspkit_cmd(
        "check",
        "--cert",
        str(tmp_path / "good.crt"),
        "--issuer",
        str(tmp_path / "good.chain.pem"),
        "--sha256",
        "--no-nonce",
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["command"] == "check" and doc["exit_code"] == 0 and doc["status"] == "good"
    assert doc["certificate"]["serial"] == format(leaf.cert.serial_number, "x")
    assert doc["result"]["hash_algorithm"] == "sha256"
    assert doc["result"]["nonce"] is None
    assert doc["error"] is None
    datetime.fromisoformat(doc["result"]["this_update"].replace("Z", "+00:00"))


def test_check_revoked_exits_1(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "bad")
    ca.revoke(leaf.cert, ocspkit.RevocationReason.KEY_COMPROMISE)
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "bad.chain.pem"))
    assert run.code == 1
    assert "REVOKED" in run.out and "key_compromise" in run.out
    doc = ocspkit_cmd("check", "--json", "--cert", str(tmp_path / "bad.chain.pem")).json()
    assert doc["status"] == "revoked" and doc["exit_code"] == 1
    assert doc["result"]["revocation_reason"] == "key_compromise"


def _unrecorded_leaf(ca: CA, url: str) -> x509.Certificate:
    """A certificate signed by the CA's issuer key that the CA's table does not know."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    aia = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
            )
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")]))
        .issuer_name(ca.issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(aia, critical=False)
        .sign(ca.issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def test_check_unknown_exits_2(ca: CA, responder: Responder, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = _unrecorded_leaf(ca, responder.url)
    (tmp_path / "stranger.pem").write_bytes(
        cert.public_bytes(Encoding.PEM) + ca.issuer.public_bytes(Encoding.PEM)
    )
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "stranger.pem"))
    assert run.code == 2, run.err
    assert "UNKNOWN" in run.out


def test_check_missing_file_and_not_a_certificate(tmp_path: Path) -> None:
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "nope.pem"))
    assert run.code == 4
    line = run.one_line_error()
    assert "not found" in line and "nope.pem" in line
    (tmp_path / "junk.pem").write_text("this is not a certificate\n")
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "junk.pem"))
    assert run.code == 4
    assert "not a certificate" in run.one_line_error()
    run = ocspkit_cmd("check", "--cert", str(tmp_path))
    assert run.code == 4
    run.one_line_error()
    doc = ocspkit_cmd("check", "--json", "--cert", str(tmp_path / "nope.pem")).json()
    assert doc["exit_code"] == 4 and "not found" in doc["error"]["message"]


def test_check_wrong_issuer_is_usage(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "leaf")
    other = CA("ecdsa", name="someone else")
    (tmp_path / "other.pem").write_bytes(other.issuer_pem)
    run = ocspkit_cmd(
        "check", "--cert", str(tmp_path / "leaf.crt"), "--issuer", str(tmp_path / "other.pem")
    )
    assert run.code == 4
    assert "issued" in run.one_line_error()


def test_check_responder_down_exits_3(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "leaf")
    url = f"http://127.0.0.1:{closed_port()}/"
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "leaf.chain.pem"), "--url", url)
    assert run.code == 3
    line = run.one_line_error()
    assert "127.0.0.1" in line
    doc = ocspkit_cmd(
        "check", "--json", "--cert", str(tmp_path / "leaf.chain.pem"), "--url", url
    ).json()
    assert doc["exit_code"] == 3 and doc["status"] is None
    assert doc["error"]["type"] and doc["error"]["message"]


def test_check_responder_refusing_exits_3(tmp_path: Path) -> None:
    ca = CA("ecdsa", name="refusing")
    with Responder(ca, fault=Fault.TRY_LATER) as responder:
        write_leaf(ca, responder, tmp_path, "leaf")
        run = ocspkit_cmd("check", "--cert", str(tmp_path / "leaf.chain.pem"))
    assert run.code == 3
    assert "try" in run.one_line_error().lower()


def test_check_without_ocsp_url_exits_3(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "plain", ocsp_url="")
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "plain.chain.pem"))
    assert run.code == 3
    assert "OCSP" in run.one_line_error()


def test_probe_good_staple(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = ca.issue("localhost", ocsp_url=responder.url, must_staple=True)
    staple = check(leaf.cert, ca.issuer).response.der
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:], staple=lambda: staple) as server:
        target = f"127.0.0.1:{server.port}"
        common = ("--servername", "localhost", "--cafile", str(tmp_path / "root.pem"))
        run = ocspkit_cmd("probe", target, *common)
        doc = ocspkit_cmd("probe", target, *common, "--json", "--tls1_2").json()
    assert run.code == 0, run.err
    assert "GOOD" in run.out and "valid" in run.out
    assert doc["exit_code"] == 0 and doc["stapled"] is True and doc["staple_status"] == "good"
    assert doc["tls_version"] == "TLSv1.2" and doc["chain_valid"] is True
    assert doc["must_staple"] is True and doc["must_staple_violation"] is False
    assert doc["staple"]["status"] == "good"


def test_probe_revoked_staple_exits_1(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = ca.issue("localhost", ocsp_url=responder.url)
    ca.revoke(leaf.cert)
    staple = check(leaf.cert, ca.issuer).response.der
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:], staple=lambda: staple) as server:
        run = ocspkit_cmd(
            "probe",
            f"127.0.0.1:{server.port}",
            "--servername",
            "localhost",
            "--cafile",
            str(tmp_path / "root.pem"),
        )
    assert run.code == 1, run.err
    assert "REVOKED" in run.out


def test_probe_untrusted_chain_exits_3(ca: CA, responder: Responder) -> None:
    """A valid GOOD staple from a server whose chain does not validate proves nothing."""
    leaf = ca.issue("localhost", ocsp_url=responder.url)
    staple = check(leaf.cert, ca.issuer).response.der
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:], staple=lambda: staple) as server:
        run = ocspkit_cmd(
            "probe", f"127.0.0.1:{server.port}", "--servername", "localhost", "--json"
        )
    assert run.code == 3, run.err
    doc = run.json()
    assert doc["chain_valid"] is False and doc["staple_status"] == "good"
    assert "chain is not valid" in run.one_line_error()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_bad_timeout_is_usage(value: str) -> None:
    run = ocspkit_cmd("probe", "127.0.0.1:9", "--timeout", value)
    assert run.code == 4
    assert "timeout" in run.one_line_error()


def test_probe_without_staple_exits_3(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = ca.issue("localhost", ocsp_url=responder.url, must_staple=True)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with StaplingTLSServer(leaf.cert, leaf.key, leaf.chain[1:]) as server:
        run = ocspkit_cmd(
            "probe",
            f"127.0.0.1:{server.port}",
            "--json",
            "--servername",
            "localhost",
            "--cafile",
            str(tmp_path / "root.pem"),
        )
    assert run.code == 3
    doc = run.json()
    assert doc["stapled"] is False and doc["must_staple_violation"] is True
    assert "no staple" in run.one_line_error()


def test_probe_unreachable_host_exits_3() -> None:
    port = closed_port()
    run = ocspkit_cmd("probe", f"127.0.0.1:{port}", "--timeout", "5")
    assert run.code == 3
    line = run.one_line_error()
    assert f"127.0.0.1:{port}" in line
    run = ocspkit_cmd("uris", f"127.0.0.1:{port}", "--timeout", "5", "--json")
    assert run.code == 3
    run.one_line_error()
    doc = run.json()
    assert doc["command"] == "uris" and doc["exit_code"] == 3
    assert doc["error"]["type"] == "ProbeRefusedError" and "refused" in doc["error"]["message"]


def test_staple_file(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "site")
    out = tmp_path / "site.ocsp"
    run = ocspkit_cmd("staple-file", "--chain", str(tmp_path / "site.chain.pem"), "--out", str(out))
    assert run.code == 0, run.err
    result = ocspkit.validate_response(out.read_bytes(), leaf.cert, ca.issuer)
    assert result.status is ocspkit.CertStatus.GOOD
    before = out.read_bytes()
    # responder down: nothing written, the old staple stays
    run = ocspkit_cmd(
        "staple-file",
        "--chain",
        str(tmp_path / "site.chain.pem"),
        "--out",
        str(out),
        "--url",
        f"http://127.0.0.1:{closed_port()}/",
        "--json",
    )
    assert run.code == 3
    assert "unchanged" in run.one_line_error()
    assert run.json()["written"] is False
    assert out.read_bytes() == before


def test_staple_file_bad_output_directory(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "site")
    run = ocspkit_cmd(
        "staple-file",
        "--chain",
        str(tmp_path / "site.chain.pem"),
        "--out",
        str(tmp_path / "no" / "such" / "dir.ocsp"),
    )
    assert run.code == 4
    assert "does not exist" in run.one_line_error()


def test_check_many(ca: CA, responder: Responder, tmp_path: Path) -> None:
    files = []
    for i in range(3):
        write_leaf(ca, responder, tmp_path, f"ok{i}")
        files.append(str(tmp_path / f"ok{i}.chain.pem"))
    run = ocspkit_cmd("check-many", *files)
    assert run.code == 0, run.err
    assert run.out.count("GOOD") == 3
    assert "\r" not in run.err  # no progress bar when stderr is not a terminal
    bad = write_leaf(ca, responder, tmp_path, "bad")
    ca.revoke(bad.cert)
    write_leaf(ca, responder, tmp_path, "down", ocsp_url=f"http://127.0.0.1:{closed_port()}/")
    run = ocspkit_cmd(
        "check-many",
        "--json",
        *files,
        str(tmp_path / "bad.chain.pem"),
        str(tmp_path / "down.chain.pem"),
    )
    assert run.code == 1  # revoked wins over errors
    doc = run.json()
    assert doc["summary"] == {"good": 3, "revoked": 1, "unknown": 0, "error": 1}
    by_file = {r["file"]: r for r in doc["results"]}
    assert by_file[str(tmp_path / "bad.chain.pem")]["status"] == "revoked"
    assert by_file[str(tmp_path / "down.chain.pem")]["error"]["message"]


def test_check_many_missing_file_is_an_error_row(tmp_path: Path) -> None:
    run = ocspkit_cmd("check-many", str(tmp_path / "missing.pem"))
    assert run.code == 3
    assert "ERROR" in run.out and "not found" in run.out
    assert ocspkit_cmd("check-many", "--concurrency", "0", "x").code == 4


def test_demo_ignores_a_configured_proxy() -> None:
    """The demo is offline: a proxy in the environment (here a closed port) must not matter."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
        "HTTP_PROXY": f"http://127.0.0.1:{closed_port()}",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9",
    }
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "REVOKED" in proc.stdout


def test_check_cert_that_is_not_a_regular_file_is_usage() -> None:
    run = ocspkit_cmd("check", "--cert", "/dev/zero", timeout=30)
    assert run.code == 4
    assert "not a regular file" in run.one_line_error()
