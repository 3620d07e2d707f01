"""The command line's promises (issue: the face): each driven through the real command.

``inspect``, ``check-many`` streaming, standard input and error rows, ``--url`` usage errors,
``--timeout`` as the whole command's deadline, and ``staple-file`` exiting 0 for every staple
it writes (revoked included) so that the documented cron line reloads after a revocation.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ocspkit
from ocspkit.testing import CA, Fault, Responder

from .test_cli import ROOT, ocspkit_cmd, write_leaf


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="ocspkit cli face test")


@pytest.fixture(scope="module")
def responder(ca: CA) -> Responder:
    with Responder(ca) as r:
        yield r  # type: ignore[misc]


def test_inspect_shows_and_validates_a_response(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "leaf")
    (tmp_path / "resp.der").write_bytes(ca.sign_response(leaf.cert).der)
    shown = ocspkit_cmd("inspect", str(tmp_path / "resp.der"))
    assert shown.code == 0, shown.err
    assert "good" in shown.out.lower()
    checked = ocspkit_cmd(
        "inspect", str(tmp_path / "resp.der"), "--cert", str(tmp_path / "leaf.chain.pem"), "--json"
    )
    assert checked.code == 0, checked.err
    assert checked.json()["command"] == "inspect"
    ca.revoke(leaf.cert)
    (tmp_path / "revoked.der").write_bytes(ca.sign_response(leaf.cert).der)
    revoked = ocspkit_cmd(
        "inspect", str(tmp_path / "revoked.der"), "--cert", str(tmp_path / "leaf.chain.pem")
    )
    assert revoked.code == 1, revoked.err


def test_inspect_garbage_is_usage(tmp_path: Path) -> None:
    (tmp_path / "junk.der").write_bytes(b"\x30\x03\x0a\x01")
    run = ocspkit_cmd("inspect", str(tmp_path / "junk.der"))
    assert run.code == 4
    assert run.one_line_error()


def test_check_many_reads_stdin_and_streams_jsonl_and_csv(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    good = write_leaf(ca, responder, tmp_path, "good")
    bad = write_leaf(ca, responder, tmp_path, "bad")
    ca.revoke(bad.cert)
    names = (
        f"{tmp_path / 'good.chain.pem'}\n{tmp_path / 'bad.chain.pem'}\n{tmp_path / 'missing.pem'}\n"
    )
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", "check-many", "--jsonl", "-"],
        input=names,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # a revoked certificate among them
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(rows) == 3
    statuses = sorted(str(r.get("status")) for r in rows)
    assert statuses == ["None", "good", "revoked"]
    assert all("error" in r and "status" in r for r in rows)
    assert good.cert.serial_number != bad.cert.serial_number
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", "check-many", "--csv", str(tmp_path / "good.chain.pem")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(table) == 1 and table[0]["status"] == "good"


def test_url_that_is_not_a_url_is_usage(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "leaf")
    run = ocspkit_cmd("check", "--cert", str(tmp_path / "leaf.chain.pem"), "--url", "notaurl")
    assert run.code == 4, run.err


def test_timeout_is_the_whole_commands_deadline(ca: CA, tmp_path: Path) -> None:
    """A slow-drip responder (a byte at a time, forever) cannot hold the command past it."""
    with Responder(ca, fault=Fault.SLOW_DRIP) as slow:
        write_leaf(ca, slow, tmp_path, "leaf")
        start = time.monotonic()
        run = ocspkit_cmd("check", "--cert", str(tmp_path / "leaf.chain.pem"), "--timeout", "3")
        elapsed = time.monotonic() - start
    assert run.code == 3, run.err
    assert elapsed < 12, elapsed  # the deadline plus process start-up, not 30 s


def test_staple_file_exits_0_for_a_revoked_staple(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """The cron line ``staple-file ... && nginx -s reload`` must reload after a revocation."""
    leaf = write_leaf(ca, responder, tmp_path, "leaf")
    out = tmp_path / "site.ocsp"
    first = ocspkit_cmd(
        "staple-file", "--chain", str(tmp_path / "leaf.chain.pem"), "--out", str(out)
    )
    assert first.code == 0, first.err
    ca.revoke(leaf.cert)
    second = ocspkit_cmd(
        "staple-file", "--chain", str(tmp_path / "leaf.chain.pem"), "--out", str(out), "--no-nonce"
    )
    assert second.code == 0, second.err
    staple = ocspkit.validate_response(out.read_bytes(), leaf.cert, ca.issuer)
    assert staple.revoked
    with Responder(ca, fault=Fault.TRY_LATER) as down:
        other = write_leaf(ca, down, tmp_path, "other")
        nothing = ocspkit_cmd(
            "staple-file",
            "--chain",
            str(tmp_path / "other.chain.pem"),
            "--out",
            str(tmp_path / "x.ocsp"),
        )
    assert nothing.code == 3 and not (tmp_path / "x.ocsp").exists()
    assert other.cert.serial_number
