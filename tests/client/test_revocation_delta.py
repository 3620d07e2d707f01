"""Delta CRLs in check_revocation, end to end on a real CRLServer: a complete CRL (or the
certificate) names its delta through freshestCRL, and the delta is fetched, checked against
the complete CRL and applied; when it cannot be, the complete CRL alone never says GOOD (a
revocation since the complete CRL would be missed), though it still says REVOKED for good."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

import ocspkit
from ocspkit import (
    CertStatus,
    DeltaCRLError,
    RevocationReason,
    RevocationSource,
    RevocationUnavailableError,
)
from ocspkit.certs import distribution_point_uris
from ocspkit.client import AsyncClient, ClientConfig
from ocspkit.crl import parse_crl
from ocspkit.revocation import delta_urls
from ocspkit.testing import CA, CRLServer
from ocspkit.testing.profiles import CRLEntrySpec

pytestmark = pytest.mark.timeout(60)

FAST = ClientConfig(deadline=5.0, timeout=2.0, retries=0)


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.DER)


def freshest(url: str) -> tuple[x509.ExtensionType, bool]:
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
    return x509.FreshestCRL([point]), False


class PKI:
    """A CA of its own (its CRL numbers and revocations are this test's), a CRL server, and
    the URLs of the complete CRL and of its delta on it."""

    def __init__(self, server: CRLServer, ca: CA) -> None:
        self.ca, self.server = ca, server
        self.base_url = server.url_for("/base.crl")
        self.delta_url = server.url_for("/delta.crl")

    def leaf(self, name: str, **kwargs: object) -> x509.Certificate:
        issued = self.ca.issue(name, ocsp_url="", crl_url=self.base_url, **kwargs)  # type: ignore[arg-type]
        return issued.cert

    def publish_base(self, *, names_delta: bool = True) -> int:
        """Publish the complete CRL of the table as it is now; its CRL number."""
        extensions = [freshest(self.delta_url)] if names_delta else []
        crl = self.ca.sign_crl(extensions=extensions)
        self.server.publish("/base.crl", der(crl))
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        return int(number)

    def publish_delta(self, base: int, entries: list[CRLEntrySpec] | None = None) -> None:
        self.server.publish("/delta.crl", der(self.ca.sign_crl(delta_base=base, entries=entries)))

    def paths(self) -> list[str]:
        return [r.path for r in self.server.requests]


@pytest.fixture
def pki() -> Iterator[PKI]:
    ca = CA("ecdsa")
    with CRLServer(ca) as server:
        yield PKI(server, ca)


def check(pki: PKI, cert: x509.Certificate, **kwargs: object) -> ocspkit.RevocationResult:
    return ocspkit.check_revocation(
        cert,
        pki.ca.issuer,
        sources=("crl",),
        config=FAST,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_revocation_only_the_delta_lists_is_found(pki: PKI) -> None:
    leaf = pki.leaf("delta-revoked.test")
    base = pki.publish_base()
    pki.ca.revoke(leaf, RevocationReason.KEY_COMPROMISE)  # after the complete CRL was signed
    pki.publish_delta(base)
    result = check(pki, leaf)
    assert result.status is CertStatus.REVOKED and result.source is RevocationSource.CRL
    assert result.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert result.url == pki.base_url and result.delta is not None and result.delta.is_delta
    assert result.delta.base_crl_number == base
    assert pki.paths() == ["/base.crl", "/delta.crl"]
    # the complete CRL alone says nothing of it: that GOOD is what the delta is there to fix
    alone = ocspkit.crl_status(leaf, pki.ca.issuer, pki.server.current("/base.crl"))
    assert alone.status is CertStatus.GOOD


def test_a_certificate_that_names_its_delta(pki: PKI) -> None:
    leaf = pki.leaf("names-delta.test", freshest_crl_url=pki.delta_url)
    base = pki.publish_base(names_delta=False)
    pki.ca.revoke(leaf, RevocationReason.SUPERSEDED)
    pki.publish_delta(base)
    result = check(pki, leaf)
    assert result.status is CertStatus.REVOKED and result.delta is not None
    assert result.revocation_reason is RevocationReason.SUPERSEDED


def test_good_on_the_complete_crl_and_its_delta(pki: PKI) -> None:
    leaf = pki.leaf("delta-good.test")
    other = pki.leaf("someone-else.test")
    base = pki.publish_base()
    pki.ca.revoke(other)
    pki.publish_delta(base)
    result = check(pki, leaf)
    assert result.status is CertStatus.GOOD and result.delta is not None
    assert result.attempts == ()


def test_a_delta_that_cannot_be_fetched_is_never_a_good(pki: PKI) -> None:
    leaf = pki.leaf("delta-missing.test")
    pki.publish_base()  # names /delta.crl, which is not published: 404
    result = check(pki, leaf)
    assert result.status is CertStatus.UNKNOWN and result.source is None
    assert [(a.url, type(a.error).__name__) for a in result.attempts] == [
        (pki.delta_url, "HTTPStatusError"),
        (pki.base_url, "DeltaCRLError"),
    ]
    with pytest.raises(RevocationUnavailableError) as raised:
        check(pki, leaf, require=True)
    assert isinstance(raised.value.attempts[-1].error, DeltaCRLError)


def test_a_delta_of_another_base_does_not_fit(pki: PKI) -> None:
    leaf = pki.leaf("delta-mismatch.test")
    base = pki.publish_base()
    pki.publish_delta(base + 5)  # built on a complete CRL newer than the one served
    result = check(pki, leaf)
    assert result.status is CertStatus.UNKNOWN
    errors = [type(a.error).__name__ for a in result.attempts]
    assert errors == ["DeltaCRLError", "DeltaCRLError"]  # the delta refused, then the CRL


def test_a_permanent_revocation_stands_without_its_delta(pki: PKI) -> None:
    leaf = pki.leaf("base-revoked.test")
    pki.ca.revoke(leaf, RevocationReason.KEY_COMPROMISE)
    pki.publish_base()  # lists it; the delta is missing
    result = check(pki, leaf)
    assert result.status is CertStatus.REVOKED and result.delta is None
    assert [a.url for a in result.attempts] == [pki.delta_url]  # what was tried is kept


def test_a_hold_stands_without_its_delta_and_the_delta_can_lift_it(pki: PKI) -> None:
    leaf = pki.leaf("held.test")
    pki.ca.revoke(leaf, RevocationReason.CERTIFICATE_HOLD)
    base = pki.publish_base()
    held = check(pki, leaf)  # the delta is missing: the strictest signed answer at hand
    assert held.status is CertStatus.REVOKED and held.delta is None
    assert held.revocation_reason is RevocationReason.CERTIFICATE_HOLD
    assert [a.url for a in held.attempts] == [pki.delta_url]
    now = datetime.now(timezone.utc) - timedelta(seconds=5)
    lift = CRLEntrySpec(leaf.serial_number, now, x509.ReasonFlags.remove_from_crl)
    pki.publish_delta(base, [lift])
    result = check(pki, leaf)
    assert result.status is CertStatus.GOOD and result.delta is not None


def test_the_delta_of_a_partition_is_scoped_by_its_complete_crl(pki: PKI) -> None:
    """A partition's delta carries the partition's issuingDistributionPoint (the complete
    CRL's URL, not the delta's own): it fits, and what it lists counts."""
    leaf = pki.leaf("partition.test")
    crl = pki.ca.sign_crl(idp_url=pki.base_url, extensions=[freshest(pki.delta_url)])
    pki.server.publish("/base.crl", der(crl))
    base = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    pki.ca.revoke(leaf, RevocationReason.KEY_COMPROMISE)
    delta = pki.ca.sign_crl(delta_base=base, idp_url=pki.base_url)
    pki.server.publish("/delta.crl", der(delta))
    result = check(pki, leaf)
    assert result.status is CertStatus.REVOKED and result.delta is not None
    assert result.attempts == ()


def test_a_cached_delta_older_than_a_new_complete_crl_is_asked_for_again(pki: PKI) -> None:
    """The complete CRL expired and was fetched again while the cached delta is still fresh
    but built on the old one: the delta is asked for again, not refused until it expires."""
    leaf = pki.leaf("stale-delta.test")
    extensions = [freshest(pki.delta_url)]
    first = pki.ca.sign_crl(validity=timedelta(hours=1), extensions=extensions)
    pki.server.publish("/base.crl", der(first))
    number = first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    pki.publish_delta(number)
    with ocspkit.Client(FAST) as client:
        assert client.check_revocation(leaf, pki.ca.issuer, sources=("crl",)).delta is not None
        newer = pki.ca.sign_crl(validity=timedelta(days=1), extensions=extensions)
        pki.server.publish("/base.crl", der(newer))
        pki.ca.revoke(leaf, RevocationReason.KEY_COMPROMISE)
        number = newer.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        pki.publish_delta(number)
        later = datetime.now(timezone.utc) + timedelta(hours=2)  # the first one has expired
        result = client.check_revocation(leaf, pki.ca.issuer, sources=("crl",), now=later)
    assert result.status is CertStatus.REVOKED and result.delta is not None
    assert result.delta.base_crl_number == number
    assert pki.paths() == ["/base.crl", "/delta.crl", "/base.crl", "/delta.crl"]


def test_what_the_complete_crl_cannot_answer_is_its_own_failure(pki: PKI) -> None:
    """A complete CRL that covers only some reasons fails for itself, once, and its delta
    is not fetched for nothing."""
    leaf = pki.leaf("some-reasons.test")
    reasons = frozenset({x509.ReasonFlags.key_compromise})
    crl = pki.ca.sign_crl(only_some_reasons=reasons, extensions=[freshest(pki.delta_url)])
    pki.server.publish("/base.crl", der(crl))
    result = check(pki, leaf)
    assert result.status is CertStatus.UNKNOWN
    assert [(a.url, type(a.error).__name__) for a in result.attempts] == [
        (pki.base_url, "CRLScopeError")
    ]
    assert pki.paths() == ["/base.crl"]


def test_async_and_bulk_fetch_the_complete_crl_and_its_delta_once(pki: PKI) -> None:
    leaves = [pki.leaf(f"bulk-delta{i}.test") for i in range(30)]
    base = pki.publish_base()
    pki.ca.revoke(leaves[3], RevocationReason.KEY_COMPROMISE)
    pki.publish_delta(base)

    async def one() -> ocspkit.RevocationResult:
        async with AsyncClient(FAST) as client:
            return await client.check_revocation(leaves[3], pki.ca.issuer, sources=("crl",))

    assert asyncio.run(one()).status is CertStatus.REVOKED
    before = len(pki.paths())
    outcomes = list(
        ocspkit.check_revocation_many(
            [(leaf, pki.ca.issuer) for leaf in leaves], sources=("crl",), config=FAST
        )
    )
    statuses = {o.index: o.status for o in outcomes}
    assert statuses[3] is CertStatus.REVOKED
    assert all(statuses[i] is CertStatus.GOOD for i in range(30) if i != 3)
    assert sorted(pki.paths()[before:]) == ["/base.crl", "/delta.crl"]


def test_delta_urls_certificate_first_then_the_crl_each_once(pki: PKI) -> None:
    other = "http://elsewhere.test/delta.crl"
    leaf = pki.leaf("both.test", freshest_crl_url=other)
    points = [
        x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
        for u in (pki.delta_url, other)
    ]
    crl = parse_crl(der(pki.ca.sign_crl(extensions=[(x509.FreshestCRL(points), False)])))
    assert delta_urls(leaf, crl) == (other, pki.delta_url)
    plain = parse_crl(der(pki.ca.sign_crl()))
    assert delta_urls(pki.leaf("none.test"), plain) == ()


VALUE = x509.FreshestCRL(
    [x509.DistributionPoint([x509.UniformResourceIdentifier("http://x.test/d")], None, None, None)]
).public_bytes()


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_distribution_point_uris_of_mutated_der_never_raise(data: st.DataObject) -> None:
    raw = bytearray(VALUE)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(raw)))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[where:]
        else:
            raw.insert(where, data.draw(st.integers(0, 255)))
    found = distribution_point_uris(bytes(raw))  # a tuple of str, whatever the bytes
    assert isinstance(found, tuple) and all(isinstance(u, str) for u in found)
