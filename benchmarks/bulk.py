"""Bulk OCSP checks: ocspkit.check_many against a loop of `openssl ocsp`, and flat memory.

One run prints:

1. the time to check N certificates (default 2,000) against one local responder
   (``openssl ocsp -multi 2`` serving the test CA's index.txt) with
   - ``ocspkit.check_many`` (concurrency 50, 10 per host),
   - a sequential loop of the ``openssl ocsp`` command (one process per certificate; a sample
     of ``--openssl-sample`` certificates is timed and extrapolated per item, as printed),
   - a sequential loop of the one-shot ``ocspkit.check`` (a new client each time), and, for
     reference, a sequential loop of ``Client.check`` on one reused client;
   and the ratios (check_many must be >= 3x faster than the openssl loop);
2. the peak RSS of a child process running ``check_many`` over 1,000 and over 4,000
   certificates read lazily from a file (must be within 15%).

3. for context, check_many against a loop of ``Client.check`` through a relay that adds
   ``--latency-ms`` (20) to every answer: on loopback there is no latency for concurrency to
   overlap, so there check_many is bound by CPU per request (asyncio costs a little more
   than blocking calls); with real network latency it wins by about the concurrency.

The check_many row also prints the CPU time per check: on loopback a bulk check is bound by
it. (The lean h11 transport the async client once had saved about 0.35 ms of CPU per check
against httpcore's pool, 1.32-1.43 against 1.71-1.74 ms over 1,000 checks, with wall time
within noise, 361-459/s against 351-403/s; it was removed in favour of httpx's supported
custom-transport API over httpcore.)

Usage: ``python benchmarks/bulk.py [--count 2000] [--openssl-sample 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit.client import Client, ClientConfig, check, check_many

REQUIRED_SPEEDUP = 3.0
RSS_TOLERANCE = 0.15


def read_certs(path: Path, limit: int) -> Iterator[x509.Certificate]:
    """Certificates from a file of one base64 DER certificate per line, read lazily."""
    import base64

    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i >= limit:
                return
            yield x509.load_der_x509_certificate(base64.b64decode(line))


def child(count: int, certs: Path, issuer_pem: Path) -> None:
    """Run check_many over ``count`` certificates; print outcomes and peak RSS as JSON."""
    issuer = ocspkit.load_certificate(issuer_pem)
    config = ClientConfig(timeout=10, deadline=60)
    good = errors = 0
    for outcome in check_many(read_certs(certs, count), issuer=issuer, config=config):
        if outcome.status is ocspkit.CertStatus.GOOD:
            good += 1
        else:
            errors += 1
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"count": count, "good": good, "other": errors, "max_rss_kib": rss_kib}))


def measure_rss(count: int, certs: Path, issuer_pem: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(count), str(certs), str(issuer_pem)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def relay(port_file: Path, target: str, delay: float) -> None:
    """Serve on a free loopback port, forwarding to ``target`` after ``delay`` seconds (a
    responder with network latency); writes the port to ``port_file``."""
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add 40 ms per keep-alive answer

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else None
            time.sleep(delay)
            req = urllib.request.Request(target.rstrip("/") + self.path, data=body,
                                         method=self.command)  # fmt: skip
            if body:
                req.add_header("Content-Type", "application/ocsp-request")
            with urllib.request.urlopen(req, timeout=10) as resp:
                data = resp.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def openssl_loop(
    openssl: str, leaves: list[Path], issuer_pem: Path, root_pem: Path, url: str
) -> tuple[float, int]:
    """Seconds for a sequential loop of `openssl ocsp` over ``leaves``; how many said good."""
    good = 0
    start = time.perf_counter()
    for leaf in leaves:
        proc = subprocess.run(
            [openssl, "ocsp", "-issuer", str(issuer_pem), "-cert", str(leaf), "-url", url,
             "-CAfile", str(root_pem), "-timeout", "10"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if proc.returncode == 0 and ": good" in proc.stdout:
            good += 1
    return time.perf_counter() - start, good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--openssl-sample", type=int, default=200)
    parser.add_argument("--check-sample", type=int, default=0, help="0: all --count")
    parser.add_argument("--rss-sizes", default="1000,4000")
    parser.add_argument("--latency-count", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--child", nargs=3, metavar=("COUNT", "CERTS", "ISSUER"))
    parser.add_argument("--relay", nargs=3, metavar=("PORTFILE", "TARGET", "DELAY"))
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]))
        return
    if args.relay:
        relay(Path(args.relay[0]), args.relay[1], float(args.relay[2]))
        return

    from ocspkit.testing import CA, OpenSSLResponder

    openssl = shutil.which("openssl")
    if openssl is None:
        sys.exit("openssl is required")
    rss_sizes = [int(s) for s in args.rss_sizes.split(",")]
    total = max(args.count, *rss_sizes)
    work = Path(tempfile.mkdtemp(prefix="ocspkit-bench-"))
    ca = CA("ecdsa")
    responder = OpenSSLResponder(ca, multi=2)
    try:
        responder.start()
        url = responder.url
        t0 = time.perf_counter()
        certs_file = work / "certs.b64"
        leaves: list[x509.Certificate] = []
        import base64

        with certs_file.open("wb") as fh:
            for i in range(total):
                cert = ca.issue(f"bench{i}.test", sans=(), ocsp_url=url).cert
                fh.write(base64.b64encode(cert.public_bytes(Encoding.DER)) + b"\n")
                if i < args.count:
                    leaves.append(cert)
        responder.refresh()
        issuer_pem = work / "issuer.pem"
        issuer_pem.write_bytes(ca.issuer_pem)
        root_pem = work / "root.pem"
        root_pem.write_bytes(ca.root_pem)
        print(f"setup: {total} ECDSA certificates issued in {time.perf_counter() - t0:.1f}s; "
              f"responder: openssl ocsp -multi 2 at {url}")  # fmt: skip
        # warm up (and make sure the responder has re-read index.txt)
        deadline = time.monotonic() + 10
        while check(leaves[0], ca.issuer).status is not ocspkit.CertStatus.GOOD:
            if time.monotonic() > deadline:
                sys.exit("responder does not know the certificates")
            time.sleep(0.2)

        n = args.count
        # 1. check_many
        start = time.perf_counter()
        cpu = time.process_time()
        statuses: dict[str, int] = {}
        for outcome in check_many(((c, ca.issuer) for c in leaves), concurrency=50, per_host=10):
            key = outcome.status.name if outcome.status else type(outcome.error).__name__
            statuses[key] = statuses.get(key, 0) + 1
        t_many = time.perf_counter() - start
        cpu_ms = (time.process_time() - cpu) / n * 1000
        print(f"check_many:            {n} certs in {t_many:7.2f}s "
              f"({n / t_many:7.0f}/s, {cpu_ms:.2f} ms CPU per check)  outcomes {statuses}")  # fmt: skip

        # 2. sequential openssl ocsp
        sample = min(args.openssl_sample, n)
        pem_dir = work / "pem"
        pem_dir.mkdir()
        paths = []
        for i, cert in enumerate(leaves[:sample]):
            p = pem_dir / f"{i}.pem"
            p.write_bytes(cert.public_bytes(Encoding.PEM))
            paths.append(p)
        t_sample, good = openssl_loop(openssl, paths, issuer_pem, root_pem, url)
        t_openssl = t_sample / sample * n
        note = "" if sample == n else f" (timed {sample}, {t_sample:.2f}s, extrapolated per item)"
        print(f"openssl ocsp loop:     {n} certs in {t_openssl:7.2f}s "
              f"({n / t_openssl:7.0f}/s)  good {good}/{sample}{note}")  # fmt: skip

        # 3. sequential one-shot ocspkit.check
        csample = args.check_sample or n
        start = time.perf_counter()
        good = sum(check(c, ca.issuer).good for c in leaves[:csample])
        t_check = (time.perf_counter() - start) / csample * n
        note = "" if csample == n else f" (timed {csample}, extrapolated per item)"
        print(f"ocspkit.check loop:    {n} certs in {t_check:7.2f}s "
              f"({n / t_check:7.0f}/s)  good {good}/{csample}{note}")  # fmt: skip

        # 3b. sequential Client.check on one client (reference)
        start = time.perf_counter()
        with Client() as client:
            good = sum(client.check(c, ca.issuer).good for c in leaves[:csample])
        t_client = (time.perf_counter() - start) / csample * n
        print(f"Client.check loop:     {n} certs in {t_client:7.2f}s "
              f"({n / t_client:7.0f}/s)  good {good}/{csample}{note}")  # fmt: skip

        speedup = t_openssl / t_many
        print(f"\ncheck_many vs openssl ocsp loop:   {speedup:6.1f}x faster "
              f"(required >= {REQUIRED_SPEEDUP}x: {'PASS' if speedup >= REQUIRED_SPEEDUP else 'FAIL'})")  # fmt: skip
        print(f"check_many vs ocspkit.check loop:  {t_check / t_many:6.1f}x faster")
        print(f"check_many vs Client.check loop:   {t_client / t_many:6.1f}x faster")

        # 3c. the same with network latency (a relay process adding --latency-ms per answer):
        # what concurrency is for; on loopback there is no latency to overlap
        if args.latency_count:
            port_file = work / "relay.port"
            proc = subprocess.Popen(
                [sys.executable, __file__, "--relay", str(port_file), url,
                 str(args.latency_ms / 1000)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                while not port_file.exists() or not port_file.read_text():
                    time.sleep(0.05)
                slow_url = f"http://127.0.0.1:{port_file.read_text()}/"
                sample_l = leaves[: args.latency_count]
                m = len(sample_l)
                start = time.perf_counter()
                with Client(ClientConfig(force_url=slow_url)) as client:
                    good = sum(client.check(c, ca.issuer).good for c in sample_l)
                t_seq_l = time.perf_counter() - start
                start = time.perf_counter()
                ok = sum(
                    o.status is ocspkit.CertStatus.GOOD
                    for o in check_many(
                        ((c, ca.issuer) for c in sample_l),
                        config=ClientConfig(force_url=slow_url),
                    )
                )
                t_many_l = time.perf_counter() - start
                print(f"with {args.latency_ms:.0f} ms responder latency, {m} certs: "
                      f"Client.check loop {t_seq_l:.2f}s (good {good}), "
                      f"check_many {t_many_l:.2f}s (good {ok}): "
                      f"{t_seq_l / t_many_l:.1f}x faster")  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=10)

        # 4. memory
        results = [measure_rss(size, certs_file, issuer_pem) for size in rss_sizes]
        for r in results:
            print(f"peak RSS, check_many over {r['count']:5d} certs: {r['max_rss_kib'] / 1024:7.1f} MiB"
                  f"  (good {r['good']}, other {r['other']})")  # fmt: skip
        low, high = results[0]["max_rss_kib"], results[-1]["max_rss_kib"]
        growth = (high - low) / low
        verdict = "PASS" if abs(growth) <= RSS_TOLERANCE else "FAIL"
        print(f"peak RSS {rss_sizes[-1]} vs {rss_sizes[0]}: {growth * 100:+.1f}% "
              f"(required within {RSS_TOLERANCE * 100:.0f}%: {verdict})")  # fmt: skip
    finally:
        responder.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
