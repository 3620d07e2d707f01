"""Process start-up: ``import ocspkit`` and the command line against their peers.

Goals (issue: performance, start-up): a process that runs ``import ocspkit`` within 1.5× of
one that runs ``import cryptography.x509``; ``ocspkit --version`` and ``ocspkit --help``
within 2× of a bare ``python -c "import cryptography.x509"``. Each pair runs interleaved
(A B A B ...) so that a drifting machine moves both; the ratio is the median of the per-pair
ratios. Also shows what a validating caller pays: ``import ocspkit`` plus one
``parse_response`` of a tiny response. Exits 0 whatever the figures.

    python benchmarks/startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PY = sys.executable
CASES = [
    ("import ocspkit", [PY, "-c", "import ocspkit"], [PY, "-c", "import cryptography.x509"], 1.5),
    (
        "import ocspkit; use the core",
        [PY, "-c", "import ocspkit; ocspkit.parse_response(b'0\\x03\\n\\x01\\x03')"],
        [PY, "-c", "import cryptography.x509"],
        None,
    ),
    (
        "ocspkit --version",
        [PY, "-m", "ocspkit", "--version"],
        [PY, "-c", "import cryptography.x509"],
        2.0,
    ),
    (
        "ocspkit --help",
        [PY, "-m", "ocspkit", "--help"],
        [PY, "-c", "import cryptography.x509"],
        2.0,
    ),
]


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"{'measure':<30} {'ocspkit':>9} {'peer':>9} {'ratio':>6}  goal")
    for label, a, b, goal in CASES:
        run(a), run(b)  # warm the page cache
        pairs = [(run(a), run(b)) for _ in range(args.rounds)]
        ta = statistics.median(p[0] for p in pairs)
        tb = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[0] / p[1] for p in pairs)
        verdict = (
            "-" if goal is None else (f"<= {goal}: " + ("met" if ratio <= goal else "NOT met"))
        )
        print(f"{label:<30} {ta * 1000:>7.0f}ms {tb * 1000:>7.0f}ms {ratio:>6.2f}  {verdict}")


if __name__ == "__main__":
    main()
