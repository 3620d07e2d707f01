"""Parse and index a large CRL, look every serial up, side by side with ``openssl crl``.

Goal: parse_crl (parse + index, in process) is no slower than ``openssl crl -noout`` on the
same file, and memory grows linearly (10k vs 100k entries). Run from a checkout:

    PYTHONPATH=$PWD python benchmarks/crl.py [entries ...]

Prints times, the ratios and the memory per entry; always exits 0 (a benchmark, not a test).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ocspkit.crl import _facts, parse_crl  # _facts: emptied so each run really parses
from ocspkit.testing import CA

GOAL = "parse_crl no slower than openssl crl -noout; memory linear in the entries"


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def make_crl(ca: CA, entries: int) -> tuple[bytes, list[int]]:
    """A signed CRL with ``entries`` entries, each with a reasonCode (built as DER directly:
    cryptography's builder is quadratic in the number of entries)."""
    now = datetime.now(timezone.utc)
    utc = _tlv(0x17, now.strftime("%y%m%d%H%M%SZ").encode())
    later = _tlv(0x17, (now + timedelta(days=1)).strftime("%y%m%d%H%M%SZ").encode())
    reason = bytes.fromhex("300c300a0603551d1504030a0101")
    serials = [(1 << 120) + i * 7919 for i in range(entries)]
    body = b"".join(
        _tlv(0x30, _tlv(0x02, s.to_bytes(s.bit_length() // 8 + 1, "big")) + utc + reason)
        for s in serials
    )
    alg = bytes.fromhex("300a06082a8648ce3d040302")
    number = _tlv(0x30, bytes.fromhex("0603551d14") + _tlv(0x04, b"\x02\x01\x01"))
    tbs = _tlv(
        0x30,
        b"\x02\x01\x01"
        + alg
        + ca.issuer.subject.public_bytes()
        + utc
        + later
        + _tlv(0x30, body)
        + _tlv(0xA0, _tlv(0x30, number)),
    )
    assert isinstance(ca.issuer_key, ec.EllipticCurvePrivateKey)
    signature = ca.issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + alg + _tlv(0x03, b"\x00" + signature)), serials


def best(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        _facts.clear()
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def openssl_time(path: Path, *args: str) -> float | None:
    if shutil.which("openssl") is None:
        return None
    cmd = ["openssl", "crl", "-in", str(path), "-inform", "DER", *args]
    return best(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))


def main(sizes: list[int]) -> int:
    print(f"goal: {GOAL}")
    ca = CA("ecdsa")
    per_entry: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            der, serials = make_crl(ca, n)
            path = Path(tmp) / f"{n}.crl"
            path.write_bytes(der)
            parse = best(lambda: parse_crl(der))  # noqa: B023 - called right here
            crl = parse_crl(path.read_bytes())
            start = time.perf_counter()
            found = sum(crl.lookup(s) is not None for s in serials)
            lookups = time.perf_counter() - start
            _facts.clear()
            tracemalloc.start()
            kept = parse_crl(path.read_bytes())
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            per_entry[n] = (current - len(der)) / n
            noout = openssl_time(path, "-noout")
            text = openssl_time(path, "-noout", "-text")
            print(f"\n{n} entries, {len(der) / 1e6:.1f} MB DER (kept {len(kept)} entries)")
            print(f"  parse_crl (parse + index)   {parse * 1e3:8.1f} ms")
            print(
                f"  {found} lookups             {lookups * 1e3:8.1f} ms "
                f"({lookups / n * 1e6:.2f} us each)"
            )
            print(
                f"  memory beyond the DER      {per_entry[n]:8.0f} bytes/entry "
                f"(peak {peak / 1e6:.1f} MB)"
            )
            if noout is not None and text is not None:
                print(
                    f"  openssl crl -noout          {noout * 1e3:8.1f} ms   "
                    f"ratio parse_crl/openssl = {parse / noout:.2f}"
                )
                print(
                    f"  openssl crl -noout -text    {text * 1e3:8.1f} ms   "
                    f"ratio parse_crl/openssl = {parse / text:.2f}"
                )
    if len(per_entry) >= 2:
        small, large = min(per_entry), max(per_entry)
        print(
            f"\nmemory per entry {small} vs {large}: {per_entry[small]:.0f} vs "
            f"{per_entry[large]:.0f} bytes (linear when these are close)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or [10_000, 100_000]))
