"""The probe's errors: why a TLS server could not be probed at all.

A server that answers but staples nothing, staples garbage or serves an untrusted chain is *not*
an error: :func:`ocspkit.probe` returns a :class:`~ocspkit.ProbeReport` saying so. The classes
below are raised only when no report can be made. Each is an :class:`~ocspkit.OCSPError`, and the
transport ones are also :class:`~ocspkit.FetchError` subclasses (``except FetchError`` catches
"could not reach it" whether a responder or a TLS server was being reached).
"""

from __future__ import annotations

from ..errors import ConnectError, FetchError, FetchTimeoutError, OCSPError

__all__ = [
    "ProbeError",
    "ProbeConnectionError",
    "ConnectionRefused",
    "ProbeTimeoutError",
    "TLSHandshakeError",
    "NotTLSError",
    "NoCertificateError",
]


class ProbeError(OCSPError):
    """Base class of the errors of :func:`ocspkit.probe`.

    :ivar host: the host that was probed.
    :ivar port: the port that was probed.
    """

    url: str | None

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        self.host = host
        self.port = port
        self.url = None  # FetchError's attribute; a probe target is not a URL
        where = _where(host, port)
        Exception.__init__(self, f"{message} ({where})" if where else message)


def _where(host: str | None, port: int | None) -> str:
    if host is None:
        return ""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


class ProbeConnectionError(ProbeError, ConnectError):
    """No TCP connection could be made: unknown host, unreachable network, reset."""


class ConnectionRefused(ProbeConnectionError):
    """Every address of the host refused the connection (nothing listens on the port)."""


class ProbeTimeoutError(ProbeError, FetchTimeoutError):
    """The probe's deadline passed while connecting or during the TLS handshake.

    A TCP server that accepts the connection but never answers the ClientHello ends here.
    """


class TLSHandshakeError(ProbeError, FetchError):
    """The TLS handshake failed: an alert from the server, no common protocol version or
    cipher, a malformed reply, or the connection closed during the handshake."""


class NotTLSError(TLSHandshakeError):
    """The server answered the ClientHello with something that is not TLS (e.g. plain HTTP).

    :ivar preview: the first bytes it sent (at most 64).
    """

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        port: int | None = None,
        preview: bytes = b"",
    ) -> None:
        self.preview = preview
        super().__init__(message, host=host, port=port)


class NoCertificateError(ProbeError):
    """The handshake completed without the server presenting any certificate."""
