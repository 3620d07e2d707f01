"""CRL interop with real OpenSSL, both ways: CRLs made by ``openssl ca -gencrl`` (complete,
with an issuing distribution point, with a hand-written deltaCRLIndicator) and deltas made by
``openssl crl -gendelta`` (OpenSSL 3.0's only delta maker: ``openssl ca`` has no delta option)
validated by ocspkit; CRLs made by ocspkit.testing accepted by ``openssl crl -verify`` and
``openssl verify -crl_check``; and one table where both agree on revoked, good, expired, wrong
partition, wrong signer, another CA and a tampered signature, for CRLs from either side.
``openssl verify -use_deltas`` uses a delta only when a freshestCRL names one; without it,
it answers from the stale complete CRL (test_openssl_gendelta_delta shows both)."""

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
from ocspkit.errors import CRLIssuerMismatchError, CRLScopeError, DeltaCRLError, OCSPError
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
[ crl_fresh ]
authorityKeyIdentifier = keyid:always
freshestCRL = URI:http://crl.test/delta.crl
"""


def openssl_crl(
    ca: CA,
    tmp: Path,
    *,
    exts: str = "crl_plain",
    number: int = 5,
    base: int = 5,
    idp_url: str = A,
    last: datetime | None = None,
    next_: datetime | None = None,
    signer: Leaf | None = None,
) -> bytes:
    """``openssl ca -gencrl`` over the CA's own index.txt, as DER (signed by the CA's
    intermediate, or by ``signer``; ``last``/``next_`` set lastUpdate/nextUpdate)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "ca.pem").write_bytes(cert_pem(signer.cert) if signer else ca.issuer_pem)
    (tmp / "ca.key").write_bytes(signer.key_pem if signer else ca.issuer_key_pem)
    ca.write_index(tmp / "index.txt")
    (tmp / "crlnumber").write_text(f"{number:02x}\n")
    config = tmp / "ca.cnf"
    config.write_text(_CONFIG.format(dir=tmp, idp_url=idp_url, base=base))
    out = tmp / f"{exts}.pem"
    times = []
    if last is not None:
        times += ["-crl_lastupdate", last.strftime("%Y%m%d%H%M%SZ")]
    if next_ is not None:
        times += ["-crl_nextupdate", next_.strftime("%Y%m%d%H%M%SZ")]
    subprocess.run(
        [
            "openssl",
            "ca",
            "-config",
            str(config),
            "-gencrl",
            "-crlexts",
            exts,
            "-out",
            str(out),
            *times,
        ],
        check=True,
        capture_output=True,
    )
    return parse_crl(out).der


