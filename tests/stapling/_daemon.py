"""Shared helpers of the stapler daemon tests: write a TOML config, run the real command
(``python -m ocspkit stapler``) once or as a daemon whose stderr is collected line by line."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ocspkit

STAPLER = [sys.executable, "-m", "ocspkit", "stapler"]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string


def toml_text(defaults: Mapping[str, Any], certificates: Sequence[Mapping[str, Any]]) -> str:
    """The TOML of a config: ``[defaults]``, then each ``[[certificate]]`` with its
    ``[[certificate.output]]`` tables (the certificate's ``"output"`` list)."""
    lines = ["[defaults]"] + [f"{k} = {_value(v)}" for k, v in defaults.items()]
    for cert in certificates:
        lines += ["", "[[certificate]]"]
        lines += [f"{k} = {_value(v)}" for k, v in cert.items() if k != "output"]
        for out in cert.get("output", []):
            lines += ["  [[certificate.output]]"] + [f"  {k} = {_value(v)}" for k, v in out.items()]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path, defaults: Mapping[str, Any], certificates: Sequence[Mapping[str, Any]]
) -> Path:
    path.write_text(toml_text(defaults, certificates))
    return path


def counter_command(marker: Path) -> list[str]:
    """A reload command (argv) that appends one line to ``marker`` each time it runs."""
    code = "import sys; open(sys.argv[1], 'a').write('reload\\n')"
    return [sys.executable, "-c", code, str(marker)]


def reloads(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


#: fast schedules: refresh every second, retry within a second
FAST = {
    "refresh_interval": "1s",
    "min_interval": "0s",
    "retry_initial": "200ms",
    "retry_max": "1s",
    "responder_timeout": "3s",
}


def run_once(config: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STAPLER, "--config", str(config), "--once", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def staple_status(path: Path, leaf: Any, issuer: Any) -> ocspkit.CertStatus:
    """Validate the DER staple in ``path`` for ``leaf`` (raises if it is not valid)."""
    return ocspkit.validate_response(path.read_bytes(), leaf.cert, issuer).status


class Daemon:
    """``ocspkit stapler --config`` running in the background; stderr collected."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [*STAPLER, "--config", str(config), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        with self._cond:
            return sum(1 for ln in self.lines if re.search(pattern, ln))

    def wait_for(self, pattern: str, *, count: int = 1, timeout: float = 20.0) -> bool:
        """Wait until ``count`` stderr lines match ``pattern``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if sum(1 for ln in self.lines if re.search(pattern, ln)) >= count:
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._cond.wait(min(left, 0.2))

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=10)
        self._reader.join(5)
        return rc

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(check: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


__all__ = [
    "FAST",
    "STAPLER",
    "Daemon",
    "counter_command",
    "reloads",
    "run_once",
    "staple_status",
    "toml_text",
    "wait_until",
    "write_config",
]
