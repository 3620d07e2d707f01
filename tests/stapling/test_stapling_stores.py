"""Staple stores: DirectoryStore across restarts and kill -9, RedisStore shared by two stapler
processes against a real redis-server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import ocspkit
from ocspkit.client import Client
from ocspkit.stapling import (
    DirectoryStore,
    MemoryStore,
    MissingDependencyError,
    RedisStore,
    StapleFailed,
    Stapler,
    StoreError,
)
from ocspkit.testing import CA, Fault
from ocspkit.testing.responder import Responder
from tests._lab import free_ports
from tests._servers import need_binary

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def responder(ca: CA) -> Iterator[Responder]:
    with Responder(ca, signer="delegated") as r:
        yield r


def client() -> Client:
    return Client(ocspkit.ClientConfig(timeout=3, deadline=5, retries=0))


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


# -- MemoryStore and DirectoryStore ------------------------------------------------------------


@pytest.mark.parametrize("make", [MemoryStore, "dir"])
def test_store_basics_and_leases(make: object, tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "s") if make == "dir" else MemoryStore()
    assert store.get("k1") is None
    store.put("k1", b"abc")
    assert store.get("k1") == b"abc"
    store.put("k1", b"defg")
    assert store.get("k1") == b"defg"
    assert store.keys() == ["k1"]  # type: ignore[union-attr]
    store.delete("k1")
    store.delete("k1")
    assert store.get("k1") is None
    assert store.acquire("k2", 30)
    assert not store.acquire("k2", 30)  # held
    store.release("k2")
    assert store.acquire("k2", 30)
    store.release("k2")
    for bad in ("../etc/passwd", "", "a/b", ".hidden", "x" * 300):
        with pytest.raises(StoreError):
            store.put(bad, b"x")


def test_directory_lease_is_shared_between_processes(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    assert store.acquire("k", 10)
    code = textwrap.dedent(
        """
        import sys
        from ocspkit.stapling import DirectoryStore
        s = DirectoryStore(sys.argv[1])
        print(s.acquire("k", 10), s.acquire("other", 10))
        """
    )
    assert run_python(code, str(tmp_path)).stdout.split() == ["False", "True"]
    store.release("k")
    assert run_python(code, str(tmp_path)).stdout.split() == ["True", "True"]


def test_directory_store_serves_at_once_after_restart(
    ca: CA, responder: Responder, tmp_path: Path
) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    first = Stapler(store=DirectoryStore(tmp_path), client=client())
    key = first.add(leaf.chain)
    der = first.staple_for(key)
    assert der is not None and (tmp_path / f"{key}.der").read_bytes() == der
    responder.stop()  # a restart must not need the responder
    events: list[object] = []
    second = Stapler(store=DirectoryStore(tmp_path), client=client(), on_update=events.append)
    assert second.add(leaf.chain) == key
    assert second.staple_for(leaf.cert) == der
    assert responder.requests == 1
    assert [getattr(e, "source", None) for e in events] == ["store"]


@pytest.mark.parametrize(
    "content",
    ["garbage", "truncated", "empty", "other-cert", "expired"],
)
def test_corrupted_stored_staples_are_ignored(
    ca: CA, responder: Responder, tmp_path: Path, content: str
) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    other = ca.issue(ocsp_url=responder.url)
    good = Stapler(client=client())
    good.add(leaf.chain)
    good.add(other.chain)
    good_der = good.staple_for(leaf.cert)
    assert good_der is not None
    bad = {
        "garbage": os.urandom(700),
        "truncated": good_der[: len(good_der) // 2],
        "empty": b"",
        "other-cert": good.staple_for(other.cert),
        "expired": None,
    }[content]
    if bad is None:  # a once-valid staple, now past nextUpdate
        request = ocspkit.build_request(leaf.cert, ca.issuer).der
        bad = responder.respond(request, Fault.EXPIRED).der
    key = Stapler.key_for(leaf.cert)
    (tmp_path / f"{key}.der").write_bytes(bad)
    requests = responder.requests
    stapler = Stapler(store=DirectoryStore(tmp_path), client=client())
    stapler.add(leaf.chain)
    fresh = stapler.staple_for(leaf.cert)
    assert fresh is not None and fresh != bad
    assert ocspkit.validate_response(fresh, leaf.cert, ca.issuer).good
    assert responder.requests == requests + 1  # fetched anew
    assert (tmp_path / f"{key}.der").read_bytes() == fresh  # and replaced


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ocspkit.stapling import DirectoryStore
    store = DirectoryStore(sys.argv[1])
    key = sys.argv[2]
    staples = [Path(p).read_bytes() for p in sys.argv[3:]]
    i = 0
    while True:
        store.put(key, staples[i % len(staples)])
        i += 1
        if i == 2:
            print("writing", flush=True)
    """
)


