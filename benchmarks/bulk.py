"""Bulk OCSP checks: ``ocspkit.check_many`` against a sequential loop of ``openssl ocsp``.

Goals (issue 14, goal 4), measured side by side in one run against the same responder
(``openssl ocsp -multi 2`` serving the test CA's ``index.txt`` on loopback):

- ``check_many`` over ``--count`` (2,000) certificates >= 8x a sequential loop of the
  ``openssl ocsp`` command (one process per certificate, verifying the response with
  ``-CAfile``; ``--openssl-sample`` of them timed per round and scaled to ``--count``),
  with the minimal pyca-only client (below) in the same rounds: on loopback the responder
  has room to spare, so that client's ratio is what client CPU alone allows on the machine;
- the same >= 20x against a responder that answers after ``--latency-ms`` (20 ms, what a CA's
  responder across the internet looks like): a delaying relay process (asyncio, keep-alive to
  the client, one upstream connection per request) in front of the same OpenSSL responder;
- client CPU per check <= 0.7 ms (process CPU time of the check_many run / checks), shown
  beside what this machine spends on the two parts no client can skip, measured in the same
  run: a bare asyncio exchange with the same responder (connect, send the request, read to
  the close, no HTTP parsing; ``openssl ocsp`` closes every connection) and the two P-256
  signature verifications of a check (the response's, and the issuer's on the certificate),
  and beside a minimal pyca-only bulk client (:func:`naive_bulk`: the same checks a short
  script on cryptography and asyncio makes, nothing more), both from each certificate's DER,
  in interleaved rounds;
- with latency, check_many's default ``per_host=20`` caps it at 20 answers per round trip
  (1,000/s at 20 ms), so rows with ``per_host=10`` (the default before) and ``per_host=50``
  (the whole concurrency) are shown beside it;
- peak memory of a child running check_many over 4,000 items (read lazily from a file) within
  1.05x of one over 1,000; ``VmHWM`` read inside the child (a child's ``ru_maxrss`` starts
  from its parent's high-water mark); once as shipped, once with the core's bounded caches
  emptied every 250 items (what is left is the bulk machinery's own memory).

Rounds are interleaved (check_many, openssl loop, check_many, ...); ratios are the median of
the per-round ratios, with the best round's beside them. ``--profile`` instead prints where a
bulk run's CPU goes (cProfile over ``acheck_many`` on the main thread). Exits 0 either way.

    python benchmarks/bulk.py [--count 2000] [--rounds 3] [--openssl-sample 100] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

import naive
from _common import vm_hwm_kib
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit.client import ClientConfig, acheck_many, check, check_many

GOAL_SPEEDUP = 8.0
GOAL_SPEEDUP_LATENCY = 20.0
GOAL_CPU_MS = 0.7
GOAL_MEMORY = 1.05


def read_certs(path: Path, limit: int) -> Iterator[x509.Certificate]:
    """Certificates from a file of one base64 DER certificate per line, read lazily."""
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i >= limit:
                return
            yield x509.load_der_x509_certificate(base64.b64decode(line))


def child(count: int, certs: Path, issuer_pem: Path, clear: bool) -> None:
    """Run check_many over ``count`` certificates; print outcomes and this process's VmHWM.
    With ``clear``, the core's bounded caches are emptied every 250 outcomes."""
    from ocspkit._cache import CACHES, clear_all  # the core's caches, filled up to their caps

    def progress(done: int, _: object) -> None:
        if clear and done % 250 == 0:
            clear_all()

    issuer = ocspkit.load_certificate(issuer_pem)
    good = other = 0
    for outcome in check_many(read_certs(certs, count), issuer=issuer, progress=progress):
        good += outcome.status is ocspkit.CertStatus.GOOD
        other += outcome.status is not ocspkit.CertStatus.GOOD
    cached = sum(len(c) for c in CACHES.values())
    result = {"count": count, "good": good, "other": other, "hwm_kib": vm_hwm_kib()}
    print(json.dumps({**result, "cached": cached}))


def measure_memory(count: int, certs: Path, issuer_pem: Path, clear: bool) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(count), str(certs), str(issuer_pem),
         "clear" if clear else "keep"],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the delaying relay (a responder with network latency) ------------------------------------


