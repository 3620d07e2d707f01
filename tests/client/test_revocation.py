"""check_revocation end to end on loopback, against real servers only: ocspkit.testing's
Responder (OCSP, with its faults) and CRLServer (CRLs), and closed ports for responders that
are down. Each case asserts the answer, its source, the attempts and what each server saw."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import (
    CertStatus,
    ConnectError,
    FetchError,
    FetchTimeoutError,
    NoOCSPURLError,
    RevocationReason,
    RevocationSource,
    RevocationUnavailableError,
)
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.testing import CA, CRLFault, CRLServer, Fault, Responder
from tests._lab import free_ports

pytestmark = pytest.mark.timeout(60)

FAST = ClientConfig(deadline=5.0, timeout=2.0, retries=0)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def crls(ca: CA) -> Iterator[CRLServer]:
    with CRLServer(ca) as server:
        yield server


@pytest.fixture
def responder(ca: CA) -> Iterator[Responder]:
    with Responder(ca) as server:
        yield server


def closed_url(path: str = "/ocsp") -> str:
    return f"http://127.0.0.1:{free_ports(1)[0]}{path}"


def test_crl_only_certificate_good_then_revoked(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("crl-only.test", ocsp_url="", crl_url=url)  # the Let's Encrypt shape
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert result.status is CertStatus.GOOD and result.source is RevocationSource.CRL
    assert result.url == url and result.crl is not None
    assert [(a.source, a.url) for a in result.attempts] == [(RevocationSource.OCSP, None)]
    assert isinstance(result.attempts[0].error, NoOCSPURLError)
    ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
    revoked = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert revoked.status is CertStatus.REVOKED and revoked.source is RevocationSource.CRL
    assert revoked.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert revoked.to_dict()["source"] == "crl" and revoked.to_dict()["reason"] == (
        "key_compromise"
    )
    assert [r.status for r in crls.requests] == [200, 200]


def test_ocsp_down_and_the_crl_answers(ca: CA, crls: CRLServer) -> None:
    down = closed_url()
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("ocsp-down.test", ocsp_url=down, crl_url=url)
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert result.good and result.source is RevocationSource.CRL and result.url == url
    assert [(a.source, a.url) for a in result.attempts] == [(RevocationSource.OCSP, down)]
    assert isinstance(result.attempts[0].error, ConnectError)


@pytest.mark.parametrize("fault", [Fault.WRONG_NONCE, Fault.WRONG_SIGNER, Fault.HTTP_500])
def test_a_failing_responder_falls_through_to_the_crl(
    ca: CA, crls: CRLServer, responder: Responder, fault: Fault
) -> None:
    responder.fault = fault
    leaf = ca.issue("faulty.test", ocsp_url=responder.url, crl_url=crls.url_for("/ca.crl"))
    policy = ocspkit.ValidationPolicy(nonce=ocspkit.NonceRule.REQUIRED)
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST, policy=policy)
    assert result.source is RevocationSource.CRL and result.good
    assert result.attempts[0].source is RevocationSource.OCSP
    assert result.attempts[0].url == responder.url
    assert responder.requests >= 1


def test_ocsp_answers_first_and_no_crl_is_fetched(
    ca: CA, crls: CRLServer, responder: Responder
) -> None:
    leaf = ca.issue("both.test", ocsp_url=responder.url, crl_url=crls.url_for("/ca.crl"))
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert result.source is RevocationSource.OCSP and result.good and result.ocsp is not None
    assert result.url == responder.url and result.attempts == ()
    assert crls.requests == ()


def test_url_replaces_the_certificates_responders(ca: CA, responder: Responder) -> None:
    down = closed_url()
    leaf = ca.issue("no-aia.test", ocsp_url="")
    result = ocspkit.check_revocation(
        leaf.cert, ca.issuer, url=responder.url, sources=("ocsp",), config=FAST
    )
    assert result.source is RevocationSource.OCSP and result.good
    none = ocspkit.check_revocation(leaf.cert, ca.issuer, url=down, sources=("ocsp",), config=FAST)
    assert none.status is CertStatus.UNKNOWN and none.source is None
    assert [a.url for a in none.attempts] == [down]


def test_require_with_everything_down(ca: CA) -> None:
    ocsp, crl = closed_url(), closed_url("/ca.crl")
    leaf = ca.issue("all-down.test", ocsp_url=ocsp, crl_url=crl)
    with pytest.raises(RevocationUnavailableError) as caught:
        ocspkit.check_revocation(leaf.cert, ca.issuer, require=True, config=FAST)
    attempts = caught.value.attempts
    assert [(a.source, a.url) for a in attempts] == [
        (RevocationSource.OCSP, ocsp),
        (RevocationSource.CRL, crl),
    ]
    assert all(isinstance(a.error, FetchError) for a in attempts)
    assert ocsp in str(caught.value) and crl in str(caught.value)
    soft = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert soft.status is CertStatus.UNKNOWN and soft.source is None
    assert soft.to_dict()["error"] is not None


def test_a_bad_crl_is_an_attempt_never_an_answer(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("bad-crl.test", ocsp_url="", crl_url=url)
    for fault in (CRLFault.BAD_SIGNATURE, CRLFault.EXPIRED, CRLFault.WRONG_PARTITION):
        crls.fault = fault
        with Client(FAST) as client:
            result = client.check_revocation(leaf.cert, ca.issuer)
        assert result.status is CertStatus.UNKNOWN and result.source is None, fault
        assert isinstance(result.attempts[-1].error, ocspkit.ValidationError), fault


def test_staple_first_and_nothing_fetched(ca: CA, crls: CRLServer, responder: Responder) -> None:
    leaf = ca.issue("stapled.test", ocsp_url=responder.url, crl_url=crls.url_for("/ca.crl"))
    staple = ca.sign_response(leaf.cert).der
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, staple=staple, config=FAST)
    assert result.source is RevocationSource.STAPLE and result.good
    assert responder.requests == 0 and crls.requests == ()
    other = ca.issue("other.test")
    wrong = ca.sign_response(other.cert).der  # valid, but for another certificate
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, staple=wrong, config=FAST)
    assert result.source is RevocationSource.OCSP
    assert result.attempts[0].source is RevocationSource.STAPLE


def test_no_rev_avail_and_short_lived_fetch_nothing(ca: CA) -> None:
    marked = ca.issue("norev.test", ocsp_url="", no_rev_avail=True)
    result = ocspkit.check_revocation(marked.cert, config=FAST)
    assert result.good and result.source is RevocationSource.NO_REVOCATION_INFO
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    brief = ca.issue("brief.test", ocsp_url="", not_after=soon)
    result = ocspkit.check_revocation(brief.cert, require=True, config=FAST)
    assert result.good and result.source is RevocationSource.SHORT_LIVED


def test_sources_crl_never_contacts_ocsp(ca: CA, crls: CRLServer, responder: Responder) -> None:
    leaf = ca.issue("crl-forced.test", ocsp_url=responder.url, crl_url=crls.url_for("/ca.crl"))
    result = ocspkit.check_revocation(leaf.cert, ca.issuer, sources=("crl",), config=FAST)
    assert result.source is RevocationSource.CRL and result.good
    assert responder.records == () and len(crls.requests) == 1


def test_the_issuer_is_fetched_by_aia_when_not_given(ca: CA, crls: CRLServer) -> None:
    der = ca.issuer.public_bytes(Encoding.DER)
    crls.publish("/issuer.der", der, content_type="application/pkix-cert")
    leaf = ca.issue(
        "aia.test",
        ocsp_url="",
        crl_url=crls.url_for("/ca.crl"),
        ca_issuers_url=crls.url_for("/issuer.der"),
    )
    result = ocspkit.check_revocation(leaf.cert, config=FAST)
    assert result.source is RevocationSource.CRL and result.good
    assert [r.path for r in crls.requests] == ["/issuer.der", "/ca.crl"]


def test_the_client_cache_serves_the_second_check(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaves = [ca.issue(f"cached{i}.test", ocsp_url="", crl_url=url) for i in range(3)]
    with Client(FAST) as client:
        results = [client.check_revocation(leaf.cert, ca.issuer) for leaf in leaves]
    assert all(r.good and r.source is RevocationSource.CRL for r in results)
    assert len(crls.requests) == 1


def test_async_parity(ca: CA, crls: CRLServer, responder: Responder) -> None:
    url = crls.url_for("/ca.crl")
    down = closed_url()
    leaf = ca.issue("async.test", ocsp_url=down, crl_url=url)
    ca.revoke(leaf.cert, RevocationReason.SUPERSEDED)
    forced = ca.issue("async-forced.test", ocsp_url=responder.url, crl_url=url)

    async def main() -> tuple[object, ...]:
        one = await ocspkit.acheck_revocation(leaf.cert, ca.issuer, config=FAST)
        async with AsyncClient(FAST) as client:
            two = await client.check_revocation(forced.cert, ca.issuer, sources=("crl",))
        with pytest.raises(RevocationUnavailableError):
            await ocspkit.acheck_revocation(
                leaf.cert, ca.issuer, sources=("ocsp",), require=True, config=FAST
            )
        return one, two

    one, two = asyncio.run(main())
    sync = ocspkit.check_revocation(leaf.cert, ca.issuer, config=FAST)
    assert isinstance(one, ocspkit.RevocationResult) and isinstance(two, ocspkit.RevocationResult)
    assert one.to_dict() == sync.to_dict()
    assert one.revoked and one.source is RevocationSource.CRL
    assert [(a.source, a.url) for a in one.attempts] == [(RevocationSource.OCSP, down)]
    assert two.source is RevocationSource.CRL and responder.records == ()


def test_unknown_sources_are_refused(ca: CA) -> None:
    leaf = ca.issue("bad-sources.test")
    with pytest.raises(ValueError):
        ocspkit.check_revocation(leaf.cert, ca.issuer, sources=("crl", "carrier pigeon"))


def test_bulk_fetches_one_crl_for_every_certificate_under_it(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaves = [ca.issue(f"bulk{i}.test", ocsp_url="", crl_url=url) for i in range(60)]
    ca.revoke(leaves[7].cert)
    items = [(leaf.cert, ca.issuer) for leaf in leaves] + ["not a certificate"]
    seen: list[int] = []
    outcomes = list(
        ocspkit.check_revocation_many(
            items,  # type: ignore[arg-type]
            config=FAST,
            concurrency=20,
            progress=lambda done, outcome: seen.append(done),
        )
    )
    assert len(crls.requests) == 1  # 20 concurrent misses shared one GET; the rest hit the cache
    assert seen == list(range(1, 62))
    by_index = {o.index: o for o in outcomes}
    assert by_index[7].status is CertStatus.REVOKED
    assert all(by_index[i].status is CertStatus.GOOD for i in range(60) if i != 7)
    assert by_index[60].error is not None and by_index[60].cert is None
    rows = [o.to_dict() for o in outcomes]
    assert len({tuple(r) for r in rows}) == 1  # the same keys on every row, error or not
    good = by_index[0].to_dict()
    assert good["source"] == "crl" and good["url"] == url and good["attempts"] == 1
    assert set(by_index[0].result.to_dict()) <= set(good)  # type: ignore[union-attr]
    assert by_index[60].to_dict()["error_type"] == "CertificateError"


def test_async_bulk_keeps_the_per_host_limit_and_one_crl_get(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaves = [ca.issue(f"abulk{i}.test", ocsp_url="", crl_url=url) for i in range(30)]

    async def main() -> list[ocspkit.RevocationOutcome]:
        out = []
        batch = ocspkit.acheck_revocation_many(
            (leaf.cert for leaf in leaves),
            issuer=ca.issuer,
            config=FAST,
            concurrency=30,
            per_host=2,
        )
        async for outcome in batch:
            out.append(outcome)
        return out

    outcomes = asyncio.run(main())
    assert len(outcomes) == 30 and all(o.status is CertStatus.GOOD for o in outcomes)
    assert len(crls.requests) == 1


def test_client_argument_and_hard_failure_rows_in_bulk(ca: CA, crls: CRLServer) -> None:
    url = crls.url_for("/ca.crl")
    leaf = ca.issue("client-arg.test", ocsp_url="", crl_url=url)
    with Client(FAST) as client:
        first = ocspkit.check_revocation(leaf.cert, ca.issuer, client=client)
        second = ocspkit.check_revocation(leaf.cert, ca.issuer, client=client)
        with pytest.raises(ValueError):
            ocspkit.check_revocation(leaf.cert, ca.issuer, client=client, config=FAST)
    assert first.good and second.good and len(crls.requests) == 1  # the client's CRL cache
    lost = ca.issue("lost.test", ocsp_url=closed_url(), crl_url=closed_url("/x.crl"))
    outcomes = list(
        ocspkit.check_revocation_many([(lost.cert, ca.issuer)], require=True, config=FAST)
    )
    row = outcomes[0].to_dict()
    assert outcomes[0].result is None
    assert isinstance(outcomes[0].error, RevocationUnavailableError)
    assert row["error_type"] == "RevocationUnavailableError" and row["attempts"] == 2
    soft = next(iter(ocspkit.check_revocation_many([(lost.cert, ca.issuer)], config=FAST)))
    assert soft.ok and soft.status is CertStatus.UNKNOWN
    assert soft.to_dict()["error_type"] == "ConnectError" and soft.to_dict()["source"] is None


def test_a_cancelled_first_waiter_does_not_break_the_shared_fetch(ca: CA) -> None:
    from ocspkit.client.revocation_flow import SingleFlight

    with CRLServer(ca, fault=CRLFault.SLOW, drip_interval=0.003) as slow:
        url = slow.url_for("/ca.crl")
        first, second = (ca.issue(f"sf{i}.test", ocsp_url="", crl_url=url) for i in range(2))

        async def main() -> ocspkit.RevocationResult:
            flights: SingleFlight[object] = SingleFlight()
            async with AsyncClient(FAST) as client:
                a = asyncio.ensure_future(
                    client.check_revocation(first.cert, ca.issuer, flights=flights)
                )
                await asyncio.sleep(0.05)  # a's fetch is under way
                b = asyncio.ensure_future(
                    client.check_revocation(second.cert, ca.issuer, flights=flights)
                )
                await asyncio.sleep(0.05)
                a.cancel()
                return await b

        result = asyncio.run(main())
        assert result.good and result.source is RevocationSource.CRL
        assert len(slow.requests) == 1


def test_a_hanging_responder_leaves_the_crls_time(ca: CA, crls: CRLServer) -> None:
    # the OCSP attempts get half of the call's time when CRLs can answer after them
    url = crls.url_for("/ca.crl")
    with Responder(ca, fault=Fault.HANG) as hanging:
        leaf = ca.issue("hanging.test", ocsp_url=hanging.url, crl_url=url)
        config = ClientConfig(deadline=3.0, timeout=3.0, retries=0)
        result = ocspkit.check_revocation(leaf.cert, ca.issuer, config=config)
    assert result.good and result.source is RevocationSource.CRL and result.url == url
    assert [(a.source, type(a.error)) for a in result.attempts] == [
        (RevocationSource.OCSP, FetchTimeoutError)
    ]
