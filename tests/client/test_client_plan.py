"""The pure decisions shared by both clients: retry schedule, URLs, GET size, guard, reader."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

import ocspkit
from ocspkit import (
    ConnectError,
    FetchTimeoutError,
    HTTPStatusError,
    NoOCSPURLError,
    ResponderError,
    ResponseStatus,
    ResponseTooLargeError,
)
from ocspkit.client import ClientConfig
from ocspkit.client.actions import BodyReader, Exchange, parse_retry_after
from ocspkit.client.guard import is_public_address
from ocspkit.client.plan import fits_get, responder_urls
from ocspkit.client.transfer import is_retryable, retry_wait
from ocspkit.testing import CA

CONFIG = ClientConfig(retries=3, backoff=0.5)


def delay(
    exc: ocspkit.OCSPError, attempt: int = 0, remaining: float = 30.0, config: ClientConfig = CONFIG
) -> float | None:
    return retry_wait(config, exc, attempt, remaining, random.Random(7))


def test_retryable_errors() -> None:
    assert is_retryable(ResponderError(ResponseStatus.TRY_LATER))
    assert not is_retryable(ResponderError(ResponseStatus.UNAUTHORIZED))
    assert is_retryable(HTTPStatusError("x", status_code=503))
    assert is_retryable(HTTPStatusError("x", status_code=429))
    assert not is_retryable(HTTPStatusError("x", status_code=404))
    assert is_retryable(ConnectError("x"))
    assert not is_retryable(FetchTimeoutError("x"))
    assert not is_retryable(ocspkit.SignatureError("x"))


@pytest.mark.parametrize("attempt", [0, 1, 2])
def test_backoff_is_exponential_with_jitter(attempt: int) -> None:
    base = 0.5 * 2**attempt
    values = {
        retry_wait(CONFIG, ConnectError("x"), attempt, 30.0, random.Random(seed))
        for seed in range(20)
    }
    # ocspkit.refresh.retry_delay over the client's schedule: base ± 50 %
    assert all(v is not None and base / 2 <= v <= base * 1.5 for v in values)
    assert len(values) > 1  # jittered


def test_out_of_retries() -> None:
    assert delay(ConnectError("x"), attempt=3) is None
    assert delay(ConnectError("x"), config=ClientConfig(retries=0)) is None


def test_retry_after_is_honoured_and_capped_by_the_deadline() -> None:
    err = HTTPStatusError("x", status_code=503, retry_after=4.0)
    assert delay(err) == 4.0
    assert delay(err, remaining=3.0) is None  # would wait past the deadline: give up now
    assert delay(ConnectError("x"), remaining=0.1) is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("not an ip", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def test_responder_urls_precedence(ca: CA) -> None:
    leaf = ca.issue("u.test", ocsp_url="http://aia.example/")
    assert responder_urls(leaf.cert) == ("http://aia.example/",)
    assert responder_urls(leaf.cert, force_url="http://force/") == ("http://force/",)
    assert responder_urls(leaf.cert, "http://url/", "http://force/") == ("http://url/",)
    with pytest.raises(NoOCSPURLError):
        responder_urls(ca.issue("n.test", ocsp_url="").cert)


def test_get_only_when_small(ca: CA) -> None:
    leaves = [ca.issue(f"g{i}.test").cert for i in range(6)]
    assert fits_get(ocspkit.build_request(leaves[0], ca.issuer))
    assert fits_get(ocspkit.build_request(leaves[0], ca.issuer, hash_algorithm="sha256"))
    assert not fits_get(ocspkit.build_request(leaves, ca.issuer))  # six CertIDs


def _exchange(deadline: float, max_size: int = 10) -> Exchange:
    return Exchange("GET", "http://h/", (), None, 1.0, deadline, max_size, None)


def test_body_reader_cap_and_deadline() -> None:
    clock = iter([0.0, 0.5, 2.0]).__next__
    reader = BodyReader(_exchange(deadline=1.0), {}, clock)
    reader.feed(b"12345")
    reader.feed(b"678")
    with pytest.raises(FetchTimeoutError):
        reader.feed(b"9")  # the clock passed the deadline while dripping
    with pytest.raises(ResponseTooLargeError):
        BodyReader(_exchange(10.0), {"content-length": "11"})  # refused before reading
    reader = BodyReader(_exchange(10.0), {}, lambda: 0.0)
    with pytest.raises(ResponseTooLargeError):
        reader.feed(b"x" * 11)
