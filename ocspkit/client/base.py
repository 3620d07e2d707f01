"""What :class:`~ocspkit.Client` and :class:`~ocspkit.AsyncClient` share: settings, cache, plans."""

from __future__ import annotations

import os
import random
import ssl
import time
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Generic, TypeVar, Union

import httpx
from cryptography import x509

from ..certs import load_certificate, load_certificates
from ..models import OCSPRequest, OCSPResponse, ValidationResult
from ..policy import ValidationPolicy
from .cache import ResponseCache
from .config import ClientConfig, Method
from .plan import check_flow, query_flow
from .transfer import Context, Flow

__all__ = [
    "BundleInput",
    "CertInput",
    "ClientBase",
    "coerce_inputs",
    "default_ssl_context",
    "new_async_http",
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


def new_async_http(proxy: str | None, max_connections: int | None = None) -> httpx.AsyncClient:
    """The httpx client an async client or a bulk check makes for itself.

    Without a proxy (given or from the environment) plain-http requests go through the lean
    :class:`~ocspkit.client.streams.AsyncStreamTransport`; everything else through httpx's own.
    """
    limits = httpx.Limits(
        max_connections=max_connections or 100,
        max_keepalive_connections=max_connections or 20,
    )
    if proxy is not None or _environment_proxies():
        return httpx.AsyncClient(
            proxy=proxy, limits=limits, follow_redirects=False, verify=default_ssl_context()
        )
    from .deadline import install_backends
    from .streams import AsyncStreamTransport

    tls = httpx.AsyncHTTPTransport(verify=default_ssl_context(), limits=limits)
    transport = AsyncStreamTransport(tls, max_idle=max_connections or 20)
    client = httpx.AsyncClient(transport=transport, follow_redirects=False)
    install_backends(client)  # TLS connections go only to the guard's checked addresses
    return client


def _environment_proxies() -> bool:
    return any(k.lower() in ("http", "https", "all") for k in urllib.request.getproxies())


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
        *,
        timeout: float = 10.0,
        deadline: float = 30.0,
        method: Method = "auto",
        force_url: str | None = None,
        proxy: str | None = None,
        max_response_size: int = 65536,
        max_redirects: int = 3,
        retries: int = 2,
        backoff: float = 0.5,
        cache: bool | ResponseCache = False,
        block_private_addresses: bool = False,
        policy: ValidationPolicy | None = None,
        per_host: int | None = None,
        http_client: H | None = None,
    ) -> None:
        if http_client is not None and proxy is not None:
            raise ValueError("configure the proxy on your http_client instead of passing proxy=")
        #: The client's immutable settings.
        self.config = ClientConfig(
            timeout=timeout,
            deadline=deadline,
            method=method,
            force_url=force_url,
            proxy=proxy,
            max_response_size=max_response_size,
            max_redirects=max_redirects,
            retries=retries,
            backoff=backoff,
            block_private_addresses=block_private_addresses,
            policy=policy,
            per_host=per_host,
        )
        #: The response cache (``None`` when caching is off).
        self.cache: ResponseCache | None = None
        if isinstance(cache, ResponseCache):
            self.cache = cache
        elif cache:
            self.cache = ResponseCache()
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
