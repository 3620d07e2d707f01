"""Where one parse+validate from bytes spends its time, stage by stage, next to the peer's.

One RSA-2048 (or ``--key ecdsa``) issuer-signed response, one SingleResponse (``--singles N``,
the match last), decoded afresh every call as in benchmarks/validate.py's ``fresh`` row. Each
stage is timed on its own with ``time.perf_counter_ns`` around the call, in the order the
validator runs them, over many calls; printed: the median per call in µs. The stages call
ocspkit's internal helpers one by one, so their sum is close to, not exactly, the public call
(also printed). The bare signature verification and benchmarks/naive.py's stages are timed in
the same loop. Exits 0.

    python benchmarks/validate_profile.py [--key rsa|ecdsa] [--singles 1] [--calls 3000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509 import ocsp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import naive
from validate import _RESPONSES, Case

import ocspkit
from ocspkit import _decode, _sigalgs, certs, issuers, response, validate
from ocspkit.policy import ValidationPolicy
from ocspkit.testing import CA


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", choices=("rsa", "ecdsa"), default="rsa")
    parser.add_argument("--singles", type=int, default=1)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    c = Case(f"{args.key} profile", 1.0, CA(args.key), args.singles, False)
    policy = ValidationPolicy()
    der, now = c.der, c.now
    times: dict[str, list[float]] = {}
    state: dict[str, Any] = {}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter_ns()
        out = fn()
        times.setdefault(name, []).append((time.perf_counter_ns() - t0) / 1000)
        return out

    def one() -> None:
        s = state
        s["leaf"] = stage(
            "ocspkit: load leaf + issuer (cryptography)",
            lambda: (
                x509.load_der_x509_certificate(c.leaf_der),
                x509.load_der_x509_certificate(c.issuer_der),
            ),
        )
        leaf, issuer = s["leaf"]
        _, a, b = stage("parse: responseStatus", lambda: _decode.response_status(der))
        facts = stage(
            "parse: decode_response (ResponseData, singles)",
            lambda: _decode.decode_response(der, a, b),
        )
        model = stage("parse: the OCSPResponse model", lambda: response._model(der, facts))
        _RESPONSES.clear()
        stage("parse: parse_response, whole (for the sum)", lambda: ocspkit.parse_response(der))
        stage("validate: response_facts (a cache hit)", lambda: response.response_facts(der))
        cp, ip = stage(
            "validate: parts_of leaf + issuer (by signature, ==)",
            lambda: (certs.parts_of(leaf), certs.parts_of(issuer)),
        )
        stage("validate: prove_issuer (cached proof)", lambda: issuers.prove_issuer(cp, ip, policy))
        single, _, _ = stage(
            "validate: select the SingleResponse", lambda: validate._select(facts.singles, cp, ip)
        )
        _, key, _ = stage(
            "validate: find the signer",
            lambda: validate._find_signer(facts, model.certificates, ip, policy, (), now),
        )
        stage(
            "validate: verify_signature (cryptography)",
            lambda: _sigalgs.verify_signature(
                key,
                facts.signature_algorithm_oid,
                facts.signature_algorithm_params,
                facts.signature,
                facts.tbs_response_data,
                allow_sha1=True,
            ),
        )
        stage(
            "validate: time checks",
            lambda: validate._check_times(single, facts.produced_at, leaf, policy, now),
        )
        leaf2 = x509.load_der_x509_certificate(c.leaf_der)
        issuer2 = x509.load_der_x509_certificate(c.issuer_der)
        stage(
            "validate: validate_response, whole (for the sum)",
            lambda: ocspkit.validate_response(model, leaf2, issuer2, now=now),
        )
        _RESPONSES.clear()
        stage("ocspkit: fresh parse+validate, whole", c.ocspkit_fresh)
        nr = stage("naive: load_der_ocsp_response", lambda: ocsp.load_der_ocsp_response(der))
        nl = x509.load_der_x509_certificate(c.leaf_der)
        ni = x509.load_der_x509_certificate(c.issuer_der)
        stage(
            "naive: checks (incl. public_key(), verify)",
            lambda: naive.validate_objects(nr, nl, ni, now),
        )
        stage("naive: fresh, whole", c.naive_fresh)

    for _ in range(200):
        one()
    times.clear()
    for _ in range(args.calls):
        one()
    print(f"{'stage':56} {'median µs':>10}")
    for name, values in times.items():
        print(f"{name:56} {statistics.median(values):10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
