"""The stapler against hostile or broken surroundings, with real parts only: a loopback "CDN
cache" that replays old responses, planted FIFOs and symlinks in a staple directory, an admin
socket that trickles bytes forever, a stale nginx pid file, too-short validities, and the
``staple-file`` command writing what a server would staple."""

from __future__ import annotations

import base64
import http.server
import os
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ocspkit
from ocspkit.cli import main as cli_main
from ocspkit.client import Client
from ocspkit.refresh import RefreshSchedule
from ocspkit.stapling import (
    DirectoryStore,
    HAProxyAPIError,
    HAProxyRuntime,
    NginxStapleFile,
    OutputError,
    StapleFailed,
    Stapler,
    StapleRollbackError,
    StaplerOptions,
    StapleUpdated,
)
from ocspkit.stapling.outputs import HAPROXY_UPDATED
from ocspkit.stapling.stores import MAX_STAPLE_SIZE
from ocspkit.testing import CA, Fault
from ocspkit.testing.responder import Responder

pytestmark = pytest.mark.timeout(60)

M = timedelta(minutes=1)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def fast_client() -> Client:
    return Client(ocspkit.ClientConfig(timeout=3, deadline=5, retries=0))


class Cache:
    """A loopback HTTP server answering every OCSP request with ``body`` (a CDN or caching
    proxy in front of the responder); ``gate`` (if set) holds each answer until it is set."""

    def __init__(self) -> None:
        self.body = b""
        self.gate: threading.Event | None = None
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                outer.requests += 1
                if outer.gate is not None:
                    outer.gate.wait(20)
                body = outer.body
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Cache:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


class Events(list):  # type: ignore[type-arg]
    def __call__(self, event: object) -> None:
        self.append(event)


def cached_stapler(cache: Cache, ev: Events, **kw: object) -> Stapler:
    options = StaplerOptions(force_url=cache.url, schedule=RefreshSchedule(jitter=0.0))
    return Stapler(
        client=fast_client(),
        options=options,
        on_error=ev,
        on_update=ev,
        **kw,  # type: ignore[arg-type]
    )


def refresh_when_due(stapler: Stapler, key: str) -> datetime:
    """Run the refresh the stapler has planned (simulated time); return that time."""
    at = stapler.state(key).next_attempt
    assert stapler.refresh(now=at) == 1
    return at


# -- 1. a fetched response never rolls the staple back -----------------------------------------


def test_older_response_from_a_cache_never_replaces_a_newer_one(ca: CA) -> None:
    leaf = ca.issue("rollback.test")
    t = utcnow()
    old_good = ca.sign_response(leaf.cert, this_update=t - 20 * M).der
    new_good = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
    ev = Events()
    with Cache() as cache:
        cache.body = new_good
        stapler = cached_stapler(cache, ev)
        key = stapler.add(leaf.chain)
        assert stapler.staple_for(key) == new_good
        # the cache serves an older answer: refused, the current staple stays, backoff
        cache.body = old_good
        at = refresh_when_due(stapler, key)
        assert cache.requests == 2
        assert stapler.staple_for(key, now=at) == new_good
        state = stapler.state(key, now=at)
        assert state.failures == 1 and isinstance(state.last_error, StapleRollbackError)
        assert state.result is not None and state.result.response.der == new_good
        (failed,) = [e for e in ev if isinstance(e, StapleFailed)]
        assert isinstance(failed.error, StapleRollbackError) and failed.serving
        assert failed.retry_at > at  # retried later, on the backoff schedule
        assert stapler.store.get(key) == new_good  # the older one was not stored either
        assert len([e for e in ev if isinstance(e, StapleUpdated)]) == 1


def test_revoked_never_goes_back_to_good(ca: CA) -> None:
    leaf = ca.issue("revoked.test")
    t = utcnow()
    good_before = ca.sign_response(leaf.cert, this_update=t - 20 * M).der
    ca.revoke(leaf.cert, ocspkit.RevocationReason.KEY_COMPROMISE)
    revoked = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
    ca.unrevoke(leaf.cert)  # a lagging replica that never saw the revocation
    good_same_age = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
    good_later = ca.sign_response(leaf.cert, this_update=t - 2 * M).der
    ev = Events()
    with Cache() as cache:
        cache.body = good_before
        stapler = cached_stapler(cache, ev)
        key = stapler.add(leaf.chain)
        cache.body = revoked
        refresh_when_due(stapler, key)
        assert stapler.state(key).result.status is ocspkit.CertStatus.REVOKED  # type: ignore[union-attr]
        for replay in (good_before, good_same_age):  # older, then just as old: both refused
            cache.body = replay
            at = refresh_when_due(stapler, key)
            state = stapler.state(key, now=at)
            assert state.result is not None and state.result.status is ocspkit.CertStatus.REVOKED
            assert isinstance(state.last_error, StapleRollbackError)
            assert stapler.staple_for(key, now=at) == revoked
        # the identical revoked response again: a no-op success (no event, no failure)
        events = len(ev)
        cache.body = revoked
        at = refresh_when_due(stapler, key)
        state = stapler.state(key, now=at)
        assert state.failures == 0 and state.last_error is None and len(ev) == events
        assert state.next_attempt > at
        # a strictly newer good answer too: a keyCompromise revocation is final
        cache.body = good_later
        at = refresh_when_due(stapler, key)
        state = stapler.state(key, now=at)
        assert state.result is not None and state.result.status is ocspkit.CertStatus.REVOKED
        assert isinstance(state.last_error, StapleRollbackError)
        assert "final" in str(state.last_error)
        assert stapler.staple_for(key, now=at) == revoked


