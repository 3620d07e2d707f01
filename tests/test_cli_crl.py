"""``ocspkit crl`` and ``ocspkit inspect`` on CRL files, through the real command (a
subprocess): show, validate with --issuer, look up --serial in every form ``openssl x509
-serial`` and people write it, the exit codes (0 not listed, 1 listed, 3 invalid or
unusable, 4 usage) and the JSON document."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import RevocationReason
from ocspkit.testing import CA, Leaf
from ocspkit.testing.keys import cert_pem, utcnow

from .test_cli import ocspkit_cmd

pytestmark = pytest.mark.timeout(120)

A = "http://crl.test/a.crl"


class Files:
    def __init__(self, ca: CA, revoked: Leaf, good: Leaf, tmp: Path) -> None:
        self.ca, self.revoked, self.good = ca, revoked, good
        self.issuer = tmp / "issuer.pem"
        self.issuer.write_bytes(ca.issuer_pem)
        self.crl = tmp / "a.crl"
        self.crl.write_bytes(ca.sign_crl(idp_url=A).public_bytes(Encoding.DER))
        self.pem_crl = tmp / "a.pem"
        self.pem_crl.write_bytes(ca.sign_crl(idp_url=A).public_bytes(Encoding.PEM))
        self.leaf = tmp / "leaf.pem"
        self.leaf.write_bytes(cert_pem(revoked.cert))
        self.expired = tmp / "old.crl"
        old = ca.sign_crl(now=utcnow() - timedelta(days=3))
        self.expired.write_bytes(old.public_bytes(Encoding.DER))
        self.other = tmp / "other.pem"
        self.other.write_bytes(CA("ecdsa", name="elsewhere").issuer_pem)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    ca = CA("ecdsa", name="ocspkit crl cli", crl_url=A, ocsp_url="")
    revoked, good = ca.issue(), ca.issue()
    ca.revoke(revoked, RevocationReason.KEY_COMPROMISE)
    return Files(ca, revoked, good, tmp_path_factory.mktemp("crlcli"))


def test_shows_a_crl_without_validating(files: Files) -> None:
    run = ocspkit_cmd("crl", str(files.crl))
    assert run.code == 0, run.err
    assert "CN=ocspkit crl cli Intermediate CA" in run.out and A in run.out
    assert "entries" in run.out and "not validated" in run.out
    assert ocspkit_cmd("crl", str(files.pem_crl)).code == 0  # PEM too


def test_listed_serial_in_openssl_form(files: Files) -> None:
    printed = subprocess.run(
        ["openssl", "x509", "-in", str(files.leaf), "-noout", "-serial"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed.startswith("serial=")
    run = ocspkit_cmd("crl", str(files.crl), "--issuer", str(files.issuer), "--serial", printed)
    assert run.code == 1, run.err
    assert "LISTED" in run.out and "key_compromise" in run.out and "Valid" in run.out


@pytest.mark.parametrize("form", ["hex", "colons", "0x", "lower"])
def test_serial_forms(files: Files, form: str) -> None:
    text = format(files.revoked.serial_number, "X")
    if len(text) % 2:
        text = "0" + text
    serial = {
        "hex": text,
        "colons": ":".join(text[i : i + 2] for i in range(0, len(text), 2)),
        "0x": "0x" + text,
        "lower": text.lower(),
    }[form]
    run = ocspkit_cmd("crl", str(files.crl), "--issuer", str(files.issuer), "--serial", serial)
    assert run.code == 1, (serial, run.err)


def test_not_listed_is_0(files: Files) -> None:
    serial = format(files.good.serial_number, "x")
    run = ocspkit_cmd("crl", str(files.crl), "--issuer", str(files.issuer), "--serial", serial)
    assert run.code == 0 and "not listed on this partition" in run.out, run.err


def test_an_unvalidated_crl_fails_closed(files: Files) -> None:
    # without --issuer: a listed serial exits 1, an unlisted one 3, never a 0 about a serial
    serial = format(files.revoked.serial_number, "x")
    run = ocspkit_cmd("crl", str(files.crl), "--serial", serial, "--json")
    doc = run.json()
    assert run.code == 1 and doc["listed"] is True and doc["validated"] is False
    good = format(files.good.serial_number, "x")
    run = ocspkit_cmd("crl", str(files.crl), "--serial", good)
    assert run.code == 3 and "not validated" in run.out
    assert ocspkit_cmd("crl", str(files.crl)).code == 0  # shown only


def test_json_document(files: Files) -> None:
    serial = format(files.revoked.serial_number, "x")
    run = ocspkit_cmd(
        "crl", str(files.crl), "--issuer", str(files.issuer), "--serial", serial, "--json"
    )
    doc = run.json()
    assert doc["command"] == "crl" and doc["exit_code"] == 1 == run.code
    assert doc["validated"] is True and doc["listed"] is True and doc["error"] is None
    assert doc["entry"]["serial"] == serial and doc["entry"]["reason"] == "key_compromise"
    crl = doc["crl"]
    assert crl["entries"] == 1 and crl["delta"] is False and crl["crl_number"] >= 1
    assert crl["issuing_distribution_point"]["full_names"] == [A]


def test_delta_is_shown_as_one(files: Files, tmp_path: Path) -> None:
    delta = tmp_path / "delta.crl"
    delta.write_bytes(files.ca.sign_crl(delta_base=1).public_bytes(Encoding.DER))
    run = ocspkit_cmd("crl", str(delta), "--issuer", str(files.issuer), "--json")
    assert run.code == 0 and run.json()["crl"]["base_crl_number"] == 1
    text = ocspkit_cmd("crl", str(delta), "--serial", format(files.good.serial_number, "x"))
    assert "delta (on base CRL number 1)" in text.out and "complete CRL decides" in text.out


@pytest.mark.parametrize(
    ("case", "error"),
    [("expired", "CRLExpiredError"), ("wrong issuer", "CRLIssuerMismatchError")],
)
def test_invalid_crl_is_3(files: Files, case: str, error: str) -> None:
    crl, issuer = {
        "expired": (files.expired, files.issuer),
        "wrong issuer": (files.crl, files.other),
    }[case]
    run = ocspkit_cmd("crl", str(crl), "--issuer", str(issuer), "--serial", "01")
    assert run.code == 3 and error in run.one_line_error() and "NOT VALID" in run.out
    doc = ocspkit_cmd("crl", str(crl), "--issuer", str(issuer), "--json").json()
    assert doc["exit_code"] == 3 and doc["error"]["type"] == error


def test_tampered_crl_is_3(files: Files, tmp_path: Path) -> None:
    data = bytearray(files.crl.read_bytes())
    data[-5] ^= 0x01  # inside the signature
    bad = tmp_path / "tampered.crl"
    bad.write_bytes(bytes(data))
    run = ocspkit_cmd("crl", str(bad), "--issuer", str(files.issuer))
    assert run.code == 3 and "invalid CRL" in run.one_line_error()


def test_garbage_is_3_and_usage_is_4(files: Files, tmp_path: Path) -> None:
    junk = tmp_path / "junk.crl"
    junk.write_bytes(b"\x30\x03\x02\x01\x00not a crl")
    run = ocspkit_cmd("crl", str(junk))
    assert run.code == 3 and "not a usable CRL" in run.one_line_error()
    assert ocspkit_cmd("crl", str(tmp_path / "missing.crl")).code == 4
    assert ocspkit_cmd("crl", str(files.crl), "--serial", "xyz").code == 4
    assert ocspkit_cmd("crl", str(files.crl), "--issuer", str(junk)).code == 4
    assert ocspkit_cmd("crl").code == 4


def test_inspect_shows_and_checks_a_crl(files: Files) -> None:
    run = ocspkit_cmd("inspect", str(files.crl))
    assert run.code == 0 and "CN=ocspkit crl cli Intermediate CA" in run.out, run.err
    doc = ocspkit_cmd("inspect", str(files.crl), "--json").json()
    assert doc["kind"] == "crl" and doc["crl"]["entries"] == 1
    revoked = ocspkit_cmd(
        "inspect", str(files.crl), "--cert", str(files.leaf), "--issuer", str(files.issuer)
    )
    assert revoked.code == 1 and "REVOKED" in revoked.out, revoked.err


# --- a CRL URL, fetched with Client.fetch_crl from a real CRL server on loopback -----------


def test_url_listed_and_not_listed(files: Files) -> None:
    from ocspkit.testing import CRLServer

    with CRLServer(files.ca) as server:
        url = server.url_for("/ca.crl")
        bad = format(files.revoked.serial_number, "x")
        good = format(files.good.serial_number, "x")
        listed = ocspkit_cmd("crl", url, "--issuer", str(files.issuer), "--serial", bad, "--json")
        assert listed.code == 1, listed.err
        doc = listed.json()
        assert doc["url"] == url and doc["validated"] is True and doc["listed"] is True
        unlisted = ocspkit_cmd("crl", url, "--issuer", str(files.issuer), "--serial", good)
        assert unlisted.code == 0 and "not listed" in unlisted.out, unlisted.err
        assert server.requests, "the command fetched from the server"


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("WRONG_PARTITION", "CRLScopeError"),
        ("BAD_SIGNATURE", "CRLSignatureError"),
        ("EXPIRED", "CRLExpiredError"),
        ("GARBAGE", "not a usable CRL"),
        ("HTTP_500", "could not fetch the CRL"),
        ("WRONG_CONTENT_TYPE", "could not fetch the CRL"),
    ],
)
def test_url_faults_are_3(files: Files, fault: str, says: str) -> None:
    from ocspkit.testing import CRLServer
    from ocspkit.testing.crlserver import CRLFault

    with CRLServer(files.ca, fault=CRLFault[fault]) as server:
        run = ocspkit_cmd("crl", server.url_for("/ca.crl"), "--issuer", str(files.issuer))
    assert run.code == 3 and says in run.one_line_error(), run.err


def test_url_partition_must_name_the_url_it_came_from(files: Files) -> None:
    from ocspkit.testing import CRLServer

    with CRLServer(files.ca) as server:
        server.publish("/a.crl", partition=True)
        served = server.current("/a.crl")
        server.publish("/b.crl", served)  # A's partition served at B
        ok = ocspkit_cmd("crl", server.url_for("/a.crl"), "--issuer", str(files.issuer))
        swapped = ocspkit_cmd("crl", server.url_for("/b.crl"), "--issuer", str(files.issuer))
    assert ok.code == 0, ok.err
    assert swapped.code == 3 and "CRLScopeError" in swapped.one_line_error()


def test_inspect_a_crl_for_a_certificate_out_of_its_scope_is_3(
    files: Files, tmp_path: Path
) -> None:
    other_partition = tmp_path / "b.crl"
    signed = files.ca.sign_crl(idp_url="http://crl.test/b.crl")
    other_partition.write_bytes(signed.public_bytes(Encoding.DER))
    run = ocspkit_cmd(
        "inspect", str(other_partition), "--cert", str(files.leaf), "--issuer", str(files.issuer)
    )
    assert run.code == 3 and "CRLScopeError" in run.one_line_error()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"neither")
    assert ocspkit_cmd("inspect", str(junk)).code == 4
