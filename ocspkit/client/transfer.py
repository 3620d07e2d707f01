"""Shared transfer logic: guarded requests, manual redirects, status checks, retries.

What this module owns: the rules of one HTTP fetch (schemes, redirects and the address rules
applied to them, status and media type) and of retrying (what is retried, how long to wait).
What it must never do: touch a socket, read a clock other than the context's, or compute a
backoff of its own (waits come from :func:`ocspkit.refresh.retry_delay`). These generators
yield :mod:`~ocspkit.client.actions` for an edge to perform, so the sync and async clients
behave identically.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import timedelta
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
    UnsafeURLError,
)
from ..models import ResponseStatus
from ..refresh import RefreshSchedule, retry_delay
from .actions import Action, Exchange, Reply, Resolve, Sleep, media_type, parse_retry_after
from .config import ClientConfig
from .guard import check_address, host_and_port, literal_address, refuse_metadata_host

__all__ = [
    "Context",
    "Flow",
    "check_scheme",
    "fetch",
    "fetch_reply",
    "is_retryable",
    "retry_schedule",
    "retry_wait",
    "retrying",
    "url_scheme",
]

T = TypeVar("T")

#: A plan step: yields actions, receives their outcome, returns a value.
Flow = Generator[Action, Any, T]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = ("http", "https")
#: httpx refuses longer URLs.
_MAX_URL = 65536
#: Do not start a retry that would have less than this many seconds before the deadline.
_MIN_ATTEMPT = 0.05
#: Waits are capped here (a timedelta cannot hold every float; any deadline is shorter).
_MAX_WAIT = 10.0**9


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
    literal or port, control characters or spaces, no host, too long) and
    :class:`~ocspkit.FetchError` (:class:`~ocspkit.RedirectError` for a redirect target) for
    another scheme.
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
    # Every whitespace character but " " is non-printable (checked over all of Unicode).
    if not url.isprintable() or " " in url:
        raise InvalidURLError("URL contains spaces or control characters", url=url)
    if len(url) > _MAX_URL:
        raise InvalidURLError(f"invalid URL: longer than {_MAX_URL} characters", url=url)
    problem = _authority_problem(parts.scheme, parts.netloc)
    if problem is not None:
        raise InvalidURLError(f"invalid URL: {problem}", url=url)


@functools.lru_cache(maxsize=512)
def _authority_problem(scheme: str, netloc: str) -> str | None:
    """What is wrong with the host and port of ``scheme://netloc`` (None: nothing).

    Given a printable URL of acceptable length, only its scheme and authority can make
    httpx's parser refuse it (it percent-encodes the path and query), so this check, the
    costly part, is made once per authority rather than once per request.
    """
    base = f"{scheme}://{netloc}/"
    try:
        parts = urlsplit(base)
        parts.port  # noqa: B018 - validates the port
        if not parts.hostname:
            raise ValueError("no host")
        httpx.URL(base)  # the parser the edges use must accept it too
    except Exception as exc:  # ValueError, httpx.InvalidURL, idna.IDNAError, ...
        return str(exc)
    return None


def _addresses(ctx: Context, url: str) -> Flow[tuple[str, ...]]:
    """Every address of ``url``'s host (an IP literal as is; else a Resolve action)."""
    host, port = host_and_port(url)
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    remaining = ctx.remaining()
    if remaining <= 0:
        raise FetchTimeoutError("deadline exceeded before resolving the host", url=url)
    addresses: tuple[str, ...] = yield Resolve(url, host, port, min(ctx.config.timeout, remaining))
    if not addresses:
        raise ConnectError(f"{host} resolves to no address", url=url)
    return addresses


def _guard(ctx: Context, url: str, *, redirect: bool = False) -> Flow[tuple[str, ...]]:
    """Check every address of ``url``'s host; return them (the edges connect only to these)."""
    addresses = yield from _addresses(ctx, url)
    is_public = ctx.config.is_public
    for address in addresses:
        if redirect and not is_public(address):
            raise UnsafeURLError(
                f"refusing a redirect from a public address to non-public address {address} "
                "(allow_private_redirects=True allows it)",
                url=url,
            )
        check_address(url, address, is_public)
    return addresses


