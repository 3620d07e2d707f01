"""Hostile certificates served to the probe: what a server sends is reported, never raised.

Each leaf below is re-signed by the test CA's issuer after its DER was bent in a way real
servers have been seen (or could be made) to send: TLS Feature values no RFC defines, names
whose strings do not decode, a subjectAltName that does not parse, a 400-bit serial number.
The probe (sync and async), ``ocspkit probe`` and ``ocspkit uris`` must all answer with a
report or a typed error."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

import ocspkit
from ocspkit.probing import ProbeError, ProbeReport, aprobe, probe
from ocspkit.testing import CA
from tests._lab import pyopenssl_staple_server

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
MARK = "MARKMARKMARK"  # a subject CN of this length is overwritten byte for byte


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA(key_type="ecdsa", name="ocspkit hostile", ocsp_url="http://127.0.0.1:9/ocsp")


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _resign(ca: CA, tbs_der: bytes, like: x509.Certificate) -> bytes:
    """A certificate with ``tbs_der`` as its TBSCertificate, signed by the CA's issuer key.

    Assembled byte for byte: the TBS is never decoded again, so its bent strings survive."""
    key = ca.issuer_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    original = asn1_x509.Certificate.load(like.public_bytes(serialization.Encoding.DER))
    algorithm = original["signature_algorithm"].dump()
    return _der(0x30, tbs_der + algorithm + _der(0x03, b"\x00" + signature))


def _tbs(cert: x509.Certificate) -> asn1_x509.TbsCertificate:
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs: asn1_x509.TbsCertificate = asn1_x509.Certificate.load(der)["tbs_certificate"]
    return tbs


Hostile = tuple[bytes, object]  # the bent leaf's DER and its private key


def unknown_tls_features(ca: CA) -> Hostile:
    # status_request (5), status_request_v2 (17), and values no RFC defines
    features = asn1_core.SequenceOf([5, 17, 99, 65535], spec=asn1_core.Integer)
    leaf = ca.issue("localhost")
    tbs = _tbs(leaf.cert)
    tbs["extensions"] = [
        *tbs["extensions"],
        asn1_x509.Extension(
            {
                "extn_id": ExtensionOID.TLS_FEATURE.dotted_string,
                "critical": False,
                "extn_value": asn1_core.ParsableOctetString(features.dump()),
            }
        ),
    ]
    return _resign(ca, tbs.dump(force=True), leaf.cert), leaf.key


def undecodable_subject(ca: CA) -> Hostile:
    # OpenSSL refuses a UTF8String that is not UTF-8 and a BMPString that is not UTF-16 (so
    # no OpenSSL server sends them), but takes a PrintableString with characters that
    # X.680 does not allow there, which cryptography refuses
    leaf = ca.issue(MARK)
    tbs = leaf.cert.tbs_certificate_bytes
    utf8 = b"\x0c" + bytes([len(MARK)]) + MARK.encode()
    assert tbs.count(utf8) == 1
    printable = b"\x13" + bytes([len(MARK)]) + b"@_*!" + MARK.encode()[4:]
    return _resign(ca, tbs.replace(utf8, printable), leaf.cert), leaf.key


def undecodable_san(ca: CA) -> Hostile:
    leaf = ca.issue("localhost", sans=(f"{MARK.lower()}.example", "127.0.0.1"))
    tbs = leaf.cert.tbs_certificate_bytes
    mark = MARK.lower().encode()
    assert tbs.count(mark) == 1
    bent = b"\xff\xfe" + b"x" * (len(mark) - 2)  # a dNSName (IA5String) that is not ASCII
    return _resign(ca, tbs.replace(mark, bent), leaf.cert), leaf.key


def _serial(ca: CA, serial: int) -> Hostile:
    leaf = ca.issue("localhost")
    tbs = _tbs(leaf.cert)
    tbs["serial_number"] = serial
    return _resign(ca, tbs.dump(force=True), leaf.cert), leaf.key


MAKERS: dict[str, Callable[[CA], Hostile]] = {
    "unknown-tls-features": unknown_tls_features,
    "undecodable-subject": undecodable_subject,
    "undecodable-san": undecodable_san,
    "huge-serial": lambda ca: _serial(ca, 2**400 + 12345),
    "negative-serial": lambda ca: _serial(ca, -5),
    "zero-serial": lambda ca: _serial(ca, 0),
}


def _load(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-positive serials: deprecated, still loaded
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:  # cryptography refuses it (e.g. a name string that does not decode)
            return None


def _served(der: bytes) -> object:
    """The leaf as the test server takes it: OpenSSL loads what cryptography refuses."""
    from OpenSSL import crypto

    return _load(der) or crypto.load_certificate(crypto.FILETYPE_ASN1, der)


def _staple(ca: CA, cert: x509.Certificate | None) -> bytes | None:
    if cert is None:
        return None
    try:
        return ca.sign_response(cert, validity=timedelta(hours=1)).der
    except Exception:  # the test CA need not sign for every bent certificate
        return None


def _check(report: ProbeReport, cert: x509.Certificate, ca: CA) -> None:
    assert report.chain == (cert, ca.issuer)
    assert report.chain_valid or report.chain_error
    assert report.staple_error is None or isinstance(report.staple_error, ocspkit.OCSPError)
    assert isinstance(repr(report), str)
    assert isinstance(report.ok, bool) and isinstance(report.must_staple_violation, bool)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ocspkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_hostile_leaf_is_reported_not_raised(ca: CA, name: str, tmp_path: Path) -> None:
    der, key = MAKERS[name](ca)
    cert = _load(der)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with pyopenssl_staple_server([_served(der), ca.issuer], key, _staple(ca, cert)) as server:
        kwargs: dict[str, Any] = {"servername": "localhost", "trust_roots": [ca.root]}
        if cert is None:  # nothing to report on: a typed error, in both forms
            with pytest.raises(ProbeError, match="does not decode"):
                probe("127.0.0.1", server.port, **kwargs)
            with pytest.raises(ProbeError, match="does not decode"):
                asyncio.run(aprobe("127.0.0.1", server.port, **kwargs))
        else:
            report = probe("127.0.0.1", server.port, **kwargs)
            _check(report, cert, ca)
            areport = asyncio.run(aprobe("127.0.0.1", server.port, **kwargs))
            _check(areport, cert, ca)
            assert (areport.chain_valid, areport.chain_error) == (
                report.chain_valid,
                report.chain_error,
            )
        target = f"127.0.0.1:{server.port}"
        for args in (
            ("probe", target, "--servername", "localhost", "--cafile", str(tmp_path / "root.pem")),
            ("probe", target, "--json"),
            ("uris", target),
            ("uris", target, "--json"),
        ):
            run = _cli(*args)
            assert "Traceback" not in run.stderr, (args, run.stderr)
            assert run.returncode in (0, 1, 2, 3), (args, run.returncode, run.stderr)
            if "--json" in args and run.stdout:
                assert json.loads(run.stdout)["exit_code"] == run.returncode


def test_unknown_tls_features_keep_must_staple(ca: CA) -> None:
    """status_request among values no RFC defines is still Must-Staple (RFC 7633 lists
    features; cryptography cannot decode the extension, the probe reads it itself)."""
    der, key = unknown_tls_features(ca)
    with pyopenssl_staple_server([_served(der), ca.issuer], key, None) as server:
        report = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root])
    assert report.must_staple and report.must_staple_violation and not report.ok


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("huge-serial", "serial between 1 and 20 octets"),
        ("negative-serial", "serial number cannot be negative"),
        ("undecodable-san", "subjectAltName is missing, does not decode"),
    ],
)
def test_hostile_leaf_chain_reasons(ca: CA, name: str, reason: str) -> None:
    """What the CA/B profile says about each bent leaf, in words."""
    der, key = MAKERS[name](ca)
    with pyopenssl_staple_server([_served(der), ca.issuer], key, None) as server:
        report = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root])
    assert not report.chain_valid
    assert report.chain_error is not None and reason in report.chain_error
