"""The one exception tree of ocspkit, rooted at :class:`OCSPError`.

Owns every public exception class of the package (httpx's ``_exceptions.py`` is the model).
Must never import another ocspkit module (it sits with the value types at the bottom of the
layers) and never hold behaviour beyond formatting a message.

A revoked certificate is a *result* (:attr:`ocspkit.CertStatus.REVOKED`), never an exception.
Every failure to obtain a trustworthy answer is one of the classes below::

    OCSPError
    ├── DecodeError (also a ValueError)          bytes that are not what they claim to be
    │   └── LimitExceededError                   past a documented size or count cap
    ├── CertificateError (also a ValueError)     an unusable certificate argument
    ├── IssuerNotFoundError                      no issuer in the bundle or at caIssuers
    │   └── IssuerFetchError                     ... because fetching it failed in transport
    ├── NoOCSPURLError                           the certificate names no OCSP responder
    ├── NoCRLURLError                            ... no CRL distribution point
    ├── RevocationUnavailableError               no source answered (.attempts), require=True
    ├── ResponderError                           an unsuccessful responseStatus (.status)
    ├── ValidationError                          one subclass per failed check
    │   ├── IssuerMismatchError                  the given issuer did not issue the certificate
    │   │   └── IssuerSignatureError             ... its key does not verify the certificate
    │   ├── NoMatchingResponseError
    │   ├── SignerNotFoundError
    │   ├── UnauthorizedResponderError
    │   ├── SignatureError
    │   ├── WeakAlgorithmError
    │   ├── NotYetValidError
    │   ├── ExpiredResponseError
    │   ├── StaleResponseError
    │   ├── ProducedAtError
    │   ├── NonceMismatchError
    │   ├── NonceMissingError
    │   ├── CriticalExtensionError
    │   ├── UnservableResponseError              valid, but not servable as a staple
    │   │   └── StapleRollbackError
    │   └── CRLValidationError                   a CRL failed an RFC 5280 §6.3 check
    │       ├── CRLIssuerMismatchError           not issued under this issuer's name
    │       ├── CRLSignerError                   signer lacks cRLSign / authority
    │       ├── CRLSignatureError (also a SignatureError)  the signature does not verify
    │       ├── CRLNotYetValidError              thisUpdate in the future
    │       ├── CRLExpiredError                  nextUpdate (or max age) passed
    │       ├── CRLStaleError                    older than the policy's max_age
    │       ├── CRLCriticalExtensionError        an unknown critical extension
    │       ├── CRLScopeError                    certificate or URL outside its scope
    │       ├── MalformedCRLError                breaks an RFC 5280 §5 rule
    │       └── DeltaCRLError                    a delta that does not fit its base
    ├── FetchError                               transport (.url)
    │   ├── FetchTimeoutError
    │   ├── ConnectError
    │   ├── HTTPStatusError
    │   ├── ResponseTooLargeError
    │   ├── ContentTypeError
    │   ├── ContentEncodingError
    │   ├── RedirectError
    │   ├── UnsafeURLError
    │   ├── InvalidURLError
    │   └── ProbeError                           a TLS server could not be probed (.host, .port)
    │       ├── ProbeConnectionError
    │       │   └── ProbeRefusedError
    │       ├── ProbeTimeoutError
    │       ├── TLSHandshakeError
    │       │   └── NotTLSError
    │       └── NoCertificateError
    ├── StaplingError
    │   ├── StoreError
    │   ├── OutputError
    │   │   └── HAProxyAPIError
    │   ├── ConfigError (also a ValueError)      a stapler config file (.key)
    │   └── MissingDependencyError (also an ImportError)
    ├── OpenSSLError                             ocspkit.testing's openssl helpers
    └── UnexpectedError                          a bug caught at a bulk boundary (__cause__)

Double inheritance is used only where marked above: :class:`DecodeError`,
:class:`CertificateError` and :class:`ConfigError` are also :class:`ValueError` (bad input values),
:class:`CRLSignatureError` is also a :class:`SignatureError`,
:class:`MissingDependencyError` is also an :class:`ImportError`.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

# fmt: off
__all__ = [
    "CRLCriticalExtensionError", "CRLExpiredError", "CRLIssuerMismatchError",
    "CRLNotYetValidError", "CRLScopeError", "CRLSignatureError", "CRLSignerError",
    "CRLStaleError", "CRLValidationError", "CertificateError", "ConfigError", "ConnectError",
    "ContentEncodingError", "ContentTypeError", "CriticalExtensionError", "DecodeError",
    "DeltaCRLError", "ExpiredResponseError", "FetchError", "FetchTimeoutError",
    "HAProxyAPIError", "HTTPStatusError", "InvalidURLError", "IssuerFetchError",
    "IssuerMismatchError", "IssuerNotFoundError", "IssuerSignatureError", "LimitExceededError",
    "MalformedCRLError", "MissingDependencyError", "NoCRLURLError", "NoCertificateError",
    "NoMatchingResponseError", "NoOCSPURLError", "NonceMismatchError",
    "NonceMissingError", "NotTLSError", "NotYetValidError", "OCSPError", "OpenSSLError",
    "OutputError", "ProbeConnectionError", "ProbeError", "ProbeRefusedError",
    "ProbeTimeoutError", "ProducedAtError", "RedirectError", "ResponderError",
    "ResponseTooLargeError", "RevocationUnavailableError", "SignatureError",
    "SignerNotFoundError", "StaleResponseError",
    "StapleRollbackError", "StaplingError", "StoreError", "TLSHandshakeError",
    "UnauthorizedResponderError", "UnexpectedError", "UnsafeURLError",
    "UnservableResponseError", "ValidationError", "WeakAlgorithmError",
]
# fmt: on


class OCSPError(Exception):
    """Base class of every error ocspkit raises."""


# --- input ---------------------------------------------------------------------------------


class DecodeError(OCSPError, ValueError):
    """Input could not be decoded (bad DER/PEM, truncated, trailing data, wrong structure)."""


class LimitExceededError(DecodeError):
    """The input is larger than a documented cap allows (embedded certificates,
    SingleResponses, extensions, nesting); refused before the work it would cost.

    :ivar limit: the cap that was exceeded.
    """

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class CertificateError(OCSPError, ValueError):
    """A certificate argument is unusable (not a certificate, empty bundle, unreadable file)."""


class IssuerNotFoundError(OCSPError):
    """The issuer of a certificate could not be found (in a bundle, or via AIA caIssuers)."""


class IssuerFetchError(IssuerNotFoundError):
    """The issuer could not be fetched from the caIssuers URL (a transport failure).
    The transport error (a :class:`FetchError`) is its ``__cause__``.

    :ivar url: the last caIssuers URL tried.
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{message} ({url})" if url else message)


