"""The command line's promises (issue 15 §2-§3), driven as a user would, in a subprocess.

staple-file's exit codes and the documented cron line against real nginx with a revoked
certificate; --timeout as the whole command's deadline against a slow-drip responder;
check-many's error rows, standard input, --url, --jsonl, --csv and its progress bar on a
terminal; inspect; -v; --url validation.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

import ocspkit
from ocspkit.testing import CA, Fault, Responder
from tests._lab import Site, start_nginx
from tests.test_cli import ROOT, closed_port, ocspkit_cmd, write_leaf

pytestmark = pytest.mark.timeout(120)

#: The cron line documented in docs/cli.rst and the README (with the paths filled in).
CRON = "ocspkit staple-file --chain {chain} --out {out} && {reload}"


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa", name="ocspkit cli promises")


@pytest.fixture(scope="module")
def responder(ca: CA):  # type: ignore[no-untyped-def]
    with Responder(ca) as r:
        yield r


def _shell(line: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a documented shell line with ``ocspkit`` on PATH (a wrapper for this checkout)."""
    return subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT),
             "PATH": f"{_wrapper_dir()}:{os.environ.get('PATH', '')}"},
    )  # fmt: skip


def _wrapper_dir() -> Path:
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"ocspkit-bin-{os.getpid()}"
    d.mkdir(exist_ok=True)
    wrapper = d / "ocspkit"
    if not wrapper.exists():
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ocspkit "$@"\n')
        wrapper.chmod(0o755)
    return d


