"""The CRL cache's stores under Client.fetch_crl: memory, a directory, a real Redis.

Against the real ocspkit.testing.CRLServer and a real redis-server: a directory entry
survives a new client and a new process, a fleet sharing Redis fetches each CRL once, and a
tampered, swapped, truncated or foreign entry never produces an answer.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import CRLCache, DirectoryCRLStore, HTTPStatusError, RedisCRLStore, StoreError
from ocspkit.client import Client, ClientConfig
from ocspkit.testing import CA, CRLFault, CRLServer
from tests.client.test_client_crl import FAST
from tests.stapling import test_stapling_stores

#: A real redis-server on loopback (started as the staple store's tests start it).
redis_url = test_stapling_stores.redis_url

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def server(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as srv:
        yield srv


def test_the_directory_store_survives_a_new_client(
    ca: CA, server: CRLServer, tmp_path: Path
) -> None:
    url = server.url_for("/ca.crl")
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(DirectoryCRLStore(tmp_path))) as a:
        first = a.fetch_crl(url, issuer=ca.issuer)
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(DirectoryCRLStore(tmp_path))) as b:
        second = b.fetch_crl(url, issuer=ca.issuer)
    assert second.der == first.der
    assert len(server.requests) == 1  # the second client read the directory


def test_the_directory_store_survives_a_new_process(
    ca: CA, server: CRLServer, tmp_path: Path
) -> None:
    url = server.url_for("/ca.crl")
    issuer = tmp_path / "issuer.pem"
    issuer.write_bytes(ca.issuer_pem)
    code = (
        "import sys, ocspkit\n"
        "cache = ocspkit.CRLCache(ocspkit.DirectoryCRLStore(sys.argv[1]))\n"
        "with ocspkit.Client(crl_cache=cache) as c:\n"
        "    print(len(c.fetch_crl(sys.argv[2], issuer=sys.argv[3])))\n"
    )
    store = str(tmp_path / "store")
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code, store, url, str(issuer)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.strip().isdigit()
    assert len(server.requests) == 1


@pytest.mark.parametrize("tamper", ["flip", "another_ca", "other_url", "truncate", "symlink"])
def test_a_tampered_directory_entry_never_answers(
    ca: CA, server: CRLServer, tmp_path: Path, tamper: str
) -> None:
    url = server.url_for("/ca.crl")
    store = DirectoryCRLStore(tmp_path / "store")
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        genuine = client.fetch_crl(url, issuer=ca.issuer)
    path = store.file_for(url)
    blob = path.read_bytes()
    if tamper == "flip":  # one bit of the stored CRL's signature
        path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    elif tamper == "another_ca":  # a genuine CRL of another CA, under this URL
        other = CA("ecdsa", name="Other CA").sign_crl().public_bytes(Encoding.DER)
        path.write_bytes(blob[: len(blob) - len(genuine.der)] + other)
    elif tamper == "other_url":  # a valid entry of another URL, renamed
        other_store = DirectoryCRLStore(tmp_path / "other")
        CRLCache(other_store).put(url + "?x", genuine)
        path.write_bytes(other_store.file_for(url + "?x").read_bytes())
    elif tamper == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    else:
        target = tmp_path / "elsewhere"
        target.write_bytes(blob)
        path.unlink()
        path.symlink_to(target)
    assert CRLCache(store).get(url, ca.issuer) is None
    server.fault = CRLFault.HTTP_500  # the network cannot answer either
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        with pytest.raises(HTTPStatusError):
            client.fetch_crl(url, issuer=ca.issuer)
    server.fault = CRLFault.NONE
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        assert client.fetch_crl(url, issuer=ca.issuer).der == server.current()
    assert [r.status for r in server.requests] == [200, 500, 200]
    assert not any(r.if_none_match for r in server.requests)  # no validators from a bad copy


@pytest.mark.servers
def test_the_redis_store_is_shared_by_a_fleet(
    ca: CA,
    server: CRLServer,
    redis_url: str,
) -> None:
    url = server.url_for("/ca.crl")
    fleet = [
        Client(ClientConfig(**FAST), crl_cache=CRLCache(RedisCRLStore(redis_url))) for _ in range(3)
    ]
    try:
        ders = {client.fetch_crl(url, issuer=ca.issuer).der for client in fleet}
    finally:
        for client in fleet:
            client.close()
    assert ders == {server.current()}
    assert len(server.requests) == 1  # fetched once for the fleet


@pytest.mark.servers
def test_a_fleet_fetching_at_once_fetches_once(ca: CA, redis_url: str) -> None:
    # four members ask at the same moment while the CRL takes about a second to arrive:
    # one holds the fetch lease, the others wait for its copy instead of fetching
    import threading

    with CRLServer(ca, fault=CRLFault.SLOW, drip_interval=0.003) as slow:
        url = slow.url_for("/ca.crl")
        config = ClientConfig(deadline=20.0, timeout=10.0, retries=0)
        fleet = [
            Client(config, crl_cache=CRLCache(RedisCRLStore(redis_url, prefix="fleet:")))
            for _ in range(4)
        ]
        start = threading.Barrier(len(fleet))
        ders: list[bytes] = []

        def member(client: Client) -> None:
            start.wait()
            ders.append(client.fetch_crl(url, issuer=ca.issuer).der)

        threads = [threading.Thread(target=member, args=(c,)) for c in fleet]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            for client in fleet:
                client.close()
        assert len(ders) == len(fleet) and len(set(ders)) == 1
        assert [r.status for r in slow.requests] == [200]  # one GET for the fleet


@pytest.mark.servers
def test_a_tampered_redis_entry_never_answers(
    ca: CA,
    server: CRLServer,
    redis_url: str,
) -> None:
    import redis

    url = server.url_for("/ca.crl")
    store = RedisCRLStore(redis_url, prefix="test:crl:")
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        client.fetch_crl(url, issuer=ca.issuer)
    raw = redis.Redis.from_url(redis_url)
    key = store.key_for(url)
    blob = raw.get(key)
    assert blob is not None
    assert raw.pttl(key) > 0  # kept a while past nextUpdate, then dropped by Redis
    raw.set(key, blob[:-1] + bytes([blob[-1] ^ 1]))
    assert CRLCache(store).get(url, ca.issuer) is None
    assert raw.get(key) is None  # dropped, not kept for the next reader
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        client.fetch_crl(url, issuer=ca.issuer)
    assert len(server.requests) == 2


def test_an_unreachable_redis_degrades_to_fetching(ca: CA, server: CRLServer) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = RedisCRLStore(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(StoreError):
        store.get("http://example.test/x.crl")
    url = server.url_for("/ca.crl")
    with Client(ClientConfig(**FAST), crl_cache=CRLCache(store)) as client:
        assert client.fetch_crl(url, issuer=ca.issuer).der == server.current()


def test_redis_missing_is_a_typed_error_and_the_client_does_not_need_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if the optional extra were not installed\n"
        "import ocspkit\n"
        "with ocspkit.Client() as client:  # the default CRL cache needs no redis\n"
        "    pass\n"
        "try:\n"
        "    ocspkit.RedisCRLStore('redis://127.0.0.1:1/0')\n"
        "except ocspkit.MissingDependencyError as exc:\n"
        "    print('typed:', isinstance(exc, ImportError), exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.startswith("typed: True"), out.stderr
    assert "RedisCRLStore" in out.stdout and "pip install" in out.stdout