class NoOCSPURLError(OCSPError):
    """The certificate names no OCSP responder (no AIA id-ad-ocsp URI) and none was given.
    This is a normal outcome for many certificates (Let's Encrypt stopped OCSP in 2025)."""


class NoCRLURLError(OCSPError):
    """The certificate names no CRL distribution point (an attempt of source CRL)."""


class RevocationUnavailableError(OCSPError):
    """No revocation source answered (``check_revocation(..., require=True)``).

    :ivar attempts: the :class:`~ocspkit.RevocationAttempt` s tried, in order, each with its error.
    """

    def __init__(self, message: str, *, attempts: tuple[Any, ...] = ()) -> None:
        self.attempts = attempts
        tried = "; ".join(f"{a.source.value} {a.url or ''}: {a.error}".strip() for a in attempts)
        super().__init__(f"{message} ({tried})" if tried else message)


class ResponderError(OCSPError):
    """The responder answered with an unsuccessful ``responseStatus``.

    :ivar status: the :class:`~ocspkit.ResponseStatus` it sent (e.g. ``TRY_LATER``), or the
        plain integer for a value outside RFC 6960's list.
    """

    def __init__(self, status: IntEnum | int, message: str | None = None) -> None:
        self.status = status
        name = status.name.lower() if isinstance(status, IntEnum) else f"status {int(status)}"
        super().__init__(message or f"OCSP responder answered {name}")


# --- validation ----------------------------------------------------------------------------


class ValidationError(OCSPError):
    """A response failed one of the checks of RFC 6960 §3.2 or of the policy (one subclass
    per check)."""


class IssuerMismatchError(ValidationError):
    """The given issuer did not issue the certificate: its subject is not the certificate's
    issuer name."""


