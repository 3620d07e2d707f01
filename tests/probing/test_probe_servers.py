"""ocspkit.probe against real stapling servers on loopback: Apache httpd (``SSLUseStapling``),
nginx (``ssl_stapling``), HAProxy (``.ocsp`` files), with a real ``openssl ocsp`` responder
serving a PKI made at test time. Each server is started once for the module, with one site per
scenario. See tests/_lab.py for the launchers and shared/recipes/staplelab.sh for the recipe.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import CertStatus
from ocspkit.probing import ProbeReport, aprobe, probe, probe_many
from ocspkit.testing import CA, Leaf
from ocspkit.testing.openssl import OpenSSLResponder
from tests._lab import (
    RunningServer,
    Site,
    ipv6_loopback,
    start_apache,
    start_haproxy,
    start_nginx,
    wait_for_responder,
)
from tests._servers import need_binary

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

VERSIONS = [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")]
IPV6 = ipv6_loopback()


@dataclass
class Lab:
    ca: CA
    responder: OpenSSLResponder
    leaves: dict[str, Leaf]
    directory: Path
    staples: dict[str, bytes]


def _fetch_staple(lab_dir: Path, ca: CA, leaf: Leaf, url: str, name: str) -> bytes:
    """A response from the real responder, fetched by the real ``openssl ocsp`` client."""
    openssl = need_binary("openssl")
    issuer, cert, out = lab_dir / "issuer.pem", lab_dir / f"{name}.crt", lab_dir / f"{name}.der"
    issuer.write_bytes(ca.issuer_pem)
    cert.write_bytes(leaf.cert_pem)
    res = subprocess.run(
        [openssl, "ocsp", "-issuer", str(issuer), "-cert", str(cert), "-url", url,
         "-respout", str(out), "-noverify", "-timeout", "5"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_binary("openssl")
    directory = tmp_path_factory.mktemp("probe-lab")
    ca = CA()  # RSA-2048, like most deployed PKIs
    with OpenSSLResponder(ca, signer="delegated") as responder:
        ca.ocsp_url = responder.url
        names = [
            "good", "revoked", "plain", "muststaple",                   # Apache
            "ng_first", "ng_good", "ng_revoked", "ng_file",             # nginx
            "ha_good", "ha_revoked", "ha_expiring", "ha_expired", "ha_muststaple",  # HAProxy
        ]  # fmt: skip
        leaves = {n: ca.issue("localhost", must_staple=n.endswith("muststaple")) for n in names}
        for n in ("revoked", "ng_revoked", "ha_revoked"):
            ca.revoke(leaves[n].cert)
        responder.refresh()
        wait_for_responder(responder.url, leaves["revoked"].cert, ca.issuer, CertStatus.REVOKED)
        wait_for_responder(responder.url, leaves["good"].cert, ca.issuer, CertStatus.GOOD)
        now = datetime.now(timezone.utc)
        staples = {
            n: _fetch_staple(directory, ca, leaves[n], responder.url, n)
            for n in ("ha_good", "ha_revoked")
        }
        # HAProxy refuses a .ocsp whose nextUpdate is less than 5 minutes away: this one is
        # accepted now and is stale 6 minutes later, as it would be on a server left alone.
        staples["ha_expiring"] = ca.sign_response(
            leaves["ha_expiring"].cert, signer="delegated", now=now, validity=timedelta(minutes=6)
        ).der
        past = now - timedelta(hours=3)
        for n in ("ha_expired", "ng_file"):
            staples[n] = ca.sign_response(
                leaves[n].cert, signer="ca", now=past, validity=timedelta(hours=1)
            ).der
        yield Lab(ca, responder, leaves, directory, staples)


@pytest.fixture(scope="module")
def apache(lab: Lab) -> Iterator[RunningServer]:
    d, leaves = lab.directory / "apache-sites", lab.leaves
    sites = [
        Site.from_leaf("good", leaves["good"], d),
        Site.from_leaf("revoked", leaves["revoked"], d),
        Site.from_leaf("plain", leaves["plain"], d, stapling=False),
        Site.from_leaf("muststaple", leaves["muststaple"], d, stapling=False),
    ]
    with start_apache(lab.directory, sites, ipv6=IPV6) as server:
        yield server


@pytest.fixture(scope="module")
def nginx(lab: Lab) -> Iterator[RunningServer]:
    d, leaves = lab.directory / "nginx-sites", lab.leaves
    bundle = lab.ca.ca_bundle_pem
    sites = [
        Site.from_leaf("first", leaves["ng_first"], d, trusted=bundle),
        Site.from_leaf("good", leaves["ng_good"], d, trusted=bundle),
        Site.from_leaf("revoked", leaves["ng_revoked"], d, trusted=bundle),
        Site.from_leaf("file", leaves["ng_file"], d, staple=lab.staples["ng_file"]),
        Site.from_leaf("plain", leaves["good"], d, stapling=False),
    ]
    with start_nginx(lab.directory, sites, ipv6=IPV6) as server:
        yield server


@pytest.fixture(scope="module")
def haproxy(lab: Lab) -> Iterator[RunningServer]:
    d, leaves, staples = lab.directory / "haproxy-sites", lab.leaves, lab.staples
    sites = [
        Site.from_leaf(n, leaves[n], d, staple=staples[n])
        for n in ("ha_good", "ha_revoked", "ha_expiring", "ha_expired")
    ]
    sites.append(Site.from_leaf("ha_muststaple", leaves["ha_muststaple"], d))  # no .ocsp
    with start_haproxy(lab.directory, sites, ipv6=IPV6) as server:
        yield server


def _probe(lab: Lab, port: int, host: str = "127.0.0.1", **kw: object) -> ProbeReport:
    return probe(
        host,
        port,
        servername="localhost",
        trust_roots=[lab.ca.root],
        timeout=10,
        **kw,  # type: ignore[arg-type]
    )


def _until_stapled(lab: Lab, port: int, *, attempts: int = 50, **kw: Any) -> list[ProbeReport]:
    """Probe until a staple comes (nginx staples only once its background fetch is done)."""
    reports = []
    for _ in range(attempts):
        reports.append(_probe(lab, port, **kw))
        if reports[-1].stapled:
            break
        time.sleep(0.1)
    return reports


def _assert_good(report: ProbeReport, version: str) -> None:
    assert report.tls_version == version
    assert report.stapled
    assert report.staple_error is None, report.staple_error
    assert report.staple_status is CertStatus.GOOD
    assert report.chain_valid, report.chain_error
    assert not report.must_staple_violation
    assert report.ok


# -- Apache httpd ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_apache_good(lab: Lab, apache: RunningServer, version: str, name: str) -> None:
    # Apache fetches while the first handshake waits, so even the first one is stapled
    report = _probe(lab, apache.port("good"), tls_version=version)
    _assert_good(report, name)
    assert report.staple_result is not None and report.staple_result.delegated
    assert report.staple_result.signer == lab.ca.delegated.cert


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_apache_revoked(lab: Lab, apache: RunningServer, version: str, name: str) -> None:
    report = _probe(lab, apache.port("revoked"), tls_version=version)
    assert report.tls_version == name
    assert report.staple_status is CertStatus.REVOKED
    assert report.staple_result is not None
    assert report.staple_result.revocation_reason is ocspkit.RevocationReason.KEY_COMPROMISE
    assert report.chain_valid and not report.ok


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_apache_without_stapling(lab: Lab, apache: RunningServer, version: str, name: str) -> None:
    report = _probe(lab, apache.port("plain"), tls_version=version)
    assert report.tls_version == name
    assert not report.stapled and report.staple is None
    assert report.chain_valid and report.ok


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_apache_must_staple_unstapled(
    lab: Lab, apache: RunningServer, version: str, name: str
) -> None:
    report = _probe(lab, apache.port("muststaple"), tls_version=version)
    assert report.tls_version == name
    assert report.must_staple and not report.stapled
    assert report.must_staple_violation
    assert report.chain_valid and not report.ok


@pytest.mark.skipif(not IPV6, reason="no IPv6 loopback")
def test_apache_ipv6(lab: Lab, apache: RunningServer) -> None:
    report = _probe(lab, apache.port("good"), host="::1")
    assert report.address == "::1"
    _assert_good(report, "TLSv1.3")


# -- nginx ----------------------------------------------------------------------------------------


def test_nginx_first_handshake_unstapled(lab: Lab, nginx: RunningServer) -> None:
    reports = _until_stapled(lab, nginx.port("first"), tls_version="1.2")
    # the first handshake only starts nginx's fetch; a later one gets the staple
    assert not reports[0].stapled
    assert len(reports) >= 2
    _assert_good(reports[-1], "TLSv1.2")


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_nginx_good(lab: Lab, nginx: RunningServer, version: str, name: str) -> None:
    reports = _until_stapled(lab, nginx.port("good"), tls_version=version)
    _assert_good(reports[-1], name)


def test_nginx_never_staples_revoked(lab: Lab, nginx: RunningServer) -> None:
    port = nginx.port("revoked")
    first = _probe(lab, port)
    assert not first.stapled
    deadline = time.monotonic() + 10  # wait until nginx has fetched and judged the response
    while 'status "revoked"' not in nginx.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 'certificate status "revoked"' in nginx.log_text()
    for version in ("1.2", "1.3"):
        report = _probe(lab, port, tls_version=version)
        assert not report.stapled and report.chain_valid


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_nginx_expired_stapling_file(
    lab: Lab, nginx: RunningServer, version: str, name: str
) -> None:
    # nginx serves an ssl_stapling_file without looking at its dates
    report = _probe(lab, nginx.port("file"), tls_version=version)
    assert report.tls_version == name
    assert report.stapled and report.staple_der == lab.staples["ng_file"]
    assert isinstance(report.staple_error, ocspkit.ExpiredResponseError)
    assert report.staple_status is None and not report.ok


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_nginx_without_stapling(lab: Lab, nginx: RunningServer, version: str, name: str) -> None:
    report = _probe(lab, nginx.port("plain"), tls_version=version)
    assert report.tls_version == name and not report.stapled and report.ok


@pytest.mark.skipif(not IPV6, reason="no IPv6 loopback")
def test_nginx_ipv6(lab: Lab, nginx: RunningServer) -> None:
    reports = _until_stapled(lab, nginx.port("good"), host="::1")
    assert reports[-1].address == "::1"
    _assert_good(reports[-1], "TLSv1.3")


# -- HAProxy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_haproxy_good(lab: Lab, haproxy: RunningServer, version: str, name: str) -> None:
    report = _probe(lab, haproxy.port("ha_good"), tls_version=version)
    _assert_good(report, name)
    assert report.staple_der == lab.staples["ha_good"]  # the .ocsp file, byte for byte


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_haproxy_revoked(lab: Lab, haproxy: RunningServer, version: str, name: str) -> None:
    report = _probe(lab, haproxy.port("ha_revoked"), tls_version=version)
    assert report.tls_version == name
    assert report.staple_status is CertStatus.REVOKED and not report.ok


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_haproxy_stale_ocsp_file(lab: Lab, haproxy: RunningServer, version: str, name: str) -> None:
    port = haproxy.port("ha_expiring")
    staple = ocspkit.parse_response(lab.staples["ha_expiring"])
    next_update = staple.responses[0].next_update
    assert next_update is not None
    # good today; HAProxy never refreshes a .ocsp file, so it still serves these bytes after
    # nextUpdate: checked at that time (past the 5-minute skew), the probe says it is stale
    _assert_good(_probe(lab, port, tls_version=version), name)
    later = _probe(lab, port, tls_version=version, now=next_update + timedelta(minutes=6))
    assert later.stapled and later.staple_der == lab.staples["ha_expiring"]
    assert isinstance(later.staple_error, ocspkit.ExpiredResponseError)
    assert later.staple_status is None and not later.ok


def test_haproxy_ignores_expired_ocsp_file(lab: Lab, haproxy: RunningServer) -> None:
    report = _probe(lab, haproxy.port("ha_expired"))
    assert not report.stapled
    assert "no longer valid" in haproxy.log_text()


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_haproxy_must_staple_without_ocsp_file(
    lab: Lab, haproxy: RunningServer, version: str, name: str
) -> None:
    report = _probe(lab, haproxy.port("ha_muststaple"), tls_version=version)
    assert report.tls_version == name
    assert report.must_staple and report.must_staple_violation and not report.ok


@pytest.mark.skipif(not IPV6, reason="no IPv6 loopback")
def test_haproxy_ipv6(lab: Lab, haproxy: RunningServer) -> None:
    report = _probe(lab, haproxy.port("ha_good"), host="[::1]", tls_version="1.2")
    assert report.address == "::1"
    _assert_good(report, "TLSv1.2")


# -- across servers -------------------------------------------------------------------------------


def _openssl_ocsp_uris(cert: x509.Certificate, directory: Path) -> tuple[str, ...]:
    path = directory / f"served-{cert.serial_number:x}.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    out = subprocess.run(
        [need_binary("openssl"), "x509", "-noout", "-ocsp_uri", "-in", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip())


def test_chain_uris_agree_with_openssl(
    lab: Lab, apache: RunningServer, nginx: RunningServer, haproxy: RunningServer
) -> None:
    checked = 0
    for server, site in ((apache, "good"), (nginx, "good"), (haproxy, "ha_good")):
        report = _probe(lab, server.port(site))
        assert len(report.chain) == len(report.ocsp_urls) == 2
        for cert, urls in zip(report.chain, report.ocsp_urls, strict=True):
            assert urls == _openssl_ocsp_uris(cert, lab.directory)
            checked += 1
        assert report.ocsp_urls[0] == (lab.responder.url,)  # the leaf names the responder
        assert report.ocsp_urls[1] == ()  # the intermediate names none
    assert checked == 6


def test_probe_many_across_servers(
    lab: Lab, apache: RunningServer, nginx: RunningServer, haproxy: RunningServer
) -> None:
    targets = [
        ("127.0.0.1", server.port(site), "localhost")
        for server in (apache, nginx, haproxy)
        for site in server.ports
        if (server, site) != (nginx, "first")  # kept for its own first-handshake test
    ]
    outcomes = list(probe_many(targets, concurrency=4, trust_roots=[lab.ca.root], timeout=10))
    assert sorted(o.index for o in outcomes) == list(range(len(targets)))
    assert all(o.error is None and o.report is not None for o in outcomes)
    by_port = {o.target.port: o.report for o in outcomes if o.report is not None}
    revoked_apache = by_port[apache.port("revoked")]
    assert revoked_apache.staple_status is CertStatus.REVOKED
    assert by_port[haproxy.port("ha_good")].staple_status is CertStatus.GOOD
    assert by_port[haproxy.port("ha_muststaple")].must_staple_violation


def test_aprobe_real_servers(lab: Lab, apache: RunningServer, haproxy: RunningServer) -> None:
    async def run() -> list[ProbeReport]:
        return list(
            await asyncio.gather(
                aprobe("127.0.0.1", apache.port("good"), servername="localhost",
                       trust_roots=[lab.ca.root], timeout=10),
                aprobe("127.0.0.1", haproxy.port("ha_revoked"), servername="localhost",
                       trust_roots=[lab.ca.root], timeout=10, tls_version="1.2"),
            )
        )  # fmt: skip

    good, revoked = asyncio.run(run())
    _assert_good(good, "TLSv1.3")
    assert revoked.tls_version == "TLSv1.2" and revoked.staple_status is CertStatus.REVOKED