def _is_public_host(ctx: Context, url: str) -> Flow[bool]:
    """True if any address of ``url``'s host is public: the source of a redirect when the
    address that answered is unknown (through a proxy), so that the redirect may have come
    from a public one."""
    addresses = yield from _addresses(ctx, url)
    return any(ctx.config.is_public(a) for a in addresses)


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

    :func:`fetch_reply` with the config's ``max_response_size`` and only 200 accepted.
    """
    reply, current = yield from fetch_reply(
        ctx, method, url, body=body, headers=headers, content_type=content_type
    )
    return reply.body, current


_OK = frozenset({200})


def fetch_reply(
    ctx: Context,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str | None = None,
    max_size: int | None = None,
    statuses: frozenset[int] = _OK,
) -> Flow[tuple[Reply, str]]:
    """One HTTP request with redirects followed by hand: ``(reply, final URL)``.

    ``max_size`` caps the body (default: the config's ``max_response_size``); ``statuses``
    are the final status codes accepted (a 304 answering a conditional GET, for instance;
    only a 200's body is read).

    The method and body are kept across redirects (an OCSP request means the same wherever it
    is sent). Raises :class:`~ocspkit.RedirectError` for a non-http(s) target, a loop or more
    than ``max_redirects``; :class:`~ocspkit.HTTPStatusError` for anything but 200;
    :class:`~ocspkit.ContentTypeError` when ``content_type`` is set and not matched;
    :class:`~ocspkit.UnsafeURLError` for a non-public address that the address rules forbid:
    any, with ``block_private_addresses``; by default, the target of a redirect from a
    public address (unless ``allow_private_redirects``).
    """
    config = ctx.config
    check_scheme(url)
    seen = {url}
    current = url
    hops = 0
    guard_next = False  # the current URL is the target of a redirect from a public address
    while True:
        checked: tuple[str, ...] = ()
        refuse_metadata_host(current)  # also through a proxy, which would fetch it for us
        if config.block_private_addresses or guard_next:
            checked = yield from _guard(ctx, current, redirect=guard_next)
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
            max_size=config.max_response_size if max_size is None else max_size,
            content_type=content_type,
            addresses=checked,
        )
        if config.block_private_addresses and reply.peer and not config.proxy:
            check_address(current, reply.peer, config.is_public)
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
            if config.block_private_addresses or config.allow_private_redirects:
                guard_next = False  # every hop is checked anyway / the caller allowed it
            elif checked:
                guard_next = True  # checked addresses are public ones
            elif reply.peer and not config.proxy and config.is_public(reply.peer):
                guard_next = True  # the address that redirected is public
            else:  # a non-public peer may be a proxy (the environment's too): ask the names
                guard_next = yield from _is_public_host(ctx, current)
            current = target
            continue
        if reply.status_code not in statuses:
            raise HTTPStatusError(
                f"HTTP status {reply.status_code}",
                url=current,
                status_code=reply.status_code,
                retry_after=parse_retry_after(reply.headers.get("retry-after")),
            )
        if (
            content_type is not None
            and reply.status_code == 200
            and media_type(reply.headers) != content_type
        ):
            got = reply.headers.get("content-type", "(none)")
            raise ContentTypeError(
                f"Content-Type is {got!r}, expected {content_type!r}", url=current
            )
        return reply, current


def is_retryable(exc: OCSPError) -> bool:
    """tryLater, HTTP 429 and 5xx, and connection failures are worth another attempt.

    Timeouts are not: a hung responder hangs again, and the deadline is shared.
    """
    if isinstance(exc, ResponderError):
        return exc.status is ResponseStatus.TRY_LATER
    if isinstance(exc, HTTPStatusError):
        return exc.status_code == 429 or 500 <= exc.status_code <= 599
    return isinstance(exc, ConnectError)


def retry_schedule(config: ClientConfig) -> RefreshSchedule:
    """The client's retry backoff as a :class:`~ocspkit.refresh.RefreshSchedule`: the first
    wait is ``backoff``, each further one doubles, spread by ±50 %, capped by the deadline."""
    cap = min(config.deadline, _MAX_WAIT)
    return RefreshSchedule(
        retry_initial=timedelta(seconds=min(config.backoff, cap)),
        retry_max=timedelta(seconds=cap),
        backoff_factor=2.0,
        jitter=0.5,
    )


def retry_wait(
    config: ClientConfig, exc: OCSPError, attempt: int, remaining: float, rng: random.Random
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` (0-based), or None to give up.

    The wait is :func:`ocspkit.refresh.retry_delay` over :func:`retry_schedule` (at least
    ``Retry-After`` when the server sent one); None when out of retries, not retryable, or
    when the wait would not leave time for another attempt before the deadline.
    """
    if attempt >= config.retries or not is_retryable(exc):
        return None
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    delay = retry_delay(
        attempt + 1, schedule=retry_schedule(config), jitter=rng, retry_after=retry_after
    ).total_seconds()
    if delay + _MIN_ATTEMPT >= remaining:
        return None
    return delay


def retrying(ctx: Context, step: Callable[[], Flow[T]]) -> Flow[T]:
    """Run ``step`` until it succeeds or :func:`retry_wait` says to give up."""
    attempt = 0
    while True:
        try:
            return (yield from step())
        except OCSPError as exc:
            delay = retry_wait(ctx.config, exc, attempt, ctx.remaining(), ctx.rng)
            if delay is None:
                raise
        attempt += 1
        yield Sleep(delay)
