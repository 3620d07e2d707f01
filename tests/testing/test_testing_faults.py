"""Every Fault of ocspkit.testing.Responder, observed from outside over HTTP (httpx, sockets)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

import ocspkit
from ocspkit import CertStatus, ResponseStatus
from ocspkit.testing import CA, Fault, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


class Env:
    """One CA + responder shared by the module; each test sets its fault."""

    def __init__(self, ca: CA, responder: Responder, leaf: Leaf) -> None:
        self.ca, self.responder, self.leaf = ca, responder, leaf

    def request(self) -> ocspkit.OCSPRequest:
        return ocspkit.build_request(self.leaf.cert, self.ca.issuer)

    def post(self, req: ocspkit.OCSPRequest, **kw: object) -> httpx.Response:
        return httpx.post(
            self.responder.url,
            content=req.der,
            headers=OCSP_REQUEST,
            timeout=kw.pop("timeout", 10),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )

    def validate(self, body: bytes, req: ocspkit.OCSPRequest) -> ocspkit.ValidationResult:
        return ocspkit.validate_response(body, self.leaf.cert, self.ca.issuer, request=req)


@pytest.fixture(scope="module")
def module_env() -> Iterator[Env]:
    ca = CA("ecdsa")
    with Responder(ca, drip_interval=0.2) as responder:
        yield Env(ca, responder, ca.issue())


@pytest.fixture
def env(module_env: Env) -> Iterator[Env]:
    module_env.responder.fault = Fault.NONE
    yield module_env
    module_env.responder.fault = Fault.NONE


# -- unsuccessful responseStatus ------------------------------------------------------------


def check_status(env: Env, fault: Fault) -> None:
    expected = ResponseStatus(fault.response_status or 0)
    req = env.request()
    http = env.post(req)
    assert http.status_code == 200
    assert http.headers["content-type"] == "application/ocsp-response"
    resp = ocspkit.parse_response(http.content)
    assert resp.status is expected and not resp.successful
    with pytest.raises(ocspkit.ResponderError) as info:
        env.validate(http.content, req)
    assert info.value.status is expected


# -- well-formed, untrustworthy -------------------------------------------------------------


def check_wrong_signer(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    resp = ocspkit.parse_response(http.content)
    assert resp.successful
    assert resp.certificates and resp.certificates[0] != env.ca.issuer
    assert resp.certificates[0].subject != env.ca.issuer.subject  # an unrelated CA signed
    with pytest.raises(ocspkit.ValidationError):
        env.validate(http.content, req)


def check_no_eku(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    resp = ocspkit.parse_response(http.content)
    (signer,) = resp.certificates
    assert ocspkit.is_issued_by(signer, env.ca.issuer)  # right issuer...
    with pytest.raises(x509.ExtensionNotFound):  # ...but no extendedKeyUsage at all
        signer.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        env.validate(http.content, req)


def check_expired(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    single = ocspkit.parse_response(http.content).responses[0]
    assert single.next_update is not None
    assert single.next_update < datetime.now(timezone.utc) - timedelta(minutes=30)
    with pytest.raises(ocspkit.ExpiredResponseError):
        env.validate(http.content, req)


def check_future(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    single = ocspkit.parse_response(http.content).responses[0]
    assert single.this_update > datetime.now(timezone.utc) + timedelta(minutes=30)
    with pytest.raises(ocspkit.NotYetValidError):
        env.validate(http.content, req)


def check_no_next_update(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    resp = ocspkit.parse_response(http.content)
    assert resp.responses[0].next_update is None
    assert env.validate(http.content, req).next_update is None


def check_short_validity(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    single = ocspkit.parse_response(http.content).responses[0]
    assert single.next_update is not None
    assert single.next_update - single.this_update == timedelta(seconds=2)


def check_wrong_nonce(env: Env, fault: Fault) -> None:
    req = env.request()
    assert req.nonce is not None
    http = env.post(req)
    resp = ocspkit.parse_response(http.content)
    assert resp.nonce is not None and resp.nonce != req.nonce
    with pytest.raises(ocspkit.NonceMismatchError):
        env.validate(http.content, req)
    # a request without a nonce still gets one back
    bare = ocspkit.build_request(env.leaf.cert, env.ca.issuer, nonce=False)
    assert ocspkit.parse_response(env.post(bare).content).nonce is not None


# -- broken bodies ----------------------------------------------------------------------------


def check_garbage(env: Env, fault: Fault) -> None:
    http = env.post(env.request())
    assert http.status_code == 200 and len(http.content) == 512
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.parse_response(http.content)


def check_truncated(env: Env, fault: Fault) -> None:
    http = env.post(env.request())
    assert http.status_code == 200
    assert int(http.headers["content-length"]) == len(http.content)
    assert http.content[:1] == b"\x30"  # the start of a real response...
    with pytest.raises(ocspkit.DecodeError):  # ...cut in half
        ocspkit.parse_response(http.content)
    env.responder.fault = Fault.NONE
    full = env.post(env.request()).content
    assert len(http.content) in (len(full) // 2, len(full) // 2 - 1, len(full) // 2 + 1)


def check_oversized(env: Env, fault: Fault) -> None:
    http = env.post(env.request())
    assert http.status_code == 200
    assert len(http.content) > 1024 * 1024  # sent fully
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.parse_response(http.content)


def check_slow_drip(env: Env, fault: Fault) -> None:
    req = env.request()
    timeout = httpx.Timeout(5.0)  # each byte arrives well within the read timeout
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("POST", env.responder.url, content=req.der, headers=OCSP_REQUEST) as http,
    ):
        assert http.status_code == 200
        length = int(http.headers["content-length"])
        chunks = []
        for chunk in http.iter_raw():
            chunks.append(chunk)
            if len(chunks) == 3:
                break
    assert [len(c) for c in chunks] == [1, 1, 1]  # a byte at a time...
    assert length > 100  # ...of a body that needs length * drip_interval seconds in total


def check_hang(env: Env, fault: Fault) -> None:
    with pytest.raises(httpx.ReadTimeout):
        env.post(env.request(), timeout=httpx.Timeout(10.0, read=0.5))


# -- HTTP level -------------------------------------------------------------------------------


def check_http_status(env: Env, fault: Fault) -> None:
    code = int(fault.name.rsplit("_", 1)[1])
    http = env.post(env.request())
    assert http.status_code == code
    assert http.headers["content-type"] != "application/ocsp-response"
    if code == 503:
        assert http.headers["retry-after"] == "1"
    else:
        assert "retry-after" not in http.headers
    get = httpx.get(env.request().get_url(env.responder.url), timeout=10)
    assert get.status_code == code


def check_wrong_content_type(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    assert http.status_code == 200
    assert http.headers["content-type"] == "text/html"
    assert env.validate(http.content, req).good  # only the label is wrong


def check_redirect(env: Env, fault: Fault) -> None:
    req = env.request()
    first = env.post(req)
    assert first.status_code == 307  # POST keeps its method and body
    assert first.headers["location"] == "/ok/"
    followed = env.post(req, follow_redirects=True)
    assert followed.status_code == 200 and len(followed.history) == 1
    assert env.validate(followed.content, req).good
    url = req.get_url(env.responder.url)
    get = httpx.get(url, timeout=10)
    assert get.status_code == 302
    assert get.headers["location"].startswith("/ok/")
    got = httpx.get(url, timeout=10, follow_redirects=True)
    assert got.url.path.startswith("/ok/")
    assert env.validate(got.content, req).good


def check_redirect_loop(env: Env, fault: Fault) -> None:
    req = env.request()
    first = env.post(req)
    assert first.status_code == 307 and first.headers["location"] == "/"
    with pytest.raises(httpx.TooManyRedirects):
        env.post(req, follow_redirects=True)
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(req.get_url(env.responder.url), timeout=10, follow_redirects=True)


def check_reset(env: Env, fault: Fault) -> None:
    der = env.request().der
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n"
        f"Content-Length: {len(der)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", env.responder.port), timeout=5) as sock:
        sock.sendall(head + der)
        with pytest.raises(ConnectionResetError):
            data = sock.recv(4096)
            assert data == b"", data  # (an orderly FIN would return b"" here instead)
            raise AssertionError("connection closed without RST")
    with pytest.raises(httpx.TransportError):
        env.post(env.request())


def check_none(env: Env, fault: Fault) -> None:
    req = env.request()
    http = env.post(req)
    assert http.status_code == 200
    assert env.validate(http.content, req).status is CertStatus.GOOD


CHECKS: dict[Fault, Callable[[Env, Fault], None]] = {
    Fault.NONE: check_none,
    Fault.TRY_LATER: check_status,
    Fault.UNAUTHORIZED: check_status,
    Fault.MALFORMED_REQUEST: check_status,
    Fault.INTERNAL_ERROR: check_status,
    Fault.SIG_REQUIRED: check_status,
    Fault.WRONG_SIGNER: check_wrong_signer,
    Fault.NO_EKU: check_no_eku,
    Fault.EXPIRED: check_expired,
    Fault.FUTURE: check_future,
    Fault.NO_NEXT_UPDATE: check_no_next_update,
    Fault.SHORT_VALIDITY: check_short_validity,
    Fault.WRONG_NONCE: check_wrong_nonce,
    Fault.GARBAGE: check_garbage,
    Fault.TRUNCATED: check_truncated,
    Fault.OVERSIZED: check_oversized,
    Fault.SLOW_DRIP: check_slow_drip,
    Fault.HANG: check_hang,
    Fault.HTTP_404: check_http_status,
    Fault.HTTP_500: check_http_status,
    Fault.HTTP_503: check_http_status,
    Fault.WRONG_CONTENT_TYPE: check_wrong_content_type,
    Fault.REDIRECT: check_redirect,
    Fault.REDIRECT_LOOP: check_redirect_loop,
    Fault.RESET: check_reset,
}


def test_every_fault_has_a_check() -> None:
    assert set(CHECKS) == set(Fault)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.name)
def test_fault_observed_over_http(env: Env, fault: Fault) -> None:
    env.responder.fault = fault
    CHECKS[fault](env, fault)
    assert env.responder.records[-1].fault in (fault, Fault.NONE)  # NONE: the /ok/ hop
    # switch back while running: the very next answer is clean
    env.responder.fault = Fault.NONE
    check_none(env, Fault.NONE)


def test_ok_prefix_bypasses_faults(env: Env) -> None:
    env.responder.fault = Fault.HTTP_500
    req = env.request()
    http = httpx.post(env.responder.url + "ok/", content=req.der, headers=OCSP_REQUEST, timeout=10)
    assert env.validate(http.content, req).good
    assert env.responder.records[-1].fault is Fault.NONE


@pytest.mark.parametrize("fault", [Fault.HANG, Fault.SLOW_DRIP])
def test_stop_releases_hanging_clients(fault: Fault) -> None:
    ca = CA("ecdsa")
    responder = Responder(ca, fault=fault, drip_interval=0.5).start()
    leaf = ca.issue()
    req = ocspkit.build_request(leaf.cert, ca.issuer)
    outcome: list[BaseException | httpx.Response] = []

    def client() -> None:
        try:
            outcome.append(
                httpx.post(responder.url, content=req.der, headers=OCSP_REQUEST, timeout=30)
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    assert responder.wait_for_requests(1, timeout=10)
    responder.stop()  # must not wait for the hanging handler
    thread.join(20)
    assert not thread.is_alive()
    (result,) = outcome
    # the client sees the connection end (not its 30 s timeout, and no complete response)
    assert isinstance(result, (httpx.RemoteProtocolError, httpx.ReadError)), result


def test_respond_without_http_applies_ocsp_level_faults(module_env: Env) -> None:
    req = module_env.request()
    assert module_env.responder.respond(req.der, Fault.TRY_LATER).status is ResponseStatus.TRY_LATER
    resp = module_env.responder.respond(req.der, Fault.NO_NEXT_UPDATE)
    assert resp.responses[0].next_update is None
