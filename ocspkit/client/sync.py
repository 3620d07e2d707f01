"""The blocking client: :class:`Client` and the one-shot :func:`check`.

What this module owns: performing the plan's actions with blocking I/O (httpx, a bounded name
lookup, ``time.sleep``) and the per-host slots across threads. What it must never do: make a
decision of its own (the plan makes them all) or run past the call's deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography import x509

from ..crlmodels import CRL
from ..errors import ConnectError, FetchError, FetchTimeoutError
from ..models import OCSPRequest, OCSPResponse, RevocationResult, ValidationResult
from ..policy import ValidationPolicy
from .actions import (
    Action,
    BodyReader,
    Exchange,
    Reply,
    Resolve,
    Sleep,
    body_wanted,
    reply_headers,
    stream_args,
    transport_error,
)
from .backends import limits, resolve_within
from .base import BundleInput, CertInput, ClientBase, coerce_inputs, new_http
from .cache import ResponseCache
from .config import ClientConfig
from .guard import host_and_port
from .issuer import issuer_flow
from .revocation_flow import RevocationArgs, client_revocation_flow, sync_perform
from .transfer import Flow

__all__ = ["Client", "check", "drive"]

T = TypeVar("T")


def drive(flow: Flow[T], perform: Callable[[Action], Any]) -> T:
    """Run a plan to completion, performing each action with blocking I/O."""
    value: Any = None
    error: FetchError | None = None
    try:
        while True:
            try:
                action = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            try:
                value, error = perform(action), None
            except FetchError as exc:
                value, error = None, exc
    finally:
        flow.close()


class _HostSlots:
    """At most ``limit`` requests in flight per host, across threads."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[threading.Semaphore, list[int]]] = {}

    @contextmanager
    def slot(self, url: str, deadline: float) -> Iterator[None]:
        if self._limit is None:
            yield
            return
        host = host_and_port(url)[0]
        with self._lock:
            sem, users = self._slots.setdefault(host, (threading.Semaphore(self._limit), [0]))
            users[0] += 1
        try:
            if not sem.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise FetchTimeoutError("deadline exceeded waiting for a connection slot", url=url)
            try:
                yield
            finally:
                sem.release()
        finally:
            with self._lock:
                users[0] -= 1
                if users[0] == 0:
                    del self._slots[host]


