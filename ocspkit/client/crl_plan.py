"""The shared plan of ``fetch_crl``: cache first, a (conditional) GET, the body, validation.

What this module owns: when a cached CRL answers without a request, the conditional GET
against an expired copy and what a 304 means, which bodies are taken for a CRL (the media
types and the sniffing rule), and the order parse → validate → store. What it must never do:
perform I/O itself (it yields the actions of :mod:`ocspkit.client.transfer`, so the deadline,
size cap, redirect, address and Content-Encoding rules are those of every other fetch), store
a CRL that did not validate, or let a 304 extend a CRL past its own nextUpdate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from cryptography import x509

from ..crl import parse_crl
from ..crl_validate import validate_crl
from ..crlmodels import CRL
from ..errors import ContentTypeError, CRLStaleError, OCSPError
from ..policy import ValidationPolicy
from .actions import Reply, Sleep, media_type
from .crl_cache import CachedCRL, CRLCache
from .transfer import Context, Flow, check_scheme, fetch_reply, retrying

__all__ = ["CRL_MEDIA_TYPES", "crl_body", "crl_flow", "looks_like_crl"]

#: Media types whose body is taken for a CRL as is (parameters ignored). RFC 5280 §4.2.1.13
#: names ``application/pkix-crl``; the others are what real CRL servers and object stores send.
CRL_MEDIA_TYPES = frozenset(
    {
        "application/pkix-crl",
        "application/x-pkcs7-crl",
        "application/x-x509-crl",
        "application/octet-stream",
        "binary/octet-stream",
    }
)

_ACCEPT = "application/pkix-crl, application/x-pkcs7-crl;q=0.9, */*;q=0.5"
_HEADERS = (("accept", _ACCEPT), ("accept-encoding", "identity"))
_OK = frozenset({200})
_OK_OR_NOT_MODIFIED = frozenset({200, 304})
_PEM_CRL = b"-----BEGIN X509 CRL-----"


def looks_like_crl(body: bytes) -> bool:
    """True if ``body`` starts like a DER SEQUENCE or a PEM CRL (whitespace before PEM allowed)."""
    return body[:1] == b"\x30" or body.lstrip()[: len(_PEM_CRL)] == _PEM_CRL


def crl_body(body: bytes, headers: Mapping[str, str], url: str) -> CRL:
    """The CRL in a 200 reply's body (DER or PEM).

    A body labelled with one of :data:`CRL_MEDIA_TYPES` is parsed as is; a body of any other
    type (or none) is parsed only if it starts like a CRL, else
    :class:`~ocspkit.ContentTypeError` (an HTML error page, a captive portal). Trust never
    comes from the label: the CRL still has to validate. Raises
    :class:`~ocspkit.DecodeError` for a body that is not a well-formed CRL.
    """
    kind = media_type(headers)
    if kind not in CRL_MEDIA_TYPES and not looks_like_crl(body):
        got = headers.get("content-type", "(none)")
        raise ContentTypeError(f"Content-Type is {got!r} and the body is not a CRL", url=url)
    return parse_crl(body)


def _conditional(cached: CachedCRL | None) -> tuple[tuple[str, str], ...]:
    if cached is None:
        return ()
    headers: tuple[tuple[str, str], ...] = ()
    if cached.etag:
        headers += (("if-none-match", cached.etag),)
    if cached.last_modified:
        headers += (("if-modified-since", cached.last_modified),)
    return headers


def crl_flow(
    ctx: Context,
    cache: CRLCache | None,
    url: str,
    *,
    issuer: x509.Certificate | None,
    extra_certs: Sequence[x509.Certificate],
    now: datetime | None,
    policy: ValidationPolicy,
    scope_url: str | None = None,
    refresh: bool = False,
) -> Flow[CRL]:
    """Fetch the CRL at ``url``; with ``issuer``, validate it, through the cache.

    Without ``issuer`` the CRL is fetched and parsed only: nothing is validated, so the cache
    is neither read nor written. With it: a cached CRL before its nextUpdate that still
    validates is returned without a request; one that fails only on the time (expired, or
    too old for the policy) but is genuine at its own thisUpdate is asked for again with
    ``If-None-Match`` / ``If-Modified-Since``, and a 304 gives
    that same CRL, validated at ``now`` — past its nextUpdate that raises
    :class:`~ocspkit.CRLExpiredError`, never a stale answer. A fetched CRL is validated
    against the URL asked for (the partition rule), refused with
    :class:`~ocspkit.CRLStaleError` if its CRL number is below the cached copy's (a
    rollback), and only then stored.

    The partition rule checks ``scope_url`` instead of ``url`` when given (a delta CRL names
    its complete CRL's distribution point); ``refresh`` asks the server even when the cached
    copy would serve (conditionally, with its validators).
    """
    check_scheme(url)
    scope = scope_url or url
    cached: CachedCRL | None = None
    if issuer is not None and cache is not None:
        cached = cache.lookup(url)
        if cached is not None:
            hit = None
            if not refresh:
                hit = cache.validated(
                    url, cached, issuer, now=now, policy=policy, extra_certs=extra_certs,
                    scope_url=scope,
                )  # fmt: skip
            if hit is not None:
                return hit
            if not _genuine(cached.crl, issuer, scope, policy, extra_certs):
                cache.delete(url)  # not a copy worth revalidating
                cached = None
    token = ""
    if issuer is not None and cache is not None:
        token, waited = yield from _lease(ctx, cache, url)
        if waited:  # another member of the fleet was fetching it: its copy may serve
            fresh = cache.get(
                url, issuer, now=now, policy=policy, extra_certs=extra_certs, scope_url=scope
            )
            if fresh is not None:
                if token:
                    cache.release(url, token)
                return fresh
    try:
        return (yield from _fetch(ctx, cache, url, scope, cached, issuer, extra_certs, now, policy))
    finally:
        if token and cache is not None:
            cache.release(url, token)


#: How long a fetch lease of a shared CRL store is held at most (the fetch's own deadline
#: is shorter), and how often a member waiting for another's copy looks again.
LEASE_TTL = 30.0
LEASE_POLL = 0.1


def _lease(ctx: Context, cache: CRLCache, url: str) -> Flow[tuple[str, bool]]:
    """The fetch lease of ``url`` and whether we waited for it: a token (``""`` from a store
    without leases, or after waiting half the time left for a member that holds it)."""
    token = cache.lease(url, LEASE_TTL)
    if token is not None:
        return token, False
    give_up = ctx.clock() + ctx.remaining() / 2
    while ctx.clock() + LEASE_POLL < give_up:
        yield Sleep(LEASE_POLL)
        token = cache.lease(url, LEASE_TTL)  # granted once the holder released it
        if token is not None:
            return token, True
    return "", True


def _fetch(
    ctx: Context,
    cache: CRLCache | None,
    url: str,
    scope: str,
    cached: CachedCRL | None,
    issuer: x509.Certificate | None,
    extra_certs: Sequence[x509.Certificate],
    now: datetime | None,
    policy: ValidationPolicy,
) -> Flow[CRL]:
    headers = _HEADERS + _conditional(cached)
    statuses = _OK_OR_NOT_MODIFIED if cached is not None else _OK

    def step() -> Flow[tuple[Reply, str]]:
        return (
            yield from fetch_reply(
                ctx,
                "GET",
                url,
                headers=headers,
                max_size=ctx.config.max_crl_size,
                statuses=statuses,
            )
        )

    reply, final = yield from retrying(ctx, step)
    etag = reply.headers.get("etag") or None
    modified = reply.headers.get("last-modified") or None
    if reply.status_code == 304:
        assert cached is not None and cache is not None and issuer is not None
        crl = validate_crl(
            cached.crl, issuer, url=scope, now=now, policy=policy, extra_certs=extra_certs
        )
        cache.put(
            url, crl, etag=etag or cached.etag, last_modified=modified or cached.last_modified
        )
        return crl
    crl = crl_body(reply.body, reply.headers, final)
    if issuer is None:
        return crl
    crl = validate_crl(crl, issuer, url=scope, now=now, policy=policy, extra_certs=extra_certs)
    if cached is not None:
        _no_rollback(crl, cached.crl, url)
    if cache is not None:
        cache.put(url, crl, etag=etag, last_modified=modified)
    return crl


def _no_rollback(crl: CRL, seen: CRL, url: str) -> None:
    """Refuse a CRL numbered below the copy already validated for ``url`` (RFC 5280 §5.2.3:
    CRL numbers only increase): an older CRL served again, to hide a newer revocation."""
    if crl.crl_number is None or seen.crl_number is None or crl.is_delta != seen.is_delta:
        return
    if crl.crl_number < seen.crl_number:
        raise CRLStaleError(
            f"CRL number {crl.crl_number} from {url} is lower than that of the copy already "
            f"validated ({seen.crl_number}): an older CRL served again"
        )


def _genuine(
    crl: CRL,
    issuer: x509.Certificate,
    url: str,
    policy: ValidationPolicy,
    extra_certs: Sequence[x509.Certificate],
) -> bool:
    """True if an expired cached CRL passes every check at its own thisUpdate (its signer,
    signature, structure and scope): only such a copy is revalidated with a conditional GET."""
    try:
        validate_crl(
            crl, issuer, url=url, now=crl.this_update, policy=policy, extra_certs=extra_certs
        )
    except OCSPError:
        return False
    return True