def _children(pid: int) -> list[int]:
    """The PIDs of the child processes of ``pid`` (nginx's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


# -- §2 staple-file --------------------------------------------------------------------------


def test_staple_file_exit_0_for_a_revoked_staple_written(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "rev")
    ca.revoke(leaf.cert, ocspkit.RevocationReason.KEY_COMPROMISE)
    out = tmp_path / "rev.der"
    run = ocspkit_cmd(
        "staple-file", "--chain", str(tmp_path / "rev.chain.pem"), "--out", str(out),
        "--no-nonce", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["written"] is True and doc["status"] == "revoked" and doc["exit_code"] == 0
    assert "REVOKED" in run.one_line_error() and "warning" in run.err
    result = ocspkit.validate_response(out.read_bytes(), leaf.cert, ca.issuer)
    assert result.status is ocspkit.CertStatus.REVOKED
    assert result.response.nonce is None  # --no-nonce


def test_staple_file_nothing_written_is_3(ca: CA, responder: Responder, tmp_path: Path) -> None:
    write_leaf(ca, responder, tmp_path, "site")
    out = tmp_path / "site.der"
    out.write_bytes(b"old")
    run = ocspkit_cmd(
        "staple-file", "--chain", str(tmp_path / "site.chain.pem"), "--out", str(out),
        "--url", f"http://127.0.0.1:{closed_port()}/",
    )  # fmt: skip
    assert run.code == 3 and out.read_bytes() == b"old"
    assert "unchanged" in run.one_line_error()


@pytest.mark.timeout(180)
def test_documented_cron_line_reloads_nginx_after_a_revocation(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """nginx serves the GOOD staple, the certificate is revoked, the cron line runs: clients
    are stapled the REVOKED answer (it used to keep serving the GOOD one)."""
    from ocspkit.probing import probe

    leaf = ca.issue("localhost", ocsp_url=responder.url)
    seed = leaf.write(tmp_path, "seed")
    staple = tmp_path / "seed.der"
    first = _shell(CRON.format(chain=seed.chain, out=staple, reload="true"))
    assert first.returncode == 0, first.stderr
    site = Site.from_leaf("site", leaf, tmp_path, staple=staple.read_bytes())
    with start_nginx(tmp_path, [site]) as nginx:
        live = site.staple_file
        assert live is not None

        def stapled() -> ocspkit.CertStatus | None:
            report = probe("127.0.0.1", nginx.port("site"), servername="localhost",
                           trust_roots=[ca.root])  # fmt: skip
            return report.staple_status

        assert stapled() is ocspkit.CertStatus.GOOD
        ca.revoke(leaf.cert, ocspkit.RevocationReason.KEY_COMPROMISE)
        reload = (
            f"nginx -p {nginx.directory} -c {nginx.config} -e {nginx.directory}/error.log -s reload"
        )
        old_workers = _children(nginx.pid)
        cron = _shell(CRON.format(chain=site.chain, out=live, reload=reload))
        assert cron.returncode == 0, cron.stderr
        for _ in range(200):  # the old worker finishes its handshakes, then exits
            if not any(Path(f"/proc/{pid}").exists() for pid in old_workers):
                break
            time.sleep(0.05)
        assert stapled() is ocspkit.CertStatus.REVOKED, nginx.log_text()[-2000:]
        wire = subprocess.run(  # openssl agrees on what is on the wire
            ["openssl", "s_client", "-connect", f"127.0.0.1:{nginx.port('site')}",
             "-servername", "localhost", "-status"],
            input="", capture_output=True, text=True, timeout=30, check=False,
        ).stdout  # fmt: skip
        assert "Cert Status: revoked" in wire


# -- §3 deadline, check-many, inspect, -v ---------------------------------------------------


def test_timeout_is_the_whole_commands_deadline(tmp_path: Path) -> None:
    """A slow-drip responder (one byte every 0.5 s) must not hold the command past --timeout:
    it ends in about 3 s, not 30 (an upper bound with slack: a deadline check, no benchmark)."""
    ca = CA("ecdsa", name="slow drip")
    with Responder(ca, fault=Fault.SLOW_DRIP, drip_interval=0.5) as responder:
        write_leaf(ca, responder, tmp_path, "slow")
        started = time.monotonic()
        run = ocspkit_cmd("check", "--cert", str(tmp_path / "slow.chain.pem"), "--timeout", "3")
        took = time.monotonic() - started
        assert run.code == 3
        assert "timed out" in run.one_line_error()
        assert took < 10, took
        started = time.monotonic()
        run = ocspkit_cmd(
            "staple-file", "--chain", str(tmp_path / "slow.chain.pem"),
            "--out", str(tmp_path / "slow.der"), "--timeout", "3",
        )  # fmt: skip
        assert run.code == 3 and time.monotonic() - started < 10
        assert not (tmp_path / "slow.der").exists()


def test_check_many_bad_files_are_rows_and_stdin(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    write_leaf(ca, responder, tmp_path, "ok")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    names = [
        str(tmp_path / "ok.chain.pem"),
        str(tmp_path / "missing.pem"),
        str(tmp_path / "junk.pem"),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "ocspkit", "check-many", "--json", "-"],
        input="\n".join(names) + "\n", capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"] == {"good": 1, "revoked": 0, "unknown": 0, "error": 2}
    assert [r["file"] for r in doc["results"]] == names
    assert "not found" in doc["results"][1]["error"]["message"]
    assert "not a certificate" in doc["results"][2]["error"]["message"]
    assert doc["results"][0]["result"]["status"] == "good"


def test_check_many_url_jsonl_and_csv(ca: CA, responder: Responder, tmp_path: Path) -> None:
    files = []
    for i in range(2):  # the certificates name a dead responder; --url names the live one
        write_leaf(ca, responder, tmp_path, f"c{i}", ocsp_url=f"http://127.0.0.1:{closed_port()}/")
        files.append(str(tmp_path / f"c{i}.chain.pem"))
    run = ocspkit_cmd(
        "check-many", "--jsonl", "--url", responder.url, *files, str(tmp_path / "x.pem")
    )
    assert run.code == 3, run.err
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert len(lines) == 3 and len({tuple(line) for line in lines}) == 1  # the same keys
    by_file = {line["file"]: line for line in lines}
    assert all(by_file[f]["status"] == "good" for f in files)
    assert by_file[str(tmp_path / "x.pem")]["error_type"] == "UsageError"
    run = ocspkit_cmd("check-many", "--csv", "--url", responder.url, *files)
    assert run.code == 0, run.err
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [r["status"] for r in rows] == ["good", "good"]
    assert {"file", "status", "this_update", "next_update", "error", "url"} <= set(rows[0])


def test_check_many_progress_bar_only_on_a_terminal(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    files = []
    for i in range(3):
        write_leaf(ca, responder, tmp_path, f"p{i}")
        files.append(str(tmp_path / f"p{i}.chain.pem"))
    pytest.importorskip("tqdm")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real size
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocspkit", "check-many", "--json", *files],
        stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    out, _ = proc.communicate(timeout=60)
    reader.join(10)
    os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert json.loads(out)["summary"]["good"] == 3  # stdout stays clean JSON
    assert "/3 [" in err and "cert" in err  # tqdm drew its bar on the terminal
    piped = ocspkit_cmd("check-many", *files)
    assert "\r" not in piped.err and "3/3" not in piped.err


def test_inspect_response_and_request(ca: CA, responder: Responder, tmp_path: Path) -> None:
    leaf = write_leaf(ca, responder, tmp_path, "i")
    request = ocspkit.build_request(leaf.cert, ca.issuer)
    response = responder.respond(request.der)
    from ocspkit._pem import to_pem

    (tmp_path / "r.der").write_bytes(response.der)
    (tmp_path / "r.pem").write_text(to_pem(response.der, "OCSP RESPONSE"))
    (tmp_path / "q.der").write_bytes(request.der)
    run = ocspkit_cmd("inspect", str(tmp_path / "r.pem"))
    assert run.code == 0, run.err
    assert "Cert Status: good" in run.out and "not validated" in run.out
    assert format(leaf.cert.serial_number, "X") in run.out
    run = ocspkit_cmd("inspect", str(tmp_path / "r.der"), "--cert", str(tmp_path / "i.chain.pem"))
    assert run.code == 0 and "Validated for" in run.out
    doc = ocspkit_cmd(
        "inspect", str(tmp_path / "r.der"), "--cert", str(tmp_path / "i.crt"),
        "--issuer", str(tmp_path / "i.chain.pem"), "--json",
    ).json()  # fmt: skip
    assert doc["kind"] == "response" and doc["validated"] is True and doc["status"] == "good"
    assert doc["result"]["status"] == "good" and doc["response"]["responses"][0]["status"] == "good"
    other = write_leaf(ca, responder, tmp_path, "other")
    run = ocspkit_cmd(
        "inspect", str(tmp_path / "r.der"), "--cert", str(tmp_path / "other.chain.pem")
    )
    assert run.code == 3 and "NoMatchingResponse" in run.one_line_error()
    assert other.cert.serial_number != leaf.cert.serial_number
    doc = ocspkit_cmd("inspect", str(tmp_path / "q.der"), "--json").json()
    assert doc["kind"] == "request" and doc["request"]["nonce"] == request.nonce.hex()  # type: ignore[union-attr]
    (tmp_path / "junk").write_bytes(b"\x30\x03junk")
    run = ocspkit_cmd("inspect", str(tmp_path / "junk"))
    assert run.code == 4 and "neither" in run.one_line_error()


def test_verbose_shows_urls_retries_and_times(tmp_path: Path) -> None:
    ca = CA("ecdsa", name="busy")
    with Responder(ca, fault=Fault.HTTP_503) as responder:
        write_leaf(ca, responder, tmp_path, "v")
        run = ocspkit_cmd("check", "-v", "--cert", str(tmp_path / "v.chain.pem"), "--timeout", "5")
    assert run.code == 3
    lines = [line for line in run.err.splitlines() if line.startswith("ocspkit: +")]
    assert any(
        f"POST {responder.url}" in line and "503" in line and " ms)" in line for line in lines
    )
    assert any("retry" in line and "HTTP 503" in line for line in lines)
    assert run.out.count("responder") == 1  # stdout untouched by -v
    run = ocspkit_cmd(
        "-v", "check", "--cert", str(tmp_path / "v.chain.pem"), "--url", f"http://127.0.0.1:{closed_port()}/",
        "--timeout", "3",
    )  # fmt: skip
    assert "connect_tcp failed" in run.err and "Connection refused" in run.err


def test_verbose_check_many_shows_the_direct_exchanges(tmp_path: Path) -> None:
    """check-many's async client sends plain http:// requests without httpx's client layer;
    -v shows the same request, retry and failure lines for them as for httpx's."""
    ca = CA("ecdsa", name="busy many")
    with Responder(ca, fault=Fault.HTTP_503) as responder:
        write_leaf(ca, responder, tmp_path, "m")
        run = ocspkit_cmd("check-many", "-v", str(tmp_path / "m.chain.pem"), "--timeout", "5")
    lines = [line for line in run.err.splitlines() if line.startswith("ocspkit: +")]
    assert any(f"connecting to 127.0.0.1:{responder.port}" in line for line in lines)
    assert any(
        responder.url in line and "-> 503 Service Unavailable" in line and " ms)" in line
        for line in lines
    ), lines
    assert any("retry" in line and "HTTP 503" in line for line in lines), lines
    url = f"http://127.0.0.1:{closed_port()}/"
    run = ocspkit_cmd("-v", "check-many", str(tmp_path / "m.chain.pem"), "--url", url,
                      "--timeout", "3")  # fmt: skip
    assert "connect_tcp failed" in run.err, run.err


