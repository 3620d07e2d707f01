"""ocspkit.probe against in-process servers: a pyOpenSSL stapling server and misbehaving TCP
servers, all on loopback. The real Apache / nginx / HAProxy runs are in test_probe_servers.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ocspkit
from ocspkit import CertStatus, ResponseStatus
from ocspkit.probing import (
    NotTLSError,
    ProbeConnectionError,
    ProbeError,
    ProbeOutcome,
    ProbeRefusedError,
    ProbeReport,
    ProbeTarget,
    ProbeTimeoutError,
    TLSHandshakeError,
    aprobe,
    hostname_matches,
    probe,
    probe_many,
)
from ocspkit.testing import CA, Leaf
from tests._lab import (
    free_ports,
    ipv6_loopback,
    pyopenssl_staple_server,
    reply_server,
    silent_server,
)

pytestmark = pytest.mark.timeout(60)

OCSP_URL = "http://127.0.0.1:9/ocsp"  # never contacted: the probe only reads the staple


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA(key_type="ecdsa", ocsp_url=OCSP_URL)


@pytest.fixture(scope="module")
def leaf(ca: CA) -> Leaf:
    return ca.issue("localhost")


@pytest.fixture(scope="module")
def good_staple(ca: CA, leaf: Leaf) -> bytes:
    return ca.sign_response(leaf.cert, signer="delegated", validity=timedelta(hours=4)).der


def _serve(leaf: Leaf, staple: bytes | None, **kw: object) -> Iterator[int]:
    with pyopenssl_staple_server(leaf.chain, leaf.key, staple, **kw) as server:  # type: ignore[arg-type]
        yield server.port


@pytest.fixture(scope="module")
def good_port(leaf: Leaf, good_staple: bytes) -> Iterator[int]:
    yield from _serve(leaf, good_staple)


@pytest.fixture(scope="module")
def bare_port(leaf: Leaf) -> Iterator[int]:
    yield from _serve(leaf, None)


def _probe(port: int, ca: CA, **kw: object) -> ProbeReport:
    kw.setdefault("servername", "localhost")
    kw.setdefault("trust_roots", [ca.root])
    return probe("127.0.0.1", port, timeout=5, **kw)  # type: ignore[arg-type]


# -- what a stapling server sends -------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")])
def test_good_staple(
    ca: CA, leaf: Leaf, good_staple: bytes, good_port: int, version: str, name: str
) -> None:
    report = _probe(good_port, ca, tls_version=version)
    assert report.tls_version == name
    assert report.cipher
    assert report.address == "127.0.0.1"
    assert report.servername == "localhost"
    assert report.chain == (leaf.cert, ca.issuer)
    assert report.ocsp_urls == ((OCSP_URL,), ())
    assert report.stapled and report.staple_der == good_staple
    assert report.staple is not None and report.staple.der == good_staple
    assert report.staple_status is CertStatus.GOOD
    assert report.staple_result is not None and report.staple_result.delegated
    assert report.staple_error is None
    assert report.issuer == ca.issuer
    assert not report.must_staple and not report.must_staple_violation
    assert report.chain_valid and report.chain_error is None
    assert report.ok


def test_negotiates_highest_version_by_default(ca: CA, good_port: int) -> None:
    assert _probe(good_port, ca).tls_version == "TLSv1.3"


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_no_staple(ca: CA, bare_port: int, version: str) -> None:
    report = _probe(bare_port, ca, tls_version=version)
    assert not report.stapled
    assert report.staple is None and report.staple_der is None
    assert report.staple_status is None and report.staple_error is None
    assert report.chain_valid
    assert report.ok  # no staple is fine for a leaf that does not require one


# An OCSPResponse whose outer layer is valid (successful, id-pkix-ocsp-basic) but whose
# BasicOCSPResponse is garbage. OpenSSL parses only the outer layer when a server sets a staple
# (it silently drops anything less), so this is the garbage that actually reaches clients.
GARBAGE_STAPLE = bytes.fromhex("301b0a0100a016301406092b0601050507300101") + b"\x04\x07garbage"


def test_garbage_staple(ca: CA, leaf: Leaf) -> None:
    for port in _serve(leaf, GARBAGE_STAPLE):
        report = _probe(port, ca)
        assert report.stapled and report.staple_der == GARBAGE_STAPLE
        assert report.staple is None
        assert isinstance(report.staple_error, ocspkit.DecodeError)
        assert report.staple_status is None
        assert not report.ok


def test_revoked_staple(ca: CA) -> None:
    leaf = ca.issue("localhost")
    ca.revoke(leaf.cert)
    staple = ca.sign_response(leaf.cert, signer="delegated").der
    for port in _serve(leaf, staple):
        report = _probe(port, ca, tls_version="1.3")
        assert report.staple_status is CertStatus.REVOKED
        assert report.staple_result is not None
        assert report.staple_result.revocation_reason is ocspkit.RevocationReason.KEY_COMPROMISE
        assert report.staple_error is None
        assert not report.ok


def test_expired_staple_is_reported_stale(ca: CA, leaf: Leaf) -> None:
    past = datetime.now(timezone.utc) - timedelta(hours=3)
    staple = ca.sign_response(leaf.cert, now=past, validity=timedelta(hours=1)).der
    for port in _serve(leaf, staple):
        report = _probe(port, ca)
        assert report.stapled and report.staple is not None
        assert isinstance(report.staple_error, ocspkit.ExpiredResponseError)
        assert report.staple_status is None
        assert not report.ok


def test_staple_checked_at_given_time(ca: CA, good_port: int) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=5)
    report = _probe(good_port, ca, now=later)
    assert report.checked_at == later
    assert isinstance(report.staple_error, ocspkit.ExpiredResponseError)


def test_staple_from_a_foreign_responder(ca: CA, leaf: Leaf) -> None:
    other = CA(key_type="ecdsa")
    # a response about our leaf, signed by another CA's delegated responder
    forged = ocspkit.build_response(
        ca.single_responses(
            [leaf.cert],
            this_update=datetime.now(timezone.utc).replace(microsecond=0),
            next_update=None,
        ),
        responder_cert=other.delegated.cert,
        responder_key=other.delegated.key,
        produced_at=datetime.now(timezone.utc).replace(microsecond=0),
        certificates=[other.delegated.cert],
    )
    for port in _serve(leaf, forged.der):
        report = _probe(port, ca)
        assert isinstance(report.staple_error, ocspkit.ValidationError)
        assert report.staple_status is None
        assert not report.ok


def test_try_later_staple(ca: CA, leaf: Leaf) -> None:
    # Apache's SSLStaplingFakeTryLater staples exactly this when its responder is down
    staple = ocspkit.build_error_response(ResponseStatus.TRY_LATER).der
    for port in _serve(leaf, staple):
        report = _probe(port, ca)
        assert report.staple is not None and report.staple.status is ResponseStatus.TRY_LATER
        assert isinstance(report.staple_error, ocspkit.ResponderError)
        assert report.staple_error.status is ResponseStatus.TRY_LATER


def test_must_staple_without_staple(ca: CA) -> None:
    leaf = ca.issue("localhost", must_staple=True)
    for port in _serve(leaf, None):
        report = _probe(port, ca, tls_version="1.2")
        assert report.must_staple
        assert not report.stapled
        assert report.must_staple_violation
        assert report.chain_valid and not report.ok


def test_must_staple_with_invalid_staple_is_a_violation(ca: CA) -> None:
    leaf = ca.issue("localhost", must_staple=True)
    past = datetime.now(timezone.utc) - timedelta(hours=3)
    staple = ca.sign_response(leaf.cert, now=past, validity=timedelta(hours=1)).der
    for port in _serve(leaf, staple):
        report = _probe(port, ca)
        assert report.stapled and report.must_staple_violation
        assert isinstance(report.staple_error, ocspkit.ExpiredResponseError)


def test_must_staple_with_good_staple(ca: CA) -> None:
    leaf = ca.issue("localhost", must_staple=True)
    staple = ca.sign_response(leaf.cert).der  # signed by the issuer itself
    for port in _serve(leaf, staple):
        report = _probe(port, ca, tls_version="1.3")
        assert report.must_staple and not report.must_staple_violation
        assert report.staple_status is CertStatus.GOOD
        assert report.staple_result is not None and not report.staple_result.delegated
        assert report.ok


# -- the chain --------------------------------------------------------------------------------


def test_untrusted_chain_with_default_roots(good_port: int) -> None:
    report = probe("127.0.0.1", good_port, servername="localhost", timeout=5)  # the default store
    assert not report.chain_valid
    assert report.chain_error
    # the staple is still checked against the served issuer
    assert report.staple_status is CertStatus.GOOD
    assert not report.ok


def test_trust_roots_as_pem_bundle(ca: CA, good_port: int) -> None:
    assert _probe(good_port, ca, trust_roots=ca.root_pem).chain_valid


def test_hostname_mismatch(ca: CA, good_port: int) -> None:
    report = _probe(good_port, ca, servername="www.example.org")
    assert report.servername == "www.example.org"
    assert not report.chain_valid
    assert report.chain_error is not None and "www.example.org" in report.chain_error
    assert report.staple_status is CertStatus.GOOD


def test_ip_address_without_sni(ca: CA, good_port: int) -> None:
    report = probe("127.0.0.1", good_port, trust_roots=[ca.root], timeout=5)
    assert report.servername is None  # no SNI for an IP address
    assert report.chain_valid  # the leaf names 127.0.0.1 in its subjectAltName


def test_expired_leaf(ca: CA) -> None:
    now = datetime.now(timezone.utc)
    leaf = ca.issue(
        "localhost", not_before=now - timedelta(days=10), not_after=now - timedelta(days=1)
    )
    for port in _serve(leaf, None):
        report = _probe(port, ca)
        assert not report.chain_valid and report.chain_error


def test_intermediate_not_served(ca: CA) -> None:
    leaf = ca.issue("localhost")
    staple = ca.sign_response(leaf.cert).der
    with pyopenssl_staple_server([leaf.cert], leaf.key, staple) as server:
        report = _probe(server.port, ca)
        assert report.chain == (leaf.cert,)
        assert not report.chain_valid  # nothing is fetched: the path cannot be built
        assert report.issuer is None
        assert isinstance(report.staple_error, ocspkit.IssuerNotFoundError)
        # with the intermediate among the trust roots, the issuer is found there
        report = _probe(server.port, ca, trust_roots=[ca.root, ca.issuer])
        assert report.issuer == ca.issuer
        assert report.staple_status is CertStatus.GOOD and report.chain_valid


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6(ca: CA, leaf: Leaf, good_staple: bytes) -> None:
    with pyopenssl_staple_server(leaf.chain, leaf.key, good_staple, host="::1") as server:
        for host in ("::1", "[::1]"):
            report = probe(host, server.port, trust_roots=[ca.root], timeout=5)
            assert report.address == "::1" and report.host == "::1"
            assert report.staple_status is CertStatus.GOOD
            assert report.chain_valid  # SAN has ::1


# -- errors: nothing to report on ------------------------------------------------------------


def test_refused() -> None:
    (port,) = free_ports(1)
    with pytest.raises(ProbeRefusedError) as info:
        probe("127.0.0.1", port, timeout=5)
    assert isinstance(info.value, ocspkit.ProbeConnectionError)
    assert isinstance(info.value, ocspkit.FetchError) and isinstance(info.value, ProbeError)
    assert info.value.port == port and str(port) in str(info.value)


def test_silent_server_times_out() -> None:
    with silent_server() as server, pytest.raises(ProbeTimeoutError) as info:
        probe("127.0.0.1", server.port, timeout=0.5)
    assert isinstance(info.value, ocspkit.FetchError)
    assert "handshake" in str(info.value)


def test_plain_http_port() -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with reply_server(reply) as server, pytest.raises(NotTLSError) as info:
        probe("127.0.0.1", server.port, timeout=5)
    assert isinstance(info.value, TLSHandshakeError)
    assert info.value.preview.startswith(b"HTTP/1.1 400")


def test_server_closes_during_handshake() -> None:
    with reply_server(b"") as server, pytest.raises(TLSHandshakeError) as info:
        probe("127.0.0.1", server.port, timeout=5)
    assert not isinstance(info.value, NotTLSError)
    assert "closed" in str(info.value)


def test_no_common_protocol_version(ca: CA, leaf: Leaf) -> None:
    with pyopenssl_staple_server(leaf.chain, leaf.key, None, tls_versions=("1.2", "1.2")) as s:
        with pytest.raises(TLSHandshakeError) as info:
            probe("127.0.0.1", s.port, tls_version="1.3", timeout=5)
        assert "version" in str(info.value)
        assert probe("127.0.0.1", s.port, timeout=5).tls_version == "TLSv1.2"


def test_unknown_host() -> None:
    with pytest.raises(ProbeConnectionError):
        probe("no-such-host.invalid", 443, timeout=5)


def test_invalid_host_name() -> None:
    with pytest.raises(ProbeConnectionError, match="invalid host name"):
        probe("bad..host", 443, timeout=5)
    with pytest.raises(ValueError, match="servername"):
        probe("127.0.0.1", 443, servername="bad..host", timeout=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reply=st.one_of(
        st.binary(min_size=1, max_size=300),
        # TLS-looking records (handshake / alert, any version byte, any length) with junk
        st.tuples(
            st.sampled_from([b"\x16\x03\x03", b"\x15\x03\x01", b"\x16\x03\x00"]),
            st.binary(min_size=0, max_size=300),
        ).map(b"".join),
    )
)
def test_any_reply_gives_a_typed_error(reply: bytes) -> None:
    with reply_server(reply) as server, pytest.raises(ProbeError):
        probe("127.0.0.1", server.port, timeout=2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tls_version": "1.1"},
        {"timeout": 0},
        {"now": datetime(2030, 1, 1)},  # naive
        {"port": 0},
        {"host": ""},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"host": "127.0.0.1", "port": 443, **kwargs}
    with pytest.raises(ValueError):
        probe(**args)  # type: ignore[arg-type]


# -- async, bulk, report values ---------------------------------------------------------------


def test_aprobe_agrees_with_probe(ca: CA, good_port: int, bare_port: int) -> None:
    async def both() -> list[ProbeReport]:
        return list(
            await asyncio.gather(
                *(
                    aprobe(
                        "127.0.0.1",
                        p,
                        servername="localhost",
                        trust_roots=[ca.root],
                        tls_version=v,
                        timeout=5,
                    )
                    for p in (good_port, bare_port)
                    for v in ("1.2", "1.3")
                )
            )
        )

    reports = asyncio.run(both())
    sync = [_probe(p, ca, tls_version=v) for p in (good_port, bare_port) for v in ("1.2", "1.3")]
    for a, s in zip(reports, sync, strict=True):
        assert (a.tls_version, a.stapled, a.staple_status, a.chain_valid, a.chain) == (
            s.tls_version,
            s.stapled,
            s.staple_status,
            s.chain_valid,
            s.chain,
        )
        assert a.staple_der == s.staple_der


def test_aprobe_errors() -> None:
    (port,) = free_ports(1)
    with pytest.raises(ProbeRefusedError):
        asyncio.run(aprobe("127.0.0.1", port, timeout=5))
    with silent_server() as server, pytest.raises(ProbeTimeoutError):
        asyncio.run(aprobe("127.0.0.1", server.port, timeout=0.5))
    with reply_server(b"SSH-2.0-OpenSSH_9.2\r\n") as server, pytest.raises(NotTLSError):
        asyncio.run(aprobe("127.0.0.1", server.port, timeout=5))


def test_sync_probe_inside_running_loop(ca: CA, good_port: int) -> None:
    async def main() -> ProbeReport:
        return _probe(good_port, ca)  # e.g. a Jupyter cell: a loop is already running

    assert asyncio.run(main()).staple_status is CertStatus.GOOD


def test_probe_many(ca: CA, good_port: int, bare_port: int) -> None:
    (refused,) = free_ports(1)
    targets: list[str | tuple[str, int] | tuple[str, int, str] | ProbeTarget] = [
        f"127.0.0.1:{good_port}",
        ("127.0.0.1", bare_port),
        ProbeTarget("127.0.0.1", refused),
        ("127.0.0.1", good_port, "localhost"),
    ]
    outcomes = list(
        probe_many(targets, concurrency=2, trust_roots=[ca.root], timeout=5, tls_version="1.3")
    )
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3]
    by_index = {o.index: o for o in outcomes}
    assert all(isinstance(o, ProbeOutcome) for o in outcomes)
    first = by_index[0].report
    assert first is not None and first.staple_status is CertStatus.GOOD
    assert first.servername is None and first.chain_valid  # IP: no SNI, SAN has 127.0.0.1
    second = by_index[1].report
    assert second is not None and not second.stapled and by_index[1].ok
    assert by_index[2].report is None and isinstance(by_index[2].error, ProbeRefusedError)
    assert not by_index[2].ok
    assert by_index[3].target.servername == "localhost" and by_index[3].ok


def test_probe_many_is_lazy_and_bounded(ca: CA, good_port: int) -> None:
    consumed = 0

    def targets() -> Iterator[str]:
        nonlocal consumed
        for _ in range(50):
            consumed += 1
            yield f"127.0.0.1:{good_port}"

    it = probe_many(targets(), concurrency=2, trust_roots=[ca.root], timeout=5)
    first = next(it)
    assert first.ok
    assert consumed <= 5  # at most 2 * concurrency pending, plus the one being submitted
    it.close()


def test_probe_many_rejects_bad_concurrency() -> None:
    with pytest.raises(ValueError):
        list(probe_many(["127.0.0.1:1"], concurrency=0))


def test_report_is_frozen(ca: CA, good_port: int) -> None:
    report = _probe(good_port, ca)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.stapled = False  # type: ignore[misc]


def test_repr_html(ca: CA, good_port: int) -> None:
    html = _probe(good_port, ca)._repr_html_()
    assert "TLSv1.3" in html and "GOOD" in html and OCSP_URL in html


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("example.com", ProbeTarget("example.com", 443)),
        ("example.com:8443", ProbeTarget("example.com", 8443)),
        ("https://example.com:444/path", ProbeTarget("example.com", 444)),
        ("[::1]:8443", ProbeTarget("::1", 8443)),
        ("[::1]", ProbeTarget("::1", 443)),
        ("::1", ProbeTarget("::1", 443)),
        ("10.0.0.1:25", ProbeTarget("10.0.0.1", 25)),
    ],
)
def test_target_parse(text: str, target: ProbeTarget) -> None:
    assert ProbeTarget.parse(text) == target


@pytest.mark.parametrize(
    "text", ["", ":443", "host:x", "host:70000", "[::1]x", "ftp://host/", "http://host/"]
)
def test_target_parse_errors(text: str) -> None:
    with pytest.raises(ValueError):
        ProbeTarget.parse(text)


def test_hostname_matching(ca: CA) -> None:
    sans = ("*.example.com", "exact.example.org", "192.0.2.7", "2001:db8::1")
    cert = ca.issue("x", sans=sans).cert
    assert hostname_matches(cert, "a.example.com")
    assert hostname_matches(cert, "A.Example.COM.")
    assert not hostname_matches(cert, "example.com")
    assert not hostname_matches(cert, "a.b.example.com")
    assert hostname_matches(cert, "exact.example.org")
    assert not hostname_matches(cert, "other.example.org")
    assert hostname_matches(cert, "192.0.2.7")
    assert hostname_matches(cert, "[2001:db8::1]")
    assert not hostname_matches(cert, "192.0.2.8")
    assert not hostname_matches(cert, "x")  # the CN is not consulted
    no_san = ca.issue("localhost", sans=()).cert
    assert not hostname_matches(no_san, "localhost")