def test_a_certificate_hold_is_released_only_by_a_newer_answer(ca: CA) -> None:
    leaf = ca.issue("hold.test")
    t = utcnow()
    ca.revoke(leaf.cert, ocspkit.RevocationReason.CERTIFICATE_HOLD)
    held = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
    ca.unrevoke(leaf.cert)
    same_age = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
    released = ca.sign_response(leaf.cert, this_update=t - 2 * M).der
    with Cache() as cache:
        cache.body = held
        stapler = cached_stapler(cache, Events())
        key = stapler.add(leaf.chain)
        cache.body = same_age
        at = refresh_when_due(stapler, key)
        assert isinstance(stapler.state(key, now=at).last_error, StapleRollbackError)
        assert stapler.staple_for(key, now=at) == held
        cache.body = released
        at = refresh_when_due(stapler, key)
        assert stapler.state(key, now=at).result.status is ocspkit.CertStatus.GOOD  # type: ignore[union-attr]
        assert stapler.staple_for(key, now=at) == released


def test_remove_during_an_inflight_refresh_does_not_serve_again(ca: CA) -> None:
    leaf = ca.issue("remove.test")
    t = utcnow()
    ev = Events()
    with Cache() as cache:
        cache.body = ca.sign_response(leaf.cert, this_update=t - 10 * M).der
        stapler = cached_stapler(cache, ev)
        key = stapler.add(leaf.chain)
        at = stapler.state(key).next_attempt
        cache.body = ca.sign_response(leaf.cert, this_update=t - 5 * M).der
        cache.gate = threading.Event()
        worker = threading.Thread(target=stapler.refresh, kwargs={"now": at})
        worker.start()
        deadline = time.monotonic() + 10
        while cache.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cache.requests == 2  # the fetch is in flight
        stapler.remove(key)
        cache.gate.set()
        worker.join(10)
        assert not worker.is_alive()
        assert stapler.staple_for(key, now=at) is None
        assert key not in stapler.keys()
        assert len([e for e in ev if isinstance(e, StapleUpdated)]) == 1


# -- 2. hostile files in a DirectoryStore --------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "zero_symlink", "symlink", "oversized", "directory"])
def test_hostile_staple_files_are_ignored_never_served(ca: CA, tmp_path: Path, kind: str) -> None:
    leaf = ca.issue("hostile.test")
    store_dir = tmp_path / "staples"
    store = DirectoryStore(store_dir)
    key = Stapler.key_for(leaf.cert)
    path = store_dir / f"{key}.der"
    elsewhere = tmp_path / "elsewhere.der"
    elsewhere.write_bytes(ca.sign_response(leaf.cert).der)  # valid, but not in the store
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero_symlink":
        path.symlink_to("/dev/zero")
    elif kind == "symlink":
        path.symlink_to(elsewhere)
    elif kind == "oversized":
        path.write_bytes(b"\x30" * (MAX_STAPLE_SIZE + 1))
    else:
        path.mkdir()
    # get() answers at once (in a thread, so a regression fails instead of hanging)
    got: list[bytes | None] = []
    reader = threading.Thread(target=lambda: got.append(store.get(key)), daemon=True)
    reader.start()
    reader.join(10)
    assert got == [None]
    with Responder(ca) as responder:
        chain = ca.issue("hostile2.test", ocsp_url=responder.url)
        key2 = Stapler.key_for(chain.cert)
        path2 = store_dir / f"{key2}.der"
        if kind == "fifo":
            os.mkfifo(path2)
        elif kind == "zero_symlink":
            path2.symlink_to("/dev/zero")
        elif kind == "symlink":
            path2.symlink_to(elsewhere)
        elif kind == "oversized":
            path2.write_bytes(b"\x30" * (MAX_STAPLE_SIZE + 1))
        else:
            path2.mkdir()
        ev = Events()
        stapler = Stapler(store=store, client=fast_client(), on_error=ev)
        done = threading.Event()
        threading.Thread(target=lambda: (stapler.add(chain.chain), done.set()), daemon=True).start()
        assert done.wait(20), "add() hung on a hostile staple file"
        assert responder.requests == 1  # the planted file was not served: a fetch was made
        staple = stapler.staple_for(chain.cert)
        assert staple is not None
        assert ocspkit.validate_response(staple, chain.cert, ca.issuer).status is (
            ocspkit.CertStatus.GOOD
        )
        if kind != "directory":  # the fetch replaced the planted file with a plain one
            assert not path2.is_symlink() and path2.is_file()
            assert store.get(key2) == staple
        else:  # a directory cannot be replaced: reported, served from memory all the same
            assert any(isinstance(e, StapleFailed) for e in ev)
    assert elsewhere.read_bytes() != b""  # the symlink target was never written through