@pytest.mark.parametrize("command", ["check", "check-many", "staple-file"])
def test_url_must_be_http_and_is_usage(command: str, tmp_path: Path) -> None:
    args = {
        "check": ["--cert", "x.pem"],
        "check-many": ["x.pem"],
        "staple-file": ["--chain", "x", "--out", "y"],
    }
    run = ocspkit_cmd(command, *args[command], "--url", "notaurl")
    assert run.code == 4
    assert "--url" in run.one_line_error()


def test_check_many_help_names_no_cert_option() -> None:
    run = ocspkit_cmd("check-many", "--help")
    assert run.code == 0 and "--cert" not in run.out and "--url" in run.out
    assert "--jsonl" in run.out and "--csv" in run.out


# -- the executable's imports ----------------------------------------------------------------

#: Runs ``python -m ocspkit`` as the executable does and prints which of the optional packages
#: (and whether httpx) the process held at its exit, and the command's exit code.
_HELD = (
    "import atexit, json, runpy, sys\n"
    "names = ('httpx',) + tuple(sys.argv[1].split(','))\n"
    "atexit.register(lambda: print(json.dumps(\n"
    "    sorted(n for n in names if sys.modules.get(n) is not None))))\n"
    "sys.argv = ['ocspkit', *sys.argv[2:]]\n"
    "runpy.run_module('ocspkit', run_name='__main__', alter_sys=True)\n"
)


