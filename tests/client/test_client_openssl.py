"""The clients against a real ``openssl ocsp`` responder: good, revoked, unknown; POST and GET."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import ocspkit
from ocspkit import CertStatus, RevocationReason
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.testing import CA, Leaf, OpenSSLResponder
from tests._servers import need_binary

pytestmark = [pytest.mark.timeout(90), pytest.mark.servers]


@dataclass
class OpenSSLLab:
    ca: CA
    responder: OpenSSLResponder
    good: Leaf
    revoked: Leaf
    unknown: Leaf


@pytest.fixture(scope="module")
def openssl_lab() -> Iterator[OpenSSLLab]:
    need_binary("openssl")
    ca = CA()
    responder = OpenSSLResponder(ca, signer="ca")
    with responder:
        url = responder.url
        good = ca.issue("good.test", ocsp_url=url)
        revoked = ca.issue("revoked.test", ocsp_url=url)
        ca.revoke(revoked.cert, reason=RevocationReason.KEY_COMPROMISE)
        responder.refresh()
        # issued after the index was written: openssl has never heard of it
        unknown = ca.issue("unknown.test", ocsp_url=url)
        yield OpenSSLLab(ca, responder, good, revoked, unknown)


def _check(mode: str, lab: OpenSSLLab, leaf: Leaf, method: str) -> ocspkit.ValidationResult:
    settings = {"method": method, "timeout": 5.0, "deadline": 15.0}
    if mode == "sync":
        with Client(ClientConfig(**settings)) as client:
            return client.check(leaf.cert, lab.ca.issuer)

    async def go() -> ocspkit.ValidationResult:
        async with AsyncClient(ClientConfig(**settings)) as client:
            return await client.check(leaf.cert, lab.ca.issuer)

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("method", ["post", "get", "auto"])
def test_good(openssl_lab: OpenSSLLab, method: str, mode: str) -> None:
    result = _check(mode, openssl_lab, openssl_lab.good, method)
    assert result.status is CertStatus.GOOD
    assert result.signer == openssl_lab.ca.issuer
    assert result.next_update is not None and result.next_update > result.this_update
    # openssl echoes the nonce, and the client checked it against its request
    assert result.response.nonce is not None


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("method", ["post", "get"])
def test_revoked(openssl_lab: OpenSSLLab, method: str, mode: str) -> None:
    result = _check(mode, openssl_lab, openssl_lab.revoked, method)
    assert result.status is CertStatus.REVOKED
    assert result.revoked
    assert result.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert result.revocation_time is not None


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("method", ["post", "get"])
def test_unknown(openssl_lab: OpenSSLLab, method: str, mode: str) -> None:
    result = _check(mode, openssl_lab, openssl_lab.unknown, method)
    assert result.status is CertStatus.UNKNOWN


def test_one_shot_check_with_chain_file(openssl_lab: OpenSSLLab, tmp_path: object) -> None:
    """ocspkit.check on a chain (leaf first): the issuer is taken from the chain."""
    result = ocspkit.client.check(list(openssl_lab.good.chain))
    assert result.status is CertStatus.GOOD


def test_sha256_cert_id(openssl_lab: OpenSSLLab) -> None:
    with Client() as client:
        result = client.check(
            openssl_lab.revoked.cert, openssl_lab.ca.issuer, hash_algorithm="sha256"
        )
    assert result.status is CertStatus.REVOKED
    assert result.cert_id.hash_algorithm == "sha256"


def test_bulk_against_openssl(openssl_lab: OpenSSLLab) -> None:
    lab = openssl_lab
    items = [
        (lab.good.cert, lab.ca.issuer),
        (lab.revoked.cert, lab.ca.issuer),
        (lab.unknown.cert, lab.ca.issuer),
    ] * 3
    outcomes = list(ocspkit.client.check_many(items, concurrency=4))
    assert sorted(o.index for o in outcomes) == list(range(9))
    by_index = {o.index: o.status for o in outcomes}
    assert [by_index[i] for i in range(3)] == [
        CertStatus.GOOD,
        CertStatus.REVOKED,
        CertStatus.UNKNOWN,
    ]
    assert all(o.error is None for o in outcomes)
