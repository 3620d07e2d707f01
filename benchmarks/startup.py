"""Process start-up: ``import ocspkit`` and the command line against their peers.

Goals (issue 14, goal 3): a process that runs ``import ocspkit`` within 1.5x of one that runs
``import cryptography.x509``; ``ocspkit --version`` and ``ocspkit --help`` within 2x of a bare
``python -c "import cryptography.x509"``; ``ocspkit check`` imports only what it uses.

Each pair runs as whole processes, interleaved (A B A B ...), so that a drifting machine moves
both; the ratio is the median of the per-round ratios (the ratio of the best runs beside it).
Peak RSS is read inside each child (``VmHWM`` at exit). ``ocspkit check --help`` and a real
``ocspkit check`` against a loopback responder (beside ``openssl ocsp`` doing the same check)
are shown for context, and the modules a real ``ocspkit check`` loaded are listed against the
ones it has no use for. Exits 0 whatever the figures.

    python benchmarks/startup.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from _common import PY, interleaved, python_code_hwm, run_process, verdict

from ocspkit.cli import UNUSED_OPTIONAL_IMPORTS

CRYPTO = [PY, "-c", "import cryptography.x509"]
#: Runs the ocspkit command inside a ``python -c`` child (for its peak RSS and module list).
_AS_MAIN = "import runpy, sys\nsys.argv = ['ocspkit', *{args!r}]\n" + (
    "try:\n    runpy.run_module('ocspkit', run_name='__main__', alter_sys=True)\n"
    "except SystemExit:\n    pass\n"
)
_MODULES = (
    "import atexit, os, sys\n"
    "atexit.register(lambda: open(os.environ['BENCH_MODULES'], 'w')"
    ".write('\\n'.join(sorted(k for k, v in sys.modules.items() if v is not None))))\n"
)
#: Modules a certificate check has no use for (other subcommands, TLS probing, stapling, ...).
UNUSED = (
    "OpenSSL",
    "asn1crypto",
    "ocspkit.probing",
    "ocspkit.stapling",
    "ocspkit.testing",
    "ocspkit._html",
    "ocspkit.cli.demo",
    "ocspkit.cli.probe",
    "ocspkit.cli.inspect",
    "ocspkit.cli.staple_file",
    "ocspkit.cli.uris",
    "ocspkit.cli.check_many",
    "ocspkit.cli.crl",
    "ocspkit.cli.stapler",
)


def timing_rows(rounds: int, check_args: list[str] | None) -> None:
    cases: list[tuple[str, list[str], list[str], str, float | None]] = [
        ("import ocspkit", [PY, "-c", "import ocspkit"], CRYPTO, "import crypto.x509", 1.5),
        ("ocspkit --version", [PY, "-m", "ocspkit", "--version"], CRYPTO, "import crypto.x509", 2),
        ("ocspkit --help", [PY, "-m", "ocspkit", "--help"], CRYPTO, "import crypto.x509", 2),
        ("ocspkit check --help", [PY, "-m", "ocspkit", "check", "--help"], CRYPTO,
         "import crypto.x509", None),
        ("ocspkit --version", [PY, "-m", "ocspkit", "--version"], ["openssl", "version"],
         "openssl version", None),
    ]  # fmt: skip
    if check_args is not None:
        cases.append(("ocspkit check (loopback)", [PY, "-m", "ocspkit", *check_args],
                      OPENSSL_CHECK, "openssl ocsp", None))  # fmt: skip
    print(f"{'measure':<26} {'ocspkit':>8} {'peer':>8} {'(peer)':<18} {'ratio':>6} {'best':>6}"
          "  goal")  # fmt: skip
    for label, a, b, peer, goal in cases:
        ta, tb, ratio, best = interleaved(
            lambda a=a: run_process(a), lambda b=b: run_process(b), rounds
        )
        print(f"{label:<26} {ta * 1e3:6.0f}ms {tb * 1e3:6.0f}ms {peer:<18} {ratio:6.2f} "
              f"{best:6.2f}  {verdict(ratio, goal)}")  # fmt: skip


def memory_rows() -> None:
    print(f"\n{'peak RSS (VmHWM in the child)':<34} {'MiB':>6}")
    rows = [
        ("python -c 'import cryptography.x509'", "import cryptography.x509"),
        ("import ocspkit", "import ocspkit"),
        ("ocspkit --version", _AS_MAIN.format(args=["--version"])),
        ("ocspkit --help", _AS_MAIN.format(args=["--help"])),
        ("ocspkit check --help", _AS_MAIN.format(args=["check", "--help"])),
    ]
    if CHECK:
        rows.append(("ocspkit check (loopback)", _AS_MAIN.format(args=CHECK)))
    for label, code in rows:
        print(f"{label:<34} {python_code_hwm(code) / 1024:6.1f}")


def modules_of(args: list[str]) -> list[str]:
    """The modules loaded by the ocspkit command run with ``args``."""
    import subprocess

    with tempfile.NamedTemporaryFile(prefix="bench-mods-", delete=False) as fh:
        path = fh.name
    try:
        env = dict(os.environ, BENCH_MODULES=path)
        code = _MODULES + _AS_MAIN.format(args=args)
        subprocess.run([PY, "-c", code], env=env, capture_output=True, check=False)
        return Path(path).read_text().split()
    finally:
        os.unlink(path)


def import_set() -> None:
    for label, args in (("ocspkit --help", ["--help"]), ("ocspkit check", CHECK)):
        if not args:
            continue
        mods = modules_of(args)
        ours = [m for m in mods if m == "ocspkit" or m.startswith("ocspkit.")]
        unused = sorted({u for u in UNUSED for m in mods if m == u or m.startswith(u + ".")})
        heavy = [m for m in ("httpx", "httpcore", "h11", "anyio", "certifi") if m in mods]
        print(f"\nimports of {label}: {len(mods)} modules, {len(ours)} of ocspkit; "
              f"httpx stack: {', '.join(heavy) or 'none'}")  # fmt: skip
        print(f"  unused by it but loaded: {', '.join(unused) or 'none'}")
        extras = [m for m in UNUSED_OPTIONAL_IMPORTS if m in mods]
        # httpx imports its CLI's, httpcore trio's, whenever they are installed (and not
        # marked absent, as the ocspkit executable does: ocspkit.cli.UNUSED_OPTIONAL_IMPORTS)
        print(f"  loaded only because they are installed: {', '.join(extras) or 'none'}")
        print(f"  ocspkit modules: {' '.join(m.removeprefix('ocspkit.') for m in ours)}")


CHECK: list[str] = []
OPENSSL_CHECK: list[str] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    print("goal: import ocspkit <= 1.5x import cryptography.x509; --version, --help <= 2x; "
          "ocspkit check imports only what it uses\n")  # fmt: skip
    from ocspkit.testing import CA, Responder

    ca = CA("ecdsa")
    with tempfile.TemporaryDirectory(prefix="ocspkit-bench-") as tmp, Responder(ca) as responder:
        leaf = ca.issue("startup.test", ocsp_url=responder.url)
        paths = {n: Path(tmp) / f"{n}.pem" for n in ("leaf", "issuer", "root")}
        paths["leaf"].write_bytes(leaf.cert_pem)
        paths["issuer"].write_bytes(ca.issuer_pem)
        paths["root"].write_bytes(ca.root_pem)
        CHECK[:] = ["check", "--cert", str(paths["leaf"]), "--issuer", str(paths["issuer"])]
        openssl = shutil.which("openssl")
        if openssl:
            OPENSSL_CHECK[:] = [openssl, "ocsp", "-issuer", str(paths["issuer"]), "-cert",
                                str(paths["leaf"]), "-url", responder.url, "-CAfile",
                                str(paths["root"])]  # fmt: skip
        timing_rows(args.rounds, CHECK if openssl else None)
        memory_rows()
        import_set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
