"""Shared transfer logic: guarded requests, manual redirects, status checks, retries.

Pure decisions only: these generators yield :mod:`~ocspkit.client.actions` for an edge to
perform and never touch a socket, so the sync and async clients behave identically.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import (
    ConnectError,
    ContentTypeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    OCSPError,
    RedirectError,
    ResponderError,
)
from ..models import ResponseStatus
from .actions import Action, Exchange, Reply, Resolve, Sleep, media_type, parse_retry_after
from .config import ClientConfig
from .guard import check_address, host_and_port, literal_address

__all__ = [
    "Context",
    "Flow",
    "check_scheme",
    "fetch",
    "is_retryable",
    "retry_delay",
    "retrying",
    "url_scheme",
]

T = TypeVar("T")

#: A plan step: yields actions, receives their outcome, returns a value.
Flow = Generator[Action, Any, T]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = ("http", "https")
#: Do not start a retry that would have less than this many seconds before the deadline.
_MIN_ATTEMPT = 0.05
#: Backoff stops doubling after this many retries (2**62 s is already far past any deadline).
_MAX_DOUBLINGS = 62


@dataclass(frozen=True)
class Context:
    """One call's settings and clock: the config, its absolute deadline, a jitter source."""

    config: ClientConfig
    deadline: float
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def start(
        cls,
        config: ClientConfig,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> Context:
        """A context whose deadline is ``config.deadline`` seconds from now."""
        return cls(config, clock() + config.deadline, clock, rng or random.Random())

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once past it)."""
        return self.deadline - self.clock()


def url_scheme(url: str) -> str:
    """The lower-cased scheme of ``url``, also when the rest of it is malformed."""
    head, sep, _ = url.partition(":")
    return head.strip().lower() if sep else ""


def check_scheme(url: str, *, redirect: bool = False) -> None:
    """Refuse anything but well-formed http and https URLs.

    Raises :class:`~ocspkit.client.InvalidURLError` for a URL that cannot be parsed (bad IPv6
    literal or port, control characters or spaces, no host) and :class:`~ocspkit.FetchError`
    (:class:`~ocspkit.RedirectError` for a redirect target) for another scheme.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
    except ValueError as exc:
        raise InvalidURLError(f"invalid URL: {exc}", url=url) from None
    if scheme not in _SCHEMES:
        cls = RedirectError if redirect else FetchError
        what = "redirect to" if redirect else "URL with"
        raise cls(f"refusing {what} unsupported scheme {scheme or '(none)'!r}", url=url)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidURLError("URL contains spaces or control characters", url=url)
    try:
        parts.port  # noqa: B018 - validates the port
        if not parts.hostname:
            raise ValueError("no host")
        httpx.URL(url)  # the parser the edges use must accept it too
    except Exception as exc:  # ValueError, httpx.InvalidURL, idna.IDNAError, ...
        raise InvalidURLError(f"invalid URL: {exc}", url=url) from None


def _guard(ctx: Context, url: str) -> Flow[tuple[str, ...]]:
    """Check every address of ``url``'s host; return them (the edges connect only to these)."""
    host, port = host_and_port(url)
    literal = literal_address(host)
    if literal is not None:
        check_address(url, literal)
        return (literal,)
    remaining = ctx.remaining()
    if remaining <= 0:
        raise FetchTimeoutError("deadline exceeded before resolving the host", url=url)
    addresses: tuple[str, ...] = yield Resolve(url, host, port, min(ctx.config.timeout, remaining))
    if not addresses:
        raise ConnectError(f"{host} resolves to no address", url=url)
    for address in addresses:
        check_address(url, address)
    return addresses


def fetch(
    ctx: Context,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str | None = None,
) -> Flow[tuple[bytes, str]]:
    """One HTTP request with redirects followed by hand: ``(body, final URL)``.

    The method and body are kept across redirects (an OCSP request means the same wherever it
    is sent). Raises :class:`~ocspkit.RedirectError` for a non-http(s) target, a loop or more
    than ``max_redirects``; :class:`~ocspkit.HTTPStatusError` for anything but 200;
    :class:`~ocspkit.ContentTypeError` when ``content_type`` is set and not matched.
    """
    config = ctx.config
    check_scheme(url)
    seen = {url}
    current = url
    hops = 0
    while True:
        checked: tuple[str, ...] = ()
        if config.block_private_addresses:
            checked = yield from _guard(ctx, current)
        remaining = ctx.remaining()
        if remaining <= 0:
            raise FetchTimeoutError("deadline exceeded", url=current)
        reply: Reply = yield Exchange(
            method=method,
            url=current,
            headers=headers,
            body=body,
            timeout=min(config.timeout, remaining),
            deadline=ctx.deadline,
            max_size=config.max_response_size,
            content_type=content_type,
            addresses=checked,
        )
        if config.block_private_addresses and reply.peer and not config.proxy:
            check_address(current, reply.peer)
        location = reply.headers.get("location", "").strip()
        if reply.status_code in _REDIRECTS and location:
            try:
                target = urljoin(current, location)
            except ValueError as exc:
                raise InvalidURLError(f"invalid redirect target: {exc}", url=location) from None
            check_scheme(target, redirect=True)
            if target in seen:
                raise RedirectError(f"redirect loop back to {target}", url=current)
            if hops >= config.max_redirects:
                raise RedirectError(f"more than {config.max_redirects} redirect(s)", url=current)
            hops += 1
            seen.add(target)
            current = target
            continue
        if reply.status_code != 200:
            raise HTTPStatusError(
                f"HTTP status {reply.status_code}",
                url=current,
                status_code=reply.status_code,
                retry_after=parse_retry_after(reply.headers.get("retry-after")),
            )
        if content_type is not None and media_type(reply.headers) != content_type:
            got = reply.headers.get("content-type", "(none)")
            raise ContentTypeError(
                f"Content-Type is {got!r}, expected {content_type!r}", url=current
            )
        return reply.body, current


def is_retryable(exc: OCSPError) -> bool:
    """tryLater, HTTP 429 and 5xx, and connection failures are worth another attempt.

    Timeouts are not: a hung responder hangs again, and the deadline is shared.
    """
    if isinstance(exc, ResponderError):
        return exc.status is ResponseStatus.TRY_LATER
    if isinstance(exc, HTTPStatusError):
        return exc.status_code == 429 or 500 <= exc.status_code <= 599
    return isinstance(exc, ConnectError)


def retry_delay(
    config: ClientConfig, exc: OCSPError, attempt: int, remaining: float, rng: random.Random
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up.

    Exponential backoff ``backoff * 2**attempt`` with jitter (between half and all of it), at
    least ``Retry-After`` when the server sent one; None when out of retries, not retryable,
    or when the wait would not leave time for another attempt before the deadline.
    """
    if attempt >= config.retries or not is_retryable(exc):
        return None
    base = config.backoff * float(1 << min(attempt, _MAX_DOUBLINGS))
    delay = base / 2 + rng.uniform(0, base / 2)
    if isinstance(exc, HTTPStatusError) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    if delay + _MIN_ATTEMPT >= remaining:
        return None
    return delay


def retrying(ctx: Context, step: Callable[[], Flow[T]]) -> Flow[T]:
    """Run ``step`` until it succeeds or :func:`retry_delay` says to give up."""
    attempt = 0
    while True:
        try:
            return (yield from step())
        except OCSPError as exc:
            delay = retry_delay(ctx.config, exc, attempt, ctx.remaining(), ctx.rng)
            if delay is None:
                raise
        attempt += 1
        yield Sleep(delay)
