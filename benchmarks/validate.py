"""parse+validate from bytes: ocspkit against a naive pyca-only validator, side by side.

The peer is benchmarks/naive.py (cryptography's ``x509.ocsp`` loader; status, CertID, signer,
signature, times; nothing cached). Both get the same bytes; each case is timed in interleaved
rounds (ocspkit, naive, ocspkit, ...) so the machine's noise hits both alike. Printed per row:
best and median per-call time of each, and the ratio ocspkit/naive of the bests and the median
of the per-round ratios (each round's two figures are measured next to each other), against the
goal of the case (issue 14), which the median ratio is held to:

- RSA-2048 and ECDSA P-256, issuer-signed: ≤ 1.15×;
- RSA-2048 and ECDSA P-256, delegated responder (embedded, byKey): ≤ 1.0×;
- 10 and 100 SingleResponses, the matching one last: ≤ 1.5×.

Rows:
- ``fresh`` (the goal's row): every call decodes the leaf, the issuer and the response from
  bytes (``x509.load_der_x509_certificate`` ×2, ``parse_response``, ``validate_response``;
  naive: its loads and checks), and ocspkit's decoded-response cache is emptied before each
  call, so the response counts as never seen (a stream's responses are new bytes). Certificates
  repeat, as in a monitor's stream: ocspkit recognises them by their DER.
- ``reused``: the same certificate and response objects every call (ocspkit's response cache
  hits; naive re-reads its accessors).
- ``cold`` (no goal): every ocspkit cache is emptied before each call, as for a certificate
  and a responder never seen before; ocspkit then also verifies the issuer's signature on the
  leaf (and on the responder certificate), which naive never does.

Run: python benchmarks/validate.py [--rounds 41] [--only RSA]. Exits 0 either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive

import ocspkit
import ocspkit.validate
from ocspkit import CertID, CertStatus
from ocspkit._cache import CACHES, clear_all
from ocspkit.testing import CA

_RESPONSES = CACHES["response.decoded"]


class Case:
    """One response and the bytes both validators start from."""

    def __init__(self, label: str, goal: float, ca: CA, singles: int, delegated: bool) -> None:
        self.label, self.goal = label, goal
        leaf = ca.issue(f"{label.split()[0].lower()}.test")
        self.now = datetime.now(timezone.utc)
        cid = ocspkit.cert_id(leaf.cert, ca.issuer)
        nh, kh = cid.issuer_name_hash, cid.issuer_key_hash
        others = [
            CertID("sha1", nh, kh, leaf.cert.serial_number + 1000 + i) for i in range(singles - 1)
        ]
        resp = ca.sign_response(
            [*others, leaf.cert], now=self.now, signer="delegated" if delegated else "ca"
        )
        self.der = resp.der
        self.leaf_der = leaf.cert.public_bytes(Encoding.DER)
        self.issuer_der = ca.issuer.public_bytes(Encoding.DER)
        self.resp, self.leaf, self.issuer = resp, leaf.cert, ca.issuer
        self.naive_resp = x509.ocsp.load_der_ocsp_response(self.der)
        self.n = max(5, 200 // singles)
        for fn in (self.ocspkit_fresh, self.ocspkit_reused, self.ocspkit_cold):
            if fn() is not CertStatus.GOOD:
                raise SystemExit(f"{label}: ocspkit did not say GOOD")
        if naive.validate(self.der, self.leaf_der, self.issuer_der, self.now) is None:
            raise SystemExit(f"{label}: naive refused")

    def ocspkit_fresh(self) -> CertStatus:
        _RESPONSES.clear()
        leaf = x509.load_der_x509_certificate(self.leaf_der)
        issuer = x509.load_der_x509_certificate(self.issuer_der)
        resp = ocspkit.parse_response(self.der)
        return ocspkit.validate_response(resp, leaf, issuer, now=self.now).status

    def ocspkit_reused(self) -> CertStatus:
        return ocspkit.validate_response(self.resp, self.leaf, self.issuer, now=self.now).status

    def ocspkit_cold(self) -> CertStatus:
        clear_all()
        return self.ocspkit_fresh()

    def naive_fresh(self) -> object:
        return naive.validate(self.der, self.leaf_der, self.issuer_der, self.now)

    def naive_reused(self) -> object:
        return naive.validate_objects(self.naive_resp, self.leaf, self.issuer, self.now)


def per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def interleaved(
    a: Callable[[], object], b: Callable[[], object], n: int, rounds: int
) -> tuple[list[float], list[float]]:
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(per_call(a, n))
        tb.append(per_call(b, n))
    return ta, tb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--only", default="", help="run only cases whose label contains this")
    args = parser.parse_args()
    rsa, ecdsa = CA("rsa"), CA("ecdsa")
    cases = [
        ("RSA-2048 issuer-signed", 1.15, rsa, 1, False),
        ("RSA-2048 delegated", 1.0, rsa, 1, True),
        ("ECDSA-P256 issuer-signed", 1.15, ecdsa, 1, False),
        ("ECDSA-P256 delegated", 1.0, ecdsa, 1, True),
        ("RSA-2048 10-singles", 1.5, rsa, 10, False),
        ("RSA-2048 100-singles", 1.5, rsa, 100, False),
    ]
    print(
        f"{'case':26} {'row':7} {'ocspkit best/med µs':>20} {'naive best/med µs':>20} "
        f"{'ratio best':>10} {'ratio med':>9} {'goal':>6}"
    )
    for label, goal, ca, singles, delegated in cases:
        if args.only not in label:
            continue
        c = Case(label, goal, ca, singles, delegated)
        rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
            ("fresh", c.ocspkit_fresh, c.naive_fresh),
            ("reused", c.ocspkit_reused, c.naive_reused),
            ("cold", c.ocspkit_cold, c.naive_fresh),
        ]
        for row, ours, theirs in rows:
            ta, tb = interleaved(ours, theirs, c.n, args.rounds)
            ba, bb = min(ta) * 1e6, min(tb) * 1e6
            ma, mb = statistics.median(ta) * 1e6, statistics.median(tb) * 1e6
            ratio = statistics.median(a / b for a, b in zip(ta, tb, strict=True))
            mark = f"≤{goal:.2f}" if row == "fresh" else "-"
            met = "" if row != "fresh" else (" met" if ratio <= goal else " MISSED")
            print(
                f"{label:26} {row:7} {ba:9.1f} /{ma:9.1f} {bb:9.1f} /{mb:9.1f} "
                f"{ba / bb:10.2f} {ratio:9.2f} {mark:>6}{met}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