class IssuerSignatureError(IssuerMismatchError):
    """The given issuer's key does not verify the certificate's signature: a same-name CA
    with another key (see ``ValidationPolicy.verify_issuer_signature``)."""


class NoMatchingResponseError(ValidationError):
    """No SingleResponse in the response matches the certificate's full CertID."""


class SignerNotFoundError(ValidationError):
    """The ResponderID names neither the issuer, nor an embedded or trusted responder."""


class UnauthorizedResponderError(ValidationError):
    """The signer is not authorised for this issuer.
    For instance a delegated certificate that is not issued directly by the issuer, lacks
    id-kp-OCSPSigning, or is outside its validity period.
    """


class SignatureError(ValidationError):
    """The signature over tbsResponseData (or a certificate's signature) does not verify,
    or uses an algorithm ocspkit cannot verify (named by its OID)."""


class WeakAlgorithmError(ValidationError):
    """The signature algorithm is refused by policy (MD5 always; SHA-1 if disallowed)."""


class NotYetValidError(ValidationError):
    """thisUpdate lies in the future (beyond the allowed clock skew)."""


class ExpiredResponseError(ValidationError):
    """nextUpdate lies in the past (beyond the allowed clock skew)."""


class StaleResponseError(ValidationError):
    """thisUpdate is older than the policy's maximum age."""


class ProducedAtError(ValidationError):
    """producedAt lies in the future, before thisUpdate, or outside the validity period of
    the certificate the response is about."""


class NonceMismatchError(ValidationError):
    """The response carries a nonce that differs from the request's."""


class NonceMissingError(ValidationError):
    """The request carried a nonce, the response none, and the policy requires one."""


class CriticalExtensionError(ValidationError):
    """The response carries a critical extension that ocspkit does not understand."""


class UnservableResponseError(ValidationError):
    """A valid response that cannot be served: its serving window (nextUpdate minus the
    margin, max age, the signer's expiry) is already over, or options refuse its status."""


class StapleRollbackError(UnservableResponseError):
    """A valid response older than the one being served (an earlier thisUpdate), or any
    non-``revoked`` answer after a ``revoked`` one (only a certificateHold may be released, by
    a newer answer): a cache or a lagging replica must never roll a staple back.

    :ivar this_update: the fetched response's thisUpdate.
    :ivar current_this_update: the thisUpdate of the response being kept.
    """

    def __init__(
        self, message: str, *, this_update: datetime, current_this_update: datetime
    ) -> None:
        self.this_update = this_update
        self.current_this_update = current_this_update
        super().__init__(message)


# --- transport -----------------------------------------------------------------------------


