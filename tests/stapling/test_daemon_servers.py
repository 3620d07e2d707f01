"""``ocspkit stapler`` (the real command) feeding real servers on loopback: nginx reading our
``ssl_stapling_file`` and reloaded by the configured command, HAProxy with our ``.ocsp`` file
and runtime-socket pushes, and a real redis-server as the store and as an output. Checked from
outside with ``openssl s_client -status`` and ``ocspkit.probe``: what clients are stapled
through a responder outage and after a revocation."""

from __future__ import annotations

from pathlib import Path

import pytest

import ocspkit
from ocspkit.testing import CA
from ocspkit.testing.responder import Responder
from tests._lab import Site, haproxy_command, start_haproxy, start_nginx
from tests._servers import need_binary
from tests.stapling._daemon import (
    FAST,
    Daemon,
    counter_command,
    reloads,
    run_once,
    staple_status,
    wait_until,
    write_config,
)
from tests.stapling.test_stapling_servers import probe_local, s_client_status
from tests.stapling.test_stapling_stores import redis_url  # noqa: F401 - a fixture

pytestmark = [pytest.mark.timeout(180), pytest.mark.servers]

GOOD, REVOKED = ocspkit.CertStatus.GOOD, ocspkit.CertStatus.REVOKED


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def stapled(port: int, ca: CA) -> ocspkit.CertStatus | None:
    return probe_local(port, ca).staple_status


def test_nginx_once_then_daemon_through_an_outage_and_a_revocation(ca: CA, tmp_path: Path) -> None:
    nginx_bin = need_binary("nginx")
    with Responder(ca) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        site = Site.from_leaf("site", leaf, tmp_path)
        staple = tmp_path / "site.ocsp.der"
        cert = {"chain": str(site.chain), "name": "site", "output": [{"type": "file", "path": str(staple)}]}  # fmt: skip
        once = run_once(write_config(tmp_path / "once.toml", {}, [cert]))
        assert once.returncode == 0, once.stderr  # the file exists before nginx starts
        site = Site(site.name, site.chain, site.key, staple_file=staple)
        with start_nginx(tmp_path, [site]) as nginx:
            port = nginx.port("site")
            out = s_client_status(port, ca, tmp_path)  # nginx's very first handshake
            assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
            assert probe_local(port, ca).staple_der == staple.read_bytes()
            reload = [nginx_bin, "-p", str(nginx.directory), "-c", str(nginx.config),
                      "-e", str(nginx.directory / "error.log"), "-s", "reload"]  # fmt: skip
            marker = tmp_path / "reloads"
            cert["output"] = [
                {"type": "file", "path": str(staple), "reload": reload},
                {
                    "type": "file",
                    "path": str(tmp_path / "copy.der"),
                    "reload": counter_command(marker),
                },
            ]
            config = write_config(tmp_path / "stapler.toml", FAST, [cert])
            with Daemon(config) as daemon:
                assert daemon.wait_for("started: 1 certificate"), daemon.log
                # the start fetched a new staple: nginx was reloaded with it
                assert daemon.wait_for(r"reload: .*nginx .*-s reload done"), daemon.log
                good = staple.read_bytes()
                responder.stop()
                assert daemon.wait_for(r"failure: site: fetch failed \(2 in a row\)"), daemon.log
                # the last good staple is still served (once the start's graceful reload has
                # settled: a handshake racing it may get none)
                assert wait_until(lambda: stapled(port, ca) is GOOD, timeout=10), daemon.log
                assert probe_local(port, ca).staple_der == good
                assert staple.read_bytes() == good
                ca.revoke(leaf.cert)
                responder.start()
                assert daemon.wait_for(r"revoked: site was revoked"), daemon.log
                assert daemon.wait_for(r"reload: .*nginx .*-s reload done", count=2), daemon.log
                # once nginx's graceful reload settles, clients are stapled the REVOKED answer
                assert wait_until(lambda: stapled(port, ca) is REVOKED, timeout=20), daemon.log
                assert staple_status(staple, leaf, ca.issuer) is REVOKED
                assert reloads(marker) >= 1
                # (each refresh brings a newer REVOKED answer, so nginx is reloaded each second:
                # a worker of an older generation may still answer for a moment)
                assert wait_until(
                    lambda: "Cert Status: revoked" in s_client_status(port, ca, tmp_path),
                    timeout=10,
                ), daemon.log
                rc = daemon.stop()
            assert rc == 0, daemon.log
            failed = [ln for ln in daemon.lines if "failure" in ln and "reload" in ln]
            assert not failed, daemon.log  # every nginx reload succeeded