def test_the_executable_keeps_out_what_httpx_imports_only_because_it_is_installed(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """httpx imports its command line's click/rich/pygments and httpcore imports trio whenever
    they are installed; ``ocspkit check`` uses none of them and does not load them, while a
    caller's own process keeps its imports as they are."""
    from ocspkit.cli import UNUSED_OPTIONAL_IMPORTS, main

    names = ",".join(UNUSED_OPTIONAL_IMPORTS)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    write_leaf(ca, responder, tmp_path, "imp")
    done = subprocess.run(
        [sys.executable, "-c", _HELD, names, "check", "--cert", str(tmp_path / "imp.chain.pem")],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "GOOD" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1]) == ["httpx"]  # the client ran, nothing else
    # what a plain `import httpx` loads here (the packages of this machine), for contrast
    plain = subprocess.run(
        [sys.executable, "-c", f"import httpx, sys; print(*[n for n in {names!r}.split(',') "
         "if sys.modules.get(n) is not None])"],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    installed = [n for n in plain.stdout.split() if n in UNUSED_OPTIONAL_IMPORTS]
    print("loaded by a plain `import httpx` on this machine:", installed)
    # in-process, main() marks nothing absent
    before = {n: sys.modules.get(n, "absent") for n in UNUSED_OPTIONAL_IMPORTS}
    assert main(["--version"]) == 0
    assert {n: sys.modules.get(n, "absent") for n in UNUSED_OPTIONAL_IMPORTS} == before
