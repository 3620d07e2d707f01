"""ocspkit.testing.Responder: a real HTTP OCSP responder on loopback, spoken to over HTTP."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import ocspkit
from ocspkit import CertID, CertStatus, ResponseStatus, RevocationReason
from ocspkit.testing import CA, Fault, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


def post(url: str, der: bytes) -> httpx.Response:
    return httpx.post(url, content=der, headers=OCSP_REQUEST, timeout=10)


def ask(
    responder: Responder, certs: list[Leaf], issuer: CA, *, method: str = "POST"
) -> tuple[ocspkit.OCSPRequest, ocspkit.OCSPResponse]:
    req = ocspkit.build_request([leaf.cert for leaf in certs], issuer.issuer)
    if method == "POST":
        http = post(responder.url, req.der)
    else:
        http = httpx.get(req.get_url(responder.url), timeout=10)
    assert http.status_code == 200
    assert http.headers["content-type"] == "application/ocsp-response"
    return req, ocspkit.parse_response(http.content)


def test_fixtures_give_a_running_responder(
    ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf
) -> None:
    assert ocsp_responder.running
    assert ocsp_responder.fault is Fault.NONE
    assert ocsp_ca.ocsp_url == ocsp_responder.url
    assert ocsp_responder.url.startswith("http://127.0.0.1:")
    assert ocspkit.ocsp_urls(ocsp_leaf.cert) == (ocsp_responder.url,)
    req, resp = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    result = ocspkit.validate_response(resp, ocsp_leaf.cert, ocsp_ca.issuer, request=req)
    assert result.status is CertStatus.GOOD
    assert ocsp_responder.requests == 1


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_several_cert_ids_good_revoked_unknown(
    ocsp_ca: CA, ocsp_responder: Responder, method: str
) -> None:
    good, rev, other = ocsp_ca.issue(), ocsp_ca.issue(), ocsp_ca.issue()
    ocsp_ca.revoke(rev, RevocationReason.SUPERSEDED)
    req, resp = ask(ocsp_responder, [good, rev, other], ocsp_ca, method=method)
    assert resp.nonce == req.nonce and resp.nonce is not None
    statuses = [s.status for s in resp.responses]
    assert statuses == [CertStatus.GOOD, CertStatus.REVOKED, CertStatus.GOOD]
    assert [s.cert_id for s in resp.responses] == list(req.cert_ids)
    res = ocspkit.validate_response(resp, rev.cert, ocsp_ca.issuer, request=req)
    assert res.revocation_reason is RevocationReason.SUPERSEDED
    assert ocsp_responder.records[-1].method == method
    assert ocsp_responder.records[-1].serials == tuple(c.serial_number for c in req.cert_ids)
    # the sans-I/O entry point gives the same statuses
    assert [s.status for s in ocsp_responder.respond(req.der).responses] == statuses


def test_unknown_serial_over_http(ocsp_ca: CA, ocsp_responder: Responder) -> None:
    # a certificate with the CA's issuer name and key that the CA never recorded
    stranger = CA("ecdsa").issue()
    cert_id = replace(
        ocspkit.cert_id(ocsp_ca.issue().cert, ocsp_ca.issuer),
        serial_number=stranger.serial_number,
    )
    resp = ocsp_ca.sign_response([cert_id])  # what the responder should say...
    assert resp.responses[0].status is CertStatus.UNKNOWN
    # ...and what it says over HTTP, for a request naming that CertID
    http = post(ocsp_responder.url, _fake_request_for(cert_id))
    parsed = ocspkit.parse_response(http.content)
    assert [s.status for s in parsed.responses] == [CertStatus.UNKNOWN]
    assert parsed.responses[0].cert_id == cert_id


def _fake_request_for(cert_id: CertID) -> bytes:
    """A DER OCSPRequest for an arbitrary CertID (SHA-1), built by hand."""

    def tlv(tag: int, body: bytes) -> bytes:
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(raw)]) + raw + body

    sha1 = tlv(0x30, bytes.fromhex("06052b0e03021a") + b"\x05\x00")
    serial = cert_id.serial_number.to_bytes((cert_id.serial_number.bit_length() + 8) // 8, "big")
    cid = tlv(
        0x30,
        sha1
        + tlv(0x04, cert_id.issuer_name_hash)
        + tlv(0x04, cert_id.issuer_key_hash)
        + tlv(0x02, serial),
    )
    return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, cid))))


def test_revocation_is_live(ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf) -> None:
    _, before = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    assert before.responses[0].status is CertStatus.GOOD
    ocsp_ca.revoke(ocsp_leaf.cert, RevocationReason.KEY_COMPROMISE)
    req, after = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    res = ocspkit.validate_response(after, ocsp_leaf.cert, ocsp_ca.issuer, request=req)
    assert res.status is CertStatus.REVOKED
    assert res.revocation_reason is RevocationReason.KEY_COMPROMISE
    ocsp_ca.unrevoke(ocsp_leaf.cert)
    _, again = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    assert again.responses[0].status is CertStatus.GOOD


def test_get_accepts_any_escaping(ocsp_ca: CA, ocsp_responder: Responder) -> None:
    leaf = ocsp_ca.issue()
    # find a request whose base64 holds '+', '/' or '=' so escaping matters
    for _ in range(200):
        req = ocspkit.build_request(leaf.cert, ocsp_ca.issuer)
        b64 = base64.b64encode(req.der).decode()
        if "+" in b64 and "/" in b64:
            break
    assert "+" in b64 and "/" in b64
    escaped = req.get_url(ocsp_responder.url)
    assert "%2B" in escaped and "%2F" in escaped
    raw_url = ocsp_responder.url + b64
    half = ocsp_responder.url + b64.replace("+", "%2B")  # '/' raw, '+' escaped
    for url in (escaped, raw_url, half):
        http = httpx.get(url, timeout=10)
        resp = ocspkit.parse_response(http.content)
        assert resp.successful, url
        assert ocspkit.validate_response(resp, leaf.cert, ocsp_ca.issuer, request=req).good


def test_get_with_a_base_path() -> None:
    ca = CA("ecdsa")
    with Responder(ca, path="/ocsp") as responder:
        assert responder.url.endswith("/ocsp/")
        leaf = ca.issue()
        assert ocspkit.ocsp_urls(leaf.cert) == (responder.url,)
        req = ocspkit.build_request(leaf.cert, ca.issuer)
        for base in (responder.url, responder.url.rstrip("/")):
            http = httpx.get(req.get_url(base), timeout=10)
            resp = ocspkit.parse_response(http.content)
            assert ocspkit.validate_response(resp, leaf.cert, ca.issuer, request=req).good
        responder.fault = Fault.REDIRECT  # to /ok/ocsp/...: still understood
        http = httpx.get(req.get_url(responder.url), timeout=10, follow_redirects=True)
        assert http.history and http.url.path.startswith("/ok/ocsp/")
        assert ocspkit.validate_response(http.content, leaf.cert, ca.issuer, request=req).good
        responder.fault = Fault.NONE
        urlsafe = base64.urlsafe_b64encode(req.der).decode().rstrip("=")
        http = httpx.get(responder.url + urlsafe, timeout=10)
        assert ocspkit.validate_response(http.content, leaf.cert, ca.issuer, request=req).good


def test_sha256_cert_ids_and_no_nonce(ocsp_ca: CA, ocsp_responder: Responder) -> None:
    leaf = ocsp_ca.issue()
    req = ocspkit.build_request(leaf.cert, ocsp_ca.issuer, hash_algorithm="sha256", nonce=False)
    resp = ocspkit.parse_response(post(ocsp_responder.url, req.der).content)
    assert resp.nonce is None
    assert resp.responses[0].cert_id.hash_algorithm == "sha256"
    assert ocspkit.validate_response(resp, leaf.cert, ocsp_ca.issuer, request=req).good


def test_delegated_signer_switchable(
    ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf
) -> None:
    ocsp_responder.signer = "delegated"
    req, resp = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    assert resp.certificates == (ocsp_ca.delegated.cert,)
    res = ocspkit.validate_response(resp, ocsp_leaf.cert, ocsp_ca.issuer, request=req)
    assert res.delegated and res.signer == ocsp_ca.delegated.cert
    assert ocsp_responder.signer_certificate == ocsp_ca.delegated.cert
    ocsp_responder.signer = "ca"
    req, resp = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    res = ocspkit.validate_response(resp, ocsp_leaf.cert, ocsp_ca.issuer, request=req)
    assert not res.delegated and res.signer == ocsp_ca.issuer


def test_validity_and_responder_id(ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf) -> None:
    ocsp_responder.validity = timedelta(minutes=7)
    ocsp_responder.responder_id = "name"
    _, resp = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    single = resp.responses[0]
    assert single.next_update is not None
    assert single.next_update - single.this_update == timedelta(minutes=7)
    assert resp.responder_id is not None and resp.responder_id.name == ocsp_ca.issuer.subject


def test_other_issuer_is_unauthorized(ocsp_ca: CA, ocsp_responder: Responder) -> None:
    other = CA("ecdsa")
    stranger = other.issue()
    req = ocspkit.build_request(stranger.cert, other.issuer)
    resp = ocspkit.parse_response(post(ocsp_responder.url, req.der).content)
    assert resp.status is ResponseStatus.UNAUTHORIZED
    with pytest.raises(ocspkit.ResponderError) as info:
        ocspkit.validate_response(resp, stranger.cert, other.issuer)
    assert info.value.status is ResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "body", [b"", b"not DER at all", b"\x30\x03\x02\x01", b"\x30\x00", b"\x30\x80" * 10]
)
def test_malformed_post_bodies(ocsp_responder: Responder, body: bytes) -> None:
    resp = ocspkit.parse_response(post(ocsp_responder.url, body).content)
    assert resp.status is ResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("path", ["", "!!notbase64!!", "AAAA", "%ZZ"])
def test_malformed_get(ocsp_responder: Responder, path: str) -> None:
    http = httpx.get(ocsp_responder.url + path, timeout=10)
    assert http.status_code == 200
    assert ocspkit.parse_response(http.content).status is ResponseStatus.MALFORMED_REQUEST


def test_oversized_request_is_refused(ocsp_responder: Responder) -> None:
    http = post(ocsp_responder.url, b"\x30" * (65 * 1024))
    assert ocspkit.parse_response(http.content).status is ResponseStatus.MALFORMED_REQUEST


def test_index_file_mode_rereads(tmp_path: Path) -> None:
    ca = CA("ecdsa")
    listed, later = ca.issue(), ca.issue()
    index = tmp_path / "index.txt"
    ca.revoke(later)  # recorded in the CA, but not yet in the file
    ca.unrevoke(later)
    ca.write_index(index)
    unlisted = ca.issue()  # issued after the file was written: the index knows nothing of it
    with Responder(ca, index_file=index) as responder:
        _, resp = ask(responder, [listed, later, unlisted], ca)
        assert [s.status for s in resp.responses] == [
            CertStatus.GOOD,
            CertStatus.GOOD,
            CertStatus.UNKNOWN,
        ]
        ca.revoke(later, RevocationReason.CESSATION_OF_OPERATION)
        _, resp = ask(responder, [later], ca)
        assert resp.responses[0].status is CertStatus.GOOD  # the file, not the CA, is the source
        ca.write_index(index)
        req, resp = ask(responder, [later], ca)
        res = ocspkit.validate_response(resp, later.cert, ca.issuer, request=req)
        assert res.status is CertStatus.REVOKED
        assert res.revocation_reason is RevocationReason.CESSATION_OF_OPERATION


@pytest.mark.parametrize("key_type", ["ecdsa", "ed25519"])
def test_other_key_types(key_type: str) -> None:
    ca = CA(key_type)  # type: ignore[arg-type]
    with Responder(ca, signer="delegated") as responder:
        leaf = ca.issue()
        req, resp = ask(responder, [leaf], ca)
        res = ocspkit.validate_response(resp, leaf.cert, ca.issuer, request=req)
        assert res.good and res.delegated


def test_async_context_manager() -> None:
    ca = CA("ecdsa")

    async def main() -> CertStatus:
        async with Responder(ca) as responder:
            leaf = ca.issue()
            req = ocspkit.build_request(leaf.cert, ca.issuer)
            async with httpx.AsyncClient(timeout=10) as client:
                http = await client.post(responder.url, content=req.der, headers=OCSP_REQUEST)
            resp = ocspkit.parse_response(http.content)
            return ocspkit.validate_response(resp, leaf.cert, ca.issuer, request=req).status

    assert asyncio.run(main()) is CertStatus.GOOD


def test_start_stop_and_reuse_of_the_port() -> None:
    ca = CA("ecdsa", ocsp_url="http://127.0.0.1:9/preset")
    responder = Responder(ca).start()
    try:
        assert ca.ocsp_url == "http://127.0.0.1:9/preset"  # an explicit URL is kept
        with pytest.raises(RuntimeError):
            responder.start()
        port = responder.port
        assert port != 0
    finally:
        responder.stop()
    responder.stop()  # idempotent
    assert not responder.running
    with pytest.raises(httpx.ConnectError):
        post(f"http://127.0.0.1:{port}/", b"")


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 is not configured")
    ca = CA("ecdsa")
    with Responder(ca, host="::1") as responder:
        assert responder.url.startswith("http://[::1]:")
        leaf = ca.issue()
        _, resp = ask(responder, [leaf], ca)
        assert resp.responses[0].status is CertStatus.GOOD


def test_concurrent_clients_and_request_count(ocsp_ca: CA, ocsp_responder: Responder) -> None:
    leaves = [ocsp_ca.issue(key_type="ecdsa") for _ in range(4)]
    errors: list[BaseException] = []

    def worker(leaf: Leaf) -> None:
        try:
            with httpx.Client(timeout=10) as client:
                for _ in range(5):
                    req = ocspkit.build_request(leaf.cert, ocsp_ca.issuer)
                    http = client.post(ocsp_responder.url, content=req.der, headers=OCSP_REQUEST)
                    resp = ocspkit.parse_response(http.content)
                    ocspkit.validate_response(resp, leaf.cert, ocsp_ca.issuer, request=req)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(leaf,)) for leaf in leaves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert ocsp_responder.wait_for_requests(20, timeout=5)
    assert ocsp_responder.requests == 20
    assert not ocsp_responder.wait_for_requests(21, timeout=0.1)


def test_fault_setter_type_checked(ocsp_responder: Responder) -> None:
    with pytest.raises(TypeError):
        ocsp_responder.fault = "hang"  # type: ignore[assignment]


def test_pytest_plugin_is_registered() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("ocspkit") == "ocspkit.testing.pytest_plugin"


def test_fixture_leaf_revocation_through_fixture(
    ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf
) -> None:
    ocsp_ca.revoke(ocsp_leaf)
    req, resp = ask(ocsp_responder, [ocsp_leaf], ocsp_ca)
    assert ocspkit.validate_response(resp, ocsp_leaf.cert, ocsp_ca.issuer, request=req).revoked
