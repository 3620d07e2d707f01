"""The fuzz campaign of issue 11: mutate genuine OCSP inputs, count what escapes the OCSPError tree.

A measurement, not a test (pytest does not collect it)::

    python tests/fuzz_campaign.py --inputs 1000000 --seed 1 [--workers N]

Genuine seeds (responses signed by the issuer and by a delegate, several SingleResponses, a
nonce, RSA PKCS#1 v1.5, RSA-PSS, ECDSA, Ed25519; requests; certificates; the files under
tests/vectors/ if present) are mutated with byte flips, truncations, insertions, deletions,
length-field edits, splices between seeds and ASN.1-aware edits (a random element replaced,
dropped, duplicated, re-encoded with a non-minimal or indefinite length). Each input goes to
parse_response, parse_request and load_certificates, and whatever parses to validate_response,
ocsp_urls, is_must_staple and repr() of every resulting model.

Printed at the end: inputs, untyped exceptions (anything that is not an ocspkit.OCSPError, by
type and call, with the first inputs in hex), wrong GOODs (a GOOD verdict on an input whose
signed tbsResponseData differs from the genuine one's, or whose genuine status is not GOOD), the
slowest input, and peak RSS (VmHWM). Always exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pathlib
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cryptography import x509  # noqa: E402

import ocspkit  # noqa: E402
from ocspkit import CertStatus  # noqa: E402
from tests.hostile import craft  # noqa: E402

EXAMPLES_PER_KIND = 3
HEX_LIMIT = 4096


# -- seeds -----------------------------------------------------------------------------------


@dataclass
class Seed:
    name: str
    kind: str  # "response", "request" or "certificate"
    der: bytes
    cert: bytes = b""
    issuer: bytes = b""
    status: str = ""  # the genuine verdict for cert
    tbs: bytes = b""
    request: bytes = b""
    nodes: list[tuple[int, int, int]] = field(default_factory=list)  # (offset, header, length)


def _walk(data: bytes, start: int, end: int, out: list[tuple[int, int, int]], depth: int) -> None:
    """Every TLV inside data[start:end] (constructed ones and DER inside OCTET/BIT STRINGs)."""
    i = start
    while i < end and depth < 40:
        tag_at = i
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            while i < end and data[i] & 0x80:
                i += 1
            i += 1
        if i >= end:
            return
        first = data[i]
        i += 1
        if first < 0x80:
            length = first
        elif first == 0x80 or first > 0x84:
            return
        else:
            n = first & 0x7F
            length = int.from_bytes(data[i : i + n], "big")
            i += n
        if i + length > end:
            return
        out.append((tag_at, i - tag_at, length))
        if tag & 0x20:
            _walk(data, i, i + length, out, depth + 1)
        elif tag in (0x04, 0x03) and length > 2:
            inner = i + (1 if tag == 0x03 else 0)
            if data[inner] in (0x30, 0x31, 0x04, 0x02, 0x0A):
                probe: list[tuple[int, int, int]] = []
                _walk(data, inner, i + length, probe, depth + 1)
                if probe and probe[0][0] == inner:
                    out.extend(probe)
        i += length


def build_seeds() -> tuple[list[Seed], float]:
    """Genuine inputs of every shape, and the validation time (unix seconds)."""
    from ocspkit.testing import CA
    from tests.hostile.pki import NOW, single

    now = NOW + timedelta(minutes=1)
    seeds: list[Seed] = []

    def add_response(
        name: str, resp: bytes, cert: x509.Certificate, ca: CA, req: bytes = b""
    ) -> None:
        model = ocspkit.parse_response(resp)
        request = ocspkit.parse_request(req) if req else None
        status = ocspkit.validate_response(model, cert, ca.issuer, now=now, request=request).status
        seeds.append(
            Seed(
                name,
                "response",
                resp,
                craft.der_of(cert),
                craft.der_of(ca.issuer),
                status.name,
                craft.tbs_of(resp),
                req,
            )
        )

    for key_type in ("ecdsa", "rsa", "ed25519"):
        ca = CA(key_type)  # type: ignore[arg-type]
        leaf = ca.issue("fuzz.test", ocsp_url="http://ocsp.fuzz.test/", must_staple=True)
        bad = ca.issue("revoked.fuzz.test", ocsp_url="")
        ca.revoke(bad.cert)
        add_response(
            f"{key_type}-issuer-good", ca.sign_response(leaf.cert, now=NOW).der, leaf.cert, ca
        )
        add_response(
            f"{key_type}-issuer-revoked", ca.sign_response(bad.cert, now=NOW).der, bad.cert, ca
        )
        delegated = ca.sign_response(leaf.cert, now=NOW, signer="delegated").der
        add_response(f"{key_type}-delegated", delegated, leaf.cert, ca)
        req = ocspkit.build_request(leaf.cert, ca.issuer)
        with_nonce = ca.sign_response(req.cert_ids, now=NOW, nonce=req.nonce, responder_id="name")
        add_response(f"{key_type}-nonce-byname", with_nonce.der, leaf.cert, ca, req.der)
        seeds.append(Seed(f"{key_type}-request", "request", req.der))
        many = ocspkit.build_request([leaf.cert, bad.cert], ca.issuer, nonce=False)
        seeds.append(Seed(f"{key_type}-request-2", "request", many.der))
        for label, cert in (
            ("leaf", leaf.cert),
            ("issuer", ca.issuer),
            ("delegate", ca.delegated.cert),
        ):
            seeds.append(Seed(f"{key_type}-{label}-cert", "certificate", craft.der_of(cert)))
        if key_type == "ecdsa":
            singles = [
                single(leaf.cert, ca.issuer),
                single(bad.cert, ca.issuer, CertStatus.REVOKED),
                single(ca.delegated.cert, ca.issuer, CertStatus.UNKNOWN),
            ]
            three = ocspkit.build_response(
                singles, responder_cert=ca.issuer, responder_key=ca.issuer_key, produced_at=NOW
            )
            add_response("ecdsa-three-singles", three.der, bad.cert, ca)
        if key_type == "rsa":
            pss = craft.resign(
                ca.sign_response(leaf.cert, now=NOW).der, ca.issuer_key, pss_mgf="sha256"
            )
            add_response("rsa-pss", pss, leaf.cert, ca)
    vectors = HERE / "vectors"
    if vectors.is_dir():
        for path in sorted(vectors.rglob("*")):
            if path.is_file() and path.suffix.lower() in (
                ".der",
                ".resp",
                ".ocsp",
                ".req",
                ".crt",
                ".pem",
            ):
                data = path.read_bytes()
                kind = "request" if path.suffix.lower() == ".req" else "response"
                if path.suffix.lower() in (".crt", ".pem"):
                    kind = "certificate"
                seeds.append(Seed(f"vector:{path.relative_to(vectors)}", kind, data))
    for seed in seeds:
        _walk(seed.der, 0, len(seed.der), seed.nodes, 0)
    return seeds, now.timestamp()


# -- mutations -------------------------------------------------------------------------------


def _length_bytes(n: int, rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.4:
        return craft.length(n, long_form=True)  # non-minimal
    if choice < 0.6:
        return b"\x80"  # indefinite (BER)
    if choice < 0.8:
        return craft.length(max(0, n + rng.choice([-2, -1, 1, 2, 127, 128, 255, 65536])))
    return bytes([0x84]) + rng.getrandbits(32).to_bytes(4, "big")


def mutate(seed: Seed, seeds: list[Seed], rng: random.Random) -> tuple[bytes, str]:
    data = bytearray(seed.der)
    ops = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if not data:
            data = bytearray(b"\x30\x00")
        op = rng.choice(
            ("flip", "flip", "truncate", "insert", "delete", "length", "splice", "asn1", "asn1")
        )
        i = rng.randrange(len(data))
        nodes = seed.nodes
        if len(data) != len(seed.der) or data != seed.der:
            nodes = []
            _walk(bytes(data), 0, len(data), nodes, 0)
        if op in ("length", "asn1") and not nodes:
            op = "flip"
        if op == "flip":
            data[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = rng.randbytes(rng.choice((1, 1, 2, 4, 16)))
        elif op == "delete":
            del data[i : i + rng.choice((1, 1, 2, 4, 16))]
        elif op == "splice":
            other = rng.choice(seeds).der
            j = rng.randrange(len(other))
            piece = other[j : j + rng.randrange(1, 64)]
            if rng.random() < 0.5:
                data[i : i + len(piece)] = piece
            else:
                data[i:i] = piece
        elif op == "length":
            off, hdr, length = rng.choice(nodes)
            data[off + 1 : off + hdr] = _length_bytes(length, rng)
        else:  # asn1: a random element replaced, dropped, doubled or re-encoded
            off, hdr, length = rng.choice(nodes)
            end = off + hdr + length
            element = bytes(data[off:end])
            content = element[hdr:]
            how = rng.choice(
                ("random", "drop", "double", "longform", "indefinite", "swap", "empty", "tag")
            )
            if how == "random":
                new = element[:1] + craft.length(len(content)) + rng.randbytes(len(content))
            elif how == "drop":
                new = b""
            elif how == "double":
                new = element + element
            elif how == "longform":
                new = element[:1] + craft.length(len(content), long_form=True) + content
            elif how == "indefinite":
                new = bytes([element[0] | 0x20]) + b"\x80" + content + b"\x00\x00"
            elif how == "swap":
                o2, h2, l2 = rng.choice(nodes)
                new = bytes(data[o2 : o2 + h2 + l2])
            elif how == "empty":
                new = element[:1] + b"\x00"
            else:
                new = bytes([rng.randrange(256)]) + element[1:]
            data[off:end] = new
            op = f"asn1-{how}@{off}"
        ops.append(op if op.startswith("asn1") else f"{op}@{i}")
    return bytes(data), "+".join(ops)


# -- running ---------------------------------------------------------------------------------


@dataclass
class Stats:
    inputs: int = 0
    untyped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    wrong_goods: int = 0
    wrong_good_examples: list[str] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    slowest: tuple[float, int, str] = (0.0, 0, "")
    peak_rss_kib: int = 0

    def merge(self, other: Stats) -> None:
        self.inputs += other.inputs
        for k, v in other.untyped.items():
            self.untyped[k] = self.untyped.get(k, 0) + v
        for k, ex in other.examples.items():
            mine = self.examples.setdefault(k, [])
            mine.extend(ex[: EXAMPLES_PER_KIND - len(mine)])
        self.wrong_goods += other.wrong_goods
        self.wrong_good_examples.extend(other.wrong_good_examples[:EXAMPLES_PER_KIND])
        for table, theirs in ((self.accepted, other.accepted), (self.verdicts, other.verdicts)):
            for k, v in theirs.items():
                table[k] = table.get(k, 0) + v
        self.slowest = max(self.slowest, other.slowest)
        self.peak_rss_kib = max(self.peak_rss_kib, other.peak_rss_kib)


def peak_rss_kib() -> int:
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_STATE: dict[str, Any] = {}


def _init(seeds: list[Seed], now: float) -> None:
    from datetime import datetime, timezone

    from cryptography.utils import CryptographyDeprecationWarning

    warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # negative serials etc.
    warnings.simplefilter("ignore", UserWarning)  # cryptography on odd attribute lengths

    _STATE["seeds"] = seeds
    _STATE["now"] = datetime.fromtimestamp(now, timezone.utc)
    _STATE["certs"] = {}
    for s in seeds:
        for der in (s.cert, s.issuer):
            if der and der not in _STATE["certs"]:
                _STATE["certs"][der] = x509.load_der_x509_certificate(der)
    _STATE["requests"] = {s.request: ocspkit.parse_request(s.request) for s in seeds if s.request}


def _record(stats: Stats, call: str, exc: BaseException, data: bytes, how: str, seed: Seed) -> None:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    key = f"{type(exc).__module__}.{type(exc).__qualname__} in {call}"
    stats.untyped[key] = stats.untyped.get(key, 0) + 1
    examples = stats.examples.setdefault(key, [])
    if len(examples) < EXAMPLES_PER_KIND:
        examples.append(
            f"seed={seed.name} mutation={how} size={len(data)} at={pathlib.Path(where.filename).name}:"
            f"{where.lineno} message={str(exc)[:200]!r}\n      hex={data.hex()[:HEX_LIMIT]}"
        )


def _guard(
    stats: Stats, call: str, fn: Callable[[], Any], data: bytes, how: str, seed: Seed
) -> Any:
    try:
        return fn()
    except ocspkit.OCSPError:
        return None
    except Exception as exc:  # the measurement: anything outside the tree
        _record(stats, call, exc, data, how, seed)
        return None


def _reprs(stats: Stats, model: Any, data: bytes, how: str, seed: Seed) -> None:
    objs = [model]
    if isinstance(model, ocspkit.OCSPResponse):
        objs += [model.responder_id, *model.responses, *(s.cert_id for s in model.responses)]
    elif isinstance(model, ocspkit.OCSPRequest):
        objs += list(model.cert_ids)
    for obj in objs:
        _guard(stats, f"repr({type(obj).__name__})", lambda o=obj: repr(o), data, how, seed)


def _one(stats: Stats, seed: Seed, data: bytes, how: str) -> None:
    now = _STATE["now"]
    model = _guard(stats, "parse_response", lambda: ocspkit.parse_response(data), data, how, seed)
    if model is not None:
        stats.accepted["parse_response"] = stats.accepted.get("parse_response", 0) + 1
        _guard(stats, "models", lambda: _reprs(stats, model, data, how, seed), data, how, seed)
        if seed.kind == "response" and seed.cert:
            cert, issuer = _STATE["certs"][seed.cert], _STATE["certs"][seed.issuer]
            request = _STATE["requests"].get(seed.request)
            result = _guard(
                stats,
                "validate_response",
                lambda: ocspkit.validate_response(model, cert, issuer, now=now, request=request),
                data,
                how,
                seed,
            )
            label = result.status.name if result is not None else "error"
            stats.verdicts[label] = stats.verdicts.get(label, 0) + 1
            if result is not None:
                _guard(stats, "repr(ValidationResult)", lambda: repr(result), data, how, seed)
                if result.status is CertStatus.GOOD:
                    signed = model.tbs_response_data
                    if seed.status != "GOOD" or signed != seed.tbs:
                        stats.wrong_goods += 1
                        if len(stats.wrong_good_examples) < EXAMPLES_PER_KIND:
                            stats.wrong_good_examples.append(
                                f"seed={seed.name} mutation={how} hex={data.hex()[:HEX_LIMIT]}"
                            )
    req = _guard(stats, "parse_request", lambda: ocspkit.parse_request(data), data, how, seed)
    if req is not None:
        stats.accepted["parse_request"] = stats.accepted.get("parse_request", 0) + 1
        _reprs(stats, req, data, how, seed)
    certs = _guard(
        stats, "load_certificates", lambda: ocspkit.load_certificates(data), data, how, seed
    )
    if certs:
        stats.accepted["load_certificates"] = stats.accepted.get("load_certificates", 0) + 1
        for c in certs:
            _guard(stats, "ocsp_urls", lambda c=c: ocspkit.ocsp_urls(c), data, how, seed)
            _guard(stats, "is_must_staple", lambda c=c: ocspkit.is_must_staple(c), data, how, seed)


def run_chunk(args: tuple[int, int, int]) -> Stats:
    seed_value, chunk, count = args
    rng = random.Random(seed_value * 1_000_003 + chunk)
    seeds: list[Seed] = _STATE["seeds"]
    stats = Stats()
    clock = time.perf_counter
    for _ in range(count):
        seed = rng.choice(seeds)
        data, how = mutate(seed, seeds, rng)
        start = clock()
        _one(stats, seed, data, how)
        took = clock() - start
        if took > stats.slowest[0]:
            stats.slowest = (took, len(data), f"seed={seed.name} mutation={how}")
        stats.inputs += 1
    stats.peak_rss_kib = peak_rss_kib()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=5000)
    opts = parser.parse_args(argv)
    started = time.monotonic()
    seeds, now = build_seeds()
    chunks = [
        (opts.seed, i, min(opts.chunk, opts.inputs - i * opts.chunk))
        for i in range((opts.inputs + opts.chunk - 1) // opts.chunk)
    ]
    total = Stats()
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with ctx.Pool(max(1, opts.workers), initializer=_init, initargs=(seeds, now)) as pool:
        for part in pool.imap_unordered(run_chunk, chunks):
            total.merge(part)
    total.peak_rss_kib = max(total.peak_rss_kib, peak_rss_kib())
    elapsed = time.monotonic() - started
    print(f"fuzz campaign: seed {opts.seed}, {len(seeds)} genuine seeds, {opts.workers} worker(s)")
    print(f"inputs: {total.inputs} in {elapsed:.0f} s ({total.inputs / max(elapsed, 1e-9):.0f}/s)")
    print(f"accepted: {dict(sorted(total.accepted.items()))}")
    print(f"validate_response verdicts: {dict(sorted(total.verdicts.items()))}")
    print(f"untyped exceptions: {sum(total.untyped.values())}")
    for key, n in sorted(total.untyped.items(), key=lambda kv: -kv[1]):
        print(f"  {n:8d}  {key}")
        for example in total.examples.get(key, []):
            print(f"      {example}")
    print(f"wrong GOODs: {total.wrong_goods}")
    for example in total.wrong_good_examples:
        print(f"      {example}")
    took, size, what = total.slowest
    print(f"slowest input: {took * 1000:.1f} ms, {size} bytes ({what})")
    print(f"peak RSS (VmHWM, largest process): {total.peak_rss_kib / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
