"""ocspkit.testing.CA: the throwaway PKI, its status table, index.txt and signed responses."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from cryptography.x509.verification import PolicyBuilder, Store

import ocspkit
from ocspkit import CertStatus, RevocationReason
from ocspkit.testing import CA, Leaf, OpenSSLError, parse_index

KEY_TYPES = ("rsa", "ecdsa", "ed25519")


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA(ocsp_url="http://127.0.0.1:9/ocsp")


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_chain_verifies_for_localhost(key_type: str) -> None:
    ca = CA(key_type, ocsp_url="http://127.0.0.1:9/")  # type: ignore[arg-type]
    leaf = ca.issue("localhost")
    assert ca.root.subject == ca.root.issuer
    ca.root.verify_directly_issued_by(ca.root)
    ca.issuer.verify_directly_issued_by(ca.root)
    leaf.cert.verify_directly_issued_by(ca.issuer)
    if key_type != "ed25519":  # the Web PKI policy of cryptography's verifier forbids Ed25519
        verifier = PolicyBuilder().store(Store([ca.root]))
        server = verifier.build_server_verifier(x509.DNSName("localhost"))
        chain = server.verify(leaf.cert, [ca.issuer])
        assert chain[-1] == ca.root
    assert leaf.chain == (leaf.cert, ca.issuer)
    assert ocspkit.load_certificates(leaf.chain_pem) == list(leaf.chain)
    assert load_pem_private_key(leaf.key_pem, None).public_key() == leaf.cert.public_key()


def test_leaf_extensions(ca: CA) -> None:
    leaf = ca.issue("example.test", sans=("example.test", "127.0.0.1", "::1"))
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert ocspkit.ocsp_urls(leaf.cert) == ("http://127.0.0.1:9/ocsp",)
    assert not ocspkit.is_must_staple(leaf.cert)
    eku = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_ocsp_url_choices(ca: CA) -> None:
    assert ocspkit.ocsp_urls(ca.issue(ocsp_url="").cert) == ()
    assert ocspkit.ocsp_urls(ca.issue(ocsp_url="http://127.0.0.1:8/x").cert) == (
        "http://127.0.0.1:8/x",
    )
    other = CA("ecdsa")
    assert other.ocsp_url is None
    assert ocspkit.ocsp_urls(other.issue().cert) == ()
    other.ocsp_url = "http://127.0.0.1:7/"
    assert ocspkit.ocsp_urls(other.issue().cert) == ("http://127.0.0.1:7/",)
    leaf = ca.issue(ca_issuers_url="http://127.0.0.1:9/issuer.der")
    assert ocspkit.ca_issuer_urls(leaf.cert) == ("http://127.0.0.1:9/issuer.der",)


def test_must_staple_and_key_type_override(ca: CA) -> None:
    leaf = ca.issue(must_staple=True, key_type="ed25519")
    assert ocspkit.is_must_staple(leaf.cert)
    assert leaf.cert.public_key().__class__.__name__.startswith("Ed25519")
    leaf.cert.verify_directly_issued_by(ca.issuer)


def test_validity_window(ca: CA) -> None:
    nb = datetime(2020, 1, 1, tzinfo=timezone.utc)
    na = datetime(2020, 2, 1, tzinfo=timezone.utc)
    leaf = ca.issue(not_before=nb, not_after=na)
    assert (leaf.cert.not_valid_before_utc, leaf.cert.not_valid_after_utc) == (nb, na)
    with pytest.raises(ValueError, match="timezone-aware"):
        ca.issue(not_before=datetime(2020, 1, 1))


def test_unknown_key_type() -> None:
    with pytest.raises(ValueError, match="key_type"):
        CA("dsa")  # type: ignore[arg-type]


@pytest.mark.parametrize(("eku", "nocheck"), [(True, True), (False, True), (True, False)])
def test_delegated_responder(ca: CA, eku: bool, nocheck: bool) -> None:
    resp = ca.issue_responder(eku=eku, nocheck=nocheck)
    resp.cert.verify_directly_issued_by(ca.issuer)
    exts = {e.oid for e in resp.cert.extensions}
    assert (ExtensionOID.EXTENDED_KEY_USAGE in exts) is eku
    assert (ExtensionOID.OCSP_NO_CHECK in exts) is nocheck
    if eku:
        eku_ext = resp.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku_ext) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ocspkit.ocsp_urls(resp.cert) == ()


def test_default_delegated_is_stable_and_replaceable() -> None:
    ca = CA("ecdsa")
    first = ca.delegated
    assert ca.delegated is first
    replacement = ca.issue_responder(common_name="other responder")
    ca.delegated = replacement
    assert ca.delegated is replacement


def test_write_files(ca: CA, tmp_path: Path) -> None:
    leaf = ca.issue("www.example.test")
    files = leaf.write(tmp_path)
    assert files.cert.name == "www.example.test.crt"
    assert ocspkit.load_certificate(files.cert) == leaf.cert
    assert ocspkit.load_certificates(files.chain) == [leaf.cert, ca.issuer]
    combined = files.combined.read_bytes()
    assert ocspkit.load_certificates(combined) == [leaf.cert, ca.issuer]
    assert b"PRIVATE KEY" in combined
    assert files.key.read_bytes() == leaf.key_pem
    assert stat.S_IMODE(os.stat(files.key).st_mode) == 0o600
    named = leaf.write(tmp_path / "sub", name="server")
    assert named.key == tmp_path / "sub" / "server.key"


def test_status_table() -> None:
    ca = CA("ecdsa")
    a, b, c = ca.issue(), ca.issue(), ca.issue()
    assert ca.status_of(a.cert) == (CertStatus.GOOD, None, None)
    assert ca.status_of(123456789) == (CertStatus.UNKNOWN, None, None)
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    ca.revoke(a.cert, RevocationReason.SUPERSEDED, at=when)
    assert ca.status_of(a) == (
        CertStatus.REVOKED,
        when.replace(microsecond=0),
        RevocationReason.SUPERSEDED,
    )
    ca.revoke(b.cert.serial_number)
    status, at, reason = ca.status_of(b.cert)
    assert (status, reason) == (CertStatus.REVOKED, RevocationReason.KEY_COMPROMISE)
    assert at is not None and abs(at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    ca.revoke(c, reason=None)
    assert ca.status_of(c)[2] is None
    ca.unrevoke(c)
    assert ca.status_of(c)[0] is CertStatus.GOOD
    stranger = CA("ecdsa").issue()
    with pytest.raises(ValueError, match="not issued by this CA"):
        ca.revoke(stranger.cert)
    assert set(ca.issued) >= {a.cert, b.cert, c.cert}


def test_index_round_trip(tmp_path: Path) -> None:
    ca = CA("ecdsa")
    good, rev, hold, plain = ca.issue(), ca.issue(), ca.issue(), ca.issue()
    at = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    ca.revoke(rev, RevocationReason.KEY_COMPROMISE, at=at)
    ca.revoke(hold, RevocationReason.CERTIFICATE_HOLD, at=at)
    ca.revoke(plain, None, at=at)
    path = ca.write_index(tmp_path / "index.txt")
    assert (tmp_path / "index.txt.attr").read_text() == "unique_subject = no\n"
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    rev_line = next(line for line in lines if line.startswith("R") and "keyCompromise" in line)
    assert rev_line.split("\t")[2] == "250304050607Z,keyCompromise"
    hex_serial = format(rev.serial_number, "X")
    assert rev_line.split("\t")[3] == ("0" * (len(hex_serial) % 2)) + hex_serial
    table = parse_index(path.read_text())
    for leaf in (good, rev, hold, plain):
        assert table[leaf.serial_number] == ca.status_of(leaf)


def test_parse_index_errors() -> None:
    with pytest.raises(OpenSSLError, match="line 1"):
        parse_index("X\tfoo\n")
    with pytest.raises(OpenSSLError, match="bad serial"):
        parse_index("V\t300101000000Z\t\tZZ\tunknown\t/CN=x\n")
    with pytest.raises(OpenSSLError, match="unknown reason"):
        parse_index("R\t300101000000Z\t240101000000Z,nonsense\t01\tunknown\t/CN=x\n")
    table = parse_index("E\t200101000000Z\t\t0A\tunknown\t/CN=x\n\n")
    assert table == {10: (CertStatus.GOOD, None, None)}


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("signer", ["ca", "delegated"])
def test_sign_response_validates(key_type: str, signer: str) -> None:
    ca = CA(key_type)  # type: ignore[arg-type]
    good, rev = ca.issue(), ca.issue()
    ca.revoke(rev, RevocationReason.CA_COMPROMISE)
    never = CA(key_type).issue()  # type: ignore[arg-type]
    unknown_id = replace(ocspkit.cert_id(good.cert, ca.issuer), serial_number=424242)
    req = ocspkit.build_request([good.cert, rev.cert], ca.issuer)
    resp = ca.sign_response(
        [*req.cert_ids, unknown_id, ocspkit.cert_id(never.cert, never.chain[1])],
        nonce=req.nonce,
        signer=signer,  # type: ignore[arg-type]
    )
    assert resp.nonce == req.nonce
    assert [s.status for s in resp.responses] == [
        CertStatus.GOOD,
        CertStatus.REVOKED,
        CertStatus.UNKNOWN,
        CertStatus.UNKNOWN,
    ]
    res = ocspkit.validate_response(resp, good.cert, ca.issuer, request=req)
    assert res.status is CertStatus.GOOD
    assert res.delegated is (signer == "delegated")
    res = ocspkit.validate_response(resp, rev.cert, ca.issuer, request=req)
    assert (res.status, res.revocation_reason) == (
        CertStatus.REVOKED,
        RevocationReason.CA_COMPROMISE,
    )


def test_sign_response_times_and_certificates() -> None:
    ca = CA("ecdsa")
    leaf = ca.issue()
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    resp = ca.sign_response(leaf.cert, now=now, validity=None)
    (single,) = resp.responses
    assert resp.produced_at == single.this_update == now
    assert single.next_update is None
    assert single.cert_id == ocspkit.cert_id(leaf.cert, ca.issuer, "sha1")
    tu = now - timedelta(minutes=10)
    resp = ca.sign_response([leaf.cert], now=now, this_update=tu, validity=timedelta(minutes=3))
    assert resp.responses[0].next_update == tu + timedelta(minutes=3)
    explicit = ca.issue_responder()
    resp = ca.sign_response([leaf.cert], signer=explicit, responder_id="name")
    assert resp.certificates == (explicit.cert,)
    assert resp.responder_id is not None and resp.responder_id.name == explicit.cert.subject
    assert ocspkit.validate_response(resp, leaf.cert, ca.issuer).signer == explicit.cert
    with pytest.raises(ValueError, match="signer"):
        ca.sign_response([leaf.cert], signer="root")  # type: ignore[arg-type]


def test_leaf_is_a_frozen_value(ca: CA) -> None:
    leaf = ca.issue()
    assert isinstance(leaf, Leaf)
    with pytest.raises(AttributeError):
        leaf.cert = leaf.cert  # type: ignore[misc]


def test_testing_namespace_is_documented() -> None:
    import inspect

    import ocspkit.testing as testing

    missing = [name for name in testing.__all__ if not hasattr(testing, name)]
    assert missing == []
    undocumented = []
    for name in testing.__all__:
        obj = getattr(testing, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        if not (doc or "").strip():
            undocumented.append(name)
        for attr, value in vars(obj).items() if inspect.isclass(obj) else ():
            func = value.fget if isinstance(value, property) else value
            if not attr.startswith("_") and inspect.isfunction(func) and not func.__doc__:
                undocumented.append(f"{name}.{attr}")
    assert undocumented == []
