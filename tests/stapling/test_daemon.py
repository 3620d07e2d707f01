"""``ocspkit stapler``, the real command (``python -m ocspkit stapler``) against real loopback
responders: --once writes verified staples and reloads only on change, an outage keeps the last
good staple, a revocation is written and reloaded, SIGHUP picks up a new certificate (and a bad
new config is refused while the old one runs on), SIGTERM leaves complete files, config errors
name the key (exit 4), and the metrics endpoint is scraped over HTTP. Also the library change
behind per-certificate ``force_url``: ``Stapler.add(url=...)``."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

import ocspkit
from ocspkit.stapling import StapleFile, Stapler, StaplerOptions
from ocspkit.stapling.config import load_config, parse_config, parse_duration
from ocspkit.testing import CA, Leaf
from ocspkit.testing.responder import Responder
from tests._lab import free_ports
from tests.stapling._daemon import (
    FAST,
    Daemon,
    counter_command,
    reloads,
    run_once,
    staple_status,
    toml_text,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.timeout(120)

GOOD, REVOKED = ocspkit.CertStatus.GOOD, ocspkit.CertStatus.REVOKED


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def responder(ca: CA) -> Responder:
    with Responder(ca) as r:
        yield r  # type: ignore[misc]


@pytest.fixture
def short(ca: CA) -> Responder:
    """Answers valid for 12 s: with a 1 s margin and ``refresh_fraction = 0.2`` a staple is due
    for refresh 2.2 s after its thisUpdate, even when loaded from the store by a --once run,
    and served for 11 s."""
    with Responder(ca, validity=timedelta(seconds=12)) as r:
        yield r  # type: ignore[misc]


#: the schedule for ``short``: refresh_interval counts from each run's start, so --once
#: relies on the validity window instead
ONCE = {
    **{k: v for k, v in FAST.items() if k != "refresh_interval"},
    "margin": "1s",
    "refresh_fraction": 0.2,
}


def chain_file(leaf: Leaf, directory: Path, name: str) -> Path:
    return leaf.write(directory, name).chain


# -- the library: a per-certificate responder ------------------------------------------------


def test_stapler_add_url_overrides_the_aia_url_for_that_certificate_only(ca: CA) -> None:
    with Responder(ca) as aia, Responder(ca) as forced:
        one, two = ca.issue(ocsp_url=aia.url), ca.issue(ocsp_url=aia.url)
        no_aia = ca.issue(ocsp_url="")
        with Stapler() as stapler:
            stapler.add(one.chain, url=forced.url)
            stapler.add(two.chain)
            stapler.add(no_aia.chain, url=forced.url)  # no AIA URL: fine with its own url
            assert stapler.staple_for(one.cert) and stapler.staple_for(no_aia.cert)
            assert stapler.staple_for(two.cert)
        assert forced.requests == 2 and aia.requests == 1
        with pytest.raises(ocspkit.NoOCSPURLError), Stapler() as stapler:
            stapler.add(ca.issue(ocsp_url="").chain)
        with pytest.raises(ValueError), Stapler() as stapler:
            stapler.add(one.chain, url="ftp://nope/")
        # options.force_url still applies to certificates without their own url
        with Stapler(options=StaplerOptions(force_url=forced.url)) as stapler:
            stapler.add(ca.issue(ocsp_url=aia.url).chain)
        assert forced.requests == 3 and aia.requests == 1


def test_async_stapler_add_url(ca: CA) -> None:
    import asyncio

    from ocspkit.stapling import AsyncStapler

    async def main(url: str, leaf: Leaf) -> bytes | None:
        async with AsyncStapler() as stapler:
            await stapler.add(leaf.chain, url=url)
            return stapler.staple_for(leaf.cert)

    with Responder(ca) as aia, Responder(ca) as forced:
        leaf = ca.issue(ocsp_url=aia.url)
        der = asyncio.run(main(forced.url, leaf))
        assert der is not None and ocspkit.validate_response(der, leaf.cert, ca.issuer).good
        assert (forced.requests, aia.requests) == (1, 0)


def test_durations() -> None:
    assert parse_duration("15m", "k") == timedelta(minutes=15)
    assert parse_duration("1h30m", "k") == timedelta(hours=1, minutes=30)
    assert parse_duration("500ms", "k") == timedelta(milliseconds=500)
    assert parse_duration(10, "k") == timedelta(seconds=10)
    for bad in ("15", "m", "-1s", "1x", "", True, [1]):
        with pytest.raises(ocspkit.ConfigError) as info:
            parse_duration(bad, "defaults.max_age")
        assert info.value.key == "defaults.max_age"


def test_the_documented_config_loads(tmp_path: Path, ca: CA) -> None:
    """The example of the issue and the docs, with its paths made real."""
    chain = chain_file(ca.issue(ocsp_url="http://127.0.0.1:9/"), tmp_path, "site")
    config = tmp_path / "stapler.toml"
    config.write_text(
        f"""