def test_lease_held_by_a_stuck_holder_is_not_waited_for_forever(ca: CA, tmp_path: Path) -> None:
    """flock has no TTL: another holder that keeps it (alive but stuck) must not stop add()
    from fetching once the lease TTL has passed."""
    with Responder(ca) as responder:
        leaf = ca.issue("stuck.test", ocsp_url=responder.url)
        key = Stapler.key_for(leaf.cert)
        stuck = DirectoryStore(tmp_path)  # another open file description: a separate holder
        assert stuck.acquire(key, 1)
        try:
            options = StaplerOptions(lease_ttl=timedelta(seconds=0.5))
            stapler = Stapler(store=DirectoryStore(tmp_path), client=fast_client(), options=options)
            stapler.add(leaf.chain)
            assert stapler.staple_for(leaf.cert) is not None
            assert responder.requests == 1
            assert not DirectoryStore(tmp_path).acquire(key, 1)  # still the stuck holder's
        finally:
            stuck.release(key)


# -- 3. the HAProxy admin socket ---------------------------------------------------------------


class AdminSocket:
    """A UNIX socket server playing HAProxy's admin socket: reads one command, then runs
    ``reply(conn)``."""

    def __init__(self, path: Path, reply: object) -> None:
        self.path = path
        self.reply = reply
        self.commands: list[bytes] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(4)
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.commands.append(data)
                try:
                    self.reply(conn, self.stop)  # type: ignore[operator]
                except OSError:
                    pass

    def __enter__(self) -> AdminSocket:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.listener.close()


def drip(conn: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        conn.sendall(b"x")
        stop.wait(0.2)


def flood(conn: socket.socket, stop: threading.Event) -> None:
    chunk = b"y" * 65536
    while not stop.is_set():
        conn.sendall(chunk)


def answer(text: bytes) -> object:
    def reply(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(text)

    return reply


@pytest.mark.timeout(30)
def test_haproxy_dripping_socket_hits_the_overall_deadline(tmp_path: Path) -> None:
    with AdminSocket(tmp_path / "drip.sock", drip):
        runtime = HAProxyRuntime(tmp_path / "drip.sock", timeout=1.0)
        outcome: list[BaseException] = []

        def push() -> None:
            try:
                runtime.update(b"\x30\x03\x0a\x01\x00")
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=push, daemon=True)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "update() ignored its overall deadline"
        assert len(outcome) == 1 and isinstance(outcome[0], HAProxyAPIError)


def test_haproxy_oversized_reply_is_refused(tmp_path: Path) -> None:
    with AdminSocket(tmp_path / "flood.sock", flood):
        runtime = HAProxyRuntime(tmp_path / "flood.sock", timeout=10, max_reply=100_000)
        with pytest.raises(HAProxyAPIError, match="larger than 100000"):
            runtime.command("show info")


@pytest.mark.parametrize(
    ("reply", "accepted"),
    [
        (HAPROXY_UPDATED.encode() + b"\n", True),
        (b"\n" + HAPROXY_UPDATED.encode() + b"\n\n", True),
        (b"Failed to update OCSP response.\n", False),
        (b"OCSP response not updated: Certificate ID does not match\n", False),
        (b"updated? no. Unknown command\n", False),
        (b"", False),
    ],
)
def test_haproxy_only_the_success_line_counts(tmp_path: Path, reply: bytes, accepted: bool) -> None:
    der = b"\x30\x03\x0a\x01\x00"
    with AdminSocket(tmp_path / "a.sock", answer(reply)) as admin:
        runtime = HAProxyRuntime(tmp_path / "a.sock", timeout=5)
        if accepted:
            runtime.update(der)
        else:
            with pytest.raises(HAProxyAPIError) as info:
                runtime.update(der)
            assert info.value.reply == reply.decode().strip()
        assert admin.commands == [b"set ssl ocsp-response " + base64.b64encode(der) + b"\n"]


# -- 5. no hot retry loop ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delay", [timedelta(0), timedelta(milliseconds=1), timedelta(milliseconds=99)]
)
def test_retry_initial_below_a_tenth_of_a_second_is_refused(delay: timedelta) -> None:
    schedule = RefreshSchedule(retry_initial=delay, retry_max=timedelta(seconds=1))
    with pytest.raises(ValueError, match="retry_initial"):
        StaplerOptions(schedule=schedule)


