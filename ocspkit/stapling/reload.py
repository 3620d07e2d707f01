"""Reload commands of the stapler's outputs: running them, and remembering one that failed.

What this module owns: :class:`ReloadCommand` (an argv run with a timeout, never through a
shell) and the marker a failed reload leaves next to a staple file (:func:`pending_marker`),
so that the next run reloads the server even though the file already holds the staple.
What it must never do: write a staple, or run anything but the configured argv.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutputError

__all__ = ["ReloadCommand", "pending_marker"]

logger = logging.getLogger("ocspkit.stapler")


class ReloadCommand:
    """Run ``argv`` (no shell) within ``timeout`` seconds; a non-zero exit, a timeout or a
    missing program raises :class:`~ocspkit.stapling.OutputError` (the stapler logs it and
    tries the output again a few seconds later)."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout

    def __call__(self) -> None:
        started = time.monotonic()
        try:
            done = subprocess.run(
                self.argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OutputError(f"reload {self} timed out after {self.timeout:g} s") from None
        except OSError as exc:
            raise OutputError(f"reload {self} could not start: {exc.strerror or exc}") from None
        took = time.monotonic() - started
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = f": {err[-1][:200]}" if err else ""
            raise OutputError(f"reload {self} exited with {done.returncode}{tail}")
        logger.info("reload: %s done in %.2f s", self, took)

    def __str__(self) -> str:
        import shlex

        return shlex.join(self.argv)


def pending_marker(path: Path) -> Path:
    """The marker of a failed reload after ``path`` was written (``.NAME.reload-pending``)."""
    return path.with_name(f".{path.name}.reload-pending")
