"""check_many / acheck_many: outcomes as they complete, typed errors, bounded in-flight work."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import pytest
from cryptography import x509

import ocspkit
from ocspkit import CertificateError, CertStatus, FetchTimeoutError, NoOCSPURLError
from ocspkit.client import AsyncClient, CheckOutcome, ClientConfig, acheck_many, check_many
from ocspkit.testing import CA, Fault, Responder

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Responder, list[x509.Certificate]]]:
    ca = CA("ecdsa")
    with Responder(ca) as responder:
        leaves = [ca.issue(f"bulk{i}.test", ocsp_url=responder.url).cert for i in range(40)]
        yield ca, responder, leaves


def _mixed(ca: CA, responder: Responder) -> tuple[list[Any], dict[int, object]]:
    good = ca.issue("good.test", ocsp_url=responder.url)
    revoked = ca.issue("revoked.test", ocsp_url=responder.url)
    ca.revoke(revoked.cert)
    no_url = ca.issue("nourl.test", ocsp_url="")
    items: list[Any] = [
        (good.cert, ca.issuer),  # a pair
        [*revoked.chain, ca.root],  # a chain, leaf first
        no_url.cert,  # a certificate (issuer= applies to it)
        "not a certificate",
        good.cert,
    ]
    expected: dict[int, object] = {
        0: CertStatus.GOOD,
        1: CertStatus.REVOKED,
        2: NoOCSPURLError,
        3: CertificateError,
        4: CertStatus.GOOD,
    }
    return items, expected


def _assert_outcomes(
    outcomes: list[CheckOutcome], items: list[Any], expected: dict[int, object]
) -> None:
    assert sorted(o.index for o in outcomes) == list(range(len(items)))
    for o in outcomes:
        assert o.item is items[o.index]
        want = expected[o.index]
        if isinstance(want, CertStatus):
            assert o.ok and o.error is None and o.status is want
        else:
            assert not o.ok and o.result is None and type(o.error) is want


def test_check_many_mixed_items(pki: tuple[CA, Responder, list[x509.Certificate]]) -> None:
    ca, responder, _ = pki
    items, expected = _mixed(ca, responder)
    progress: list[int] = []
    outcomes = list(
        check_many(items, concurrency=3, issuer=ca.issuer, progress=lambda n, o: progress.append(n))
    )
    _assert_outcomes(outcomes, items, expected)
    assert progress == [1, 2, 3, 4, 5]
    assert outcomes[0].cert is not None or outcomes[0].index == 3


def test_acheck_many_mixed_items(pki: tuple[CA, Responder, list[x509.Certificate]]) -> None:
    ca, responder, _ = pki
    items, expected = _mixed(ca, responder)
    seen: list[int] = []

    async def go() -> list[CheckOutcome]:
        return [
            o
            async for o in acheck_many(
                items, issuer=ca.issuer, progress=lambda n, o: seen.append(o.index)
            )
        ]

    outcomes = asyncio.run(go())
    _assert_outcomes(outcomes, items, expected)
    assert sorted(seen) == list(range(5))


def test_outcomes_arrive_as_they_complete() -> None:
    """A hanging responder holds up only its own item; the others come first."""
    ca = CA("ecdsa")
    with Responder(ca) as fast, Responder(ca, fault=Fault.HANG) as slow:
        stuck = ca.issue("stuck.test", ocsp_url=slow.url).cert
        quick = [ca.issue(f"q{i}.test", ocsp_url=fast.url).cert for i in range(5)]
        start = time.monotonic()
        outcomes = list(
            check_many([stuck, *quick], issuer=ca.issuer, config=ClientConfig(deadline=1.0))
        )
        elapsed = time.monotonic() - start
    assert [o.index for o in outcomes][-1] == 0
    assert all(o.status is CertStatus.GOOD for o in outcomes[:-1])
    assert isinstance(outcomes[-1].error, FetchTimeoutError)
    assert elapsed < 1.0 + 1.5  # the deadline held for the stuck item


def test_input_is_consumed_lazily_with_bounded_in_flight(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    ca, _, leaves = pki
    pulled = 0

    def source() -> Iterator[x509.Certificate]:
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield leaves[i % len(leaves)]

    async def go() -> int:
        worst = 0
        got = 0
        async for outcome in acheck_many(source(), concurrency=5, issuer=ca.issuer):
            assert outcome.ok
            got += 1
            worst = max(worst, pulled - got)
        assert got == 200
        return worst

    worst = asyncio.run(go())
    assert worst <= 5  # never more than `concurrency` items taken but not yet answered


def test_sync_wrapper_buffers_boundedly(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    ca, _, leaves = pki
    pulled = 0

    def source() -> Iterator[x509.Certificate]:
        nonlocal pulled
        for i in range(120):
            pulled += 1
            yield leaves[i % len(leaves)]

    got = 0
    worst = 0
    for outcome in check_many(source(), concurrency=4, issuer=ca.issuer):
        assert outcome.ok
        got += 1
        time.sleep(0.001)  # a slow consumer: the producer must wait, not pile up
        worst = max(worst, pulled - got)
    assert got == 120
    assert worst <= 2 * 4 + 1  # in flight + handed over but not yet taken


def test_breaking_out_stops_the_batch(pki: tuple[CA, Responder, list[x509.Certificate]]) -> None:
    ca, _, leaves = pki
    pulled = 0

    def endless() -> Iterator[x509.Certificate]:
        nonlocal pulled
        while True:
            pulled += 1
            yield leaves[pulled % len(leaves)]

    outcomes = check_many(endless(), concurrency=4, issuer=ca.issuer)
    first = [next(outcomes) for _ in range(3)]
    outcomes.close()  # what a `break` in a for loop does when the iterator is dropped
    assert all(o.ok for o in first)
    after = pulled
    time.sleep(0.2)
    assert pulled == after  # nothing more is read
    assert not any(t.name == "ocspkit-check-many" for t in threading.enumerate())


def test_check_many_inside_a_running_event_loop(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    """Jupyter runs an event loop; the blocking wrapper must still work there."""
    ca, _, leaves = pki

    async def notebook_cell() -> list[CheckOutcome]:
        return list(check_many(leaves[:5], issuer=ca.issuer))

    outcomes = asyncio.run(notebook_cell())
    assert [o.status for o in outcomes] == [CertStatus.GOOD] * 5


def test_async_iterable_input_and_shared_client(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    ca, responder, leaves = pki

    async def source() -> AsyncIterator[tuple[x509.Certificate, x509.Certificate]]:
        for leaf in leaves[:6]:
            await asyncio.sleep(0)
            yield leaf, ca.issuer

    async def go() -> list[CheckOutcome]:
        async with AsyncClient(cache=True) as client:
            async with aclosing(acheck_many(source(), client=client)) as batch:
                first = [o async for o in batch]
            before = responder.requests
            async with aclosing(acheck_many(source(), client=client)) as batch:
                second = [o async for o in batch]
            assert responder.requests == before  # all six served from the shared cache
            return first + second

    outcomes = asyncio.run(go())
    assert len(outcomes) == 12 and all(o.status is CertStatus.GOOD for o in outcomes)


def test_settings_with_a_client_are_refused(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    async def go() -> None:
        async with AsyncClient() as client:
            async for _ in acheck_many([], client=client, config=ClientConfig(timeout=3)):
                pass

    with pytest.raises(ValueError):
        asyncio.run(go())


def test_bad_arguments_fail_fast() -> None:
    with pytest.raises(ValueError):
        check_many([], concurrency=0)
    with pytest.raises(ValueError):
        check_many([], per_host=0)
    with pytest.raises(TypeError):
        check_many([], tiemout=3)  # type: ignore[call-arg]


def test_error_in_the_input_reaches_the_caller(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    ca, _, leaves = pki

    def broken() -> Iterator[x509.Certificate]:
        yield leaves[0]
        raise RuntimeError("input failed")

    with pytest.raises(RuntimeError, match="input failed"):
        list(check_many(broken(), issuer=ca.issuer))


def test_outcomes_before_an_input_error_are_delivered_first(
    pki: tuple[CA, Responder, list[x509.Certificate]],
) -> None:
    """What completed before the input failed reaches the caller, then the error."""
    ca, _, leaves = pki

    async def broken() -> AsyncIterator[x509.Certificate]:
        for leaf in leaves[:3]:
            yield leaf
        await asyncio.sleep(0.5)  # the three checks complete meanwhile
        raise RuntimeError("input failed")

    got = []
    with pytest.raises(RuntimeError, match="input failed"):
        for outcome in check_many(broken(), issuer=ca.issuer):
            got.append(outcome)
    assert sorted(o.index for o in got) == [0, 1, 2]
    assert all(o.status is CertStatus.GOOD for o in got)


def test_empty_input() -> None:
    assert list(check_many([])) == []


def test_outcome_is_frozen(pki: tuple[CA, Responder, list[x509.Certificate]]) -> None:
    ca, _, leaves = pki
    (outcome,) = list(check_many([(leaves[0], ca.issuer)]))
    with pytest.raises(AttributeError):
        outcome.result = None  # type: ignore[misc]
    assert isinstance(outcome.result, ocspkit.ValidationResult)
