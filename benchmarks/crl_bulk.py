"""A bulk revocation check of many certificates under one CA: the CRL is fetched once.

Goal (issue "Performance", 5): ``check_revocation_many`` over 10,000 certificates that name
only a CRL distribution point (the Let's Encrypt shape) fetches their CRL once, and answers
every certificate correctly. The peer, measured in the same run, is ``openssl verify
-crl_check`` given every certificate in one process with the CRL already on disk (it fetches
nothing, so it is the floor for the work itself). Run from a checkout:

    PYTHONPATH=$PWD python benchmarks/crl_bulk.py [certificates] [revoked-every]

Prints the CRL GETs, the time, checks per second, the verdicts' agreement and the ratio;
always exits 0 (a benchmark, not a test).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ocspkit
from ocspkit.testing import CA, CRLServer

GOAL = "one CRL GET for every certificate under the CA; verdicts as openssl verify -crl_check"


def _openssl(tmp: Path, ca: CA, crl_der: bytes, pems: list[bytes]) -> tuple[float, int]:
    """Seconds for ``openssl verify -crl_check`` over every certificate, and how many it
    called revoked."""
    (tmp / "ca.pem").write_bytes(ca.ca_bundle_pem)
    crl = tmp / "ca.crl"
    crl.write_bytes(crl_der)
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl), "-out", str(tmp / "crl.pem")],
        check=True,
        capture_output=True,
    )
    files = []
    for i, pem in enumerate(pems):
        path = tmp / f"c{i}.pem"
        path.write_bytes(pem)
        files.append(str(path))
    command = ["openssl", "verify", "-crl_check", "-CAfile", str(tmp / "ca.pem")]
    command += ["-CRLfile", str(tmp / "crl.pem"), *files]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, (done.stdout + done.stderr).count("certificate revoked")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    every = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    print(f"goal: {GOAL}")
    ca = CA(key_type="ecdsa")
    with CRLServer(ca) as server, tempfile.TemporaryDirectory() as tmp:
        url = server.url_for("/ca.crl")
        start = time.perf_counter()
        leaves = [
            ca.issue(f"c{i}.test", ocsp_url="", crl_url=url, key_type="ecdsa") for i in range(count)
        ]
        revoked = {leaf.serial_number for leaf in leaves[::every]}
        for leaf in leaves[::every]:
            ca.revoke(leaf)
        print(f"issued {count} certificates in {time.perf_counter() - start:.1f} s, "
              f"{len(revoked)} revoked")  # fmt: skip

        start = time.perf_counter()
        outcomes = list(
            ocspkit.check_revocation_many(
                [leaf.cert for leaf in leaves], issuer=ca.issuer, concurrency=100
            )
        )
        ours = time.perf_counter() - start
        gets = len(server.requests)
        ours_revoked = {o.cert.serial_number for o in outcomes if o.cert and o.status and
                        o.status is ocspkit.CertStatus.REVOKED}  # fmt: skip
        good = sum(1 for o in outcomes if o.status is ocspkit.CertStatus.GOOD)
        sources = {o.result.source for o in outcomes if o.result is not None}
        errors = sum(1 for o in outcomes if not o.ok)

        crl_der = server.current("/ca.crl")
        theirs, theirs_revoked = _openssl(
            Path(tmp), ca, crl_der, [leaf.cert_pem for leaf in leaves]
        )

    print(f"ocspkit check_revocation_many: {ours:.2f} s, {count / ours:.0f} checks/s, "
          f"{gets} CRL GET(s), {len(ours_revoked)} REVOKED, {good} GOOD, {errors} errors, "
          f"sources {sorted(s.value for s in sources if s)}")  # fmt: skip
    print(f"openssl verify -crl_check (one process, CRL on disk): {theirs:.2f} s, "
          f"{theirs_revoked} revoked")  # fmt: skip
    agree = (
        ours_revoked == revoked
        and theirs_revoked == len(revoked)
        and good + len(ours_revoked) == count
    )
    print(f"ratio ocspkit/openssl: {ours / theirs:.2f}x; verdicts agree: {agree}; "
          f"goal met: {gets == 1 and agree}")  # fmt: skip


if __name__ == "__main__":
    if shutil.which("openssl") is None:
        print("openssl not found; nothing to compare with")
        sys.exit(0)
    main()
