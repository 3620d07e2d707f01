"""Parse and index a large CRL and look every serial up, side by side with ``openssl crl``.

Goal (issue 14, goal 5): parse and index a 100,000-entry CRL, and look up 100,000 serials, no
slower than ``openssl crl`` on the same file. Rows, interleaved over ``--rounds``:

- ``parse_crl`` (parse + index, in process, from bytes; the core's caches emptied before each
  run) against the whole ``openssl crl -inform DER -noout`` process (decode only; neither
  checks the signature: that is ``validate_crl``);
- the same as whole processes: ``python -c "parse_crl(file)"`` (interpreter and import
  included) against ``openssl crl -noout``;
- every serial looked up (``crl.lookup``, in process, after the parse) against
  ``openssl crl -noout -text``. OpenSSL has no look-up command; printing every entry is the
  nearest thing it does that touches each serial, so this row is an analogue, not a like for
  like; and parse + every look-up as one whole Python process against the same command.

Memory: the peak RSS (``VmHWM``, read inside a child) of parsing 10,000 and 100,000 entries,
and the bytes per entry beyond the child's peak after its imports and reading the file. Ratios
are the median of the per-round ratios (ours / openssl: below 1 is faster). Exits 0 either way.

    python benchmarks/crl.py [--rounds 5] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import PY, run_process
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ocspkit import parse_crl
from ocspkit._cache import clear_all
from ocspkit.testing import CA

GOAL = "parse + index and 100,000 look-ups no slower than openssl crl on the same file"

#: The child that measures memory: VmHWM after imports and reading the file in argv[1], and
#: after parsing it.
_MEMORY_CHILD = """
import json, sys
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
from ocspkit.crl import parse_crl  # the modules it needs, loaded before the first reading
data = open(sys.argv[1], 'rb').read()
before = hwm()
crl = parse_crl(data)
print(json.dumps({"entries": len(crl), "before": before, "after": hwm()}))
"""


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def make_crl(ca: CA, entries: int) -> tuple[bytes, list[int]]:
    """A signed CRL with ``entries`` entries, each with its own revocation time (one every
    ~5 minutes going back) and a reasonCode, keyCompromise, superseded or cessationOfOperation
    in turn (built as DER directly: cryptography's builder is quadratic in the number of
    entries)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    utc = _tlv(0x17, now.strftime("%y%m%d%H%M%SZ").encode())
    later = _tlv(0x17, (now + timedelta(days=1)).strftime("%y%m%d%H%M%SZ").encode())
    reasons = [bytes.fromhex(f"300c300a0603551d1504030a01{code:02x}") for code in (1, 4, 5)]
    serials = [(1 << 120) + i * 7919 for i in range(entries)]

    def revoked(i: int, serial: int) -> bytes:
        when = (now - timedelta(seconds=i * 307)).strftime("%y%m%d%H%M%SZ").encode()
        number = _tlv(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big"))
        return _tlv(0x30, number + _tlv(0x17, when) + reasons[i % 3])

    body = b"".join(revoked(i, s) for i, s in enumerate(serials))
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


def parse_once(der: bytes) -> float:
    clear_all()
    start = time.perf_counter()
    parse_crl(der)
    return time.perf_counter() - start


def lookups_once(der: bytes, serials: list[int]) -> tuple[float, int]:
    crl = parse_crl(der)
    start = time.perf_counter()
    found = sum(crl.lookup(s) is not None for s in serials)
    return time.perf_counter() - start, found


def row(label: str, ours: list[float], theirs: list[float], peer: str) -> None:
    ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    best = min(ours) / min(theirs)
    print(f"  {label:<36} {statistics.median(ours) * 1e3:8.1f} ms   {peer:<26} "
          f"{statistics.median(theirs) * 1e3:8.1f} ms   ratio {ratio:5.2f} (best {best:.2f})"
          f"  {'met' if ratio <= 1 else 'NOT met'}")  # fmt: skip


def memory(path: Path) -> dict[str, int]:
    out = subprocess.run(
        [PY, "-c", _MEMORY_CHILD, str(path)], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"goal: {GOAL}")
    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl is required")
        return 0
    ca = CA("ecdsa")
    mem: dict[int, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="ocspkit-bench-") as tmp:
        for n in sizes:
            der, serials = make_crl(ca, n)
            path = Path(tmp) / f"{n}.crl"
            path.write_bytes(der)
            noout = [openssl, "crl", "-in", str(path), "-inform", "DER", "-noout"]
            text = [*noout, "-text"]
            py_parse = [PY, "-c", f"import ocspkit; ocspkit.parse_crl({str(path)!r})"]
            py_lookup = [PY, "-c", "import ocspkit; crl = ocspkit.parse_crl("
                         f"{str(path)!r}); [crl.lookup((1 << 120) + i * 7919) for i in range({n})]"]  # fmt: skip
            parse_crl(der), run_process(noout), run_process(text)  # warm up
            parses, nouts, looks, texts, p_parse, p_look, p_noout, p_text = ([] for _ in range(8))
            found = 0
            for _ in range(args.rounds):
                parses.append(parse_once(der))
                nouts.append(run_process(noout))
                took, found = lookups_once(der, serials)
                looks.append(took)
                texts.append(run_process(text))
                p_parse.append(run_process(py_parse))
                p_noout.append(run_process(noout))
                p_look.append(run_process(py_lookup))
                p_text.append(run_process(text))
            print(f"\n{n} entries, {len(der) / 1e6:.1f} MB DER; {found}/{n} serials found; "
                  f"{statistics.median(looks) / n * 1e6:.2f} us per look-up")  # fmt: skip
            row("parse_crl (parse + index, in process)", parses, nouts, "openssl crl -noout")
            row("python process: parse_crl(file)", p_parse, p_noout, "openssl crl -noout")
            row(f"{n} look-ups (in process)", looks, texts, "openssl crl -noout -text")
            row(f"python process: parse + {n} look-ups", p_look, p_text, "openssl crl -noout -text")
            mem[n] = memory(path)
    print("\nmemory (VmHWM inside a child, before and after parse_crl):")
    for n, m in mem.items():
        per = (m["after"] - m["before"]) * 1024 / n
        print(f"  {n:7d} entries: {m['before'] / 1024:6.1f} -> {m['after'] / 1024:6.1f} MiB "
              f"({per:5.0f} bytes per entry beyond imports and the file read)")  # fmt: skip
    if len(mem) >= 2:
        small, large = min(mem), max(mem)
        ratio = mem[large]["after"] / mem[small]["after"]
        print(f"  peak {large} / {small} entries: {ratio:.2f}x (the file is {large / small:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