[defaults]                       # all optional
max_age = "15m"                  # SSLStaplingResponseMaxAge
responder_timeout = "10s"        # SSLStaplingResponderTimeout
store = "{tmp_path / "cache"}"   # SSLStaplingCache

[[certificate]]
chain = "site.chain.pem"                     # relative to this file
force_url = "http://ocsp-proxy.internal/"    # SSLStaplingForceURL (optional)

  [[certificate.output]]
  type = "file"
  path = "ocsp/site.der"
  reload = "nginx -s reload"
"""
    )
    cfg = load_config(config)
    assert cfg.options.policy.max_age == timedelta(minutes=15)
    assert cfg.options.responder_timeout == 10
    assert cfg.store == str(tmp_path / "cache")
    (cert,) = cfg.certificates
    assert cert.chain == chain and cert.force_url == "http://ocsp-proxy.internal/"
    (out,) = cert.outputs
    assert out.type == "file" and out.path == tmp_path / "ocsp" / "site.der"
    assert out.reload == ("nginx", "-s", "reload")


def test_the_how_to_pages_config_loads(tmp_path: Path, ca: CA) -> None:
    """The TOML block of docs/howto-daemon.rst, with its two chains made real: every key is
    known and every value accepted."""
    import re

    page = Path(__file__).parents[2] / "docs" / "howto-daemon.rst"
    block = re.search(r"\.\. code-block:: toml\n\n((?:    .*\n|\n)+)", page.read_text())
    assert block is not None
    text = "\n".join(ln[4:] for ln in block.group(1).splitlines())
    for path in ("/etc/ssl/site.chain.pem", "/etc/haproxy/certs/shop.chain.pem"):
        assert path in text
        real = chain_file(
            ca.issue(ocsp_url="http://127.0.0.1:9/"), tmp_path, Path(path).name.split(".")[0]
        )
        text = text.replace(path, str(real))
    cfg = parse_config(text, base=tmp_path)
    assert [c.name for c in cfg.certificates] == ["site", "shop"]
    assert [o.type for o in cfg.certificates[1].outputs] == ["haproxy", "redis"]
    assert cfg.certificates[1].outputs[0].socket == "/run/haproxy/admin.sock"
    assert cfg.options.policy.max_age == timedelta(days=4)


# -- --once ------------------------------------------------------------------------------------


def test_once_writes_verified_staples_then_only_what_changed(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """Two certificates (one through its own force_url), a directory store, file outputs with
    a reload command: all written and verified, exit 0; a second run fetches nothing (the store
    holds fresh staples) and, since no file changes, reloads nothing."""
    with Responder(ca) as proxy:
        a = ca.issue("a.test", ocsp_url=responder.url)
        b = ca.issue("b.test", ocsp_url="http://127.0.0.1:9/unreachable")
        marker = tmp_path / "reloads"
        config = write_config(
            tmp_path / "stapler.toml",
            {"store": str(tmp_path / "store")},
            [
                {"chain": str(chain_file(a, tmp_path, "a")), "name": "a",
                 "output": [{"type": "file", "path": "a.der", "reload": counter_command(marker)}]},
                {"chain": str(chain_file(b, tmp_path, "b")), "name": "b", "force_url": proxy.url,
                 "output": [{"type": "file", "path": "b.der"}]},
            ],
        )  # fmt: skip
        first = run_once(config, "--json")
        assert first.returncode == 0, first.stderr
        assert staple_status(tmp_path / "a.der", a, ca.issuer) is GOOD
        assert staple_status(tmp_path / "b.der", b, ca.issuer) is GOOD
        assert (responder.requests, proxy.requests) == (1, 1)
        assert reloads(marker) == 1
        doc = json.loads(first.stdout)
        assert doc["command"] == "stapler" and doc["exit_code"] == 0
        assert [(c["name"], c["status"], c["ok"]) for c in doc["certificates"]] == [
            ("a", "good", True),
            ("b", "good", True),
        ]
        # one line per fetch, refresh and write on stderr
        assert first.stderr.count("fetch: GET http://127.0.0.1:") == 2, first.stderr
        assert first.stderr.count("refresh: ") == 2 and first.stderr.count("write: ") == 2
        assert "reload: " in first.stderr and "Traceback" not in first.stderr
        before = (tmp_path / "a.der").stat().st_mtime_ns
        second = run_once(config)
        assert second.returncode == 0, second.stderr
        assert (responder.requests, proxy.requests) == (1, 1)  # loaded from the store
        assert "loaded from the store: a" in second.stderr
        assert reloads(marker) == 1 and "write: " not in second.stderr
        assert (tmp_path / "a.der").stat().st_mtime_ns == before


def test_once_outage_keeps_the_last_good_staple_and_exits_3_without_one(
    ca: CA, short: Responder, tmp_path: Path
) -> None:
    leaf = ca.issue(ocsp_url=short.url)
    out = tmp_path / "site.der"
    config = write_config(
        tmp_path / "stapler.toml",
        {**ONCE, "store": str(tmp_path / "store")},
        [
            {
                "chain": str(chain_file(leaf, tmp_path, "site")),
                "output": [{"type": "file", "path": str(out)}],
            }
        ],
    )
    assert run_once(config).returncode == 0
    good = out.read_bytes()
    short.stop()
    wait_until(lambda: False, timeout=2.3)  # 20 % of the serving time passed: a fetch is due
    down = run_once(config)
    assert down.returncode == 0, down.stderr  # the last good staple is still valid and written
    assert "failure: site: fetch failed" in down.stderr
    assert "still serving the last good staple" in down.stderr
    assert out.read_bytes() == good
    # no store, responder down: nothing valid to write; nginx gets a tryLater, exit 3
    fresh = write_config(
        tmp_path / "fresh.toml",
        ONCE,
        [
            {
                "chain": str(chain_file(leaf, tmp_path, "site")),
                "output": [{"type": "file", "path": "new.der"}],
            }
        ],
    )
    nothing = run_once(fresh)
    assert nothing.returncode == 3, nothing.stderr
    assert "not ok: site" in nothing.stderr
    assert (tmp_path / "new.der").read_bytes() == ocspkit.stapling.try_later_response()
    again = run_once(fresh)  # the file already says tryLater: not rewritten
    assert again.returncode == 3 and "write: " not in again.stderr, again.stderr


def test_once_writes_a_revocation_and_runs_the_reload(
    ca: CA, short: Responder, tmp_path: Path
) -> None:
    leaf = ca.issue(ocsp_url=short.url)
    marker = tmp_path / "reloads"
    out = tmp_path / "site.der"
    config = write_config(
        tmp_path / "stapler.toml",
        {**ONCE, "store": str(tmp_path / "store")},
        [{"chain": str(chain_file(leaf, tmp_path, "site")),
          "output": [{"type": "file", "path": str(out), "reload": counter_command(marker)}]}],
    )  # fmt: skip
    assert run_once(config).returncode == 0 and reloads(marker) == 1
    ca.revoke(leaf.cert)
    wait_until(lambda: False, timeout=2.3)
    revoked = run_once(config, "--json")
    assert revoked.returncode == 0, revoked.stderr  # written: the reload ran, clients learn it
    assert staple_status(out, leaf, ca.issuer) is REVOKED
    assert reloads(marker) == 2
    assert "revoked: site was revoked" in revoked.stderr
    assert json.loads(revoked.stdout)["certificates"][0]["status"] == "revoked"


def test_once_reload_failure_is_logged_and_exit_3(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    config = write_config(
        tmp_path / "stapler.toml",
        {},
        [{"chain": str(chain_file(leaf, tmp_path, "site")),
          "output": [{"type": "file", "path": "s.der", "reload": "false"},
                     {"type": "file", "path": "t.der", "reload": "/no/such/program --flag",
                      "reload_timeout": "5s"}]}],
    )  # fmt: skip
    res = run_once(config)
    assert res.returncode == 3, res.stderr
    assert staple_status(tmp_path / "s.der", leaf, ca.issuer) is GOOD  # written all the same
    assert "reload false exited with 1" in res.stderr
    assert "reload /no/such/program --flag could not start" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_failed_reload_is_run_again_by_the_next_once(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """The file holds the staple after the first run, but the server never loaded it: the
    second run (another process) must reload although nothing is written, and the third,
    with the reload done, must not."""
    leaf = ca.issue(ocsp_url=responder.url)
    marker, flag = tmp_path / "reloads", tmp_path / "fail-next"
    flag.touch()
    code = (
        "import os, sys; open(sys.argv[1], 'a').write('reload\\n'); "
        "f = sys.argv[2]; failing = os.path.exists(f); failing and os.remove(f); "
        "sys.exit(1 if failing else 0)"
    )
    config = write_config(
        tmp_path / "stapler.toml",
        {"store": str(tmp_path / "store")},  # the second run fetches nothing: same bytes
        [{"chain": str(chain_file(leaf, tmp_path, "site")),
          "output": [{"type": "file", "path": "s.der",
                      "reload": [sys.executable, "-c", code, str(marker), str(flag)]}]}],
    )  # fmt: skip
    first = run_once(config)
    assert first.returncode == 3 and reloads(marker) == 1, first.stderr
    assert (tmp_path / ".s.der.reload-pending").exists()
    second = run_once(config)
    assert second.returncode == 0 and reloads(marker) == 2, second.stderr
    assert "write: " not in second.stderr and "an earlier reload failed" in second.stderr
    assert not (tmp_path / ".s.der.reload-pending").exists()
    third = run_once(config)
    assert third.returncode == 0 and reloads(marker) == 2, third.stderr


# -- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("defaults", "cert", "key"),
    [
        ({"max_agee": "15m"}, {}, "defaults.max_agee"),
        ({"max_age": "fifteen minutes"}, {}, "defaults.max_age"),
        ({"responder_timeout": "0s"}, {}, "defaults.responder_timeout"),
        ({"store": "ftp://cache/"}, {}, "defaults.store"),
        ({"store": "redis://localhost:notaport/0"}, {}, "defaults.store"),
        ({"refresh_fraction": 2}, {}, "defaults.refresh_fraction"),
        ({"retry_initial": "1ms"}, {}, "defaults.retry_initial"),
        ({}, {"chain": "missing.pem"}, "certificate[0].chain"),
        ({}, {"force_url": "not a url"}, "certificate[0].force_url"),
        ({}, {"colour": "blue"}, "certificate[0].colour"),
        ({}, {"output": [{"type": "file", "path": "a"}, {"type": "apache"}]},
         "certificate[0].output[1].type"),
        ({}, {"output": [{"type": "file"}]}, "certificate[0].output[0].path"),
        ({}, {"output": [{"type": "file", "path": "a", "reload": "nginx 'oops"}]},
         "certificate[0].output[0].reload"),
        ({}, {"output": [{"type": "haproxy", "socket": "/x", "timeout": "soon"}]},
         "certificate[0].output[0].timeout"),
        ({}, {"output": [{"type": "redis", "key": "k"}]}, "certificate[0].output[0].url"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key_and_exit_4(
    ca: CA, tmp_path: Path, defaults: dict[str, object], cert: dict[str, object], key: str
) -> None:
    chain = chain_file(ca.issue(ocsp_url="http://127.0.0.1:9/"), tmp_path, "site")
    config = write_config(tmp_path / "bad.toml", defaults, [{"chain": str(chain), **cert}])
    res = run_once(config)
    assert res.returncode == 4, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ocspkit stapler: error: {key}: "), res.stderr


def test_an_output_path_that_is_no_staple_file_is_refused(ca: CA, tmp_path: Path) -> None:
    """A FIFO (reading it blocked the daemon for ever), a device, a socket or the chain itself
    at an output's path: the staple's rename would replace it. Exit 4, the thing intact."""
    import socket

    chain = chain_file(ca.issue(ocsp_url="http://127.0.0.1:9/"), tmp_path, "site")
    fifo = tmp_path / "fifo.der"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    try:
        for path, kind in ((fifo, "file"), (Path("/dev/null"), "file"), (sock_path, "haproxy"),
                           (chain, "file")):  # fmt: skip
            config = write_config(tmp_path / "c.toml", {},
                                  [{"chain": str(chain),
                                    "output": [{"type": kind, "path": str(path)}]}])  # fmt: skip
            res = run_once(config, timeout=30)
            assert res.returncode == 4, res.stderr
            assert "certificate[0].output[0].path" in res.stderr, res.stderr
    finally:
        listener.close()
    assert fifo.is_fifo() and sock_path.is_socket() and Path("/dev/null").is_char_device()
    assert chain.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    # and at run time, should one appear after the configuration was read
    with pytest.raises(ocspkit.OutputError, match="not a regular file"):
        StapleFile(fifo).update(b"x")
    assert fifo.is_fifo()


def test_config_errors_other_shapes_exit_4(tmp_path: Path) -> None:
    cases = {
        "not valid TOML": "[defaults\nmax_age = ",
        "certificate: at least one [[certificate]]": "[defaults]\nmax_age = '1m'\n",
        "certificate: must be an array of tables": "certificate = 'x'\n",
        "defaults: must be a table": "defaults = 3\n",
    }
    for want, text in cases.items():
        path = tmp_path / "c.toml"
        path.write_text(text)
        res = run_once(path)
        assert res.returncode == 4 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith(f"ocspkit stapler: error: {want}"), res.stderr
    res = run_once(tmp_path / "absent.toml")
    assert res.returncode == 4 and "cannot read the configuration" in res.stderr


# -- the long-running daemon -----------------------------------------------------------------


def test_daemon_outage_revocation_sighup_and_sigterm(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """One daemon, refreshing every second: an outage keeps the last good staple; the
    revocation is written and reloaded; SIGHUP with a bad config is refused (the old one runs
    on); SIGHUP with a new certificate staples it; SIGTERM exits 0 with complete files."""
    a = ca.issue("a.test", ocsp_url=responder.url)
    b = ca.issue("b.test", ocsp_url=responder.url)
    marker = tmp_path / "reloads"
    a_out, b_out = tmp_path / "a.der", tmp_path / "b.der"
    cert_a = {"chain": str(chain_file(a, tmp_path, "a")), "name": "a",
              "output": [{"type": "file", "path": str(a_out), "reload": counter_command(marker)}]}  # fmt: skip
    cert_b = {"chain": str(chain_file(b, tmp_path, "b")), "name": "b",
              "output": [{"type": "file", "path": str(b_out)}]}  # fmt: skip
    config = write_config(tmp_path / "stapler.toml", FAST, [cert_a])
    with Daemon(config) as daemon:
        assert daemon.wait_for(r"started: 1 certificate"), daemon.log
        assert staple_status(a_out, a, ca.issuer) is GOOD
        good = a_out.read_bytes()
        responder.stop()
        assert daemon.wait_for(r"failure: a: fetch failed \(2 in a row\)"), daemon.log
        assert "still serving the last good staple" in daemon.log
        assert a_out.read_bytes() == good  # the outage changes nothing that is served
        ca.revoke(a.cert)
        responder.start()
        assert daemon.wait_for(r"revoked: a was revoked"), daemon.log
        assert wait_until(lambda: staple_status(a_out, a, ca.issuer) is REVOKED)
        assert wait_until(lambda: reloads(marker) >= 2), daemon.log
        # a bad new config: logged, the running one goes on
        config.write_text(toml_text({**FAST, "max_age": "soon"}, [cert_a, cert_b]))
        daemon.signal(signal.SIGHUP)
        assert daemon.wait_for(r"reload: defaults.max_age: .*keeping the running"), daemon.log
        assert daemon.proc.poll() is None and not b_out.exists()
        # a good one with a new certificate
        write_config(config, FAST, [cert_a, cert_b])
        daemon.signal(signal.SIGHUP)
        assert daemon.wait_for(r"reload: .*: 2 certificate"), daemon.log
        assert staple_status(b_out, b, ca.issuer) is GOOD
        assert daemon.wait_for(r"refresh: b: GOOD", count=2), daemon.log  # b refreshes on schedule
        rc = daemon.stop()
    assert rc == 0, daemon.log
    assert "stopped" in daemon.lines[-1]
    assert "Traceback" not in daemon.log
    assert staple_status(a_out, a, ca.issuer) is REVOKED
    assert staple_status(b_out, b, ca.issuer) is GOOD
    assert not list(tmp_path.glob(".ocspkit-tmp-*"))  # no half-written temporary file left


def test_sigterm_in_the_middle_of_writes_leaves_complete_files(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    """Refreshing every 0.1 s (responses change every second): SIGTERM at any moment leaves
    every file a complete, valid staple."""
    leaves = [ca.issue(f"h{i}.test", ocsp_url=responder.url) for i in range(3)]
    certs = [
        {"chain": str(chain_file(leaf, tmp_path, f"h{i}")), "name": f"h{i}",
         "output": [{"type": "file", "path": f"h{i}.der"}]}
        for i, leaf in enumerate(leaves)
    ]  # fmt: skip
    config = write_config(tmp_path / "stapler.toml", {**FAST, "refresh_interval": "100ms"}, certs)
    for _round in range(3):
        with Daemon(config) as daemon:
            assert daemon.wait_for(r"write: h2", count=2), daemon.log
            rc = daemon.stop()
        assert rc == 0, daemon.log
        for i, leaf in enumerate(leaves):
            assert staple_status(tmp_path / f"h{i}.der", leaf, ca.issuer) is GOOD


def test_metrics_without_prometheus_client_is_a_usage_error(ca: CA, tmp_path: Path) -> None:
    """As if the ``daemon`` extra were not installed: one line naming it, exit 4."""
    import os
    import subprocess

    from tests.stapling._daemon import STAPLER

    blocked = tmp_path / "blocked" / "prometheus_client"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('not installed')\n")
    chain = chain_file(ca.issue(ocsp_url="http://127.0.0.1:9/"), tmp_path, "site")
    config = write_config(tmp_path / "stapler.toml", {}, [{"chain": str(chain)}])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(blocked.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    res = subprocess.run(
        [*STAPLER, "--config", str(config), "--metrics", "127.0.0.1:1"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert res.returncode == 4, res.stderr
    assert "pip install 'ocspkit[daemon]'" in res.stderr and res.stderr.count("\n") == 1


def test_metrics_endpoint(ca: CA, responder: Responder, tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")  # the test extra installs it
    good = ca.issue("good.test", ocsp_url=responder.url)
    dead = ca.issue("dead.test", ocsp_url="http://127.0.0.1:9/")
    config = write_config(
        tmp_path / "stapler.toml",
        {**FAST, "refresh_interval": "1h"},
        [{"chain": str(chain_file(good, tmp_path, "good")), "name": "good"},
         {"chain": str(chain_file(dead, tmp_path, "dead")), "name": "dead"}],
    )  # fmt: skip
    (port,) = free_ports(1)
    with Daemon(config, "--metrics", f"127.0.0.1:{port}") as daemon:
        assert daemon.wait_for(r"metrics: http://127.0.0.1"), daemon.log
        assert daemon.wait_for(r"failure: dead: fetch failed \(3 in a row\)"), daemon.log

        def scrape() -> dict[str, float]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                assert resp.status == 200
                text = resp.read().decode()
            values = {}
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    name, value = line.rsplit(" ", 1)
                    values[name.replace(f',serial="{good.serial_number:x}"', "").replace(
                        f',serial="{dead.serial_number:x}"', "")] = float(value)  # fmt: skip
            return values

        m = scrape()
    assert 0 <= m['ocspkit_staple_age_seconds{certificate="good"}'] < 60
    assert 3000 < m['ocspkit_staple_next_update_seconds{certificate="good"}'] <= 3600
    deadline = m['ocspkit_staple_serve_deadline_seconds{certificate="good"}']
    assert 2600 < deadline < m['ocspkit_staple_next_update_seconds{certificate="good"}']
    assert m['ocspkit_staple_status{certificate="good",status="good"}'] == 1
    assert m['ocspkit_staple_status{certificate="good",status="revoked"}'] == 0
    assert m['ocspkit_staple_status{certificate="dead",status="none"}'] == 1
    assert m['ocspkit_staple_serving{certificate="good"}'] == 1
    assert m['ocspkit_staple_serving{certificate="dead"}'] == 0
    assert m['ocspkit_staple_last_fetch_ok{certificate="good"}'] == 1
    assert m['ocspkit_staple_last_fetch_ok{certificate="dead"}'] == 0
    assert m['ocspkit_staple_fetch_failures_total{certificate="good"}'] == 0
    assert m['ocspkit_staple_fetch_failures_total{certificate="dead"}'] >= 3
    assert 'ocspkit_staple_age_seconds{certificate="dead"}' not in m
