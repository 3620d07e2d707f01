"""CRL interop with real OpenSSL, both ways: CRLs made by ``openssl ca -gencrl`` (complete,
with an issuing distribution point, delta) validated by ocspkit; CRLs made by ocspkit.testing
accepted by ``openssl crl -verify`` and ``openssl verify -crl_check``; and both agree on
revoked, good, expired, wrong partition and wrong signer."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import CertStatus, RevocationReason
from ocspkit.crl import parse_crl
from ocspkit.crl_check import crl_status
from ocspkit.crl_validate import validate_crl
from ocspkit.errors import CRLIssuerMismatchError, CRLScopeError, OCSPError
from ocspkit.testing import CA, Leaf
from ocspkit.testing.keys import cert_pem

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

A = "http://crl.test/a.crl"
B = "http://crl.test/b.crl"
NOW = datetime.now(timezone.utc).replace(microsecond=0)

_CONFIG = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
database = {dir}/index.txt
crlnumber = {dir}/crlnumber
certificate = {dir}/ca.pem
private_key = {dir}/ca.key
default_md = sha256
default_crl_days = 1
[ crl_plain ]
authorityKeyIdentifier = keyid:always
[ crl_idp ]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp
[ idp ]
fullname = URI:{idp_url}
onlyuser = TRUE
[ crl_delta ]
2.5.29.27 = critical, DER:02:01:{base:02x}
"""