def test_kill_9_during_directory_writes_leaves_no_torn_staple(ca: CA, tmp_path: Path) -> None:
    """A subprocess rewrites the staple in a tight loop; SIGKILL it at random moments; on
    restart the file is always one complete, valid staple and is served without a fetch."""
    leaf = ca.issue()
    # two valid staples of different sizes (one embeds the delegated responder certificate)
    candidates: list[bytes] = []
    for signer in ("ca", "delegated"):
        with Responder(ca, signer=signer) as r:
            s = Stapler(client=client(), options=ocspkit.stapling.StaplerOptions(force_url=r.url))
            s.add(leaf.chain)
            der = s.staple_for(leaf.cert)
            assert der is not None
            candidates.append(der)
    assert len(candidates[0]) != len(candidates[1])
    files = []
    for i, der in enumerate(candidates):
        p = tmp_path / f"candidate{i}.der"
        p.write_bytes(der)
        files.append(str(p))
    store_dir = tmp_path / "store"
    key = Stapler.key_for(leaf.cert)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    leftovers = 0
    for round_ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store_dir), key, *files],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"writing\n"
            time.sleep(0.05 + 0.07 * round_)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        leftovers += sum(1 for p in store_dir.iterdir() if p.name.startswith("."))
        # every staple file is complete: exactly one of the candidates
        for p in store_dir.glob("*.der"):
            assert p.read_bytes() in candidates, p
        # a restarted stapler serves it at once, with no responder at all
        errors: list[StapleFailed] = []
        stapler = Stapler(store=DirectoryStore(store_dir), client=client(), on_error=errors.append)
        stapler.add(leaf.chain)
        assert stapler.staple_for(leaf.cert) in candidates
        assert errors == []
    # temporary files of killed writers exist or not, but never count as staples
    assert DirectoryStore(store_dir).keys() == [key], leftovers


