"""What :class:`~ocspkit.Client` and :class:`~ocspkit.AsyncClient` share: settings, cache, plans.

What this module owns: turning the flexible inputs of ``check`` into certificates, making the
httpx clients the clients own (with the transports of :mod:`ocspkit.client.transport`), and
starting a plan. What it must never do: perform I/O itself, or copy the fields of
:class:`~ocspkit.client.ClientConfig` (a client holds the config object).
"""

from __future__ import annotations

import os
import random
import ssl
import time
import weakref
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Generic, TypeVar, Union

import httpx
from cryptography import x509

from ..certs import load_certificate, load_certificates
from ..crlmodels import CRL
from ..models import OCSPRequest, OCSPResponse, ValidationResult
from ..policy import ValidationPolicy
from .cache import ResponseCache
from .config import ClientConfig
from .crl_cache import CRLCache
from .crl_plan import crl_flow
from .http1 import USER_AGENT
from .plan import check_flow, query_flow
from .transfer import Context, Flow
from .transport import AsyncDeadlineTransport, DeadlineTransport

__all__ = [
    "BundleInput",
    "CertInput",
    "ClientBase",
    "coerce_inputs",
    "default_ssl_context",
    "new_async_http",
    "new_http",
    "own_transport",
]

#: A certificate: an object, PEM/DER bytes, PEM text or a file path (a chain file's first
#: certificate is the subject; the rest join the bundle).
CertInput = Union[x509.Certificate, bytes, str, "os.PathLike[str]"]
#: Candidate issuers: certificates, or PEM bytes/text or a path holding them.
BundleInput = Union[Iterable[x509.Certificate], bytes, str, "os.PathLike[str]"]

H = TypeVar("H")


@lru_cache(maxsize=1)
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, made once: building one loads the CA bundle
    (tens of milliseconds), which would dominate one-shot checks."""
    return httpx.create_ssl_context()


def _limits(max_connections: int | None) -> httpx.Limits:
    return httpx.Limits(
        max_connections=max_connections or 100,
        max_keepalive_connections=max_connections or 20,
    )


_HEADERS = {"User-Agent": USER_AGENT}


def new_http(proxy: str | None) -> httpx.Client:
    """The blocking httpx client a :class:`~ocspkit.Client` makes for itself: every socket
    operation capped by the call's deadline, connections pinned to the guard's addresses."""
    transport = DeadlineTransport(
        proxy=proxy, ssl_context=default_ssl_context(), limits=_limits(None)
    )
    return httpx.Client(transport=transport, follow_redirects=False, headers=_HEADERS)


#: The transports of the httpx clients :func:`new_async_http` made, by client: what lets an
#: :class:`~ocspkit.AsyncClient` given one of them take the direct plain-HTTP path.
_ASYNC_TRANSPORTS: weakref.WeakKeyDictionary[httpx.AsyncClient, AsyncDeadlineTransport] = (
    weakref.WeakKeyDictionary()
)


def new_async_http(proxy: str | None, max_connections: int | None = None) -> httpx.AsyncClient:
    """The httpx client an async client or a bulk check makes for itself."""
    transport = AsyncDeadlineTransport(
        proxy=proxy, ssl_context=default_ssl_context(), limits=_limits(max_connections)
    )
    client = httpx.AsyncClient(transport=transport, follow_redirects=False, headers=_HEADERS)
    _ASYNC_TRANSPORTS[client] = transport
    return client


def own_transport(client: httpx.AsyncClient) -> AsyncDeadlineTransport | None:
    """The transport of an httpx client made by :func:`new_async_http` (None for another)."""
    return _ASYNC_TRANSPORTS.get(client)


def coerce_inputs(
    cert: CertInput | Iterable[x509.Certificate],
    issuer: CertInput | None,
    bundle: BundleInput,
) -> tuple[x509.Certificate, x509.Certificate | None, tuple[x509.Certificate, ...]]:
    """``(certificate, issuer or None, bundle)`` from the flexible inputs of ``check``.

    Raises :class:`~ocspkit.CertificateError` for anything that is not a certificate.
    """
    certs = load_certificates(cert)
    leaf, extra = certs[0], tuple(certs[1:])
    found_issuer = load_certificate(issuer) if issuer is not None else None
    if isinstance(bundle, (bytes, str, os.PathLike)):
        extra += tuple(load_certificates(bundle))
    else:
        extra += tuple(load_certificates(bundle)) if bundle else ()
    return leaf, found_issuer, extra


class ClientBase(Generic[H]):
    """Settings, cache and plan construction common to the sync and async clients."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        cache: bool | ResponseCache = False,
        http_client: H | None = None,
        crl_cache: CRLCache | None = None,
    ) -> None:
        config = ClientConfig() if config is None else config
        if not isinstance(config, ClientConfig):
            raise TypeError(f"config must be a ClientConfig, not {type(config).__name__}")
        if http_client is not None and config.proxy is not None:
            raise ValueError("configure the proxy on your http_client instead of in the config")
        #: The client's immutable settings.
        self.config = config
        #: The response cache (``None`` when caching is off).
        self.cache: ResponseCache | None = None
        if isinstance(cache, ResponseCache):
            self.cache = cache
        elif cache:
            self.cache = ResponseCache()
        if crl_cache is not None and not isinstance(crl_cache, CRLCache):
            raise TypeError(f"crl_cache must be a CRLCache, not {type(crl_cache).__name__}")
        #: The CRL cache of ``fetch_crl`` (a fresh in-memory one unless given).
        self.crl_cache: CRLCache = crl_cache if crl_cache is not None else CRLCache()
        self._rng = random.Random()
        self._owns_http = http_client is None
        self._http: H = self._open(http_client)

    def _open(self, http_client: H | None) -> H:
        """Set up the I/O edge; return ``http_client`` or a new httpx client of the right kind."""
        raise NotImplementedError

    def _context(self) -> Context:
        return Context.start(self.config, time.monotonic, self._rng)

    def _query_flow(self, request: OCSPRequest, url: str) -> Flow[OCSPResponse]:
        return query_flow(self._context(), request, url)

    def _crl_flow(
        self,
        url: str,
        *,
        issuer: CertInput | None,
        extra_certs: BundleInput,
        now: datetime | None,
        policy: ValidationPolicy | None,
    ) -> Flow[CRL]:
        found = load_certificate(issuer) if issuer is not None else None
        extra = tuple(load_certificates(extra_certs)) if extra_certs else ()
        return crl_flow(
            self._context(),
            self.crl_cache,
            url,
            issuer=found,
            extra_certs=extra,
            now=now,
            policy=policy or self.config.policy or ValidationPolicy(),
        )

    def _check_flow(
        self,
        cert: CertInput | Iterable[x509.Certificate],
        issuer: CertInput | None,
        *,
        url: str | None,
        bundle: BundleInput,
        now: datetime | None,
        hash_algorithm: str,
        nonce: bool | bytes,
        policy: ValidationPolicy | None,
    ) -> Flow[ValidationResult]:
        leaf, found_issuer, extra = coerce_inputs(cert, issuer, bundle)
        return check_flow(
            self._context(),
            self.cache,
            leaf,
            found_issuer,
            url=url,
            bundle=extra,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy or self.config.policy or ValidationPolicy(),
        )