def test_runner_with_the_shortest_retry_does_not_spin(ca: CA) -> None:
    """The shortest retry allowed (0.1 s, no jitter) against a failing responder, for one
    second of real time: at most ~10 attempts, not thousands (an upper bound only: a slow
    machine makes fewer)."""
    with Responder(ca, fault=Fault.TRY_LATER) as responder:
        leaf = ca.issue("spin.test", ocsp_url=responder.url)
        options = StaplerOptions(
            schedule=RefreshSchedule(
                retry_initial=timedelta(milliseconds=100),
                retry_max=timedelta(milliseconds=100),
                jitter=0.0,
            )
        )
        stapler = Stapler(client=fast_client(), options=options)
        stapler.add(leaf.chain)
        start = responder.requests
        with stapler.run_in_thread(max_sleep=1.0):
            time.sleep(1.0)
        made = responder.requests - start
        assert 1 <= made <= 12, made


# -- 6. nginx reload signals only nginx --------------------------------------------------------


def test_nginx_pid_file_naming_another_process_is_not_signalled(ca: CA, tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "nginx.pid"
        pid_file.write_text(f"{victim.pid}\n")
        out = NginxStapleFile(tmp_path / "staple.der", pid_file=pid_file)
        der = ca.sign_response(ca.issue("nginx.test").cert).der
        with pytest.raises(OutputError, match="not nginx"):
            out.update(der)
        assert (tmp_path / "staple.der").read_bytes() == der  # written, just no reload
        assert victim.poll() is None  # SIGHUP would have killed sleep
        # a pid file naming no process: nginx is not running, nothing to do
        victim.kill()
        victim.wait(10)
        out.update(der)
        # pid 1 (or garbage) is never signalled
        pid_file.write_text("1\n")
        with pytest.raises(OutputError):
            out.update(der)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)


# -- 7. staple-file writes only what a server may staple now ------------------------------------


def write_chain(tmp_path: Path, leaf: object) -> Path:
    path = tmp_path / "chain.pem"
    path.write_bytes(leaf.chain_pem)  # type: ignore[attr-defined]
    return path


#: ``ocspkit staple-file`` still reads the stapler options' old flat fields; these tests pass
#: again (and this mark must go) once it reads ``options.schedule`` and ``options.policy``.


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli_main(list(args))
    return code, capsys.readouterr().err


def test_staple_file_refuses_a_response_past_its_serving_limit(
    ca: CA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A response valid for 3 more minutes is within the 5-minute margin: not written."""
    with Responder(ca, validity=timedelta(minutes=3)) as responder:
        leaf = ca.issue("cli-short.test", ocsp_url=responder.url)
        chain = write_chain(tmp_path, leaf)
        out = tmp_path / "site.ocsp"
        out.write_bytes(b"previous")
        code, err = run_cli(capsys, "staple-file", "--chain", str(chain), "--out", str(out))
        assert code == 3
        assert len(err.strip().splitlines()) == 1 and "would not be stapled" in err
        assert out.read_bytes() == b"previous"
        responder.validity = timedelta(minutes=30)
        code, err = run_cli(capsys, "staple-file", "--chain", str(chain), "--out", str(out))
        assert code == 0, err
        assert ocspkit.validate_response(out.read_bytes(), leaf.cert, ca.issuer).status is (
            ocspkit.CertStatus.GOOD
        )


def test_staple_file_refuses_an_old_response_without_next_update(
    ca: CA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = ca.issue("cli-nonext.test")
    chain = write_chain(tmp_path, leaf)
    out = tmp_path / "site.ocsp"
    with Cache() as cache:
        cache.body = ca.sign_response(
            leaf.cert, this_update=utcnow() - 2 * 60 * M, validity=None
        ).der
        args = ("staple-file", "--chain", str(chain), "--out", str(out), "--url", cache.url)
        code, err = run_cli(capsys, *args)
        assert code == 3 and len(err.strip().splitlines()) == 1
        assert not out.exists()
        # a fresh one without nextUpdate is served (for up to an hour): written
        cache.body = ca.sign_response(leaf.cert, this_update=utcnow() - M, validity=None).der
        code, err = run_cli(capsys, *args)
        assert code == 0, err
        assert out.read_bytes() == cache.body
