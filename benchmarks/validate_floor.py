"""How low can parse+validate go in Python on this machine? A floor for benchmarks/validate.py.

Times, in the same interleaved rounds as benchmarks/validate.py, for one RSA-2048 issuer-signed
response:
- the bare verification (the baseline);
- ``minimal``: a deliberately non-general validator written inline on cryptography's decoder. It
  handles only this one shape (one SingleResponse, byKey, sha256WithRSAEncryption, no request
  nonce) and makes only the core checks: status, the full CertID, the ResponderID, the
  signature, the time window, critical extensions, and builds the one SingleResponse of the
  result. It is NOT safe to use; it only measures what the accessor calls and the few objects
  any validator must make cost next to the verification;
- ocspkit's parse_response + validate_response.

Run: python benchmarks/validate_floor.py
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import compare

import ocspkit
from ocspkit import CertID, CertStatus, SingleResponse
from tests._pki import NOW, PKI

_SKEW = timedelta(minutes=5)
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_SHA256_RSA = x509.ObjectIdentifier("1.2.840.113549.1.1.11")


def minimal(
    der: bytes,
    serial: int,
    name_hash: bytes,
    key_hash: bytes,
    key: object,
    now: datetime,
) -> SingleResponse:
    r = ocsp.load_der_ocsp_response(der)
    if r.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise ValueError("status")
    if (
        r.serial_number != serial
        or not isinstance(r.hash_algorithm, hashes.SHA1)
        or r.issuer_name_hash != name_hash
        or r.issuer_key_hash != key_hash
        or r.responder_key_hash != key_hash
    ):
        raise ValueError("certid / responder")
    if r.signature_algorithm_oid != _SHA256_RSA:
        raise ValueError("algorithm")
    key.verify(r.signature, r.tbs_response_bytes, _PKCS1, _SHA256)  # type: ignore[attr-defined]
    tu, nu, pa = r.this_update_utc, r.next_update_utc, r.produced_at_utc
    if tu > now + _SKEW or nu is None or nu < now - _SKEW or pa > now + _SKEW or tu > pa + _SKEW:
        raise ValueError("times")
    if any(e.critical for e in r.extensions) or any(e.critical for e in r.single_extensions):
        raise ValueError("critical extension")
    if r.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        raise ValueError("status")
    return SingleResponse(CertID("sha1", name_hash, key_hash, serial), CertStatus.GOOD, tu, nu)


def main() -> int:
    pki = PKI("rsa")
    leaf = pki.leaf()
    cid = ocspkit.cert_id(leaf, pki.issuer)
    single = SingleResponse(cid, CertStatus.GOOD, NOW - timedelta(hours=1), NOW + timedelta(days=1))
    resp = ocspkit.build_response(
        single, responder_cert=pki.issuer, responder_key=pki.issuer_key, produced_at=NOW
    )
    der, key = resp.der, pki.issuer.public_key()
    sig, tbs = resp.signature, resp.tbs_response_data

    def bare() -> None:
        key.verify(sig, tbs, padding.PKCS1v15(), hashes.SHA256())

    def floor() -> None:
        minimal(der, leaf.serial_number, cid.issuer_name_hash, cid.issuer_key_hash, key, NOW)

    def full() -> None:
        ocspkit.validate_response(ocspkit.parse_response(der), leaf, pki.issuer, now=NOW)

    print(f"{'RSA-2048 issuer-signed':32} {'time':>9} {'bare verify':>12} {'ratio':>6}")
    for label, fn in (("minimal inline validator", floor), ("ocspkit", full)):
        f, b = compare(fn, bare)
        print(f"{label:32} {f * 1e6:6.1f} µs {b * 1e6:9.1f} µs {f / b:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
