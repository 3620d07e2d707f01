"""The I/O actions the shared plan asks an edge to perform, and the helpers both edges use.

The plan (:mod:`ocspkit.client.plan`) is a generator: it yields an :class:`Exchange`,
:class:`Sleep` or :class:`Resolve` and receives the outcome (or has the edge's
:class:`~ocspkit.FetchError` thrown into it). The sync and async clients only perform these
actions; every decision stays in the plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ..errors import (
    ConnectError,
    ContentEncodingError,
    FetchError,
    FetchTimeoutError,
    ResponseTooLargeError,
)

__all__ = [
    "OCSP_REQUEST_TYPE",
    "OCSP_RESPONSE_TYPE",
    "Action",
    "BodyReader",
    "Exchange",
    "Reply",
    "Resolve",
    "Sleep",
    "body_wanted",
    "parse_retry_after",
    "transport_error",
]

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"


@dataclass(frozen=True, slots=True)
class Exchange:
    """Send one HTTP request (never following redirects) and read the reply.

    :ivar timeout: seconds for each network operation (already capped by the deadline).
    :ivar deadline: absolute ``time.monotonic()`` value the body must be complete by.
    :ivar content_type: the media type the body must have to be read (``None``: any).
    :ivar addresses: the IP addresses the private-address guard checked for the URL's host
        (empty when the guard is off): an edge that can must connect to one of these and
        nothing else, so a DNS answer that changes after the check cannot redirect it.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    timeout: float
    deadline: float
    max_size: int
    content_type: str | None
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """What an edge got back for an :class:`Exchange`.

    :ivar body: the body, read only when :func:`body_wanted` said so (else ``b""``).
    :ivar peer: the IP address actually connected to, when the edge can tell.
    """

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    peer: str | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (a retry backoff)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve ``host`` to its IP addresses (for the private-address guard)."""

    url: str
    host: str
    port: int
    timeout: float


Action = Exchange | Sleep | Resolve


def stream_args(action: Exchange) -> dict[str, Any]:
    """The arguments of ``httpx.(Async)Client.stream`` for one exchange (sync and async alike)."""
    return {
        "method": action.method,
        "url": action.url,
        "content": action.body,
        "headers": dict(action.headers),
        "timeout": httpx.Timeout(action.timeout),
        "follow_redirects": False,
    }


def media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type's media type, lower-cased, without parameters."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def body_wanted(status_code: int, headers: Mapping[str, str], action: Exchange) -> bool:
    """Whether the body of a reply is worth reading: a 200 of the expected media type."""
    if status_code != 200:
        return False
    return action.content_type is None or media_type(headers) == action.content_type


class BodyReader:
    """Collects a streamed body, enforcing the size cap and the deadline chunk by chunk.

    Edges feed it the raw (undecoded) body; a ``Content-Encoding`` other than ``identity``
    is refused up front with :class:`~ocspkit.client.ContentEncodingError`, so the size cap
    is on the bytes received and a compressed bomb is never expanded.
    """

    def __init__(
        self,
        action: Exchange,
        headers: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._action = action
        self._clock = clock
        self._parts: list[bytes] = []
        self._size = 0
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise ContentEncodingError(
                f"refusing a body with Content-Encoding {encoding!r} (only identity is accepted)",
                url=action.url,
            )
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > action.max_size:
            raise ResponseTooLargeError(
                f"response of {int(declared)} bytes exceeds the {action.max_size}-byte cap",
                url=action.url,
            )

    def feed(self, chunk: bytes) -> None:
        """Add one chunk; raise ResponseTooLargeError or FetchTimeoutError."""
        self._size += len(chunk)
        if self._size > self._action.max_size:
            raise ResponseTooLargeError(
                f"response exceeds the {self._action.max_size}-byte cap", url=self._action.url
            )
        self._parts.append(chunk)
        if self._clock() > self._action.deadline:
            raise FetchTimeoutError(
                "deadline exceeded while reading the response", url=self._action.url
            )

    def check_deadline(self) -> None:
        """Raise FetchTimeoutError if the deadline has passed."""
        if self._clock() > self._action.deadline:
            raise FetchTimeoutError(
                "deadline exceeded while reading the response", url=self._action.url
            )

    @property
    def body(self) -> bytes:
        """The body collected so far."""
        return b"".join(self._parts)


#: The name a response's ``Location`` travels under between the transports and the clients:
#: httpx builds a redirect request from ``Location`` even when told not to follow it, and a
#: value it cannot parse then fails the exchange as a protocol error (retried as a broken
#: connection) instead of reaching the redirect rules (:mod:`~.transfer`), which refuse it.
HIDDEN_LOCATION = b"x-ocspkit-location"


def hide_location(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The raw response headers with ``Location`` renamed :data:`HIDDEN_LOCATION` (a header
    the server itself sent under that name is dropped)."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower == HIDDEN_LOCATION:
            continue
        out.append((HIDDEN_LOCATION, value) if lower == b"location" else (name, value))
    return out


def reply_headers(headers: httpx.Headers) -> dict[str, str]:
    """Lower-cased response headers for a :class:`Reply`, ``Location`` restored."""
    found = {k.lower(): v for k, v in headers.items()}
    hidden = found.pop(HIDDEN_LOCATION.decode(), None)
    if hidden is not None:
        found["location"] = hidden
    return found


def transport_error(exc: Exception, url: str) -> FetchError:
    """The :class:`~ocspkit.FetchError` subclass for an httpx (or socket) exception."""
    if isinstance(exc, FetchError):
        return exc
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        said = detail if detail.startswith("timed out") else f"timed out: {detail}"
        return FetchTimeoutError(said, url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ConnectError(f"connection broken mid-response: {detail}", url=url)
    if isinstance(exc, (httpx.TransportError, OSError)):
        return ConnectError(f"connection failed: {detail}", url=url)
    return FetchError(f"request failed: {detail}", url=url)


#: Longer Retry-After values are clamped (they exceed any deadline anyway).
_MAX_RETRY_AFTER = 10**9


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is True too
        return float(min(int(value), _MAX_RETRY_AFTER))
    if not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