def _peer(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        addr = stream.get_extra_info("server_addr")
    except Exception:  # an exotic transport: no peer information
        return None
    return str(addr[0]) if addr else None


def _resolve(action: Resolve) -> tuple[str, ...]:
    try:
        return resolve_within(action.host, action.port, action.timeout)
    except TimeoutError:
        raise FetchTimeoutError(f"resolving {action.host} timed out", url=action.url) from None
    except OSError as exc:
        raise ConnectError(f"cannot resolve {action.host}: {exc}", url=action.url) from exc


class Client(ClientBase[httpx.Client]):
    """A blocking OCSP client that reuses connections; use it as a context manager.

    :param config: the settings (default: ``ClientConfig()``).
    :param cache: ``True`` or a :class:`~ocspkit.client.ResponseCache` to reuse verified
        responses while they are valid.
    :param http_client: your own :class:`httpx.Client` (not closed by this one).
    :param crl_cache: the :class:`~ocspkit.CRLCache` of :meth:`fetch_crl` (default: a new
        in-memory one for this client); share one, or give it a persistent store.

    The config's deadline caps every socket operation of the httpx client this one creates
    (connect, each read and write, the whole TLS handshake, name lookups), so a server that
    trickles its answer cannot keep a call alive past it. A client passed as ``http_client``
    is not modified: with it, ``timeout`` applies to each operation and the deadline is
    checked only between body chunks, so a server that keeps trickling its response headers
    (one byte within each ``timeout``) can hold such a call past the deadline; its
    connections are not pinned to the guard's addresses either.

    >>> with ocspkit.Client(ocspkit.ClientConfig(deadline=5)) as client:    # doctest: +SKIP
    ...     result = client.check(cert, issuer)
    """

    def _open(self, http_client: httpx.Client | None) -> httpx.Client:
        self._slots = _HostSlots(self.config.per_host)
        return http_client if http_client is not None else new_http(self.config.proxy)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (only those of an httpx client this one created)."""
        if self._owns_http:
            self._http.close()

    def query(self, request: OCSPRequest, url: str) -> OCSPResponse:
        """Send ``request`` to ``url`` and parse the answer (any responseStatus; not validated).

        Raises a :class:`~ocspkit.FetchError` subclass for transport failures and
        :class:`~ocspkit.DecodeError` for a body that is not an OCSP response.
        """
        return drive(self._query_flow(request, url), self._perform)

    def check(
        self,
        cert: CertInput | Iterable[x509.Certificate],
        issuer: CertInput | None = None,
        *,
        url: str | None = None,
        bundle: BundleInput = (),
        now: datetime | None = None,
        hash_algorithm: str = "sha1",
        nonce: bool | bytes = True,
        policy: ValidationPolicy | None = None,
    ) -> ValidationResult:
        """Ask the certificate's responder(s) about ``cert`` and validate the answer.

        :param issuer: the issuing certificate; ``None`` looks for it in ``bundle`` (and after
            the first certificate of ``cert`` if that is a chain), then fetches it from the
            certificate's AIA caIssuers URL.
        :param url: ask this responder instead of the certificate's (overrides ``force_url``).
        :param now: the time to validate at (default: now).
        :param policy: overrides the client's default policy for this call.
        :returns: the :class:`~ocspkit.ValidationResult` (GOOD, REVOKED or UNKNOWN).
        :raises OCSPError: :class:`~ocspkit.NoOCSPURLError`,
            :class:`~ocspkit.IssuerNotFoundError`, a :class:`~ocspkit.FetchError`,
            :class:`~ocspkit.ResponderError` or a :class:`~ocspkit.ValidationError`.
        """
        flow = self._check_flow(
            cert,
            issuer,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )
        return drive(flow, self._perform)

    def fetch_crl(
        self,
        url: str,
        *,
        issuer: CertInput | None = None,
        extra_certs: BundleInput = (),
        now: datetime | None = None,
        policy: ValidationPolicy | None = None,
    ) -> CRL:
        """Fetch the CRL at ``url`` (GET) and, when ``issuer`` is given, validate it.

        The fetch keeps every rule of an OCSP request: the config's deadline, redirects,
        the address rules and the refusal of compressed bodies, with the size cap
        ``max_crl_size``. Bodies labelled ``application/pkix-crl`` (or another CRL type,
        see :data:`~ocspkit.client.crl_plan.CRL_MEDIA_TYPES`) are parsed as DER or PEM; a
        body of another type is taken only if it starts like a CRL.

        :param issuer: the CA that publishes the CRL. With it the CRL is validated with
            :func:`ocspkit.validate_crl` (against ``url``: a partition must name it) and
            kept in :attr:`crl_cache` until its nextUpdate; a cached CRL that is still
            valid is returned without a request, and an expired one is revalidated with a
            conditional GET. Without it the CRL is only parsed (and never cached).
        :param extra_certs: certificates that may have signed the CRL for the issuer (a
            CRL signer, a rolled-over key), as for :func:`ocspkit.validate_crl`.
        :param now: the time to validate at (default: now).
        :param policy: overrides the client's default policy for this call.
        :returns: the :class:`~ocspkit.CRL`.
        :raises OCSPError: a :class:`~ocspkit.FetchError` (:class:`~ocspkit.ContentTypeError`
            for a body that is no CRL, :class:`~ocspkit.ResponseTooLargeError`, ...),
            :class:`~ocspkit.DecodeError` or a :class:`~ocspkit.CRLValidationError`.
        """
        flow = self._crl_flow(url, issuer=issuer, extra_certs=extra_certs, now=now, policy=policy)
        return drive(flow, self._perform)

    def fetch_issuer(
        self, cert: x509.Certificate, bundle: Sequence[x509.Certificate] = ()
    ) -> x509.Certificate:
        """The certificate that issued ``cert``: found in ``bundle``, else fetched from its
        AIA caIssuers URL (DER, PEM or PKCS#7) within this client's limits.

        Raises :class:`~ocspkit.IssuerNotFoundError` (an
        :class:`~ocspkit.client.IssuerFetchError` when the fetch failed in transport).
        """
        return drive(issuer_flow(self._context(), cert, tuple(bundle)), self._perform)

    def check_revocation(
        self,
        cert: CertInput | Iterable[x509.Certificate],
        issuer: CertInput | None = None,
        *,
        staple: OCSPResponse | bytes | None = None,
        sources: Sequence[str] = ("ocsp", "crl"),
        require: bool = False,
        url: str | None = None,
        bundle: BundleInput = (),
        now: datetime | None = None,
        hash_algorithm: str = "sha1",
        nonce: bool | bytes = True,
        policy: ValidationPolicy | None = None,
    ) -> RevocationResult:
        """The one answer to "is ``cert`` revoked?" (see :func:`ocspkit.check_revocation`):
        the staple, then OCSP, then CRLs, within this client's deadline and limits."""
        leaf, found, extra = coerce_inputs(cert, issuer, bundle)
        args = RevocationArgs(staple, sources, url, require, now, hash_algorithm, nonce, policy)
        ctx = self._context()
        flow = client_revocation_flow(ctx, self.cache, self.crl_cache, leaf, found, extra, args)
        return drive(flow, sync_perform(self._perform, drive))

    # -- the I/O edge ---------------------------------------------------------------------------

    def _perform(self, action: Action) -> Any:
        if isinstance(action, Exchange):
            return self._exchange(action)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        return _resolve(action)

    def _exchange(self, action: Exchange) -> Reply:
        slot = self._slots.slot(action.url, action.deadline)
        with slot, limits(action.deadline, action.addresses):
            try:
                with self._http.stream(**stream_args(action)) as response:
                    headers = reply_headers(response.headers)
                    peer = _peer(response)
                    if not body_wanted(response.status_code, headers, action):
                        return Reply(response.status_code, headers, b"", peer)
                    reader = BodyReader(action, headers)
                    for chunk in response.iter_raw():
                        reader.feed(chunk)
                    reader.check_deadline()
                    return Reply(response.status_code, headers, reader.body, peer)
            except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
                raise transport_error(exc, action.url) from exc


def check(
    cert: CertInput | Iterable[x509.Certificate],
    issuer: CertInput | None = None,
    *,
    url: str | None = None,
    bundle: BundleInput = (),
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    cache: ResponseCache | None = None,
) -> ValidationResult:
    """One-shot :meth:`Client.check` with a client of its own, made from ``config``.

    The arguments are those of :meth:`Client.check`, plus ``config`` (the client's
    :class:`~ocspkit.client.ClientConfig`; its ``deadline`` bounds the whole call) and
    ``cache`` (a :class:`~ocspkit.client.ResponseCache` shared between calls).
    """
    with Client(config, cache=cache or False) as client:
        return client.check(
            cert,
            issuer,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )
