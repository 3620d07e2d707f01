"""The stapler feeding real TLS servers on loopback, checked from outside: a pyOpenSSL server
(``stapler.install``) read by ``openssl s_client -status`` and ``ocspkit.probe``; nginx with our
``ssl_stapling_file``; HAProxy with our ``.ocsp`` file and runtime-API pushes."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from OpenSSL import SSL

import ocspkit
from ocspkit.client import Client
from ocspkit.probing import ProbeReport, probe
from ocspkit.refresh import RefreshSchedule
from ocspkit.stapling import (
    HAProxyOCSPFile,
    HAProxyRuntime,
    NginxStapleFile,
    StapleFile,
    Stapler,
    StaplerOptions,
)
from ocspkit.testing import CA, Leaf
from ocspkit.testing.responder import Responder
from tests._lab import Site, ThreadServer, haproxy_command, start_haproxy, start_nginx
from tests._servers import need_binary

pytestmark = [pytest.mark.timeout(120), pytest.mark.servers]


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def client() -> Client:
    return Client(ocspkit.ClientConfig(timeout=3, deadline=5, retries=0))


def tls_server(stapler: Stapler, leaf: Leaf, *, bind_cert: bool = True) -> ThreadServer:
    """A pyOpenSSL TLS server whose context staples through ``stapler.install``."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.use_certificate(leaf.cert)
    for extra in leaf.chain[1:]:
        ctx.add_extra_chain_cert(extra)
    ctx.use_privatekey(leaf.key)
    stapler.install(ctx, leaf.cert if bind_cert else None)

    def handle(sock: socket.socket) -> None:
        sock.settimeout(None)
        tv = struct.pack("ll", 5, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        conn = SSL.Connection(ctx, sock)
        conn.set_accept_state()
        with contextlib.suppress(SSL.Error, OSError):
            conn.do_handshake()
            conn.shutdown()

    return ThreadServer(handle)


def s_client_status(port: int, ca: CA, tmp_path: Path, tls: str = "-tls1_3") -> str:
    openssl = need_binary("openssl")
    root = tmp_path / "root.pem"
    root.write_bytes(ca.root_pem)
    res = subprocess.run(
        [
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-status", tls, "-CAfile", str(root),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    return res.stdout + res.stderr


def probe_local(port: int, ca: CA, tls_version: str | None = None) -> ProbeReport:
    return probe(
        "127.0.0.1",
        port,
        servername="localhost",
        trust_roots=[ca.root],
        timeout=10,
        tls_version=tls_version,
    )


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll ``check()`` until it returns something truthy; return the last value."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


# -- pyOpenSSL server ----------------------------------------------------------------------------


def test_pyopenssl_server_staples_first_handshake_s_client(ca: CA, tmp_path: Path) -> None:
    with Responder(ca, signer="delegated") as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        stapler = Stapler(client=client())
        stapler.add(leaf.chain)
        with tls_server(stapler, leaf) as server:
            out = s_client_status(server.port, ca, tmp_path)  # the very first handshake
            assert server.handled == 1
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out


@pytest.mark.parametrize("tls_version", ["1.2", "1.3"])
def test_pyopenssl_server_staples_first_handshake_probe(ca: CA, tls_version: str) -> None:
    with Responder(ca) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        stapler = Stapler(client=client())
        stapler.add(leaf.chain)
        with tls_server(stapler, leaf, bind_cert=False) as server:
            report = probe_local(server.port, ca, tls_version)  # the very first handshake
    assert report.stapled and report.staple_status is ocspkit.CertStatus.GOOD, report
    assert report.staple_der == stapler.staple_for(leaf.cert)
    assert report.ok


def test_pyopenssl_server_stops_stapling_at_next_update(ca: CA, tmp_path: Path) -> None:
    """Short-lived responses, responder gone: stapled until nextUpdate - margin, then not; with
    fake_try_later, a tryLater instead. Restarted responder: fresh staples, served again."""
    with Responder(ca, validity=timedelta(seconds=8)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        schedule = RefreshSchedule(
            margin=timedelta(seconds=1),
            min_interval=timedelta(0),
            retry_initial=timedelta(milliseconds=200),
            retry_max=timedelta(seconds=1),
        )
        options = StaplerOptions(schedule=schedule)
        stapler = Stapler(client=client(), options=options)
        stapler.add(leaf.chain)
        responder.stop()
        faker = Stapler(
            client=client(), options=StaplerOptions(schedule=schedule, fake_try_later=True)
        )
        faker.add(leaf.chain)  # the responder is down: nothing to serve
        with (
            tls_server(stapler, leaf) as server,
            tls_server(faker, leaf) as fake_server,
            stapler.run_in_thread(),
        ):
            first = probe_local(server.port, ca)
            assert first.staple_status is ocspkit.CertStatus.GOOD
            until = stapler.state(leaf.cert).serve_until
            assert until is not None
            gone = wait_for(lambda: not probe_local(server.port, ca).stapled, timeout=15)
            assert gone and datetime.now(timezone.utc) >= until
            assert "OCSP response: no response sent" in s_client_status(server.port, ca, tmp_path)
            faked = probe_local(fake_server.port, ca)
            assert faked.stapled and faked.staple_status is None
            assert isinstance(faked.staple_error, ocspkit.ResponderError)
            assert faked.staple_error.status is ocspkit.ResponseStatus.TRY_LATER
            responder.start()  # the retry loop picks it up
            back = wait_for(
                lambda: probe_local(server.port, ca).staple_status is ocspkit.CertStatus.GOOD,
                timeout=15,
            )
            assert back
            assert stapler.state(leaf.cert).failures == 0


def test_install_without_cert_looks_up_the_connection_certificate(ca: CA) -> None:
    with Responder(ca) as responder:
        a, b, c = (ca.issue(ocsp_url=responder.url) for _ in range(3))
        stapler = Stapler(client=client())
        stapler.add(a.chain)
        stapler.add(b.chain)
        with (
            tls_server(stapler, a, bind_cert=False) as sa,
            tls_server(stapler, b, bind_cert=False) as sb,
            tls_server(stapler, c, bind_cert=False) as sc,
        ):
            ra, rb, rc = (probe_local(s.port, ca) for s in (sa, sb, sc))
    assert ra.staple_result is not None and rb.staple_result is not None
    assert ra.staple_result.cert_id.serial_number == a.serial_number
    assert rb.staple_result.cert_id.serial_number == b.serial_number
    assert not rc.stapled  # never added: no staple, and no error


def test_install_rejects_non_pyopenssl_context() -> None:
    with pytest.raises(TypeError):
        Stapler().install(object())


# -- nginx ---------------------------------------------------------------------------------------


@pytest.fixture
def nginx_binary() -> str:
    return need_binary("nginx")


def test_nginx_serves_our_staple_file_and_stops_at_next_update(
    ca: CA, tmp_path: Path, nginx_binary: str
) -> None:
    """nginx staples whatever ssl_stapling_file holds, forever: our NginxStapleFile replaces it
    (and reloads nginx) with fresh staples, and with tryLater once none is valid."""
    with Responder(ca, validity=timedelta(seconds=8)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        staple_path = tmp_path / "leaf.ocsp.der"
        options = StaplerOptions(
            schedule=RefreshSchedule(
                margin=timedelta(seconds=1),
                min_interval=timedelta(seconds=2),
                retry_initial=timedelta(milliseconds=300),
                retry_max=timedelta(seconds=1),
            )
        )
        stapler = Stapler(client=client(), options=options)
        stapler.add(leaf.chain, outputs=[StapleFile(staple_path)])
        first_der = staple_path.read_bytes()
        site = Site.from_leaf("good", leaf, tmp_path)
        site = Site(site.name, site.chain, site.key, staple_file=staple_path)
        with start_nginx(tmp_path, [site]) as nginx:
            port = nginx.port("good")
            first = probe_local(port, ca)  # nginx's very first handshake
            assert first.staple_status is ocspkit.CertStatus.GOOD
            assert first.staple_der == first_der
            reloading = NginxStapleFile(staple_path, pid_file=nginx.directory / "nginx.pid")
            stapler.add(leaf.chain, outputs=[reloading])
            responder.stop()
            with stapler.run_in_thread():
                # once past nextUpdate - margin, nginx is reloaded with a tryLater response
                # (a handshake racing the reload itself may get no staple at all)
                try_later = wait_for(
                    lambda: isinstance(probe_local(port, ca).staple_error, ocspkit.ResponderError),
                    timeout=20,
                )
                assert try_later
                assert staple_path.read_bytes() == ocspkit.stapling.try_later_response()
                assert datetime.now(timezone.utc) >= stapler.state(leaf.cert).serve_until
                # and no valid staple is served any more
                # Old workers of nginx's graceful reload may hand out the previous staple for a
                # moment (and a handshake racing the reload may get none): what matters is
                # that, once the reload settles, nothing valid is served.
                assert wait_for(
                    lambda: all(probe_local(port, ca).staple_result is None for _ in range(3)),
                    timeout=10,
                )
                responder.start()
                back = wait_for(
                    lambda: probe_local(port, ca).staple_status is ocspkit.CertStatus.GOOD,
                    timeout=20,
                )
                assert back
                # the file holds a fresh staple (read while the stapler runs: these staples
                # last 8 s, so on a loaded machine one may lapse into tryLater before the
                # next is written; what matters is that a fresh one follows)
                assert wait_for(
                    lambda: ocspkit.parse_response(staple_path.read_bytes()).successful,
                    timeout=10,
                )
            fresh = staple_path.read_bytes()  # the stapler has stopped: this stays
            assert fresh != first_der and ocspkit.parse_response(fresh).successful
            # once the reload settles (old workers may still hand out the previous bytes for a
            # moment) nginx serves exactly that
            assert wait_for(lambda: probe_local(port, ca).staple_der == fresh, timeout=10)


# -- HAProxy -------------------------------------------------------------------------------------


def test_haproxy_serves_our_ocsp_file_and_runtime_pushes(ca: CA, tmp_path: Path) -> None:
    need_binary("haproxy")
    with Responder(ca, signer="delegated", validity=timedelta(hours=2)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        staple_path = tmp_path / "staple.der"
        stapler = Stapler(client=client())
        stapler.add(leaf.chain, outputs=[StapleFile(staple_path)])
        site = Site.from_leaf("good", leaf, tmp_path)
        site = Site(site.name, site.chain, site.key, staple_file=staple_path)
        with start_haproxy(tmp_path, [site]) as haproxy:
            port = haproxy.port("good")
            first = probe_local(port, ca)  # HAProxy's very first handshake
            assert first.staple_status is ocspkit.CertStatus.GOOD
            assert first.staple_der == stapler.staple_for(leaf.cert)
            crt = haproxy.directory / "good.pem"
            runtime = HAProxyRuntime(haproxy.directory / "admin.sock")
            ocsp_file = HAProxyOCSPFile(crt)
            stapler.add(leaf.chain, outputs=[runtime, ocsp_file])
            # the certificate is revoked; the next refresh is pushed over the runtime API
            ca.revoke(leaf.cert)
            due = stapler.state(leaf.cert).next_attempt
            assert stapler.refresh(now=due) == 1
            revoked_der = stapler.staple_for(leaf.cert, now=due)
            assert revoked_der is not None
            report = wait_for(
                lambda: (
                    (r := probe_local(port, ca)).staple_status is ocspkit.CertStatus.REVOKED and r
                ),
                timeout=10,
            )
            assert report and report.staple_der == revoked_der
            assert Path(f"{crt}.ocsp").read_bytes() == revoked_der  # for HAProxy's next start
            shown = haproxy_command(haproxy, "show ssl ocsp-response")
            serial = f"{leaf.cert.serial_number:X}"
            assert serial.rjust(len(serial) + len(serial) % 2, "0") in shown
    assert responder.requests == 2


def test_haproxy_runtime_refuses_foreign_response(ca: CA, tmp_path: Path) -> None:
    need_binary("haproxy")
    with Responder(ca, validity=timedelta(hours=2)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        other = ca.issue(ocsp_url=responder.url)
        stapler = Stapler(client=client())
        stapler.add(leaf.chain, outputs=[StapleFile(tmp_path / "s.der")])
        stapler.add(other.chain)
        site = Site.from_leaf("good", leaf, tmp_path)
        site = Site(site.name, site.chain, site.key, staple_file=tmp_path / "s.der")
        with start_haproxy(tmp_path, [site]) as haproxy:
            runtime = HAProxyRuntime(haproxy.directory / "admin.sock")
            with pytest.raises(ocspkit.stapling.HAProxyAPIError) as info:
                runtime.update(stapler.staple_for(other.cert))
            assert info.value.reply
    with pytest.raises(ocspkit.stapling.OutputError):
        HAProxyRuntime(tmp_path / "no-such.sock", timeout=1).update(b"x")
