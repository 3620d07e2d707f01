"""check_revocation over CRLs partitioned by reason (RFC 5280 §6.3.3 (d)), on loopback: a
certificate whose two distribution points each cover some reasons, served by a real
CRLServer. Neither CRL can say GOOD alone; together they can, a listing on either is
REVOKED, and a gap in the reasons stays an error, never GOOD."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import CertStatus, CRLScopeError, RevocationReason, RevocationSource
from ocspkit.client import ClientConfig
from ocspkit.testing import CA, CRLServer
from ocspkit.testing.keys import generate_key
from ocspkit.testing.profiles import CRLEntrySpec, tls_leaf_certificate

pytestmark = pytest.mark.timeout(60)

FAST = ClientConfig(deadline=5.0, timeout=2.0, retries=0)
KC_CAC = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})
ALL = frozenset(x509.ReasonFlags) - {x509.ReasonFlags.unspecified, x509.ReasonFlags.remove_from_crl}
REST = ALL - KC_CAC


@pytest.fixture
def crls() -> Iterator[CRLServer]:
    with CRLServer(CA("ecdsa")) as server:
        yield server


def split_leaf(ca: CA, a: str, b: str, b_reasons: frozenset[x509.ReasonFlags]) -> x509.Certificate:
    """A CRL-only leaf: distribution point ``a`` covers key and CA compromise, ``b`` covers
    ``b_reasons``."""
    now = datetime.now(timezone.utc)
    second = x509.DistributionPoint([x509.UniformResourceIdentifier(b)], None, b_reasons, None)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "split.test")])
    return tls_leaf_certificate(
        generate_key("ecdsa"), name, ca.issuer, ca.issuer_key,
        now - timedelta(hours=1), now + timedelta(days=1),
        crl_urls=(a,), crl_reasons=KC_CAC, crl_points=(second,),
    )  # fmt: skip


def publish(
    crls: CRLServer,
    path: str,
    reasons: frozenset[x509.ReasonFlags],
    entries: list[CRLEntrySpec] | None = None,
) -> str:
    url = crls.url_for(path)
    crl = crls.ca.sign_crl(idp_url=url, only_some_reasons=reasons, entries=entries)
    crls.publish(path, crl.public_bytes(Encoding.DER))
    return url


def test_two_reason_partitions_together_say_good(crls: CRLServer) -> None:
    a = publish(crls, "/kc.crl", KC_CAC)
    b = publish(crls, "/rest.crl", REST)
    cert = split_leaf(crls.ca, a, b, REST)
    result = ocspkit.check_revocation(cert, crls.ca.issuer, config=FAST)
    assert result.status is CertStatus.GOOD and result.source is RevocationSource.CRL
    assert result.url == a and result.crl is not None
    # the partitions' own "only some reasons" failures were used, not left as failures
    assert [(t.source, t.url) for t in result.attempts] == [(RevocationSource.OCSP, None)]
    assert sorted(r.path for r in crls.requests) == ["/kc.crl", "/rest.crl"]
    # each partition alone still cannot say GOOD
    with pytest.raises(CRLScopeError, match="only some reasons"):
        ocspkit.crl_status(cert, crls.ca.issuer, crls.current("/kc.crl"), url=a)


def test_a_listing_on_either_partition_is_revoked(crls: CRLServer) -> None:
    a_url, b_url = crls.url_for("/kc.crl"), crls.url_for("/rest.crl")
    cert = split_leaf(crls.ca, a_url, b_url, REST)
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    listed = [CRLEntrySpec(cert.serial_number, at, x509.ReasonFlags.superseded)]
    publish(crls, "/kc.crl", KC_CAC, entries=[])
    publish(crls, "/rest.crl", REST, entries=listed)
    result = ocspkit.check_revocation(cert, crls.ca.issuer, config=FAST)
    assert result.status is CertStatus.REVOKED and result.url == b_url
    assert result.revocation_reason is RevocationReason.SUPERSEDED


def test_a_gap_in_the_reasons_is_never_good(crls: CRLServer) -> None:
    missing = x509.ReasonFlags.privilege_withdrawn
    a = publish(crls, "/kc.crl", KC_CAC)
    b = publish(crls, "/rest.crl", REST - {missing})
    cert = split_leaf(crls.ca, a, b, REST - {missing})
    result = ocspkit.check_revocation(cert, crls.ca.issuer, config=FAST)
    assert result.status is CertStatus.UNKNOWN and result.source is None
    # both partitions failed alone, then together, naming the reason no CRL covers
    joined = result.attempts[-1]
    assert joined.source is RevocationSource.CRL and joined.url is None
    assert isinstance(joined.error, CRLScopeError)
    assert "privilege_withdrawn" in str(joined.error)
    assert [t.url for t in result.attempts[1:-1]] == [a, b]
    with pytest.raises(ocspkit.RevocationUnavailableError):
        ocspkit.check_revocation(cert, crls.ca.issuer, config=FAST, require=True)


def test_the_async_client_joins_the_partitions_too(crls: CRLServer) -> None:
    import asyncio

    a = publish(crls, "/kc.crl", KC_CAC)
    b = publish(crls, "/rest.crl", REST)
    cert = split_leaf(crls.ca, a, b, REST)
    result = asyncio.run(ocspkit.acheck_revocation(cert, crls.ca.issuer, config=FAST))
    assert result.good and result.url == a
