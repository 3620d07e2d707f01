"""Interop with a client and a server nobody here wrote: the real ``openssl ocsp``.

- ``openssl ocsp -url`` (POST) verifies our Responder's answers, CA-signed and delegated;
- GET answers fetched with httpx are verified by ``openssl ocsp -respin``;
- OpenSSLResponder (``openssl ocsp -index -port``) answers ocspkit's validator;
- our Responder serves an ``index.txt`` written by ``openssl ca -revoke``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ocspkit
from ocspkit import CertStatus, RevocationReason
from ocspkit.testing import CA, Leaf, OpenSSLResponder, Responder
from tests._servers import need_binary

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

UNKNOWN_SERIAL = 0x5EED


@pytest.fixture(scope="module")
def openssl() -> str:
    return need_binary("openssl")


class PKI:
    def __init__(self, ca: CA, directory: Path) -> None:
        self.ca = ca
        self.dir = directory
        self.good = ca.issue("good.test")
        self.revoked = ca.issue("revoked.test")
        ca.revoke(self.revoked, RevocationReason.KEY_COMPROMISE)
        self.root = directory / "root.pem"
        self.root.write_bytes(ca.root_pem)
        self.issuer = directory / "issuer.pem"
        self.issuer.write_bytes(ca.issuer_pem)
        self.delegated = directory / "delegated.pem"
        self.delegated.write_bytes(ca.delegated.cert_pem)
        self.good_pem = self.good.write(directory).cert
        self.revoked_pem = self.revoked.write(directory).cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(CA(), tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def responder(pki: PKI) -> Iterator[Responder]:
    with Responder(pki.ca) as r:
        yield r


def run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout + proc.stderr


def client_args(openssl: str, pki: PKI, *digest: str) -> list[str]:
    return [
        openssl,
        "ocsp",
        *digest,  # must come before -cert/-serial
        "-issuer",
        str(pki.issuer),
        "-cert",
        str(pki.good_pem),
        "-cert",
        str(pki.revoked_pem),
        "-serial",
        str(UNKNOWN_SERIAL),
        "-CAfile",
        str(pki.root),
    ]


def assert_openssl_verdicts(out: str, pki: PKI) -> None:
    assert "Response verify OK" in out, out
    assert f"{pki.good_pem}: good" in out, out
    assert f"{pki.revoked_pem}: revoked" in out, out
    assert "Reason: keyCompromise" in out, out
    assert f"{UNKNOWN_SERIAL}: unknown" in out, out


@pytest.mark.parametrize("signer", ["ca", "delegated"])
def test_openssl_client_post(openssl: str, pki: PKI, responder: Responder, signer: str) -> None:
    responder.signer = signer  # type: ignore[assignment]
    try:
        out = run([*client_args(openssl, pki), "-url", responder.url, "-timeout", "10"])
    finally:
        responder.signer = "ca"
    assert_openssl_verdicts(out, pki)
    assert "WARNING" not in out  # e.g. no nonce or status-time warnings
    assert responder.records[-1].method == "POST"


def test_openssl_client_trusts_delegated_via_vafile(
    openssl: str, pki: PKI, responder: Responder
) -> None:
    responder.signer = "delegated"
    try:
        out = run(
            [
                *client_args(openssl, pki),
                "-url",
                responder.url,
                "-VAfile",
                str(pki.delegated),
                "-timeout",
                "10",
            ]
        )
    finally:
        responder.signer = "ca"
    assert_openssl_verdicts(out, pki)


@pytest.mark.parametrize("signer", ["ca", "delegated"])
def test_get_answers_verified_by_openssl_respin(
    openssl: str, pki: PKI, responder: Responder, signer: str, tmp_path: Path
) -> None:
    responder.signer = signer  # type: ignore[assignment]
    unknown = pki.ca.issue()  # serial known to this test only through the request below
    try:
        certs = [pki.good.cert, pki.revoked.cert, unknown.cert]
        req = ocspkit.build_request(certs, pki.ca.issuer)
        pki.ca.revoke(unknown)  # the live table: revoked right before the GET
        http = httpx.get(req.get_url(responder.url), timeout=10)
    finally:
        responder.signer = "ca"
    assert http.status_code == 200
    assert responder.records[-1].method == "GET"
    respfile = tmp_path / "resp.der"
    respfile.write_bytes(http.content)
    unknown_pem = unknown.write(tmp_path).cert
    out = run(
        [
            openssl,
            "ocsp",
            "-respin",
            str(respfile),
            "-no_nonce",  # openssl builds its own request from -cert; the nonce is ours below
            "-issuer",
            str(pki.issuer),
            "-cert",
            str(pki.good_pem),
            "-cert",
            str(pki.revoked_pem),
            "-cert",
            str(unknown_pem),
            "-CAfile",
            str(pki.root),
        ]
    )
    assert "Response verify OK" in out, out
    assert f"{pki.good_pem}: good" in out, out
    assert f"{pki.revoked_pem}: revoked" in out, out
    assert f"{unknown_pem}: revoked" in out, out
    assert "Nonce Verify error" not in out, out
    result = ocspkit.validate_response(http.content, pki.good.cert, pki.ca.issuer, request=req)
    assert result.response.nonce == req.nonce is not None


@pytest.mark.parametrize("key_type", ["ecdsa", "ed25519"])
def test_openssl_client_other_key_types(openssl: str, key_type: str, tmp_path: Path) -> None:
    ca = CA(key_type)  # type: ignore[arg-type]
    with Responder(ca, signer="delegated") as responder:
        p = PKI(ca, tmp_path)
        out = run([*client_args(openssl, p), "-url", responder.url, "-timeout", "10"])
    assert_openssl_verdicts(out, p)


def test_openssl_client_with_sha256_cert_ids(openssl: str, pki: PKI, responder: Responder) -> None:
    out = run([*client_args(openssl, pki, "-sha256"), "-url", responder.url, "-timeout", "10"])
    assert_openssl_verdicts(out, pki)


# -- the other direction: `openssl ocsp` as the responder -----------------------------------


def validate_against(url: str, leaf: Leaf, ca: CA) -> ocspkit.ValidationResult:
    req = ocspkit.build_request(leaf.cert, ca.issuer)
    http = httpx.post(
        url, content=req.der, headers={"Content-Type": "application/ocsp-request"}, timeout=10
    )
    return ocspkit.validate_response(http.content, leaf.cert, ca.issuer, request=req)


def group_members(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize(("signer", "multi"), [("ca", None), ("delegated", 2)])
def test_openssl_responder_answers_our_validator(
    openssl: str, signer: str, multi: int | None
) -> None:
    ca = CA("ecdsa")
    good, rev = ca.issue(), ca.issue()
    ca.revoke(rev, RevocationReason.AFFILIATION_CHANGED)
    o = OpenSSLResponder(ca, signer=signer, multi=multi, openssl=openssl)  # type: ignore[arg-type]
    with o:
        assert o.url.startswith("http://127.0.0.1:")
        assert o.process is not None
        pgid = o.process.pid
        res = validate_against(o.url, good, ca)
        assert res.status is CertStatus.GOOD
        assert res.delegated is (signer == "delegated")
        res = validate_against(o.url, rev, ca)
        assert res.status is CertStatus.REVOKED
        assert res.revocation_reason is RevocationReason.AFFILIATION_CHANGED
        assert res.next_update is not None
        # a revocation made after start shows once index.txt is rewritten
        ca.revoke(good, RevocationReason.SUPERSEDED)
        o.refresh()
        res = validate_against(o.url, good, ca)
        assert (res.status, res.revocation_reason) == (
            CertStatus.REVOKED,
            RevocationReason.SUPERSEDED,
        )
        assert o.process is not None
        pgid = o.process.pid  # refresh() restarted it
        if multi:  # the parent and its workers (forked right after it listens)
            for _ in range(100):
                if len(group_members(pgid)) == 1 + multi:
                    break
                time.sleep(0.05)
            assert len(group_members(pgid)) == 1 + multi
    assert o.process is None
    assert group_members(pgid) == []  # parent and children are gone
    with pytest.raises(httpx.ConnectError):
        httpx.post(o.url, content=b"", timeout=5)


def test_responder_serves_an_index_written_by_openssl_ca(openssl: str, tmp_path: Path) -> None:
    ca = CA("ecdsa")
    keep, drop = ca.issue(), ca.issue()
    (tmp_path / "issuer.pem").write_bytes(ca.issuer_pem)
    (tmp_path / "issuer.key").write_bytes(ca.issuer_key_pem)
    ca.write_index(tmp_path / "index.txt")
    drop_pem = drop.write(tmp_path).cert
    config = tmp_path / "ca.cnf"
    config.write_text(
        "[ ca ]\ndefault_ca = d\n[ d ]\n"
        f"database = {tmp_path}/index.txt\ncertificate = {tmp_path}/issuer.pem\n"
        f"private_key = {tmp_path}/issuer.key\nnew_certs_dir = {tmp_path}\n"
        f"serial = {tmp_path}/serial\ndefault_md = sha256\npolicy = p\n[ p ]\n"
    )
    with Responder(ca, index_file=tmp_path / "index.txt") as responder:
        assert validate_against(responder.url, drop, ca).status is CertStatus.GOOD
        out = run(
            [
                openssl,
                "ca",
                "-config",
                str(config),
                "-batch",
                "-revoke",
                str(drop_pem),
                "-crl_reason",
                "cessationOfOperation",
            ]
        )
        assert "Database updated" in out, out
        res = validate_against(responder.url, drop, ca)
        assert res.status is CertStatus.REVOKED
        assert res.revocation_reason is RevocationReason.CESSATION_OF_OPERATION
        assert validate_against(responder.url, keep, ca).status is CertStatus.GOOD


def _openssl_processes(directory: str) -> list[str]:
    """The command lines of running processes that name ``directory`` (from /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if directory in cmd and "openssl" in cmd:
            found.append(cmd)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
@pytest.mark.parametrize("ending", ["exit", "collected"])
def test_a_responder_never_stopped_does_not_outlive_its_owner(openssl: str, ending: str) -> None:
    """A script that starts OpenSSLResponder(multi=2) and exits (or drops it) without stop():
    the whole process group goes (left behind, the -multi children spin at full CPU once the
    temporary directory is removed)."""
    script = f"""
import gc, sys, time
from ocspkit.testing import CA, OpenSSLResponder
r = OpenSSLResponder(CA("ecdsa"), multi=2, openssl={openssl!r}).start()
print(r.directory, flush=True)
time.sleep(0.3)
if {ending == "collected"!r}:
    del r
    gc.collect()
    print("dropped", flush=True)
    time.sleep(1.0)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    directory = proc.stdout.readline().strip()
    assert directory and len(_openssl_processes(directory)) == 3  # the parent and 2 children
    if ending == "collected":
        assert proc.stdout.readline().strip() == "dropped"
        assert _openssl_processes(directory) == []  # gone while the script still runs
    proc.wait(timeout=30)
    deadline = time.monotonic() + 5
    while _openssl_processes(directory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _openssl_processes(directory) == []