def test_haproxy_ocsp_file_and_runtime_push(ca: CA, tmp_path: Path) -> None:
    need_binary("haproxy")
    with Responder(ca, signer="delegated") as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        site = Site.from_leaf("good", leaf, tmp_path)
        staple = tmp_path / "good.ocsp.der"
        first = {"chain": str(site.chain), "name": "good", "output": [{"type": "haproxy", "path": str(staple)}]}  # fmt: skip
        assert run_once(write_config(tmp_path / "once.toml", {}, [first])).returncode == 0
        site = Site(site.name, site.chain, site.key, staple_file=staple)
        with start_haproxy(tmp_path, [site]) as haproxy:
            port = haproxy.port("good")
            assert stapled(port, ca) is GOOD  # HAProxy's very first handshake
            crt = haproxy.directory / "good.pem"
            cert = {
                "chain": str(site.chain),
                "name": "good",
                "output": [
                    {
                        "type": "haproxy",
                        "crt": str(crt),
                        "socket": str(haproxy.directory / "admin.sock"),
                    }
                ],
            }
            config = write_config(tmp_path / "stapler.toml", FAST, [cert])
            with Daemon(config) as daemon:
                assert daemon.wait_for("started: 1 certificate"), daemon.log
                ca.revoke(leaf.cert)
                assert daemon.wait_for(r"revoked: good was revoked"), daemon.log
                report = wait_until(
                    lambda: (r := probe_local(port, ca)).staple_status is REVOKED and r
                )
                assert report, daemon.log
                # pushed to the running HAProxy, and in the .ocsp file for its next start
                assert Path(f"{crt}.ocsp").read_bytes() == report.staple_der
                assert "HAProxyRuntime" in daemon.log
                shown = haproxy_command(haproxy, "show ssl ocsp-response")
                serial = f"{leaf.cert.serial_number:X}"
                assert serial.rjust(len(serial) + len(serial) % 2, "0") in shown
                assert daemon.stop() == 0, daemon.log


def test_redis_store_and_output(ca: CA, tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    import redis

    with Responder(ca) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        chain = leaf.write(tmp_path, "site").chain
        config = write_config(
            tmp_path / "stapler.toml",
            {"store": redis_url},
            [{"chain": str(chain), "name": "site",
              "output": [{"type": "redis", "key": "staples:site"},
                         {"type": "file", "path": "site.der"}]}],
        )  # fmt: skip
        first = run_once(config)
        assert first.returncode == 0, first.stderr
        client = redis.Redis.from_url(redis_url)
        pushed = client.get("staples:site")
        assert pushed == (tmp_path / "site.der").read_bytes()
        assert staple_status(tmp_path / "site.der", leaf, ca.issuer) is GOOD
        assert responder.requests == 1
        # another host of the fleet (a fresh process, no file of its own): loaded from Redis
        other = write_config(
            tmp_path / "other.toml",
            {"store": redis_url},
            [
                {
                    "chain": str(chain),
                    "name": "site",
                    "output": [{"type": "file", "path": "other.der"}],
                }
            ],
        )
        responder.stop()  # and the responder is down: the store's staple is all it needs
        second = run_once(other)
        assert second.returncode == 0, second.stderr
        assert "loaded from the store: site" in second.stderr
        assert (tmp_path / "other.der").read_bytes() == pushed
        assert responder.requests == 1
        client.close()
