"""Hostile sizes: a genuine GOOD response padded with embedded certificates.

Embedded certificates lie outside the signature, so anyone on the path of plain-HTTP OCSP can
add them to a genuine response. This script pads one (the signed tbsResponseData untouched)
to a target size, either with many small certificates or with the capped number of large
ones, and times ``parse_response`` + ``validate_response`` from the bytes, as a client does,
next to benchmarks/naive.py on the same bytes (best of 5 runs each, interleaved).
Goal (issue: linear time on hostile sizes): a 1 MiB padded response validates, or is refused
with a typed error, in well under 0.1 s. Prints one row per case; exits 0 either way.

    python benchmarks/padded.py [--sizes 65536,1048576,16777216]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive

import ocspkit
from ocspkit import _encode
from ocspkit.testing import CA

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def filler(size: int, serial: int) -> bytes:
    """A self-signed certificate of about ``size`` bytes (a big non-critical extension)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, f"pad {serial}")])
    pad = x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x04" * max(size - 400, 1)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(pad, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def padded(resp: ocspkit.OCSPResponse, target: int, cert_size: int) -> bytes:
    one = filler(cert_size, 1)
    count = max(1, target // len(one))
    return _encode.encode_basic_response(
        resp.tbs_response_data, resp.signature_algorithm_oid or "", resp.signature, [one] * count
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="65536,1048576,16777216")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="skip a case past this")
    args = parser.parse_args()
    ca = CA()
    leaf = ca.issue("padded.test")
    genuine = ca.sign_response(leaf.cert, now=NOW)
    cap = getattr(ocspkit, "MAX_EMBEDDED_CERTIFICATES", None)
    print(f"embedded-certificate cap: {cap}")
    leaf_der = leaf.cert.public_bytes(Encoding.DER)
    issuer_der = ca.issuer.public_bytes(Encoding.DER)
    print(
        f"{'size':>10} {'certs':>6} {'ocspkit outcome':<28} {'seconds':>9} "
        f"{'naive outcome':<22} {'seconds':>9} {'ratio':>6}"
    )
    for target in (int(s) for s in args.sizes.split(",")):
        shapes = [("small", 1000)]
        if cap:
            shapes.append(("large", max(target // cap, 1000)))
        for label, cert_size in shapes:
            der = padded(genuine, target, cert_size)
            certs = max(1, target // len(filler(cert_size, 1)))
            if label == "small" and certs > 4000 and cap is None:
                print(f"{len(der):>10} {certs:>6} {'skipped (quadratic before)':<28} {'-':>9}")
                continue

            def ours(der: bytes = der) -> str:
                try:
                    r = ocspkit.validate_response(
                        ocspkit.parse_response(der), leaf.cert, ca.issuer, now=NOW
                    )
                    return r.status.name
                except ocspkit.OCSPError as exc:
                    return type(exc).__name__

            def theirs(der: bytes = der) -> str:
                try:
                    return naive.validate(der, leaf_der, issuer_der, NOW).certificate_status.name
                except Exception as exc:
                    return type(exc).__name__

            (outcome, t_ours), (peer, t_peer) = best_of(ours, theirs)
            print(
                f"{len(der):>10} {certs:>6} {label + ': ' + outcome:<28} {t_ours:>9.4f} "
                f"{peer:<22} {t_peer:>9.4f} {t_ours / t_peer:>6.2f}"
            )


def best_of(*fns: Callable[[], str], runs: int = 5) -> list[tuple[str, float]]:
    """(outcome, best seconds) of each function, the runs interleaved."""
    best = [float("inf")] * len(fns)
    outcomes = [""] * len(fns)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            ocspkit_clear()
            start = time.perf_counter()
            outcomes[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return list(zip(outcomes, best, strict=True))


def ocspkit_clear() -> None:
    """Every call decodes the response afresh (no decoded-response cache hit)."""
    from ocspkit._cache import clear_all

    clear_all()


if __name__ == "__main__":
    main()
