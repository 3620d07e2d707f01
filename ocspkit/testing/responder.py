"""A real HTTP OCSP responder on loopback, for tests, with switchable fault modes.

It serves POST (``application/ocsp-request``) and RFC 6960 A.1 / RFC 5019 GET, answers several
CertIDs per request, echoes nonces, signs as the CA or its delegated responder, and reads the
CA's status table (or an OpenSSL ``index.txt``) on every request.

This module owns the HTTP side (the server thread, request parsing, fault delivery); what a
response says comes from :class:`~ocspkit.testing.CA`. It must never bind anything but the
address it is given (loopback by default), build certificates itself, or be imported by the
library's non-testing modules.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import socket
import struct
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import unquote, urlsplit

from cryptography import x509

from ..errors import OCSPError
from ..models import OCSPResponse, ResponseStatus
from .ca import CA, Signer
from .faults import Fault
from .keys import utcnow
from .leaf import Leaf
from .openssl import IndexFile
from .serving import QuietHandler, ServerThread
from .status import StatusLookup

__all__ = ["RequestRecord", "Responder"]

#: Paths under this prefix are always served without a fault (the target of Fault.REDIRECT).
OK_PREFIX = "/ok/"
_MAX_REQUEST = 64 * 1024
_OVERSIZE = 1024 * 1024 + 4096
_CONTENT_TYPE = "application/ocsp-response"


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request the responder received.

    :ivar method: ``"GET"`` or ``"POST"`` (or whatever the client sent).
    :ivar path: the request target as received.
    :ivar fault: the fault applied to it.
    :ivar serials: serial numbers asked about (empty if the request did not parse).
    """

    method: str
    path: str
    fault: Fault
    serials: tuple[int, ...] = ()


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(OK_PREFIX):
            path = path[len(OK_PREFIX) - 1 :]
        owner: Responder = self.server.owner
        base = owner.path
        encoded = path[len(base) :] if path.startswith(base) else path.lstrip("/")
        der: bytes | None
        try:
            # lenient on purpose: '+' sent as ' ' (form encoding), URL-safe alphabet, no padding
            text = unquote(encoded).replace(" ", "+").replace("-", "+").replace("_", "/")
            text = text.replace("\n", "").replace("\r", "")
            der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True) if text else None
        except (binascii.Error, ValueError):
            der = None
        self._serve(der)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_REQUEST:
            self.close_connection = True
            self._serve(None)
            return
        self._serve(self.rfile.read(length) if length else None)

    def _serve(self, der: bytes | None) -> None:
        owner: Responder = self.server.owner
        fault = Fault.NONE if self.path.startswith(OK_PREFIX) else owner.fault
        answer = owner._answer(der, fault)
        owner._record(RequestRecord(self.command, self.path, fault, answer.serials))
        if fault is Fault.HANG:
            owner._stopping.wait()
            self.close_connection = True
            return
        if fault is Fault.RESET:
            self._reset()
            return
        if fault in (Fault.HTTP_404, Fault.HTTP_500, Fault.HTTP_503):
            code = {Fault.HTTP_404: 404, Fault.HTTP_500: 500, Fault.HTTP_503: 503}[fault]
            extra = {"Retry-After": "1"} if code == 503 else {}
            self.send_body(code, b"error %d\n" % code, "text/plain", extra)
            return
        if fault in (Fault.REDIRECT, Fault.REDIRECT_LOOP):
            clean = OK_PREFIX + self.path.lstrip("/")
            target = self.path if fault is Fault.REDIRECT_LOOP else clean
            code = 302 if self.command in ("GET", "HEAD") else 307
            self.send_body(code, b"", "text/plain", {"Location": target})
            return
        body = answer.der
        content_type = _CONTENT_TYPE
        if fault is Fault.GARBAGE:
            body = secrets.token_bytes(512)
        elif fault is Fault.TRUNCATED:
            body = body[: len(body) // 2]
        elif fault is Fault.OVERSIZED:
            body = body + b"\0" * (_OVERSIZE - len(body))
        elif fault is Fault.WRONG_CONTENT_TYPE:
            content_type = "text/html"
        elif fault is Fault.SLOW_DRIP:
            self._drip(body)
            return
        self.send_body(200, body, content_type)

    def _drip(self, body: bytes) -> None:
        owner: Responder = self.server.owner
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", _CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(len(body)):
            if owner._stopping.wait(owner.drip_interval):
                return
            self.wfile.write(body[i : i + 1])

    def _reset(self) -> None:
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        sock.close()  # linger 0: the kernel sends RST, not FIN


@dataclass(frozen=True)
class _Answer:
    der: bytes
    serials: tuple[int, ...] = ()


class Responder(ServerThread):
    """A real OCSP responder for ``ca`` on ``host``:``port`` (loopback; port 0 = pick one).

    Use it as a context manager (``with`` or ``async with``) or call :meth:`start` /
    :meth:`stop`. :attr:`fault`, :attr:`signer` and :attr:`validity` may be changed while it
    runs; a revocation recorded in the CA shows in the next answer.

    :param signer: ``"ca"`` (the intermediate signs), ``"delegated"`` (the CA's delegated
        responder signs and is embedded) or an explicit :class:`~ocspkit.testing.Leaf`.
    :param validity: nextUpdate - thisUpdate of good answers.
    :param index_file: serve statuses from this OpenSSL ``index.txt`` instead of the CA's
        table (re-read whenever the file changes); the CA still signs and names the issuer.
    :param fault: the initial :class:`~ocspkit.testing.Fault`.
    :param drip_interval: seconds between bytes in :attr:`Fault.SLOW_DRIP`.
    :param path: the URL path it serves GET requests under (``/`` by default; POST is
        accepted on any path).

    Requests whose CertIDs name another issuer are answered ``unauthorized``; undecodable
    requests ``malformedRequest``; serials the CA never issued ``unknown``.
    """

    def __init__(
        self,
        ca: CA,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        signer: Signer = "ca",
        validity: timedelta = timedelta(hours=1),
        index_file: str | os.PathLike[str] | None = None,
        fault: Fault = Fault.NONE,
        responder_id: Literal["key", "name"] = "key",
        drip_interval: float = 0.25,
        path: str = "/",
    ) -> None:
        super().__init__(host, port)
        self.ca = ca
        self.signer: Signer = signer
        self.validity = validity
        self.responder_id: Literal["key", "name"] = responder_id
        self.drip_interval = drip_interval
        self.path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        self.index = IndexFile(index_file) if index_file is not None else None
        self._fault = fault
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._records: list[RequestRecord] = []
        self._wrong_signer: Leaf | None = None
        self._no_eku_signer: Leaf | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    handler = _Handler
    thread_name = "ocspkit-responder"

    def start(self) -> Responder:
        """Bind and serve in a background thread; sets ``ca.ocsp_url`` if it is None."""
        super().start()
        if self.ca.ocsp_url is None:
            self.ca.ocsp_url = self.url
        return self

    # -- observation -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The responder's base URL, e.g. ``http://127.0.0.1:40123/``."""
        return f"{self.origin}{self.path}"

    @property
    def fault(self) -> Fault:
        """The current fault mode (thread-safe to set while running)."""
        with self._lock:
            return self._fault

    @fault.setter
    def fault(self, value: Fault) -> None:
        if not isinstance(value, Fault):
            raise TypeError(f"fault must be a Fault, not {type(value).__name__}")
        with self._lock:
            self._fault = value

    @property
    def requests(self) -> int:
        """How many HTTP requests the responder has received (faulted ones included)."""
        with self._lock:
            return len(self._records)

    @property
    def records(self) -> tuple[RequestRecord, ...]:
        """Every request received, oldest first."""
        with self._lock:
            return tuple(self._records)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests arrived in total; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._records) >= count, timeout)

    def _record(self, record: RequestRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    # -- answering ---------------------------------------------------------------------------

    def respond(self, request_der: bytes | None, fault: Fault = Fault.NONE) -> OCSPResponse:
        """The OCSP response (with ``fault``'s OCSP-level effect) to a DER request, no HTTP."""
        from ..response import parse_response

        return parse_response(self._answer(request_der, fault).der)

    def _lookup(self) -> StatusLookup | None:
        return self.index.status_of if self.index is not None else None

    def _answer(self, request_der: bytes | None, fault: Fault) -> _Answer:
        from ..request import parse_request
        from ..response import build_error_response

        def error(status: ResponseStatus, serials: tuple[int, ...] = ()) -> _Answer:
            return _Answer(build_error_response(status).der, serials)

        status_code = fault.response_status
        if status_code is not None:
            return error(ResponseStatus(status_code))
        if not request_der:
            return error(ResponseStatus.MALFORMED_REQUEST)
        try:
            request = parse_request(request_der)
        except OCSPError:
            return error(ResponseStatus.MALFORMED_REQUEST)
        serials = tuple(c.serial_number for c in request.cert_ids)
        if not request.cert_ids:
            return error(ResponseStatus.MALFORMED_REQUEST)
        if not all(self.ca.owns(c) for c in request.cert_ids):
            return error(ResponseStatus.UNAUTHORIZED, serials)
        now = utcnow()
        nonce = request.nonce
        this_update = now
        validity: timedelta | None = self.validity
        signer: Signer = self.signer
        if fault is Fault.EXPIRED:
            now = now - timedelta(hours=2)
            this_update, validity = now, timedelta(hours=1)
        elif fault is Fault.FUTURE:
            this_update = now + timedelta(hours=1)
        elif fault is Fault.NO_NEXT_UPDATE:
            validity = None
        elif fault is Fault.SHORT_VALIDITY:
            validity = timedelta(seconds=2)
        elif fault is Fault.WRONG_NONCE:
            nonce = secrets.token_bytes(16)
            while nonce == request.nonce:  # pragma: no cover - 2**-128
                nonce = secrets.token_bytes(16)
        elif fault is Fault.WRONG_SIGNER:
            signer = self._unrelated_signer()
        elif fault is Fault.NO_EKU:
            signer = self._no_eku()
        try:
            response = self.ca.sign_response(
                request.cert_ids,
                nonce=nonce,
                now=now,
                validity=validity,
                signer=signer,
                this_update=this_update,
                responder_id=self.responder_id,
                lookup=self._lookup(),
            )
        except (OCSPError, ValueError):
            return error(ResponseStatus.INTERNAL_ERROR, serials)
        return _Answer(response.der, serials)

    def _unrelated_signer(self) -> Leaf:
        with self._lock:
            if self._wrong_signer is None:
                other = CA(self.ca.key_type, name=f"{self.ca.name} (unrelated)")
                self._wrong_signer = Leaf(other.issuer, other.issuer_key, (other.issuer,))
            return self._wrong_signer

    def _no_eku(self) -> Leaf:
        with self._lock:
            if self._no_eku_signer is None:
                self._no_eku_signer = self.ca.issue_responder(
                    eku=False, common_name=f"{self.ca.name} OCSP Responder without EKU"
                )
            return self._no_eku_signer

    @property
    def signer_certificate(self) -> x509.Certificate:
        """The certificate that signs clean answers (per :attr:`signer`)."""
        return self.ca.signer_for(self.signer)[0]