async def _relay_main(port_file: Path, host: str, port: int, delay: float) -> None:
    async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length) if length else b""
        return head, body

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (message := await read_message(reader)) is not None:
                head, body = message
                await asyncio.sleep(delay)
                first, _, rest = head.partition(b"\r\n")
                headers = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(
                    (b"connection:", b"keep-alive:"))]  # fmt: skip
                up_r, up_w = await asyncio.open_connection(host, port)
                up_w.write(b"\r\n".join([first, *headers, b"Connection: close", b"", b""]) + body)
                answer = await up_r.read()
                up_w.close()
                status, _, payload = answer.partition(b"\r\n\r\n")
                code = status.split(b"\r\n", 1)[0].split(b" ", 2)[1]
                writer.write(b"HTTP/1.1 " + code + b" X\r\nContent-Type: application/ocsp-response"
                             b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)  # fmt: skip
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


def relay(port_file: Path, target: str, delay: float) -> None:
    """Serve on a free loopback port; answer each request ``delay`` seconds late with what
    ``target`` (``host:port``) answers; write the port to ``port_file``."""
    host, port = target.rsplit(":", 1)
    asyncio.run(_relay_main(port_file, host, int(port), delay))


def start_relay(work: Path, url: str, delay: float) -> tuple[subprocess.Popen[bytes], str]:
    port_file = work / "relay.port"
    target = url.removeprefix("http://").rstrip("/")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--relay", str(port_file), target, str(delay)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("the delaying relay did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/"


# -- the floor: what no client can skip -------------------------------------------------------


