"""Helpers the benchmarks share: interleaved rounds of whole processes, peak memory read inside
a child (``VmHWM``), and one way of printing a ratio against a goal.

Peak memory is read from ``/proc/self/status`` by the child itself: a child's ``ru_maxrss``
starts from its parent's high-water mark (Linux carries it across fork and exec), so a parent
reading it for a child sees its own size, not the child's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PY = sys.executable

#: Python source that makes a child write its own VmHWM (KiB) to $BENCH_HWM_FILE at exit.
HWM_AT_EXIT = (
    "import atexit, os\n"
    "def _bench_hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            open(os.environ['BENCH_HWM_FILE'], 'w').write(line.split()[1])\n"
    "atexit.register(_bench_hwm)\n"
)


def vm_hwm_kib() -> int:
    """This process's peak resident set (``VmHWM``), in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_process(cmd: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one whole process (output discarded; a failure is an error)."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def python_code_hwm(code: str, argv0: str | None = None) -> int:
    """Peak RSS (KiB, read inside the child) of ``python -c code``."""
    with tempfile.NamedTemporaryFile(prefix="bench-hwm-", delete=False) as fh:
        path = fh.name
    try:
        env = dict(os.environ, BENCH_HWM_FILE=path)
        subprocess.run(
            [PY, "-c", HWM_AT_EXIT + code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        text = Path(path).read_text().strip()
        return int(text) if text else 0
    finally:
        os.unlink(path)


def interleaved(
    a: Callable[[], float], b: Callable[[], float], rounds: int
) -> tuple[float, float, float, float]:
    """Run ``a`` and ``b`` alternately ``rounds`` times (after one warm-up each).

    Returns ``(median a, median b, median of the per-round ratios a/b, best a / best b)``.
    """
    a(), b()
    pairs = [(a(), b()) for _ in range(rounds)]
    ta = statistics.median(p[0] for p in pairs)
    tb = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    best = min(p[0] for p in pairs) / min(p[1] for p in pairs)
    return ta, tb, ratio, best


def verdict(ratio: float, goal: float | None, *, at_least: bool = False) -> str:
    """``"<= 1.5: met"`` / ``">= 8: NOT met"`` / ``"-"`` (no goal)."""
    if goal is None:
        return "-"
    ok = ratio >= goal if at_least else ratio <= goal
    return f"{'>=' if at_least else '<='} {goal:g}: {'met' if ok else 'NOT met'}"
