"""The TLS client side of the probe: a ClientHello with status_request, and what came back.

pyOpenSSL is the only Python binding that can send ``status_request`` and hand over the stapled
OCSP response (the stdlib :mod:`ssl` module cannot). It is driven here over *memory BIOs*: the
:class:`ClientHandshake` state machine never touches a socket, it only turns bytes received into
bytes to send. The sync and the async transports below move those bytes over a plain socket (with
a timeout) or asyncio streams, so every network step is bounded by one deadline, and pyOpenSSL's
``WantReadError`` never escapes (it only means "feed me more bytes").
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from ..errors import (
    NoCertificateError,
    NotTLSError,
    ProbeConnectionError,
    ProbeError,
    ProbeRefusedError,
    ProbeTimeoutError,
    TLSHandshakeError,
)

__all__ = [
    "TLS_VERSIONS",
    "ClientHandshake",
    "HandshakeResult",
    "atls_handshake",
    "default_servername",
    "tls_handshake",
]

#: The accepted values of ``tls_version`` and the protocol each pins.
TLS_VERSIONS: dict[str, int] = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}

#: TLS record content types (change_cipher_spec .. heartbeat): anything else is not TLS.
_TLS_RECORD_TYPES = frozenset(range(20, 25))
#: A server sending more than this before the handshake completes is misbehaving.
_MAX_HANDSHAKE_BYTES = 1 << 20
_RECV_SIZE = 65536


@dataclass(frozen=True)
class HandshakeResult:
    """What one completed handshake produced (internal to the probe; see ProbeReport).

    :ivar staple: the stapled OCSP response bytes; ``None`` when none was sent.
    """

    address: str
    tls_version: str
    cipher: str | None
    chain: tuple[x509.Certificate, ...]
    staple: bytes | None


def default_servername(host: str) -> str | None:
    """The SNI name to send for ``host``: the host itself, unless it is an IP address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.rstrip(".") or None
    return None


def _check_version(tls_version: str | None) -> None:
    if tls_version is not None and tls_version not in TLS_VERSIONS:
        raise ValueError(
            f"tls_version must be one of {sorted(TLS_VERSIONS)} or None, not {tls_version!r}"
        )