def openssl_crl(
    ca: CA,
    tmp: Path,
    *,
    exts: str = "crl_plain",
    number: int = 5,
    base: int = 5,
    idp_url: str = A,
) -> bytes:
    """``openssl ca -gencrl`` over the CA's own index.txt, as DER."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "ca.pem").write_bytes(ca.issuer_pem)
    (tmp / "ca.key").write_bytes(ca.issuer_key_pem)
    ca.write_index(tmp / "index.txt")
    (tmp / "crlnumber").write_text(f"{number:02x}\n")
    config = tmp / "ca.cnf"
    config.write_text(_CONFIG.format(dir=tmp, idp_url=idp_url, base=base))
    out = tmp / f"{exts}.pem"
    subprocess.run(
        ["openssl", "ca", "-config", str(config), "-gencrl", "-crlexts", exts, "-out", str(out)],
        check=True,
        capture_output=True,
    )
    return parse_crl(out).der


def openssl_verify(ca: CA, leaf: Leaf, crl: bytes, tmp: Path) -> str:
    """``openssl verify -crl_check``: "ok", "revoked" or the error OpenSSL names."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "root.pem").write_bytes(ca.root_pem)
    (tmp / "issuer.pem").write_bytes(ca.issuer_pem)
    (tmp / "leaf.pem").write_bytes(cert_pem(leaf.cert))
    crl_path = tmp / "crl.pem"
    crl_path.write_bytes(x509.load_der_x509_crl(crl).public_bytes(Encoding.PEM))
    run = subprocess.run(
        [
            "openssl",
            "verify",
            "-crl_check",
            "-CAfile",
            str(tmp / "root.pem"),
            "-untrusted",
            str(tmp / "issuer.pem"),
            "-CRLfile",
            str(crl_path),
            str(tmp / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
    )
    text = run.stdout + run.stderr
    if run.returncode == 0 and ": OK" in text:
        return "ok"
    if "certificate revoked" in text:
        return "revoked"
    return "error"


def ocspkit_verdict(ca: CA, leaf: Leaf, crl: bytes, url: str | None = None) -> str:
    try:
        result = crl_status(leaf.cert, ca.issuer, crl, url=url)
    except OCSPError:
        return "error"
    return {CertStatus.GOOD: "ok", CertStatus.REVOKED: "revoked"}[result.status]


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture(scope="module")
def leaves(ca: CA) -> tuple[Leaf, Leaf]:
    bad, good = ca.issue(crl_url=A, ocsp_url=""), ca.issue(crl_url=A, ocsp_url="")
    ca.revoke(bad.cert, RevocationReason.KEY_COMPROMISE, at=NOW - timedelta(hours=1))
    return bad, good


# --- openssl ca -gencrl, validated by ocspkit ---------------------------------------------


def test_openssl_complete_crl(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    bad, good = leaves
    crl = openssl_crl(ca, tmp_path)
    assert parse_crl(crl).crl_number == 5
    result = crl_status(bad.cert, ca.issuer, crl)
    assert result.revoked and result.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert result.revocation_time == NOW - timedelta(hours=1)
    assert crl_status(good.cert, ca.issuer, crl).good


def test_openssl_crl_with_idp(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    bad, good = leaves
    crl = openssl_crl(ca, tmp_path, exts="crl_idp")
    idp = parse_crl(crl).issuing_distribution_point
    assert idp is not None and idp.full_names == (A,) and idp.only_contains_user_certs
    assert crl_status(bad.cert, ca.issuer, crl, url=A).revoked
    assert crl_status(good.cert, ca.issuer, crl, url=A).good
    with pytest.raises(CRLScopeError):
        crl_status(good.cert, ca.issuer, crl, url=B)
    other_partition = openssl_crl(ca, tmp_path / "b", exts="crl_idp", idp_url=B)
    with pytest.raises(CRLScopeError):
        crl_status(bad.cert, ca.issuer, other_partition)


def test_openssl_delta_crl(ca: CA, tmp_path: Path) -> None:
    local = CA("ecdsa", name="delta")
    first, second = local.issue(crl_url=A), local.issue(crl_url=A)
    local.revoke(first.cert)
    base = openssl_crl(local, tmp_path / "base", number=5)
    local.revoke(second.cert)
    delta = openssl_crl(local, tmp_path / "delta", exts="crl_delta", number=6, base=5)
    parsed = parse_crl(delta)
    assert parsed.is_delta and parsed.base_crl_number == 5 and parsed.crl_number == 6
    assert crl_status(second.cert, local.issuer, base).good
    assert crl_status(second.cert, local.issuer, base, delta=delta).revoked
    assert crl_status(first.cert, local.issuer, base, delta=delta).revoked


def test_openssl_crl_of_another_ca(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    other = CA("ecdsa", name="elsewhere")
    with pytest.raises(CRLIssuerMismatchError):
        validate_crl(parse_crl(openssl_crl(other, tmp_path)), ca.issuer)


# --- ocspkit.testing's CRLs, accepted by openssl ------------------------------------------


def test_openssl_crl_verify_accepts_ocspkit_crls(ca: CA, tmp_path: Path) -> None:
    (tmp_path / "issuer.pem").write_bytes(ca.issuer_pem)
    for name, crl in {
        "full": ca.sign_crl(),
        "partition": ca.sign_crl(idp_url=A),
        "delta": ca.sign_crl(crl_number=3, delta_base=2),
    }.items():
        path = tmp_path / f"{name}.der"
        path.write_bytes(crl.public_bytes(Encoding.DER))
        run = subprocess.run(
            [
                "openssl",
                "crl",
                "-in",
                str(path),
                "-inform",
                "DER",
                "-noout",
                "-CAfile",
                str(tmp_path / "issuer.pem"),
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0 and "verify OK" in run.stdout + run.stderr, name


def _verdicts(ca: CA, leaf: Leaf, crl: bytes, tmp: Path, url: str | None = None) -> tuple[str, str]:
    return ocspkit_verdict(ca, leaf, crl, url), openssl_verify(ca, leaf, crl, tmp)


def test_verdicts_agree_revoked_and_good(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    bad, good = leaves
    crl = ca.sign_crl().public_bytes(Encoding.DER)
    assert _verdicts(ca, bad, crl, tmp_path / "bad") == ("revoked", "revoked")
    assert _verdicts(ca, good, crl, tmp_path / "good") == ("ok", "ok")
    from_openssl = openssl_crl(ca, tmp_path / "ossl")
    assert _verdicts(ca, bad, from_openssl, tmp_path / "obad") == ("revoked", "revoked")
    assert _verdicts(ca, good, from_openssl, tmp_path / "ogood") == ("ok", "ok")


def test_verdicts_agree_expired(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    old = ca.sign_crl(now=NOW - timedelta(days=3)).public_bytes(Encoding.DER)
    assert _verdicts(ca, leaves[1], old, tmp_path) == ("error", "error")


def test_verdicts_agree_wrong_partition(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    wrong = ca.sign_crl(idp_url=B).public_bytes(Encoding.DER)
    assert _verdicts(ca, leaves[1], wrong, tmp_path) == ("error", "error")
    right = ca.sign_crl(idp_url=A).public_bytes(Encoding.DER)
    assert _verdicts(ca, leaves[0], right, tmp_path / "a") == ("revoked", "revoked")


def test_verdicts_agree_wrong_signer(ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path) -> None:
    no_crl_sign = ca.issue_crl_signer(crl_sign=False)
    by_it = ca.sign_crl(signer=no_crl_sign).public_bytes(Encoding.DER)
    assert _verdicts(ca, leaves[1], by_it, tmp_path / "s") == ("error", "error")
    other = CA("ecdsa", name="elsewhere")
    theirs = other.sign_crl().public_bytes(Encoding.DER)
    assert _verdicts(ca, leaves[1], theirs, tmp_path / "o") == ("error", "error")
