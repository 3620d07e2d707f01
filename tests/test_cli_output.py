"""The command line when its output or its inputs misbehave, driven in subprocesses: a reader
that goes away, a full disk or a closed stdout never changes the verdict's exit code nor shows
a traceback; odd file names, devices, FIFOs, a closed stdin and out-of-range options are usage
errors (exit 4), one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocspkit import RevocationReason
from ocspkit.testing import CA, Leaf, Responder
from tests.test_cli import ROOT, Run, ocspkit_cmd, write_leaf

pytestmark = pytest.mark.timeout(120)

ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="ocspkit cli output")


@pytest.fixture(scope="module")
def responder(ca: CA):  # type: ignore[no-untyped-def]
    with Responder(ca) as r:
        yield r


@pytest.fixture(scope="module")
def files(ca: CA, responder: Responder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good.chain.pem and revoked.chain.pem (and their .crt) in one directory."""
    d = tmp_path_factory.mktemp("cli-output")
    write_leaf(ca, responder, d, "good")
    revoked: Leaf = write_leaf(ca, responder, d, "revoked")
    ca.revoke(revoked.cert, RevocationReason.KEY_COMPROMISE)
    return d


def _with_reader_gone(*args: str) -> tuple[int, str]:
    """Exit code and stderr of ``ocspkit ARGS`` whose stdout pipe has no reader left."""
    read, write = os.pipe()
    os.close(read)  # a reader that went away before the answer (``| head -n0``)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ocspkit", *args], stdout=write, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=ENV, timeout=60, check=False, text=True,
        )  # fmt: skip
    finally:
        os.close(write)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(("name", "code"), [("good", 0), ("revoked", 1)])
def test_a_reader_that_goes_away_keeps_the_verdict(files: Path, name: str, code: int) -> None:
    cert = str(files / f"{name}.chain.pem")
    for args in (["check", "--cert", cert], ["check", "--cert", cert, "--json"]):
        got, err = _with_reader_gone(*args)
        assert got == code, err  # a revoked certificate never exits 0
        assert "Traceback" not in err and "Exception ignored" not in err, err
    got, err = _with_reader_gone("check-many", cert)  # rows undelivered: never "good"
    assert got == 3, err
    assert "Traceback" not in err


def test_a_full_disk_and_a_closed_stdout(files: Path) -> None:
    cert = str(files / "good.chain.pem")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "ocspkit", "check", "--cert", cert, "--json"], stdout=full,
            stderr=subprocess.PIPE, env=ENV, timeout=60, check=False, text=True,
        )  # fmt: skip
    assert proc.returncode == 3  # the answer could not be delivered: never 0, never "revoked"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write the output" in lines[0], proc.stderr
    revoked = str(files / "revoked.chain.pem")
    for extra in ([], ["--json"]):
        line = " ".join([sys.executable, "-m", "ocspkit", "check", "--cert", revoked, *extra])
        done = subprocess.run(
            ["sh", "-c", f"{line} >&-"], capture_output=True, text=True, env=ENV, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr


def test_staple_file_refuses_devices_fifos_and_its_own_chain(files: Path, tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes((files / "good.chain.pem").read_bytes())
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for out, why in (
        (fifo, "not a regular file"),
        (Path("/dev/null"), "not a regular file"),
        (chain, "same file as the input"),
        (tmp_path, "is a directory"),
    ):
        run = ocspkit_cmd("staple-file", "--chain", str(chain), "--out", str(out))
        assert run.code == 4 and why in run.one_line_error(), run.err
    assert fifo.is_fifo() and Path("/dev/null").is_char_device()
    assert chain.read_bytes() == (files / "good.chain.pem").read_bytes()


def test_staple_file_with_a_wrong_issuer_says_so(
    files: Path, tmp_path: Path, responder: Responder
) -> None:
    other = CA("ecdsa", name="another CA")
    (tmp_path / "other.pem").write_bytes(other.issuer_pem)
    run = ocspkit_cmd("staple-file", "--chain", str(files / "good.crt"),
                      "--issuer", str(tmp_path / "other.pem"), "--out", str(tmp_path / "s.der"))  # fmt: skip
    assert run.code == 4 and "holds no certificate that issued" in run.one_line_error()
    assert not (tmp_path / "s.der").exists()


def test_a_file_name_too_long_is_usage_and_check_many_goes_on(files: Path) -> None:
    long = "a" * 300
    for args in (
        ["check", "--cert", long],
        ["inspect", long],
        ["crl", long],
        ["check", "--cert", ""],
    ):
        run = ocspkit_cmd(*args)
        assert run.code == 4, (args, run.err)
        assert len(run.one_line_error()) < 400
    run = ocspkit_cmd("check-many", str(files / "good.chain.pem"),
                      str(files / "revoked.chain.pem"), long)  # fmt: skip
    assert run.code == 1, run.err  # the revoked row is not lost
    rows = run.out.splitlines()
    assert any("REVOKED" in r for r in rows) and any("GOOD" in r for r in rows), run.out
    assert any("ERROR" in r and "too long" in r for r in rows), run.out


def _stdin(args: list[str], data: bytes | None) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", *args],
        input=data, stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True, env=ENV, timeout=60, check=False,
    )  # fmt: skip
    return Run(subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    ))  # fmt: skip


def test_check_many_stdin_closed_is_usage_and_junk_names_are_rows() -> None:
    closed = subprocess.run(
        ["sh", "-c", f"{sys.executable} -m ocspkit check-many - <&-"], capture_output=True,
        text=True, env=ENV, timeout=60, check=False,
    )  # fmt: skip
    assert closed.returncode == 4 and "standard input" in closed.stderr, closed.stderr
    assert "Traceback" not in closed.stderr and "TypeError" not in closed.stderr
    junk = _stdin(["check-many", "-"], bytes(range(256)) * 64)  # names no file can have
    assert junk.code == 3 and "Traceback" not in junk.err, junk.err  # error rows, not a crash
    assert "ERROR" in junk.out


@pytest.mark.parametrize(
    "args",
    [
        ["check-many", "x.pem", "--concurrency", "0"],
        ["check-many", "x.pem", "--concurrency", "1000001"],
        ["uris", "127.0.0.1:1", "--servername", "a..b"],
        ["probe", "127.0.0.1:1", "--servername", "a" * 300],
    ],
)
def test_out_of_range_options_are_usage(args: list[str]) -> None:
    run = ocspkit_cmd(*args)
    assert run.code == 4, run.err
    run.one_line_error()


@pytest.mark.parametrize("url", ["http://exa mple.test/", "http://127.0.0.1:0/", "http://a\tb/"])
def test_a_forced_url_the_client_would_refuse_is_usage(files: Path, url: str) -> None:
    # not a failed OCSP attempt followed by a CRL answer: the responder asked for is unusable
    run = ocspkit_cmd("check", "--cert", str(files / "good.chain.pem"), "--url", url)
    assert run.code == 4 and "--url" in run.one_line_error(), run.err


def test_json_times_are_utc_with_a_z(files: Path) -> None:
    run = ocspkit_cmd("check", "--cert", str(files / "good.chain.pem"), "--json")
    assert run.code == 0, run.err
    result = run.json()["result"]
    for key in ("this_update", "next_update", "produced_at"):
        assert result[key].endswith("Z") and "+00:00" not in result[key], result