class ClientHandshake:
    """A sans-I/O TLS client handshake that asks for a staple.

    ``start()`` gives the ClientHello; ``receive(data)`` feeds what the server sent and gives the
    bytes to send back; :attr:`done` turns true when the handshake completed, and
    :meth:`result` then tells what was negotiated. Errors are :class:`TLSHandshakeError`,
    :class:`NotTLSError` or :class:`NoCertificateError`. No certificate verification happens
    here (the probe validates the chain itself, and must see untrusted chains too).
    """

    def __init__(
        self,
        servername: str | None,
        *,
        tls_version: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        _check_version(tls_version)
        self._host, self._port = host, port
        self._staple: bytes | None = None
        self._received = 0
        self.done = False
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        if tls_version is not None:
            ctx.set_min_proto_version(TLS_VERSIONS[tls_version])
            ctx.set_max_proto_version(TLS_VERSIONS[tls_version])
        ctx.set_verify(SSL.VERIFY_NONE)
        ctx.set_ocsp_client_callback(self._on_ocsp)
        self._conn = SSL.Connection(ctx, None)
        if servername:
            self._conn.set_tlsext_host_name(servername.encode("idna"))
        self._conn.request_ocsp()
        self._conn.set_connect_state()

    def _on_ocsp(self, _conn: SSL.Connection, data: bytes, _arg: object) -> bool:
        # Called once the server's Certificate (1.3) / CertificateStatus (1.2) was processed;
        # b"" when the server sent no staple. True: never abort the handshake over it.
        self._staple = bytes(data) if data else None
        return True

    def _error(self, cls: type[ProbeError], message: str) -> ProbeError:
        return cls(message, host=self._host, port=self._port)

    def _outgoing(self) -> bytes:
        out = bytearray()
        while True:
            try:
                chunk = self._conn.bio_read(_RECV_SIZE)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def _advance(self) -> bytes:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return self._outgoing()
        except SSL.Error as exc:
            reason = _ssl_reason(exc)
            raise self._error(TLSHandshakeError, f"TLS handshake failed: {reason}") from None
        self.done = True
        return self._outgoing()

    def start(self) -> bytes:
        """The first flight (ClientHello with SNI and status_request)."""
        return self._advance()

    def receive(self, data: bytes) -> bytes:
        """Feed bytes from the server; return the bytes to send to it (possibly empty)."""
        if not data:
            raise self._error(
                TLSHandshakeError, "connection closed by the server during the TLS handshake"
            )
        if self._received == 0 and not _looks_like_tls(data):
            raise NotTLSError(
                f"the server does not speak TLS (it answered {data[:16]!r})",
                host=self._host,
                port=self._port,
                preview=data[:64],
            )
        self._received += len(data)
        if self._received > _MAX_HANDSHAKE_BYTES:
            raise self._error(TLSHandshakeError, "server sent more than 1 MiB during the handshake")
        self._conn.bio_write(data)
        return self._advance()

    def close_notify(self) -> bytes:
        """The close_notify alert to send after the handshake (best effort)."""
        try:
            self._conn.shutdown()
        except SSL.Error:
            pass
        return self._outgoing()

    def result(self, address: str) -> HandshakeResult:
        """What the completed handshake negotiated; NoCertificateError if no certificate came."""
        if not self.done:
            raise RuntimeError("handshake not complete")
        try:
            chain = _peer_chain(self._conn)
        except (ValueError, TypeError, KeyError) as exc:  # cryptography refuses a certificate
            raise self._error(
                ProbeError, f"a certificate the server sent does not decode: {exc}"
            ) from None
        if not chain:
            raise self._error(NoCertificateError, "the server presented no certificate")
        return HandshakeResult(
            address=address,
            tls_version=self._conn.get_protocol_version_name(),
            cipher=self._conn.get_cipher_name(),
            chain=chain,
            staple=self._staple,
        )


def _looks_like_tls(data: bytes) -> bool:
    """A TLS record starts with a known content type and the major version 3."""
    return data[0] in _TLS_RECORD_TYPES and (len(data) < 2 or data[1] == 3)


def _peer_chain(conn: SSL.Connection) -> tuple[x509.Certificate, ...]:
    getter: Any = conn.get_peer_cert_chain  # the typeshed stubs predate as_cryptography
    try:
        certs: list[x509.Certificate] | None = getter(as_cryptography=True)
    except TypeError:  # pyOpenSSL < 24.3 has no as_cryptography
        legacy = conn.get_peer_cert_chain()
        return tuple(c.to_cryptography() for c in legacy or ())
    return tuple(certs or ())


def _ssl_reason(exc: SSL.Error) -> str:
    """The readable part of an OpenSSL error stack (e.g. 'tlsv1 alert protocol version')."""
    parts: list[str] = []
    for item in exc.args[0] if exc.args and isinstance(exc.args[0], list) else ():
        if isinstance(item, tuple) and len(item) == 3 and item[2]:
            parts.append(str(item[2]))
    return "; ".join(parts) or str(exc) or type(exc).__name__


# -- transports ---------------------------------------------------------------------------------


class _Deadline:
    def __init__(self, timeout: float, host: str, port: int) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.timeout, self.host, self.port = timeout, host, port
        self.end = time.monotonic() + timeout

    def left(self, step: str) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise self.expired(step)
        return remaining

    def expired(self, step: str) -> ProbeTimeoutError:
        return ProbeTimeoutError(
            f"timed out after {self.timeout:g}s {step}", host=self.host, port=self.port
        )


def _addresses(infos: Sequence[tuple[Any, ...]]) -> list[tuple[int, tuple[Any, ...]]]:
    seen: set[tuple[int, tuple[Any, ...]]] = set()
    out = []
    for family, _type, _proto, _canon, sockaddr in infos:
        key = (family, sockaddr)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _connect_error(errors: list[OSError], host: str, port: int) -> ProbeError:
    if errors and all(isinstance(e, ConnectionRefusedError) for e in errors):
        return ProbeRefusedError("connection refused", host=host, port=port)
    detail = "; ".join(e.strerror or str(e) for e in errors) or "no address"
    return ProbeConnectionError(f"cannot connect: {detail}", host=host, port=port)


def _resolve_error(exc: OSError | UnicodeError, host: str, port: int) -> ProbeConnectionError:
    detail = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    return ProbeConnectionError(f"cannot resolve host: {detail}", host=host, port=port)


def _resolve(host: str, port: int, deadline: _Deadline) -> list[tuple[Any, ...]]:
    """getaddrinfo bounded by the deadline: a name lookup runs in a daemon thread, so a slow
    resolver cannot hold the caller past its timeout (IP literals resolve at once)."""
    box: list[list[tuple[Any, ...]] | OSError | UnicodeError] = []

    def lookup() -> None:
        try:
            box.append(list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
        except (OSError, UnicodeError) as exc:  # gaierror; a name IDNA cannot encode
            box.append(exc)

    try:
        ipaddress.ip_address(host)
    except ValueError:
        worker = threading.Thread(target=lookup, daemon=True, name="ocspkit-probe-dns")
        worker.start()
        worker.join(deadline.left("resolving the host"))
        if not box:
            raise deadline.expired("resolving the host") from None
    else:
        lookup()
    result = box[0]
    if isinstance(result, (OSError, UnicodeError)):
        raise _resolve_error(result, host, port)
    return result


def tls_handshake(
    host: str,
    port: int,
    *,
    servername: str | None,
    timeout: float,
    tls_version: str | None = None,
) -> HandshakeResult:
    """Connect to ``host:port`` and complete one TLS handshake asking for a staple (blocking)."""
    host = host.strip("[]")
    handshake = ClientHandshake(servername, tls_version=tls_version, host=host, port=port)
    deadline = _Deadline(timeout, host, port)
    infos = _resolve(host, port, deadline)
    errors: list[OSError] = []
    for family, sockaddr in _addresses(infos):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.left("connecting"))
            try:
                sock.connect(sockaddr)
            except TimeoutError:
                raise deadline.expired("connecting") from None
            except OSError as exc:
                errors.append(exc)
                continue
            return _run_sync(sock, handshake, deadline, str(sockaddr[0]))
        finally:
            sock.close()
    raise _connect_error(errors, host, port)


def _run_sync(
    sock: socket.socket, handshake: ClientHandshake, deadline: _Deadline, address: str
) -> HandshakeResult:
    step = "during the TLS handshake"
    try:
        out = handshake.start()
        while True:
            if out:
                sock.settimeout(deadline.left(step))
                sock.sendall(out)
            if handshake.done:
                break
            sock.settimeout(deadline.left(step))
            out = handshake.receive(sock.recv(_RECV_SIZE))
        result = handshake.result(address)
    except TimeoutError:
        raise deadline.expired(step) from None
    except ProbeError:
        raise
    except OSError as exc:
        raise TLSHandshakeError(
            f"connection failed during the TLS handshake: {exc.strerror or exc}",
            host=deadline.host,
            port=deadline.port,
        ) from None
    _best_effort(lambda: _send_close(sock, handshake))
    return result


def _send_close(sock: socket.socket, handshake: ClientHandshake) -> None:
    sock.settimeout(0.5)
    sock.sendall(handshake.close_notify())


def _best_effort(action: Callable[[], None]) -> None:
    try:
        action()
    except (OSError, SSL.Error):
        pass


async def atls_handshake(
    host: str,
    port: int,
    *,
    servername: str | None,
    timeout: float,
    tls_version: str | None = None,
) -> HandshakeResult:
    """The asyncio twin of :func:`tls_handshake` (same steps, same errors)."""
    host = host.strip("[]")
    handshake = ClientHandshake(servername, tls_version=tls_version, host=host, port=port)
    deadline = _Deadline(timeout, host, port)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), deadline.left("resolving")
        )
    except asyncio.TimeoutError:
        raise deadline.expired("resolving the host") from None
    except (OSError, UnicodeError) as exc:
        raise _resolve_error(exc, host, port) from None
    errors: list[OSError] = []
    for family, sockaddr in _addresses(infos):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(str(sockaddr[0]), port, family=family),
                deadline.left("connecting"),
            )
        except asyncio.TimeoutError:
            raise deadline.expired("connecting") from None
        except OSError as exc:
            errors.append(exc)
            continue
        try:
            return await _run_async(reader, writer, handshake, deadline, str(sockaddr[0]))
        finally:
            writer.close()
    raise _connect_error(errors, host, port)


async def _run_async(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handshake: ClientHandshake,
    deadline: _Deadline,
    address: str,
) -> HandshakeResult:
    step = "during the TLS handshake"
    try:
        out = handshake.start()
        while True:
            if out:
                writer.write(out)
                await asyncio.wait_for(writer.drain(), deadline.left(step))
            if handshake.done:
                break
            data = await asyncio.wait_for(reader.read(_RECV_SIZE), deadline.left(step))
            out = handshake.receive(data)
        result = handshake.result(address)
    except asyncio.TimeoutError:
        raise deadline.expired(step) from None
    except ProbeError:
        raise
    except OSError as exc:
        raise TLSHandshakeError(
            f"connection failed during the TLS handshake: {exc.strerror or exc}",
            host=deadline.host,
            port=deadline.port,
        ) from None
    _best_effort(lambda: writer.write(handshake.close_notify()))
    return result