class _Whole(asyncio.Protocol):
    """Sends ``data``, collects the answer until the server closes."""

    def __init__(self, done: asyncio.Future[bytes], data: bytes) -> None:
        self.done, self.data, self.buffer = done, data, bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(self.data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(bytes(self.buffer))


async def bare_post(hostport: str, body: bytes, timeout: float | None = None) -> bytes:
    """POST ``body`` to ``http://hostport/`` on a bare asyncio connection and read to the
    close (each wait bounded by ``timeout`` when given); the raw answer."""
    host, port = hostport.rsplit(":", 1)
    head = (b"POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/ocsp-request"
            b"\r\nContent-Length: %d\r\n\r\n" % (hostport.encode(), len(body)))  # fmt: skip
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    connect = loop.create_connection(lambda: _Whole(done, head + body), host, int(port))
    if timeout is None:
        await connect
        return await done
    await asyncio.wait_for(connect, timeout)
    return await asyncio.wait_for(done, timeout)


def bare_exchange(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, float]:
    """(CPU µs per request, wall seconds) of a bare asyncio client: POST each body, read to
    the close."""
    hostport = url.removeprefix("http://").rstrip("/")

    async def one(sem: asyncio.Semaphore, body: bytes) -> bytes:
        async with sem:
            return await bare_post(hostport, body)

    async def run() -> None:
        sem = asyncio.Semaphore(concurrency)
        answers = await asyncio.gather(*(one(sem, b) for b in bodies))
        assert all(answers), "the responder sent nothing"

    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return (time.process_time() - cpu) / len(bodies) * 1e6, time.perf_counter() - start


def verify_cpu(leaf: x509.Certificate, issuer: x509.Certificate, rounds: int = 2000) -> float:
    """CPU µs of one ECDSA verification of ``leaf``'s signature with ``issuer``'s key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = issuer.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    algorithm = leaf.signature_hash_algorithm
    assert algorithm is not None
    signature, tbs = leaf.signature, leaf.tbs_certificate_bytes
    cpu = time.process_time()
    for _ in range(rounds):
        key.verify(signature, tbs, ec.ECDSA(algorithm))
    return (time.process_time() - cpu) / rounds * 1e6


def naive_bulk(
    ders: list[bytes], issuer: x509.Certificate, concurrency: int
) -> tuple[float, float]:
    """(CPU µs per check, wall seconds) of a minimal pyca-only bulk client, from each
    certificate's DER.

    What a short script on cryptography and asyncio does for each certificate: load it, take
    its AIA OCSP URL, build the request (``OCSPRequestBuilder``), POST it on a bare asyncio
    connection under a 10 s deadline, split the HTTP answer at the blank line (status 200),
    verify the issuer's signature on the certificate, and validate the response with
    ``naive.validate_objects``. No guard, retries, redirects, caches, content-type or size
    checks, nonce, or typed errors: a yardstick for what Python spends, not a client to use.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import AuthorityInformationAccessOID

    now = datetime.now(timezone.utc)

    async def one(sem: asyncio.Semaphore, der: bytes) -> object:
        cert = x509.load_der_x509_certificate(der)
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        url = next(d.access_location.value for d in aia
                   if d.access_method == AuthorityInformationAccessOID.OCSP)  # fmt: skip
        hostport = url.removeprefix("http://").split("/", 1)[0]
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
        body = builder.build().public_bytes(Encoding.DER)
        async with sem:
            raw = await bare_post(hostport, body, timeout=10)
        status, _, response = raw.partition(b"\r\n\r\n")
        if not status.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            raise naive.NaiveError("HTTP status")
        cert.verify_directly_issued_by(issuer)
        single = naive.validate_objects(ocsp.load_der_ocsp_response(response), cert, issuer, now)
        return single.certificate_status

    async def run() -> None:
        sem = asyncio.Semaphore(concurrency)
        found = await asyncio.gather(*(one(sem, d) for d in ders))
        assert all(f is ocsp.OCSPCertStatus.GOOD for f in found), "the naive client failed"

    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return (time.process_time() - cpu) / len(ders) * 1e6, time.perf_counter() - start


def versus_naive(
    rounds: int, ders: list[bytes], issuer: x509.Certificate
) -> tuple[list[float], list[float]]:
    """Interleaved CPU µs per check: (check_many, the naive client), both from DER."""
    ours, theirs = [], []
    for _ in range(rounds):
        fresh = (x509.load_der_x509_certificate(d) for d in ders)
        _, cpu, statuses = run_check_many(fresh, issuer, None, 20)
        ours.append(cpu / len(ders) * 1e6)
        assert statuses == {"GOOD": len(ders)}, statuses
        theirs.append(naive_bulk(ders, issuer, 20)[0])
    return ours, theirs


# -- the peers --------------------------------------------------------------------------------


def run_check_many(
    leaves: Iterable[x509.Certificate], issuer: x509.Certificate, url: str | None, per_host: int
) -> tuple[float, float, dict[str, int]]:
    """(wall seconds, CPU seconds of this process, outcome counts) of one check_many run."""
    statuses: dict[str, int] = {}
    config = ClientConfig(force_url=url) if url else None
    start, cpu = time.perf_counter(), time.process_time()
    for outcome in check_many(((c, issuer) for c in leaves), config=config, per_host=per_host):
        key = outcome.status.name if outcome.status else type(outcome.error).__name__
        statuses[key] = statuses.get(key, 0) + 1
    return time.perf_counter() - start, time.process_time() - cpu, statuses


def openssl_loop(
    openssl: str, leaves: list[Path], issuer_pem: Path, root_pem: Path, url: str
) -> tuple[float, int]:
    """Seconds for a sequential loop of ``openssl ocsp`` over ``leaves``; how many said good."""
    good = 0
    start = time.perf_counter()
    for leaf in leaves:
        proc = subprocess.run(
            [openssl, "ocsp", "-issuer", str(issuer_pem), "-cert", str(leaf), "-url", url,
             "-CAfile", str(root_pem), "-timeout", "10"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        good += proc.returncode == 0 and ": good" in proc.stdout
    return time.perf_counter() - start, good


def compare(
    label: str,
    rounds: int,
    leaves: list[x509.Certificate],
    issuer: x509.Certificate,
    url: str,
    loop: tuple[str, list[Path], Path, Path],
    goal: float,
    force_url: bool,
    per_hosts: tuple[int, ...] = (20,),
    minimal: list[bytes] | None = None,
) -> float:
    """Interleaved rounds of check_many (once per ``per_host`` value), the openssl loop and,
    given the certificates' DER as ``minimal``, the minimal pyca-only client (20 at a time:
    what a client that checks next to nothing reaches here); prints a row each; returns the
    median CPU ms per check of the first ``per_host``."""
    n = len(leaves)
    ratios: dict[int, list[float]] = {p: [] for p in per_hosts}
    peer: list[float] = []
    cpus = []
    for r in range(rounds):
        runs = {p: run_check_many(leaves, issuer, url if force_url else None, p) for p in per_hosts}
        t_sample, good = openssl_loop(*loop, url)
        t_openssl = t_sample / len(loop[1]) * n
        print(f"  round {r + 1}: openssl ocsp loop {n / t_openssl:5.1f}/s "
              f"(good {good}/{len(loop[1])})")  # fmt: skip
        if minimal is not None:
            peer_cpu, t_peer = naive_bulk(minimal, issuer, 20)
            peer.append(t_openssl / t_peer)
            print(f"    minimal pyca-only client {n} in {t_peer:6.2f}s ({n / t_peer:5.0f}/s, "
                  f"{peer_cpu / 1000:.2f} ms CPU/check); ratio {peer[-1]:5.1f}")  # fmt: skip
        for p, (t_many, cpu, statuses) in runs.items():
            ratios[p].append(t_openssl / t_many)
            if p == per_hosts[0]:
                cpus.append(cpu / n * 1000)
            print(f"    check_many per_host={p:<3} {n} in {t_many:6.2f}s ({n / t_many:5.0f}/s, "
                  f"{cpu / n * 1000:.2f} ms CPU/check, {statuses}); ratio {ratios[p][-1]:5.1f}")  # fmt: skip
    for p, found in ratios.items():
        ratio = statistics.median(found)
        default = " (the default)" if p == 20 else ""
        print(f"{label}, per_host={p}{default}: check_many / openssl ocsp loop = {ratio:.1f}x "
              f"(best {max(found):.1f}x)  goal >= {goal:g}x: "
              f"{'met' if ratio >= goal else 'NOT met'}")  # fmt: skip
    if peer:
        print(f"{label}, the minimal pyca-only client (no guard, retries, caps or typed errors)"
              f" / openssl ocsp loop = {statistics.median(peer):.1f}x (best {max(peer):.1f}x): "
              "the ratio that client CPU alone allows here")  # fmt: skip
    return statistics.median(cpus)


def profile(leaves: list[x509.Certificate], issuer: x509.Certificate) -> None:
    import cProfile
    import pstats

    async def run() -> int:
        n = 0
        async for _ in acheck_many((c, issuer) for c in leaves):
            n += 1
        return n

    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(run())
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--openssl-sample", type=int, default=100)
    parser.add_argument("--memory-sizes", default="1000,4000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("COUNT", "CERTS", "ISSUER", "CACHES"))
    parser.add_argument("--relay", nargs=3, metavar=("PORTFILE", "TARGET", "DELAY"))
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]),
              args.child[3] == "clear")  # fmt: skip
        return 0
    if args.relay:
        relay(Path(args.relay[0]), args.relay[1], float(args.relay[2]))
        return 0

    from ocspkit.testing import CA, OpenSSLResponder

    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl is required")
        return 0
    sizes = [int(s) for s in args.memory_sizes.split(",")] if args.memory_sizes else []
    total = max([args.count, *sizes])
    work = Path(tempfile.mkdtemp(prefix="ocspkit-bench-"))
    ca = CA("ecdsa")
    responder = OpenSSLResponder(ca, multi=2)
    relay_proc: subprocess.Popen[bytes] | None = None
    try:
        responder.start()
        url = responder.url
        t0 = time.perf_counter()
        certs_file = work / "certs.b64"
        leaves: list[x509.Certificate] = []
        with certs_file.open("wb") as fh:
            for i in range(total):
                cert = ca.issue(f"bench{i}.test", sans=(), ocsp_url=url).cert
                fh.write(base64.b64encode(cert.public_bytes(Encoding.DER)) + b"\n")
                if i < args.count:
                    leaves.append(cert)
        responder.refresh()
        issuer_pem, root_pem = work / "issuer.pem", work / "root.pem"
        issuer_pem.write_bytes(ca.issuer_pem)
        root_pem.write_bytes(ca.root_pem)
        deadline = time.monotonic() + 10
        while check(leaves[0], ca.issuer).status is not ocspkit.CertStatus.GOOD:
            if time.monotonic() > deadline:
                print("the responder does not know the certificates")
                return 0
            time.sleep(0.2)
        print(f"setup: {total} ECDSA certificates in {time.perf_counter() - t0:.1f}s; "
              f"responder: openssl ocsp -multi 2 at {url}; check_many: concurrency 50, "
              f"20 per host")  # fmt: skip
        if args.profile:
            profile(leaves, ca.issuer)
            return 0
        pem_dir = work / "pem"
        pem_dir.mkdir()
        paths = []
        for i, cert in enumerate(leaves[: args.openssl_sample]):
            paths.append(pem_dir / f"{i}.pem")
            paths[-1].write_bytes(cert.public_bytes(Encoding.PEM))
        loop = (openssl, paths, issuer_pem, root_pem)

        print(f"\nloopback responder ({args.count} certificates, openssl loop timed over "
              f"{len(paths)} per round and scaled):")  # fmt: skip
        ders = [c.public_bytes(Encoding.DER) for c in leaves]
        cpu_ms = compare("loopback", args.rounds, leaves, ca.issuer, url, loop, GOAL_SPEEDUP,
                         False, minimal=ders)  # fmt: skip
        print(f"client CPU per check (process CPU / checks, median round): {cpu_ms:.2f} ms  "
              f"goal <= {GOAL_CPU_MS}: {'met' if cpu_ms <= GOAL_CPU_MS else 'NOT met'}")  # fmt: skip
        bodies = [ocspkit.build_request(c, ca.issuer).der for c in leaves]
        exchanges = [bare_exchange(url, bodies, 20) for _ in range(3)]
        bare = statistics.median(cpu for cpu, _ in exchanges)
        rate = len(bodies) / statistics.median(took for _, took in exchanges)
        verify = verify_cpu(leaves[0], ca.issuer)
        floor = bare + 2 * verify
        print(f"the floor on this machine, same run: a bare asyncio exchange {bare:.0f} us + "
              f"2 P-256 verifications {2 * verify:.0f} us = {floor / 1000:.2f} ms "
              f"({(GOAL_CPU_MS - floor / 1000) * 1000:.0f} us of the 0.7 ms goal left for "
              f"everything else; check_many = {cpu_ms / (floor / 1000):.1f}x the floor)")  # fmt: skip
        print(f"the responder's headroom: the bare exchange, 20 at a time, ran at {rate:.0f}/s")
        ours, theirs = versus_naive(args.rounds, ders, ca.issuer)
        ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
        print("CPU per check from DER, interleaved: check_many "
              + ", ".join(f"{o / 1000:.2f}" for o in ours) + " ms; a minimal pyca-only client "
              + ", ".join(f"{t / 1000:.2f}" for t in theirs) + " ms (benchmarks/bulk.py "
              f"naive_bulk); check_many / minimal = {statistics.median(ratios):.2f}x median, "
              f"{min(ratios):.2f}x best")  # fmt: skip

        if args.latency_ms:
            relay_proc, slow_url = start_relay(work, url, args.latency_ms / 1000)
            print(f"\nresponder answering after {args.latency_ms:g} ms (relay at {slow_url}):")
            # per_host caps the batch at that many answers per latency (20: 1,000/s at 20 ms)
            compare(f"{args.latency_ms:g} ms latency", args.rounds, leaves, ca.issuer, slow_url,
                    loop, GOAL_SPEEDUP_LATENCY, True, (20, 10, 50))  # fmt: skip

        if len(sizes) >= 2:
            for clear in (False, True):
                what = ("the core's caches emptied every 250 items" if clear
                        else "as shipped")  # fmt: skip
                print(f"\npeak RSS (VmHWM in the child), {what}:")
                results = [measure_memory(size, certs_file, issuer_pem, clear) for size in sizes]
                for r in results:
                    print(f"  check_many over {r['count']:5d}: {r['hwm_kib'] / 1024:6.1f} MiB "
                          f"(good {r['good']}, other {r['other']}; {r['cached']} entries in "
                          f"the core's bounded caches at the end)")  # fmt: skip
                growth = results[-1]["hwm_kib"] / results[0]["hwm_kib"]
                print(f"  {sizes[-1]} / {sizes[0]} = {growth:.3f}  goal <= {GOAL_MEMORY}: "
                      f"{'met' if growth <= GOAL_MEMORY else 'NOT met'}")  # fmt: skip
    finally:
        if relay_proc is not None:
            relay_proc.terminate()
            relay_proc.wait(timeout=10)
        responder.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
