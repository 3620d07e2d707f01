"""Shared test helper: find a server binary, or skip (fail under OCSPKIT_REQUIRE_SERVERS=1)."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE = os.environ.get("OCSPKIT_REQUIRE_SERVERS") == "1"


def need_binary(name: str, *candidates: str) -> str:
    """Path of ``name`` (or one of ``candidates``); skip the test if missing, fail if required."""
    for n in (name, *candidates):
        path = shutil.which(n) or next(
            (p for p in (f"/usr/sbin/{n}", f"/usr/bin/{n}", f"/sbin/{n}") if os.path.exists(p)),
            None,
        )
        if path:
            return path
    msg = f"{name} is not installed"
    if REQUIRE:
        pytest.fail(f"{msg} and OCSPKIT_REQUIRE_SERVERS=1")
    pytest.skip(msg)
    raise AssertionError("unreachable")
