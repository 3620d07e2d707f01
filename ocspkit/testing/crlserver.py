"""A real HTTP CRL server on loopback, for tests, with the faults of CRL servers in the field.

It publishes CRLs under paths (the CA's live CRL at ``/ca.crl`` by default, re-signed when a
revocation is recorded), with ``ETag`` and ``Last-Modified``, answers conditional GETs with
304, logs every request, and misbehaves on demand (:class:`CRLFault`), per path or for the
whole server.

This module owns the CRL server's HTTP side and its faults; what a CRL says comes from
:class:`~ocspkit.testing.CA` (or :func:`~ocspkit.testing.profiles.build_crl`). It must never
bind anything but the address it is given (loopback by default), or be imported by the
library's non-testing modules.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .ca import CA
from .keys import utcnow
from .serving import QuietHandler, ServerThread

__all__ = ["CRLFault", "CRLRequestRecord", "CRLServer", "CRLSource"]

#: What :meth:`CRLServer.publish` takes: a CRL's DER, or a callable returning fresh DER.
CRLSource = bytes | Callable[[], bytes]

CRL_TYPE = "application/pkix-crl"
_HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>"


class CRLFault(enum.Enum):
    """What :class:`CRLServer` does wrong, for one path or for the whole server."""

    #: Serve the published CRL correctly.
    NONE = "none"
    #: A CRL of the CA whose nextUpdate passed a day ago (thisUpdate two days ago).
    EXPIRED = "expired"
    #: A partition of the CA whose issuing distribution point names another URL.
    WRONG_PARTITION = "wrong_partition"
    #: The published CRL with one bit of its signature flipped.
    BAD_SIGNATURE = "bad_signature"
    #: ``huge_size`` bytes that start like a CRL, sent without a Content-Length.
    HUGE = "huge"
    #: The published CRL, one byte per ``drip_interval`` (with its Content-Length).
    SLOW = "slow"
    #: An HTML error page, ``200 text/html`` (what a captive portal or a proxy sends).
    WRONG_CONTENT_TYPE = "wrong_content_type"
    #: ``304 Not Modified``, whatever the request said.
    NOT_MODIFIED = "not_modified"
    #: ``500 Internal Server Error``.
    HTTP_500 = "http_500"
    #: 512 random bytes labelled ``application/pkix-crl``.
    GARBAGE = "garbage"
    #: The published CRL in PEM armour, labelled ``application/x-pem-file``.
    PEM = "pem"


@dataclass(frozen=True)
class CRLRequestRecord:
    """One request the CRL server received.

    :ivar if_none_match: the ``If-None-Match`` header, if sent.
    :ivar if_modified_since: the ``If-Modified-Since`` header, if sent.
    :ivar status: the HTTP status answered.
    """

    method: str
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    fault: CRLFault


class _LiveCRL:
    """The CA's CRL (full or one partition), re-signed when its revocations change or half
    its validity has passed; each signing has the next CRL number."""

    def __init__(self, ca: CA, validity: timedelta, idp_url: str | None) -> None:
        self.ca, self.validity, self.idp_url = ca, validity, idp_url
        self._lock = threading.Lock()
        self._state: tuple[str, ...] | None = None
        self._der = b""
        self._signed = utcnow()
        self._number = 0

    def __call__(self) -> bytes:
        with self._lock:
            state = tuple(self.ca.index_lines())
            now = utcnow()
            if state != self._state or now - self._signed >= self.validity / 2:
                self._number += 1
                crl = self.ca.sign_crl(
                    now=now, validity=self.validity, crl_number=self._number, idp_url=self.idp_url
                )
                self._state, self._der, self._signed = state, crl.public_bytes(Encoding.DER), now
            return self._der


def _etag(der: bytes) -> str:
    return '"' + hashlib.sha256(der).hexdigest()[:32] + '"'


def _this_update(der: bytes) -> datetime | None:
    try:
        return x509.load_der_x509_crl(der).last_update_utc
    except ValueError:
        return None


def _flip_signature_bit(der: bytes) -> bytes:
    return der[:-1] + bytes([der[-1] ^ 0x01]) if der else der


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_crl(der).public_bytes(Encoding.PEM)


def _not_modified(handler: QuietHandler, etag: str, modified: datetime | None) -> bool:
    match = handler.headers.get("If-None-Match")
    if match is not None:
        return match.strip() == "*" or etag in (t.strip() for t in match.split(","))
    since = handler.headers.get("If-Modified-Since")
    if since is None or modified is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    return when.tzinfo is not None and modified <= when


class _Handler(QuietHandler):
    server_version = "ocspkit-testing-crl"

    def do_GET(self) -> None:
        owner: CRLServer = self.server.owner
        path = urlsplit(self.path).path
        fault = owner.fault_for(path)
        status, send = owner._answer(self, path, fault)
        owner._record(  # before answering: a client that got its answer sees it logged
            CRLRequestRecord(
                self.command,
                self.path,
                self.headers.get("If-None-Match"),
                self.headers.get("If-Modified-Since"),
                status,
                fault,
            )
        )
        send()

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self.close_connection = True
        self.send_body(405, b"GET only\n", "text/plain", {"Allow": "GET, HEAD"})


class CRLServer(ServerThread):
    """A real CRL server for ``ca`` on ``host``:``port`` (loopback; port 0 = pick one).

    Use it as a context manager (``with`` or ``async with``) or call :meth:`start` /
    :meth:`stop`. It serves the CA's live CRL at ``/ca.crl`` (signed afresh whenever a
    revocation is recorded, so the CA's current revocations are served) and whatever
    :meth:`publish` adds, as ``application/pkix-crl`` with an ``ETag`` (a hash of the DER) and
    ``Last-Modified`` (the CRL's thisUpdate), answering ``If-None-Match`` and
    ``If-Modified-Since`` with 304. Unknown paths get 404; :meth:`redirect` makes a path
    redirect elsewhere.

    :param validity: nextUpdate - thisUpdate of the live CRLs it signs.
    :param fault: the initial server-wide :class:`CRLFault` (:meth:`set_fault` sets one
        path's).
    :param drip_interval: seconds between bytes in :attr:`CRLFault.SLOW`.
    :param huge_size: bytes sent in :attr:`CRLFault.HUGE` (default: just over the client's
        default ``max_crl_size``).
    """

    handler = _Handler
    thread_name = "ocspkit-crlserver"

    def __init__(
        self,
        ca: CA,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validity: timedelta = timedelta(days=1),
        fault: CRLFault = CRLFault.NONE,
        drip_interval: float = 0.05,
        huge_size: int = 64 * 1024 * 1024 + 65536,
    ) -> None:
        super().__init__(host, port)
        self.ca = ca
        self.validity = validity
        self.drip_interval = drip_interval
        self.huge_size = huge_size
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._fault = fault
        self._faults: dict[str, CRLFault] = {}
        self._published: dict[str, tuple[CRLSource, str, dict[str, str]]] = {}
        self._redirects: dict[str, tuple[int, str]] = {}
        self._records: list[CRLRequestRecord] = []
        self.publish("/ca.crl")

    # -- publishing ----------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this server (start it first: the port is chosen then)."""
        if not self.port:
            raise RuntimeError("start the CRLServer before asking for URLs (port 0 is not one)")
        return self.origin + "/" + path.lstrip("/")

    def publish(
        self,
        path: str,
        source: CRLSource | None = None,
        *,
        partition: bool = False,
        content_type: str = CRL_TYPE,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``source`` at ``path``: a CRL's DER, or a callable returning fresh DER on
        every request. ``None`` serves the CA's live CRL — with ``partition=True`` the
        partition whose issuing distribution point names this path's URL (the server must be
        started), listing the revocations of certificates that name it. ``headers`` are
        sent with every 200 (a ``Content-Encoding`` the body does not have, say)."""
        path = "/" + path.lstrip("/")
        if source is None:
            idp = self.url_for(path) if partition else None
            source = _LiveCRL(self.ca, self.validity, idp)
        elif not (isinstance(source, bytes) or callable(source)):
            raise TypeError("source must be DER bytes or a callable returning them")
        with self._lock:
            self._published[path] = (source, content_type, dict(headers or {}))

    def unpublish(self, path: str) -> None:
        """Stop serving ``path`` (404 from now on)."""
        with self._lock:
            self._published.pop("/" + path.lstrip("/"), None)
            self._redirects.pop("/" + path.lstrip("/"), None)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Answer requests for ``path`` with a redirect to ``location`` (any URL)."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"not a redirect status: {status}")
        with self._lock:
            self._redirects["/" + path.lstrip("/")] = (status, location)

    @property
    def fault(self) -> CRLFault:
        """The server-wide fault (thread-safe to set while running)."""
        with self._lock:
            return self._fault

    @fault.setter
    def fault(self, value: CRLFault) -> None:
        if not isinstance(value, CRLFault):
            raise TypeError(f"fault must be a CRLFault, not {type(value).__name__}")
        with self._lock:
            self._fault = value

    def set_fault(self, path: str, fault: CRLFault | None) -> None:
        """Make ``path`` misbehave with ``fault`` (``None``: follow the server-wide fault)."""
        if fault is not None and not isinstance(fault, CRLFault):
            raise TypeError(f"fault must be a CRLFault, not {type(fault).__name__}")
        path = "/" + path.lstrip("/")
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault

    def fault_for(self, path: str) -> CRLFault:
        """The fault applied to requests for ``path``."""
        with self._lock:
            return self._faults.get(path, self._fault)

    def current(self, path: str = "/ca.crl") -> bytes:
        """The DER ``path`` serves now (no fault applied)."""
        with self._lock:
            source, _, _ = self._published["/" + path.lstrip("/")]
        return source() if callable(source) else source

    # -- observation ---------------------------------------------------------------------------

    @property
    def requests(self) -> tuple[CRLRequestRecord, ...]:
        """Every request received, oldest first."""
        with self._lock:
            return tuple(self._records)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests arrived in total; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._records) >= count, timeout)

    def _record(self, record: CRLRequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    # -- answering -----------------------------------------------------------------------------

    def _answer(
        self, h: QuietHandler, path: str, fault: CRLFault
    ) -> tuple[int, Callable[[], None]]:
        """The status of the answer to ``path`` and how to send it."""
        with self._lock:
            published = self._published.get(path)
            moved = self._redirects.get(path)
        if moved is not None:
            code, location = moved
            return code, lambda: h.send_body(code, b"", "text/plain", {"Location": location})
        if published is None:
            return 404, lambda: h.send_body(404, b"not found\n", "text/plain")
        if fault is CRLFault.HTTP_500:
            return 500, lambda: h.send_body(500, b"error 500\n", "text/plain")
        if fault is CRLFault.WRONG_CONTENT_TYPE:
            return 200, lambda: h.send_body(200, _HTML, "text/html; charset=utf-8")
        if fault is CRLFault.GARBAGE:
            return 200, lambda: h.send_body(200, secrets.token_bytes(512), CRL_TYPE)
        if fault is CRLFault.HUGE:
            return 200, lambda: self._huge(h)
        source, content_type, extra = published
        der = self._faulty(source() if callable(source) else source, path, fault)
        etag, modified = _etag(der), _this_update(der)
        validators = {**extra, "ETag": etag}
        if modified is not None:
            validators["Last-Modified"] = format_datetime(modified, usegmt=True)
        if fault is CRLFault.NOT_MODIFIED or _not_modified(h, etag, modified):
            return 304, lambda: h.send_body(304, b"", None, validators)
        if fault is CRLFault.SLOW:
            return 200, lambda: self._drip(h, der, content_type, validators)
        if fault is CRLFault.PEM:
            return 200, lambda: h.send_body(200, _pem(der), "application/x-pem-file", validators)
        return 200, lambda: h.send_body(200, der, content_type, validators)

    def _faulty(self, der: bytes, path: str, fault: CRLFault) -> bytes:
        if fault is CRLFault.EXPIRED:
            crl = self.ca.sign_crl(now=utcnow() - timedelta(days=2), validity=timedelta(days=1))
            return crl.public_bytes(Encoding.DER)
        if fault is CRLFault.WRONG_PARTITION:
            other = self.url_for(path.rstrip("/") + "-other-partition")
            return self.ca.sign_crl(validity=self.validity, idp_url=other).public_bytes(
                Encoding.DER
            )
        if fault is CRLFault.BAD_SIGNATURE:
            return _flip_signature_bit(der)
        return der

    def _drip(
        self, h: QuietHandler, der: bytes, content_type: str, validators: dict[str, str]
    ) -> None:
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(der)))
        for key, value in validators.items():
            h.send_header(key, value)
        h.send_header("Connection", "close")
        h.end_headers()
        with contextlib.suppress(OSError):
            for i in range(len(der)):
                if self._stopping.wait(self.drip_interval):
                    return
                h.wfile.write(der[i : i + 1])
                h.wfile.flush()

    def _huge(self, h: QuietHandler) -> None:
        h.close_connection = True  # no Content-Length: the body ends when the connection does
        h.send_response(200)
        h.send_header("Content-Type", CRL_TYPE)
        h.send_header("Connection", "close")
        h.end_headers()
        size = self.huge_size
        head = b"\x30\x84" + (size - 6).to_bytes(4, "big")
        chunk = bytes(65536)
        sent = 0
        with contextlib.suppress(OSError):
            h.wfile.write(head)
            sent = len(head)
            while sent < size and not self._stopping.is_set():
                part = chunk[: min(len(chunk), size - sent)]
                h.wfile.write(part)
                sent += len(part)
