"""parse+validate cost against the bare signature verifications it needs, in one process.

Prints, for RSA-2048 and ECDSA P-256 responses signed by the issuer or by a delegated responder,
the ratio  (parse_response + validate_response) / (the raw signature checks alone), each pair
timed in interleaved rounds (best of 15), so machine noise hits both alike.
Required: <= 2.0; goal: <= 1.3. Run: python benchmarks/validate.py

A delegated response needs two verifications: the response's, and the responder certificate's
by the issuer (with the responder key loaded from the certificate the response carries).
- "cold": the delegated-responder cache is cleared before every call, so every validation
  verifies both; the baseline loads the key and verifies both.
- "warm": the responder certificate's verdict is cached (ocspkit verifies it once), so each
  validation verifies only the response; the baseline is still both verifications.
See benchmarks/validate_floor.py for what a minimal, fully inlined validator costs here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ocspkit
from ocspkit import CertStatus, SingleResponse
from ocspkit.validate import _delegates as _delegate_cache
from tests._pki import NOW, PKI


def per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def compare(
    full: Callable[[], object], bare: Callable[[], object], n: int = 1000, rounds: int = 15
) -> tuple[float, float]:
    """Best-of-rounds per-call times, interleaved so machine noise hits both alike."""
    full()
    bare()
    f, b = [], []
    for _ in range(rounds):
        f.append(per_call(full, n))
        b.append(per_call(bare, n))
    return min(f), min(b)


def scenario(kind: str, delegated: bool, cold: bool) -> tuple[str, float, float]:
    pki = PKI(kind)
    leaf = pki.leaf()
    single = SingleResponse(
        ocspkit.cert_id(leaf, pki.issuer),
        CertStatus.GOOD,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=1),
    )
    if delegated:
        rc, rk = pki.responder()
        resp = ocspkit.build_response(
            single, responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[rc]
        )
    else:
        rc, rk = pki.issuer, pki.issuer_key
        resp = ocspkit.build_response(single, responder_cert=rc, responder_key=rk, produced_at=NOW)
    der = resp.der
    tbs, sig = resp.tbs_response_data, resp.signature
    rkey, ikey = rc.public_key(), pki.issuer.public_key()
    rtbs, rsig = rc.tbs_certificate_bytes, rc.signature

    if kind == "rsa":

        def check(key, s, data):  # type: ignore[no-untyped-def]
            key.verify(s, data, padding.PKCS1v15(), hashes.SHA256())
    else:

        def check(key, s, data):  # type: ignore[no-untyped-def]
            key.verify(s, data, ec.ECDSA(hashes.SHA256()))

    rc_der = rc.public_bytes(Encoding.DER)
    if delegated and cold:

        def bare() -> None:  # the responder key arrives with each response: load it, as we must
            check(x509.load_der_x509_certificate(rc_der).public_key(), sig, tbs)
            check(ikey, rsig, rtbs)
    elif delegated:

        def bare() -> None:
            check(rkey, sig, tbs)
            check(ikey, rsig, rtbs)
    else:

        def bare() -> None:
            check(rkey, sig, tbs)

    def full() -> None:
        r = ocspkit.validate_response(ocspkit.parse_response(der), leaf, pki.issuer, now=NOW)
        assert r.status is CertStatus.GOOD

    def full_cold() -> None:
        _delegate_cache.clear()  # every delegated check from scratch
        full()

    f, b = compare(full_cold if cold else full, bare)
    label = f"{'RSA-2048' if kind == 'rsa' else 'ECDSA P-256'} "
    label += ("delegated, cold" if cold else "delegated, warm") if delegated else "issuer-signed"
    return label, f, b


def main() -> int:
    worst = 0.0
    print(f"{'scenario':32} {'parse+validate':>15} {'bare verify':>12} {'ratio':>6}")
    for kind, delegated, cold in (
        ("rsa", False, False),
        ("rsa", True, True),
        ("rsa", True, False),
        ("ecdsa", False, False),
        ("ecdsa", True, True),
        ("ecdsa", True, False),
    ):
        label, f, b = scenario(kind, delegated, cold)
        ratio = f / b
        worst = max(worst, ratio)
        print(f"{label:32} {f * 1e6:12.1f} µs {b * 1e6:9.1f} µs {ratio:6.2f}")
    print(f"worst ratio {worst:.2f} (required <= 2.0, goal <= 1.3)")
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
