"""The shared decision logic of the clients: which URLs and methods, what to retry, what to check.

What this module owns: the order of responder URLs, the GET/POST choice and fallback, and
turning answers into validated results (and cache entries). What it must never do: perform
I/O itself or hold per-client state.

Each public function here returns a :data:`~ocspkit.client.transfer.Flow` (a generator of I/O
actions). :class:`~ocspkit.Client` drives it with blocking I/O, :class:`~ocspkit.AsyncClient`
with ``await``; that is the only difference between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from ..certs import describe, ocsp_urls
from ..errors import (
    DecodeError,
    FetchError,
    NoOCSPURLError,
    OCSPError,
    ResponderError,
    UnsafeURLError,
)
from ..models import OCSPRequest, OCSPResponse, ResponseStatus, ValidationResult
from ..policy import ValidationPolicy
from ..request import build_request
from ..response import parse_response
from ..validate import validate_response
from .actions import OCSP_REQUEST_TYPE, OCSP_RESPONSE_TYPE
from .cache import ResponseCache
from .issuer import issuer_flow
from .transfer import Context, Flow, check_scheme, fetch, retrying, url_scheme

__all__ = ["MethodChoice", "check_flow", "fits_get", "query_flow", "responder_urls"]

_SCHEMES = ("http", "https")
#: RFC 5019 §5: GET for requests whose encoded form is at most 255 bytes.
GET_LIMIT = 255

_POST_HEADERS = (
    ("content-type", OCSP_REQUEST_TYPE),
    ("accept", OCSP_RESPONSE_TYPE),
    ("accept-encoding", "identity"),
)
_GET_HEADERS = (("accept", OCSP_RESPONSE_TYPE), ("accept-encoding", "identity"))


def responder_urls(
    cert: x509.Certificate, url: str | None = None, force_url: str | None = None
) -> tuple[str, ...]:
    """The responder URLs to try, in order: ``url``, else ``force_url``, else the AIA URLs.

    Raises :class:`~ocspkit.NoOCSPURLError` when the certificate names no http(s) responder
    and none was given.
    """
    if url:
        return (url,)
    if force_url:
        return (force_url,)
    found = ocsp_urls(cert)
    usable = tuple(dict.fromkeys(u for u in found if url_scheme(u) in _SCHEMES))
    if usable:
        return usable
    subject = describe(cert)
    if found:
        raise NoOCSPURLError(f"{subject} names only non-HTTP OCSP responders: {', '.join(found)}")
    raise NoOCSPURLError(f"{subject} has no OCSP responder URL (no AIA id-ad-ocsp)")


def fits_get(request: OCSPRequest) -> bool:
    """True if the URL-encoded base64 of ``request`` is at most 255 bytes (RFC 5019 §5)."""
    base = "http://h/"
    return len(request.get_url(base)) - len(base) <= GET_LIMIT


class MethodChoice:
    """Which HTTP method to use for one responder; ``"auto"`` learns when GET fails."""

    def __init__(self, method: str, request: OCSPRequest) -> None:
        self.method = method
        self.try_get = method == "get" or (method == "auto" and fits_get(request))


def _fall_back(ctx: Context, exc: OCSPError) -> bool:
    if isinstance(exc, UnsafeURLError):
        return False
    return isinstance(exc, (FetchError, DecodeError)) and ctx.remaining() > 0


def _mangled(choice: MethodChoice, response: OCSPResponse) -> bool:
    return choice.method == "auto" and response.status is ResponseStatus.MALFORMED_REQUEST


def _query_once(
    ctx: Context, request: OCSPRequest, url: str, choice: MethodChoice
) -> Flow[OCSPResponse]:
    """One attempt: GET (when chosen), falling back to POST under ``"auto"``."""
    if choice.try_get:
        try:
            body, _ = yield from fetch(
                ctx,
                "GET",
                request.get_url(url),
                headers=_GET_HEADERS,
                content_type=OCSP_RESPONSE_TYPE,
            )
            response = parse_response(body)
        except (FetchError, DecodeError) as exc:
            if choice.method == "get" or not _fall_back(ctx, exc):
                raise
            choice.try_get = False
        else:
            # A well-formed request the responder calls malformed did not survive the URL: a
            # proxy that normalises paths (nginx's merge_slashes turns a '//' in the base64
            # into '/') mangles about one GET in a hundred. The same bytes go again by POST.
            if not _mangled(choice, response) or ctx.remaining() <= 0:
                return response
            choice.try_get = False
    body, _ = yield from fetch(
        ctx, "POST", url, body=request.der, headers=_POST_HEADERS, content_type=OCSP_RESPONSE_TYPE
    )
    return parse_response(body)


class _TryLater(ResponderError):
    """Internal: a tryLater answer to be retried; carries the response."""

    def __init__(self, response: OCSPResponse) -> None:
        self.response = response
        super().__init__(ResponseStatus.TRY_LATER)


def query_flow(ctx: Context, request: OCSPRequest, url: str) -> Flow[OCSPResponse]:
    """Send ``request`` to ``url`` and parse the answer, whatever its responseStatus.

    Transport failures, HTTP 429/5xx and tryLater are retried; after the last retry a
    tryLater response is returned as is.
    """
    check_scheme(url)
    choice = MethodChoice(ctx.config.method, request)

    def step() -> Flow[OCSPResponse]:
        response = yield from _query_once(ctx, request, url, choice)
        if response.status is ResponseStatus.TRY_LATER:
            raise _TryLater(response)
        return response

    try:
        return (yield from retrying(ctx, step))
    except _TryLater as exc:
        return exc.response


def check_flow(
    ctx: Context,
    cache: ResponseCache | None,
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    *,
    url: str | None,
    bundle: Sequence[x509.Certificate],
    now: datetime | None,
    hash_algorithm: str,
    nonce: bool | bytes,
    policy: ValidationPolicy,
) -> Flow[ValidationResult]:
    """Build a request, ask each responder URL in order, validate; the first valid answer wins.

    A URL that fails (malformed, transport, HTTP, decoding, responder status or validation)
    hands over to the next; when all fail, the last URL's error is raised. The cache, when given, is
    consulted first and filled with the validated response.
    """
    good: list[str] = []
    bad: OCSPError | None = None
    for u in responder_urls(cert, url, ctx.config.force_url):
        try:
            check_scheme(u)
        except FetchError as exc:  # a malformed URL is skipped like one that fails
            bad = exc
        else:
            good.append(u)
    if not good:
        assert bad is not None
        raise bad
    urls = tuple(good)
    if issuer is None:
        issuer = yield from issuer_flow(ctx, cert, bundle)
    request = build_request(cert, issuer, hash_algorithm=hash_algorithm, nonce=nonce)
    cert_id = request.cert_ids[0]
    if cache is not None:
        for u in urls:
            hit = cache.get(cert_id, u, cert, issuer, now=now, policy=policy)
            if hit is not None:
                return hit
    found_issuer = issuer
    last: OCSPError | None = None
    for u in urls:
        if last is not None and ctx.remaining() <= 0:
            break
        choice = MethodChoice(ctx.config.method, request)

        def step(u: str = u, choice: MethodChoice = choice) -> Flow[ValidationResult]:
            response = yield from _query_once(ctx, request, u, choice)
            return validate_response(
                response, cert, found_issuer, now=now, request=request, policy=policy
            )

        try:
            result = yield from retrying(ctx, step)
        except OCSPError as exc:
            last = exc
            continue
        if cache is not None:
            cache.put(cert_id, u, result.response)
        return result
    assert last is not None  # urls is never empty
    raise last