# -- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = need_binary("redis-server")
    (port,) = free_ports(1)
    rdir = tmp_path / "redis"
    rdir.mkdir()
    proc = subprocess.Popen(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(rdir),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--logfile", str(rdir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "redis-server did not start: " + (rdir / "redis.log").read_text()
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.servers
def test_redis_store_and_lease(redis_url: str) -> None:
    a, b = RedisStore(redis_url), RedisStore(redis_url)
    assert a.get("k") is None
    a.put("k", b"\x30\x03\x0a\x01\x03")
    assert b.get("k") == b"\x30\x03\x0a\x01\x03"
    assert a.acquire("k", 30)
    assert not b.acquire("k", 30)
    b.release("k")  # not b's lease: must not free it
    assert not b.acquire("k", 30)
    a.release("k")
    assert b.acquire("k", 0.2)
    time.sleep(0.3)  # a crashed holder's lease expires by itself
    assert a.acquire("k", 30)
    a.put("t", b"x", ttl=0.2)
    time.sleep(0.3)
    assert a.get("t") is None
    a.delete("k")
    assert b.get("k") is None
    a.close()
    b.close()


@pytest.mark.servers
def test_redis_lease_tokens_are_per_holder_in_one_instance(redis_url: str) -> None:
    """Two staplers (threads) share one RedisStore: A's lease expires, B takes it, then A's
    late release must not free B's lease."""
    shared, other = RedisStore(redis_url), RedisStore(redis_url)
    key = "per-holder"
    took = threading.Event()
    b_has_it = threading.Event()
    released = threading.Event()

    def holder_a() -> None:
        assert shared.acquire(key, 0.2)
        took.set()
        b_has_it.wait(10)
        shared.release(key)  # too late: the lease is B's now
        released.set()

    a = threading.Thread(target=holder_a)
    a.start()
    assert took.wait(10)
    time.sleep(0.3)  # A's lease expires in Redis
    assert shared.acquire(key, 30)  # B, in this thread, same instance
    b_has_it.set()
    assert released.wait(10)
    a.join(10)
    assert not other.acquire(key, 30)  # still B's
    shared.release(key)
    assert other.acquire(key, 30)
    other.release(key)
    shared.close()
    other.close()


WORKER = textwrap.dedent(
    """
    import hashlib, json, os, sys, time
    from pathlib import Path
    from ocspkit.client import Client, ClientConfig
    from ocspkit.stapling import RedisStore, Stapler
    url, go, *chains = sys.argv[1:]
    stapler = Stapler(store=RedisStore(url), client=Client(ClientConfig(timeout=3, deadline=5, retries=0)))
    while not os.path.exists(go):
        time.sleep(0.005)
    out = {}
    for chain in chains:
        key = stapler.add(Path(chain).read_bytes())
        der = stapler.staple_for(key)
        out[key] = der.hex() if der else None
    print(json.dumps(out))
    """
)


@pytest.mark.servers
def test_two_stapler_processes_share_redis_and_fetch_once(
    ca: CA, responder: Responder, redis_url: str, tmp_path: Path
) -> None:
    leaves = [ca.issue(ocsp_url=responder.url) for _ in range(3)]
    chains = []
    for i, leaf in enumerate(leaves):
        path = tmp_path / f"chain{i}.pem"
        path.write_bytes(leaf.chain_pem)
        chains.append(str(path))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, str(go), *order],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for order in (chains, chains[::-1])
    ]
    time.sleep(1.0)  # both imported and waiting
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1]  # the same bytes in both processes
    assert set(outputs[0]) == {Stapler.key_for(leaf.cert) for leaf in leaves}
    for leaf in leaves:
        der = bytes.fromhex(outputs[0][Stapler.key_for(leaf.cert)])
        assert ocspkit.validate_response(der, leaf.cert, ca.issuer).good
    # each certificate was fetched exactly once for the whole fleet
    serials = [s for rec in responder.records for s in rec.serials]
    assert sorted(serials) == sorted(leaf.cert.serial_number for leaf in leaves)
    assert responder.requests == 3


def test_unreachable_redis_is_a_store_error_and_stapling_goes_on(
    ca: CA, responder: Responder
) -> None:
    (port,) = free_ports(1)
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(StoreError):
        store.get("k")
    leaf = ca.issue(ocsp_url=responder.url)
    errors: list[StapleFailed] = []
    stapler = Stapler(store=store, client=client(), on_error=errors.append)
    stapler.add(leaf.chain)
    assert stapler.staple_for(leaf.cert) is not None
    assert errors and all(isinstance(e.error, StoreError) for e in errors)
    with pytest.raises(StoreError):
        RedisStore("nonsense://x")


def test_redis_missing_is_a_typed_error() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if the optional extra were not installed
        from ocspkit.stapling import RedisStore, MissingDependencyError
        try:
            RedisStore()
        except MissingDependencyError as exc:
            print("typed:", isinstance(exc, ImportError), exc)
        """
    )
    out = run_python(code).stdout
    assert out.startswith("typed: True") and "pip install" in out
    assert issubclass(MissingDependencyError, ocspkit.OCSPError)


def test_lease_wait_when_another_stapler_is_fetching(ca: CA, responder: Responder) -> None:
    """Two staplers share a store; the one without the lease waits for the other's staple."""
    store = MemoryStore()
    leaf = ca.issue(ocsp_url=responder.url)
    key = Stapler.key_for(leaf.cert)
    assert store.acquire(key, 30)  # "another process" is fetching

    def finish_fetch() -> None:
        time.sleep(0.3)
        result = Client(ocspkit.ClientConfig(timeout=3, deadline=5, retries=0)).check(
            leaf.cert, ca.issuer
        )
        store.put(key, result.response.der)
        store.release(key)

    t = threading.Thread(target=finish_fetch)
    t.start()
    options = ocspkit.stapling.StaplerOptions(lease_ttl=timedelta(seconds=20))
    waiting = Stapler(store=store, client=client(), options=options)
    waiting.add(leaf.chain)
    t.join()
    assert waiting.staple_for(leaf.cert) == store.get(key)
    assert responder.requests == 1  # only the lease holder fetched