class FetchError(OCSPError):
    """A transport failure talking to a responder or fetching an issuer or a CRL.
    :ivar url: the URL concerned (``None`` if not known)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{message} ({url})" if url else message)


class FetchTimeoutError(FetchError):
    """A request or the overall deadline timed out."""


class ConnectError(FetchError):
    """The connection could not be made, or was reset."""


class HTTPStatusError(FetchError):
    """The server answered with a non-200 HTTP status.
    :ivar status_code: the HTTP status; :ivar retry_after: seconds from ``Retry-After`` or None."""

    def __init__(
        self, message: str, *, url: str | None = None, status_code: int = 0,
        retry_after: float | None = None,
    ) -> None:  # fmt: skip
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message, url=url)


class ResponseTooLargeError(FetchError):
    """The response body exceeded the size cap."""


class ContentTypeError(FetchError):
    """The Content-Type is not the expected one (``application/ocsp-response``, a CRL's)."""


class ContentEncodingError(FetchError):
    """A ``Content-Encoding`` other than ``identity``: refused unread, as decoding one would let
    a tiny body expand without bound (a decompression bomb); OCSP, certificates and CRLs
    are never compressed."""


class RedirectError(FetchError):
    """Too many redirects, a redirect loop, or a redirect to a forbidden scheme or address."""


class UnsafeURLError(FetchError):
    """The URL resolves to a loopback, link-local, private or metadata address that the
    guard does not allow (see the security page for the defaults)."""


class InvalidURLError(FetchError):
    """A responder, issuer or redirect URL that cannot be parsed or used (bad IPv6 literal,
    bad port, control characters, no host); ``url`` holds it as found."""


class ProbeError(FetchError):
    """A TLS server could not be probed at all (:func:`ocspkit.probe`). A server that answers
    but staples nothing, staples garbage or serves an untrusted chain is *not* an error: the
    probe returns a report saying so. :ivar host: the host probed. :ivar port: its port."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        self.host = host
        self.port = port
        self.url = None  # a probe target is not a URL
        shown = f"[{host}]" if host and ":" in host else host
        where = f"{shown}:{port}" if shown and port is not None else shown
        Exception.__init__(self, f"{message} ({where})" if where else message)


class ProbeConnectionError(ProbeError):
    """No TCP connection could be made: unknown host, unreachable network, reset."""


class ProbeRefusedError(ProbeConnectionError):
    """Every address of the host refused the connection (nothing listens on the port)."""


class ProbeTimeoutError(ProbeError):
    """The probe's deadline passed while connecting or during the TLS handshake.
    A TCP server that accepts the connection but never answers the ClientHello ends here.
    """


class TLSHandshakeError(ProbeError):
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


# --- stapling ------------------------------------------------------------------------------


class StaplingError(OCSPError):
    """Base class of the errors raised by :mod:`ocspkit.stapling`."""


class StoreError(StaplingError):
    """A staple store could not be read or written (I/O error, Redis unreachable, bad key)."""


class OutputError(StaplingError):
    """A staple could not be delivered to an output (file, HAProxy runtime API, ...)."""


class HAProxyAPIError(OutputError):
    """HAProxy's runtime API refused or did not acknowledge ``set ssl ocsp-response``.

    :ivar reply: what HAProxy answered (empty if nothing).
    """

    def __init__(self, message: str, *, reply: str = "") -> None:
        self.reply = reply
        super().__init__(f"{message}: {reply!r}" if reply else message)


class ConfigError(StaplingError, ValueError):
    """A stapler configuration is unusable. :ivar key: the offending key (dotted path)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class MissingDependencyError(StaplingError, ImportError):
    """An optional dependency is not installed (e.g. ``redis`` for :class:`RedisStore`)."""


# --- the rest ------------------------------------------------------------------------------


class OpenSSLError(OCSPError):
    """``openssl`` is missing, failed to start, or an ``index.txt`` line is unreadable."""


class UnexpectedError(OCSPError):
    """An unexpected exception while handling one item of a bulk run (``check_many``,
    ``probe_many``) or one staple; the original exception is the ``__cause__``.
    It keeps one hostile input from aborting a whole batch; please report it as a bug.
    """

    @classmethod
    def wrap(cls, exc: BaseException) -> UnexpectedError:
        """``exc`` (not an OCSPError) wrapped, with ``exc`` as the ``__cause__``."""
        error = cls(f"unexpected {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error


# --- CRL ---------------------------------------------------------------------------------


class CRLValidationError(ValidationError):
    """A CRL, or its use for a certificate, failed a check of RFC 5280 §6.3 or of the policy."""


class CRLIssuerMismatchError(CRLValidationError):
    """The CRL is not issued under the issuer's (or an authorised CRL signer's) name."""


class CRLSignerError(CRLValidationError):
    """The CRL's signer lacks cRLSign, is not issued by the issuer, or is not valid now."""


class CRLSignatureError(CRLValidationError, SignatureError):
    """The CRL's signature does not verify (or cannot be checked); also a SignatureError."""


class CRLNotYetValidError(CRLValidationError):
    """The CRL's thisUpdate lies in the future (beyond the allowed clock skew)."""


class CRLExpiredError(CRLValidationError):
    """nextUpdate has passed, or (no nextUpdate) ``max_age_without_next_update`` has."""


class CRLStaleError(CRLValidationError):
    """The CRL's thisUpdate is older than ``ValidationPolicy.max_age``."""


class CRLCriticalExtensionError(CRLValidationError):
    """The CRL or an entry carries a critical extension ocspkit does not understand."""


class CRLScopeError(CRLValidationError):
    """The CRL does not cover the URL or certificate (partition, user/CA-only, reasons)."""


class MalformedCRLError(CRLValidationError):
    """The signed CRL breaks a structural rule of RFC 5280 §5 (see the CRL page)."""


class DeltaCRLError(CRLValidationError):
    """A delta CRL that does not fit its complete CRL, or is given as the complete CRL."""
