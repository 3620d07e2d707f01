"""Requests per second: ocspkit.testing.Responder against `openssl ocsp -multi 2`.

Both serve the same throwaway PKI (RSA-2048 intermediate signs; ``index.txt`` written from the
same CA) and answer the same pre-built requests (one CertID + nonce each), sent by the same
client: a separate Python process running a few threads of httpx POSTs, so that the client does
not share a GIL with our responder. Every answer is checked (HTTP 200 and the size of a signed
response); one answer of each server is fully validated with ocspkit.

Run:  python benchmarks/responder.py [--requests 600] [--threads 4]
Prints both rates and the ratio ocspkit/openssl (the issue requires >= 0.3).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()
OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


def client_main(url: str, reqfile: str, count: int, threads: int) -> None:
    """The load generator (child process): POST ``count`` requests from ``threads`` threads."""
    ders = [base64.b64decode(line) for line in Path(reqfile).read_text().split()]
    per_thread = count // threads
    errors: list[str] = []
    sizes: list[int] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(per_thread):
                der = ders[(offset + i) % len(ders)]
                try:
                    r = client.post(url, content=der, headers=OCSP_REQUEST)
                    ok = r.status_code == 200 and len(r.content) > 200
                    with lock:
                        sizes.append(len(r.content))
                        if not ok:
                            errors.append(f"HTTP {r.status_code}, {len(r.content)} bytes")
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(repr(exc))

    # warm-up: one connection per thread, a few requests
    with httpx.Client(timeout=10) as warm:
        for der in ders[:5]:
            warm.post(url, content=der, headers=OCSP_REQUEST)
    pool = [threading.Thread(target=worker, args=(t * 7,)) for t in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    done = per_thread * threads
    print(json.dumps({"requests": done, "seconds": elapsed, "errors": errors[:5],
                      "n_errors": len(errors)}))  # fmt: skip


def run_client(url: str, reqfile: Path, count: int, threads: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(HERE), "--client", url, str(reqfile), str(count), str(threads)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--client", nargs=4, metavar=("URL", "REQFILE", "COUNT", "THREADS"))
    args = parser.parse_args()
    if args.client:
        url, reqfile, count, threads = args.client
        client_main(url, reqfile, int(count), int(threads))
        return 0

    import ocspkit
    from ocspkit.testing import CA, OpenSSLResponder, Responder

    ca = CA("rsa")
    leaves = [ca.issue(f"host{i}.test") for i in range(8)]
    ca.revoke(leaves[0])
    requests = [ocspkit.build_request(leaf.cert, ca.issuer) for leaf in leaves for _ in range(8)]
    tmp = Path(tempfile.mkdtemp(prefix="ocspkit-bench-"))
    reqfile = tmp / "requests.txt"
    reqfile.write_text("\n".join(base64.b64encode(r.der).decode() for r in requests))

    def check(url: str) -> str:
        req = requests[0]
        http = httpx.post(url, content=req.der, headers=OCSP_REQUEST, timeout=10)
        res = ocspkit.validate_response(http.content, leaves[0].cert, ca.issuer, request=req)
        return f"{res.status.value} (nonce {'echoed' if res.response.nonce else 'absent'})"

    # the server-side cost of one answer without HTTP: parse + look up + build + RSA sign
    with Responder(ca) as ours:
        n = 200
        t0 = time.perf_counter()
        for i in range(n):
            ours.respond(requests[i % len(requests)].der)
        per_answer_ms = (time.perf_counter() - t0) / n * 1000
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = ca.issuer_key
        assert isinstance(key, rsa.RSAPrivateKey)
        t0 = time.perf_counter()
        for _ in range(n):
            key.sign(b"x" * 400, padding.PKCS1v15(), hashes.SHA256())
        sign_ms = (time.perf_counter() - t0) / n * 1000
        verdict_ours = check(ours.url)
        ours_result = run_client(ours.url, reqfile, args.requests, args.threads)

    with OpenSSLResponder(ca, multi=2) as theirs:
        verdict_theirs = check(theirs.url)
        theirs_result = run_client(theirs.url, reqfile, args.requests, args.threads)

    def rate(r: dict[str, object]) -> float:
        return float(r["requests"]) / float(r["seconds"])  # type: ignore[arg-type]

    for name, r in (("ocspkit", ours_result), ("openssl", theirs_result)):
        if r["n_errors"]:
            print(f"{name}: {r['n_errors']} failed requests, e.g. {r['errors']}")
            return 1
    ours_rps, theirs_rps = rate(ours_result), rate(theirs_result)
    print(f"machine: {os.cpu_count()} CPUs; client: {args.threads} threads x httpx POST "
          f"(separate process), {args.requests} requests per server")  # fmt: skip
    print(f"ocspkit.testing.Responder (1 process, threads): {ours_rps:8.1f} req/s  "
          f"[revoked leaf -> {verdict_ours}]")  # fmt: skip
    print(f"openssl ocsp -multi 2 (2 worker processes)    : {theirs_rps:8.1f} req/s  "
          f"[revoked leaf -> {verdict_theirs}]")  # fmt: skip
    print(f"ratio ocspkit/openssl: {ours_rps / theirs_rps:.2f}  (required >= 0.3)")
    print(f"ocspkit server-side cost per answer without HTTP (parse, look up, build, sign): "
          f"{per_answer_ms:.2f} ms, of which the RSA-2048 signature {sign_ms:.2f} ms")  # fmt: skip
    print(
        "limits: one Python process (GIL) against two OpenSSL processes; per answer, the "
        "RSA signature dominates, then request parsing and HTTP handling in http.server "
        "(the response DER is written directly, not through asn1crypto)."
    )
    return 0 if ours_rps / theirs_rps >= 0.3 else 2


if __name__ == "__main__":
    sys.exit(main())
