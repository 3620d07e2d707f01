"""Interop with the real `openssl ocsp` command, both ways (subprocess, files in tmp_path).

- openssl answers requests that ocspkit built (from an index.txt), ocspkit validates;
- ocspkit builds responses, `openssl ocsp -respin` verifies them ("Response verify OK").
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import ocspkit
from ocspkit import CertStatus, RevocationReason, SingleResponse

from .._pki import PKI, make_cert, new_key
from .._servers import need_binary

REAL_NOW = datetime.now(timezone.utc).replace(microsecond=0)


def write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def write_key(path: Path, key: CertificateIssuerPrivateKeyTypes) -> Path:
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def _t(d: datetime) -> str:
    return d.strftime("%y%m%d%H%M%SZ")


def write_index(
    path: Path, good: list[x509.Certificate], revoked: list[tuple[x509.Certificate, str]]
) -> Path:
    lines = []
    for c in good:
        lines.append(
            f"V\t{_t(c.not_valid_after_utc)}\t\t{c.serial_number:X}\tunknown\t/CN=s{c.serial_number:X}"
        )
    for c, reason in revoked:
        rt = _t(REAL_NOW - timedelta(days=2))
        lines.append(
            f"R\t{_t(c.not_valid_after_utc)}\t{rt},{reason}\t{c.serial_number:X}\tunknown\t/CN=s{c.serial_number:X}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def make_pki(kind: str) -> PKI:
    pki = PKI.__new__(PKI)
    pki.kind = kind
    pki.root_key = new_key(kind)
    pki.root = make_cert(
        f"{kind} Root",
        pki.root_key,
        None,
        None,
        ca=True,
        not_before=REAL_NOW - timedelta(days=1),
        not_after=REAL_NOW + timedelta(days=30),
    )
    pki.issuer_key = new_key(kind)
    pki.issuer = make_cert(
        f"{kind} Issuing CA",
        pki.issuer_key,
        pki.root.subject,
        pki.root_key,
        ca=True,
        not_before=REAL_NOW - timedelta(days=1),
        not_after=REAL_NOW + timedelta(days=30),
    )
    return pki


def leaf_of(pki: PKI) -> x509.Certificate:
    return make_cert(
        "leaf",
        new_key(pki.kind),
        pki.issuer.subject,
        pki.issuer_key,
        not_before=REAL_NOW - timedelta(days=1),
        not_after=REAL_NOW + timedelta(days=30),
    )


@pytest.fixture(params=["rsa", "ecdsa", "ed25519"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("delegated", [False, True])
@pytest.mark.parametrize("hash_algorithm", ["sha1", "sha256"])
def test_openssl_answers_ocspkit_validates(
    tmp_path: Path, kind: str, delegated: bool, hash_algorithm: str
) -> None:
    openssl = need_binary("openssl")
    pki = make_pki(kind)
    good, revoked, stranger = leaf_of(pki), leaf_of(pki), leaf_of(pki)
    index = write_index(tmp_path / "index.txt", [good], [(revoked, "keyCompromise")])
    if delegated:
        rkey = new_key(kind)
        rcert = make_cert(
            "openssl responder",
            rkey,
            pki.issuer.subject,
            pki.issuer_key,
            ocsp_signing=True,
            nocheck=True,
            ocsp_url=None,
            not_before=REAL_NOW - timedelta(days=1),
            not_after=REAL_NOW + timedelta(days=30),
        )
    else:
        rkey, rcert = pki.issuer_key, pki.issuer
    ca = write_cert(tmp_path / "ca.pem", pki.issuer)
    rs = write_cert(tmp_path / "rsigner.pem", rcert)
    rk = write_key(tmp_path / "rkey.pem", rkey)
    expected = {good: CertStatus.GOOD, revoked: CertStatus.REVOKED, stranger: CertStatus.UNKNOWN}
    for cert, status in expected.items():
        req = ocspkit.build_request(cert, pki.issuer, hash_algorithm=hash_algorithm)
        (tmp_path / "req.der").write_bytes(req.der)
        cmd = [
            openssl,
            "ocsp",
            "-index",
            str(index),
            "-CA",
            str(ca),
            "-rsigner",
            str(rs),
            "-rkey",
            str(rk),
            "-reqin",
            str(tmp_path / "req.der"),
            "-respout",
            str(tmp_path / "resp.der"),
            "-ndays",
            "1",
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        der = (tmp_path / "resp.der").read_bytes()
        result = ocspkit.validate_response(der, cert, pki.issuer, request=req)
        assert result.status is status
        assert result.delegated is delegated
        assert result.response.nonce == req.nonce
        if status is CertStatus.REVOKED:
            assert result.revocation_reason is RevocationReason.KEY_COMPROMISE


def test_openssl_multi_certid_request(tmp_path: Path) -> None:
    openssl = need_binary("openssl")
    pki = make_pki("rsa")
    leaves = [leaf_of(pki) for _ in range(3)]
    index = write_index(tmp_path / "index.txt", leaves[:2], [(leaves[2], "superseded")])
    ca = write_cert(tmp_path / "ca.pem", pki.issuer)
    rk = write_key(tmp_path / "rkey.pem", pki.issuer_key)
    req = ocspkit.build_request(leaves, pki.issuer)
    (tmp_path / "req.der").write_bytes(req.der)
    subprocess.run(
        [
            openssl,
            "ocsp",
            "-index",
            str(index),
            "-CA",
            str(ca),
            "-rsigner",
            str(ca),
            "-rkey",
            str(rk),
            "-reqin",
            str(tmp_path / "req.der"),
            "-respout",
            str(tmp_path / "resp.der"),
            "-ndays",
            "1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    resp = ocspkit.parse_response((tmp_path / "resp.der").read_bytes())
    assert len(resp.responses) == 3
    got = [ocspkit.validate_response(resp, c, pki.issuer, request=req).status for c in leaves]
    assert got == [CertStatus.GOOD, CertStatus.GOOD, CertStatus.REVOKED]


@pytest.mark.parametrize("responder_id", ["key", "name"])
@pytest.mark.parametrize("delegated", [False, True])
def test_openssl_verifies_ocspkit_responses(
    tmp_path: Path, kind: str, delegated: bool, responder_id: str
) -> None:
    openssl = need_binary("openssl")
    pki = make_pki(kind)
    leaf = leaf_of(pki)
    if delegated:
        rkey = new_key(kind)
        rcert = make_cert(
            "ocspkit responder",
            rkey,
            pki.issuer.subject,
            pki.issuer_key,
            ocsp_signing=True,
            nocheck=True,
            ocsp_url=None,
            not_before=REAL_NOW - timedelta(days=1),
            not_after=REAL_NOW + timedelta(days=30),
        )
        embedded = [rcert]
    else:
        rkey, rcert, embedded = pki.issuer_key, pki.issuer, []
    for status, marker in (
        (CertStatus.GOOD, "good"),
        (CertStatus.REVOKED, "revoked"),
        (CertStatus.UNKNOWN, "unknown"),
    ):
        single = SingleResponse(
            ocspkit.cert_id(leaf, pki.issuer),
            status,
            REAL_NOW - timedelta(minutes=1),
            REAL_NOW + timedelta(hours=1),
            revocation_time=REAL_NOW - timedelta(days=1) if status is CertStatus.REVOKED else None,
            revocation_reason=RevocationReason.KEY_COMPROMISE
            if status is CertStatus.REVOKED
            else None,
        )
        resp = ocspkit.build_response(
            single,
            responder_cert=rcert,
            responder_key=rkey,
            produced_at=REAL_NOW,
            responder_id=responder_id,
            certificates=embedded,
        )  # type: ignore[arg-type]
        (tmp_path / "resp.der").write_bytes(resp.der)
        chain = tmp_path / "chain.pem"
        chain.write_bytes(
            pki.issuer.public_bytes(Encoding.PEM) + pki.root.public_bytes(Encoding.PEM)
        )
        out = subprocess.run(
            [
                openssl,
                "ocsp",
                "-respin",
                str(tmp_path / "resp.der"),
                "-CAfile",
                str(chain),
                "-issuer",
                str(write_cert(tmp_path / "issuer.pem", pki.issuer)),
                "-cert",
                str(write_cert(tmp_path / "leaf.pem", leaf)),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        text = out.stdout + out.stderr
        assert "Response verify OK" in text, text
        assert f": {marker}" in text, text
        if status is CertStatus.REVOKED:
            assert "keyCompromise" in text
