"""Client and AsyncClient against ocspkit.testing.Responder in every fault mode.

Each case asserts the exact typed outcome, what the responder saw (methods: GET first, POST as
the fallback, retries), and that the call ended within its deadline (plus a generous margin:
a correctness bound, not a speed measurement).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

import ocspkit
from ocspkit import (
    CertStatus,
    ConnectError,
    ContentTypeError,
    DecodeError,
    ExpiredResponseError,
    FetchTimeoutError,
    HTTPStatusError,
    NonceMismatchError,
    NotYetValidError,
    RedirectError,
    ResponderError,
    ResponseStatus,
    ResponseTooLargeError,
    UnauthorizedResponderError,
)
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.testing import CA, Fault, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

#: Added to every deadline bound: scheduling noise on a busy 2-core machine, not a speed target.
MARGIN = 1.5


@dataclass
class Lab:
    ca: CA
    responder: Responder
    leaf: Leaf


@pytest.fixture(scope="module")
def module_lab() -> Iterator[Lab]:
    ca = CA("ecdsa")
    with Responder(ca, drip_interval=0.2) as responder:
        yield Lab(ca, responder, ca.issue("faults.test", ocsp_url=responder.url))


@pytest.fixture
def lab(module_lab: Lab) -> Iterator[Lab]:
    module_lab.responder.fault = Fault.NONE
    yield module_lab
    module_lab.responder.fault = Fault.NONE


@dataclass(frozen=True)
class Case:
    """What one fault must produce."""

    expect: type[Exception] | CertStatus
    methods: tuple[str, ...] | None  # the HTTP methods the responder must have seen, in order
    settings: dict[str, Any] = field(default_factory=dict)
    extra: Callable[[Any], None] | None = None


def _status(status: ResponseStatus) -> Callable[[Any], None]:
    def check(exc: Any) -> None:
        assert exc.status is status

    return check


def _http(code: int, retry_after: float | None) -> Callable[[Any], None]:
    def check(exc: Any) -> None:
        assert exc.status_code == code
        assert exc.retry_after == retry_after

    return check


def _no_next_update(result: Any) -> None:
    assert result.next_update is None


def _short(result: Any) -> None:
    assert result.next_update - result.this_update == timedelta(seconds=2)


ONE_GET = ("GET",)
GET_THEN_POST = ("GET", "POST")
CASES: dict[Fault, Case] = {
    Fault.NONE: Case(CertStatus.GOOD, ONE_GET),
    # tryLater is retried (twice by default); GET worked as transport, so it stays GET
    Fault.TRY_LATER: Case(ResponderError, ("GET",) * 3, extra=_status(ResponseStatus.TRY_LATER)),
    Fault.UNAUTHORIZED: Case(ResponderError, ONE_GET, extra=_status(ResponseStatus.UNAUTHORIZED)),
    # a GET called malformed may have been mangled on the way (a path-normalising proxy): the
    # same request goes again by POST, whose answer is the one reported
    Fault.MALFORMED_REQUEST: Case(
        ResponderError, ("GET", "POST"), extra=_status(ResponseStatus.MALFORMED_REQUEST)
    ),
    Fault.INTERNAL_ERROR: Case(
        ResponderError, ONE_GET, extra=_status(ResponseStatus.INTERNAL_ERROR)
    ),
    Fault.SIG_REQUIRED: Case(ResponderError, ONE_GET, extra=_status(ResponseStatus.SIG_REQUIRED)),
    Fault.WRONG_SIGNER: Case(UnauthorizedResponderError, ONE_GET),
    Fault.NO_EKU: Case(UnauthorizedResponderError, ONE_GET),
    Fault.EXPIRED: Case(ExpiredResponseError, ONE_GET),
    Fault.FUTURE: Case(NotYetValidError, ONE_GET),
    Fault.NO_NEXT_UPDATE: Case(CertStatus.GOOD, ONE_GET, extra=_no_next_update),
    Fault.SHORT_VALIDITY: Case(CertStatus.GOOD, ONE_GET, extra=_short),
    Fault.WRONG_NONCE: Case(NonceMismatchError, ONE_GET),
    # an unparseable GET answer falls back to POST
    Fault.GARBAGE: Case(DecodeError, GET_THEN_POST),
    Fault.TRUNCATED: Case(DecodeError, GET_THEN_POST),
    Fault.OVERSIZED: Case(ResponseTooLargeError, GET_THEN_POST),
    # the per-request timeout (5 s) is capped by the deadline (1 s): no time left to fall back
    Fault.SLOW_DRIP: Case(FetchTimeoutError, ONE_GET, {"timeout": 5.0, "deadline": 1.0}),
    Fault.HANG: Case(FetchTimeoutError, ONE_GET, {"timeout": 5.0, "deadline": 1.0}),
    Fault.HTTP_404: Case(HTTPStatusError, GET_THEN_POST, extra=_http(404, None)),
    # 500 is retried with backoff; after the GET failed once, only POST is tried
    Fault.HTTP_500: Case(HTTPStatusError, ("GET", "POST", "POST", "POST"), extra=_http(500, None)),
    # 503 Retry-After: 1 is honoured (two waits of >= 1 s fit in the 3 s deadline)
    Fault.HTTP_503: Case(
        HTTPStatusError, ("GET", "POST", "POST", "POST"), {"deadline": 3.0}, _http(503, 1.0)
    ),
    Fault.WRONG_CONTENT_TYPE: Case(ContentTypeError, GET_THEN_POST),
    # GET is redirected (302) to /ok/..., which answers cleanly
    Fault.REDIRECT: Case(CertStatus.GOOD, ("GET", "GET")),
    Fault.REDIRECT_LOOP: Case(RedirectError, ("GET", "POST")),
    Fault.RESET: Case(ConnectError, ("GET", "POST", "POST", "POST")),
}

BASE_SETTINGS: dict[str, Any] = {"timeout": 2.0, "deadline": 4.0, "backoff": 0.05}


def test_every_fault_has_a_case() -> None:
    assert set(CASES) == set(Fault)


def _run(mode: str, lab: Lab, settings: dict[str, Any]) -> Any:
    if mode == "sync":
        with Client(ClientConfig(**settings)) as client:
            return client.check(lab.leaf.cert, lab.ca.issuer)

    async def go() -> Any:
        async with AsyncClient(ClientConfig(**settings)) as client:
            return await client.check(lab.leaf.cert, lab.ca.issuer)

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", list(CASES), ids=lambda f: f.name)
def test_fault(lab: Lab, fault: Fault, mode: str) -> None:
    case = CASES[fault]
    settings = {**BASE_SETTINGS, **case.settings}
    lab.responder.fault = fault
    before = lab.responder.requests
    start = time.monotonic()
    outcome: Any
    try:
        outcome = _run(mode, lab, settings)
    except ocspkit.OCSPError as exc:
        outcome = exc
    elapsed = time.monotonic() - start
    assert elapsed < settings["deadline"] + MARGIN, f"deadline not held: {elapsed:.2f}s"
    if isinstance(case.expect, CertStatus):
        assert isinstance(outcome, ocspkit.ValidationResult), repr(outcome)
        assert outcome.status is case.expect
    else:
        assert type(outcome) is case.expect, repr(outcome)
        if isinstance(outcome, ocspkit.FetchError):
            assert outcome.url is not None and outcome.url.startswith(lab.responder.url)
        if isinstance(outcome, ConnectError):
            assert isinstance(outcome.__cause__, httpx.TransportError)  # the cause is kept
    if case.extra is not None:
        case.extra(outcome)
    if case.methods is not None:
        # the responder records a request when it has read it; a HANG/SLOW_DRIP one first
        assert lab.responder.wait_for_requests(before + len(case.methods), timeout=5)
        seen = tuple(r.method for r in lab.responder.records[before:])
        assert seen == case.methods
    if fault is Fault.HTTP_503:
        assert elapsed >= 2.0  # two Retry-After waits of one second each


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", [Fault.HANG, Fault.SLOW_DRIP])
def test_deadline_caps_a_long_timeout(lab: Lab, fault: Fault, mode: str) -> None:
    """timeout=30 but deadline=0.8: the call still ends at the deadline."""
    lab.responder.fault = fault
    start = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        _run(mode, lab, {"timeout": 30.0, "deadline": 0.8, "method": "post"})
    assert time.monotonic() - start < 0.8 + MARGIN


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_post_only_never_sends_get(lab: Lab, mode: str) -> None:
    before = lab.responder.requests
    result = _run(mode, lab, {**BASE_SETTINGS, "method": "post"})
    assert result.status is CertStatus.GOOD
    assert tuple(r.method for r in lab.responder.records[before:]) == ("POST",)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_get_only_does_not_fall_back(lab: Lab, mode: str) -> None:
    lab.responder.fault = Fault.GARBAGE
    before = lab.responder.requests
    with pytest.raises(DecodeError):
        _run(mode, lab, {**BASE_SETTINGS, "method": "get"})
    assert tuple(r.method for r in lab.responder.records[before:]) == ("GET",)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_retries(lab: Lab, mode: str) -> None:
    lab.responder.fault = Fault.TRY_LATER
    before = lab.responder.requests
    with pytest.raises(ResponderError):
        _run(mode, lab, {**BASE_SETTINGS, "retries": 0})
    assert lab.responder.requests - before == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_query_returns_try_later_after_retries(lab: Lab, mode: str) -> None:
    """query() does not validate: after its retries a tryLater answer is returned as is."""
    lab.responder.fault = Fault.TRY_LATER
    request = ocspkit.build_request(lab.leaf.cert, lab.ca.issuer)
    before = lab.responder.requests
    if mode == "sync":
        with Client(ClientConfig(backoff=0.01, retries=1)) as client:
            response = client.query(request, lab.responder.url)
    else:

        async def go() -> ocspkit.OCSPResponse:
            async with AsyncClient(ClientConfig(backoff=0.01, retries=1)) as client:
                return await client.query(request, lab.responder.url)

        response = asyncio.run(go())
    assert response.status is ResponseStatus.TRY_LATER
    assert lab.responder.requests - before == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_query_parses_good_answer_with_nonce(lab: Lab, mode: str) -> None:
    request = ocspkit.build_request(lab.leaf.cert, lab.ca.issuer)
    if mode == "sync":
        with Client() as client:
            response = client.query(request, lab.responder.url)
    else:

        async def go() -> ocspkit.OCSPResponse:
            async with AsyncClient() as client:
                return await client.query(request, lab.responder.url)

        response = asyncio.run(go())
    assert response.successful
    assert response.nonce == request.nonce
    result = ocspkit.validate_response(response, lab.leaf.cert, lab.ca.issuer, request=request)
    assert result.status is CertStatus.GOOD
