"""Handshake rate of a pyOpenSSL server stapling through ``Stapler.install`` vs not stapling.

One run, one server process with two listeners on loopback: the same certificate and key, one
context with the stapler's OCSP callback installed and one without any. The client (this
process) asks for a staple (status_request) on both, so the only difference is the callback and
the staple it sends. Rounds alternate between the two so drift hits both alike; each round's
ratio is taken and the median ratio reported. Required: ratio (with / without) >= 0.9.

A third listener staples the same bytes from a trivial constant callback: the gap between it
and "without" is what sending a staple costs at all (bytes on the wire, larger handshake
transcript); the gap between it and the stapler is the stapler's own cost.

    python benchmarks/stapling.py [--handshakes 200] [--rounds 9] [--delegated]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from OpenSSL import SSL  # noqa: E402

from ocspkit.stapling import DirectoryStore, Stapler  # noqa: E402

#: staple: Stapler.install's callback; plain: no OCSP callback at all; bare: a callback that
#: returns the same staple as a constant (what sending any staple costs, for reference).
MODES = ("staple", "plain", "bare")


def serve(workdir: Path) -> None:
    """Server process: two listeners (stapling / plain), sequential handshakes, until stdin
    closes."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from ocspkit import load_certificates

    chain = load_certificates(workdir / "chain.pem")
    key = load_pem_private_key((workdir / "key.pem").read_bytes(), None)
    # the staple was fetched by the parent; a restart from the store needs no responder
    stapler = Stapler(store=DirectoryStore(workdir / "store"))
    stapler.add(chain, fetch=False)
    assert stapler.staple_for(chain[0]) is not None, "no staple in the store"

    staple = stapler.staple_for(chain[0])

    def context(mode: str) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.use_certificate(chain[0])
        for extra in chain[1:]:
            ctx.add_extra_chain_cert(extra)
        ctx.use_privatekey(key)  # type: ignore[arg-type]
        if mode == "staple":
            stapler.install(ctx, chain[0])
        elif mode == "bare":  # the least any stapling server does: return constant bytes

            def constant(conn: SSL.Connection, data: object) -> bytes:
                return staple  # type: ignore[return-value]

            ctx.set_ocsp_server_callback(constant)
        return ctx

    listeners = {}
    for mode in MODES:
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        listeners[ls] = context(mode)
        print(mode, ls.getsockname()[1], flush=True)
    watch = [*listeners, sys.stdin]
    while True:
        ready, _, _ = select.select(watch, [], [], 30)
        if not ready:
            return
        for ls in ready:
            if ls is sys.stdin:
                return
            sock, _ = ls.accept()
            sock.settimeout(5)
            sock.setblocking(True)
            conn = SSL.Connection(listeners[ls], sock)
            conn.set_accept_state()
            try:
                conn.do_handshake()
                conn.shutdown()
            except (SSL.Error, OSError):
                pass
            finally:
                sock.close()


def handshakes(port: int, count: int, ctx: SSL.Context, seen: list[bytes]) -> float:
    """Run ``count`` sequential full handshakes; return handshakes per second."""
    start = time.perf_counter()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(True)
        conn = SSL.Connection(ctx, sock)
        conn.set_connect_state()
        conn.request_ocsp()
        conn.do_handshake()
        try:
            conn.shutdown()
        except SSL.Error:
            pass
        sock.close()
    elapsed = time.perf_counter() - start
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=200, help="per round")
    parser.add_argument("--rounds", type=int, default=9, help="per mode")
    parser.add_argument(
        "--delegated",
        action="store_true",
        help="staple a delegated-responder response (~800 bytes, embeds its certificate) "
        "instead of an issuer-signed one (~300 bytes, the common case)",
    )
    args = parser.parse_args()

    from ocspkit.testing import CA
    from ocspkit.testing.responder import Responder

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ca = CA("ecdsa")
        signer = "delegated" if args.delegated else "ca"
        with Responder(ca, signer=signer) as responder:
            leaf = ca.issue(ocsp_url=responder.url)
            stapler = Stapler(store=DirectoryStore(workdir / "store"))
            key = stapler.add(leaf.chain)
            staple = stapler.staple_for(leaf.cert)
            n = 200_000
            by_cert = timeit.timeit(lambda: stapler.staple_for(leaf.cert), number=n) / n
            by_key = timeit.timeit(lambda: stapler.staple_for(key), number=n) / n
            stapler.close()
        assert staple is not None
        (workdir / "chain.pem").write_bytes(leaf.chain_pem)
        (workdir / "key.pem").write_bytes(leaf.key_pem)
        (workdir / "key.pem").chmod(0o600)

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            ports = {}
            for _ in MODES:
                mode, port = server.stdout.readline().split()
                ports[mode] = int(port)

            seen: dict[str, list[bytes]] = {m: [] for m in MODES}
            ctxs = {}
            for mode in ports:
                ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
                ctx.set_min_proto_version(SSL.TLS1_3_VERSION)

                def on_staple(
                    conn: SSL.Connection, der: bytes, data: object, m: str = mode
                ) -> bool:
                    seen[m].append(der)
                    return True

                ctx.set_ocsp_client_callback(on_staple)
                ctxs[mode] = ctx
            for mode in ports:  # warm up
                handshakes(ports[mode], 20, ctxs[mode], seen[mode])
            rates: dict[str, list[float]] = {m: [] for m in MODES}
            for _ in range(args.rounds):
                for mode in MODES:
                    rates[mode].append(
                        handshakes(ports[mode], args.handshakes, ctxs[mode], seen[mode])
                    )
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=30)

    assert all(der == staple for der in seen["staple"]), "stapling server sent a wrong staple"
    assert all(der == staple for der in seen["bare"]), "reference server sent a wrong staple"
    assert not any(seen["plain"]), "plain server stapled"
    # each round measures the modes back to back: compare within rounds, then take the median
    ratio = statistics.median(s / p for s, p in zip(rates["staple"], rates["plain"], strict=True))
    vs_bare = statistics.median(s / b for s, b in zip(rates["staple"], rates["bare"], strict=True))
    labels = {
        "staple": "with the stapler's callback",
        "plain": "without stapling",
        "bare": "constant-bytes callback (ref.)",
    }
    for mode in MODES:
        rounds = ", ".join(f"{r:.0f}" for r in rates[mode])
        print(
            f"handshakes/s {labels[mode]:31}: {statistics.median(rates[mode]):8.1f}"
            f"  (rounds: {rounds})"
        )
    print(
        f"stapler callback vs constant-bytes callback: {vs_bare:.3f} (median of per-round ratios)"
    )
    print(f"staple size: {len(staple)} bytes; {len(seen['staple'])} stapled handshakes checked")
    print(
        f"staple_for: {by_cert * 1e6:.2f} µs per call by certificate, "
        f"{by_key * 1e6:.2f} µs by key (no I/O, clock re-read each call)"
    )
    verdict = "OK" if ratio >= 0.9 else "FAIL"
    print(
        f"ratio with/without: {ratio:.3f} (median of per-round ratios; required >= 0.9) -> {verdict}"
    )
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