def openssl_verify(
    ca: CA, leaf: Leaf, crl: bytes | list[bytes], tmp: Path, *, deltas: bool = False
) -> str:
    """``openssl verify -crl_check`` (``-use_deltas -extended_crl`` with ``deltas``): "ok",
    "revoked" or "error"."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "root.pem").write_bytes(ca.root_pem)
    (tmp / "issuer.pem").write_bytes(ca.issuer_pem)
    (tmp / "leaf.pem").write_bytes(cert_pem(leaf.cert))
    crl_args = []
    for i, one in enumerate(crl if isinstance(crl, list) else [crl]):
        crl_path = tmp / f"crl{i}.pem"
        crl_path.write_bytes(x509.load_der_x509_crl(one).public_bytes(Encoding.PEM))
        crl_args += ["-CRLfile", str(crl_path)]
    run = subprocess.run(
        ["openssl", "verify", "-crl_check"]
        + (["-use_deltas", "-extended_crl"] if deltas else [])
        + ["-CAfile", str(tmp / "root.pem"), "-untrusted", str(tmp / "issuer.pem")]
        + crl_args
        + [str(tmp / "leaf.pem")],
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
                "-verify",
                "-CAfile",
                str(tmp_path / "issuer.pem"),
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0 and "verify OK" in run.stdout + run.stderr, name


CASES = {
    # case: (which leaf, the verdict both must give)
    "revoked": ("bad", "revoked"),
    "good": ("good", "ok"),
    "expired": ("good", "error"),
    "wrong partition": ("good", "error"),
    "right partition": ("bad", "revoked"),
    "wrong signer": ("good", "error"),
    "another CA": ("good", "error"),
    "tampered": ("bad", "error"),
}


def _tamper(crl: bytes) -> bytes:
    data = bytearray(crl)
    data[-3] ^= 0x01  # in the signature value: what openssl crl -badsig does
    return bytes(data)


def _ocspkit_made(ca: CA, case: str) -> bytes:
    if case == "expired":
        signed = ca.sign_crl(now=NOW - timedelta(days=3))
    elif case in ("wrong partition", "right partition"):
        signed = ca.sign_crl(idp_url=B if case == "wrong partition" else A)
    elif case == "wrong signer":
        signed = ca.sign_crl(signer=ca.issue_crl_signer(crl_sign=False))
    elif case == "another CA":
        signed = CA("ecdsa", name="elsewhere").sign_crl()
    else:
        signed = ca.sign_crl()
    crl = signed.public_bytes(Encoding.DER)
    return _tamper(crl) if case == "tampered" else crl


def _openssl_made(ca: CA, case: str, tmp: Path) -> bytes:
    if case == "expired":
        return openssl_crl(ca, tmp, last=NOW - timedelta(days=3), next_=NOW - timedelta(days=2))
    if case in ("wrong partition", "right partition"):
        return openssl_crl(ca, tmp, exts="crl_idp", idp_url=B if case == "wrong partition" else A)
    if case == "wrong signer":
        return openssl_crl(ca, tmp, signer=ca.issue_crl_signer(crl_sign=False))
    if case == "another CA":
        return openssl_crl(CA("ecdsa", name="elsewhere"), tmp)
    crl = openssl_crl(ca, tmp)
    if case == "tampered":
        pem = tmp / "good.pem"
        pem.write_bytes(x509.load_der_x509_crl(crl).public_bytes(Encoding.PEM))
        run = subprocess.run(
            ["openssl", "crl", "-in", str(pem), "-badsig", "-outform", "DER"],
            capture_output=True,
            check=True,
        )
        assert run.stdout != crl
        return run.stdout
    return crl


@pytest.mark.parametrize("producer", ["ocspkit", "openssl"])
@pytest.mark.parametrize("case", list(CASES))
def test_verdicts_agree(
    ca: CA, leaves: tuple[Leaf, Leaf], tmp_path: Path, case: str, producer: str
) -> None:
    """One table: each case, from each producer, judged by both ocspkit (crl_status) and
    openssl verify -crl_check, which agree with each other and with the expected verdict."""
    which, expected = CASES[case]
    leaf = leaves[0] if which == "bad" else leaves[1]
    if producer == "ocspkit":
        crl = _ocspkit_made(ca, case)
    else:
        crl = _openssl_made(ca, case, tmp_path / "made")
    ours = ocspkit_verdict(ca, leaf, crl)
    theirs = openssl_verify(ca, leaf, crl, tmp_path / "verify")
    assert (ours, theirs) == (expected, expected)


# --- delta CRLs: openssl crl -gendelta ------------------------------------------------------


def openssl_delta(ca: CA, base: bytes, newer: bytes, tmp: Path) -> bytes:
    """``openssl crl -in BASE -gendelta NEWER -key KEY -sha256``: the delta from BASE to NEWER
    (OpenSSL 3.0 has no delta option in ``openssl ca``; this is its way to make one)."""
    tmp.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, crl in (("base", base), ("newer", newer)):
        path = tmp / f"{name}.pem"
        path.write_bytes(x509.load_der_x509_crl(crl).public_bytes(Encoding.PEM))
        paths.append(str(path))
    (tmp / "key.pem").write_bytes(ca.issuer_key_pem)
    run = subprocess.run(
        [
            "openssl",
            "crl",
            "-in",
            paths[0],
            "-gendelta",
            paths[1],
            "-key",
            str(tmp / "key.pem"),
            "-sha256",
            "-outform",
            "DER",
        ],
        capture_output=True,
        check=True,
    )
    return run.stdout


@pytest.mark.parametrize("fresh", [True, False])
def test_openssl_gendelta_delta(tmp_path: Path, fresh: bool) -> None:
    """A delta made by ``openssl crl -gendelta`` applies in ocspkit; ``openssl verify
    -use_deltas`` applies it only when the base CRL (or the certificate) names a freshestCRL
    and otherwise ignores it, answering from the stale base: ocspkit applies the delta it is
    given, and a delta that does not fit raises."""
    local = CA("ecdsa", name="gendelta")
    first, second = local.issue(crl_url=A), local.issue(crl_url=A)
    local.revoke(first.cert)
    exts = "crl_fresh" if fresh else "crl_plain"
    base = openssl_crl(local, tmp_path / "base", exts=exts, number=5, last=NOW - timedelta(hours=1))
    local.revoke(second.cert, RevocationReason.SUPERSEDED)
    newer = openssl_crl(local, tmp_path / "newer", exts=exts, number=6)
    delta = openssl_delta(local, base, newer, tmp_path / "delta")
    parsed = parse_crl(delta)
    assert parsed.is_delta and parsed.base_crl_number == 5 and parsed.crl_number == 6
    assert len(parsed) == 1 and parsed.lookup(second.serial_number) is not None
    ours = crl_status(second.cert, local.issuer, base, delta=delta)
    assert ours.revoked and ours.revocation_reason is RevocationReason.SUPERSEDED
    assert crl_status(first.cert, local.issuer, base, delta=delta).revoked
    theirs = openssl_verify(local, second, [base, delta], tmp_path / "v", deltas=True)
    assert theirs == ("revoked" if fresh else "ok")
    with pytest.raises(DeltaCRLError):  # the newer complete CRL is no base for it
        crl_status(second.cert, local.issuer, delta, delta=base)
