"""The one exception tree of ocspkit, rooted at :class:`OCSPError`.

A revoked certificate is a *result* (:attr:`ocspkit.CertStatus.REVOKED`), never an exception.
Every failure to obtain a trustworthy answer is one of the classes below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import ResponseStatus

__all__ = [
    "OCSPError",
    "DecodeError",
    "CertificateError",
    "IssuerNotFoundError",
    "NoOCSPURLError",
    "ResponderError",
    "ValidationError",
    "IssuerMismatchError",
    "NoMatchingResponseError",
    "ConflictingResponsesError",
    "SignerNotFoundError",
    "UnauthorizedResponderError",
    "SignatureError",
    "WeakAlgorithmError",
    "NotYetValidError",
    "ExpiredResponseError",
    "StaleResponseError",
    "ProducedAtError",
    "NonceMismatchError",
    "NonceMissingError",
    "CriticalExtensionError",
    "FetchError",
    "FetchTimeoutError",
    "ConnectError",
    "HTTPStatusError",
    "ResponseTooLargeError",
    "ContentTypeError",
    "RedirectError",
    "UnsafeURLError",
]


class OCSPError(Exception):
    """Base class of every error ocspkit raises."""


class DecodeError(OCSPError, ValueError):
    """Input could not be decoded (bad DER/PEM, truncated, trailing data, wrong structure)."""


class CertificateError(OCSPError, ValueError):
    """A certificate argument is unusable (not a certificate, empty bundle, unreadable file)."""


class IssuerNotFoundError(OCSPError):
    """The issuer of a certificate could not be found (in a bundle, or via AIA caIssuers)."""


class NoOCSPURLError(OCSPError):
    """The certificate names no OCSP responder (no AIA id-ad-ocsp URI) and none was given.

    This is a normal outcome for many certificates (Let's Encrypt stopped OCSP in 2025).
    """


class ResponderError(OCSPError):
    """The responder answered with an unsuccessful ``responseStatus``.

    :ivar status: the :class:`~ocspkit.ResponseStatus` it sent (e.g. ``TRY_LATER``).
    """

    def __init__(self, status: ResponseStatus, message: str | None = None) -> None:
        self.status = status
        super().__init__(message or f"OCSP responder answered {status.name.lower()}")


class ValidationError(OCSPError):
    """A response failed one of the checks of RFC 6960 §3.2 or of the policy.

    Each check has its own subclass.
    """


class IssuerMismatchError(ValidationError):
    """The certificate's issuer name is not the given issuer certificate's subject."""


class NoMatchingResponseError(ValidationError):
    """No SingleResponse in the response matches the certificate's full CertID."""


class ConflictingResponsesError(ValidationError):
    """Several SingleResponses match the certificate and disagree."""


class SignerNotFoundError(ValidationError):
    """The ResponderID names neither the issuer, nor an embedded or trusted responder."""


class UnauthorizedResponderError(ValidationError):
    """The signer is not authorised for this issuer.

    For instance a delegated certificate that is not issued directly by the issuer, lacks
    id-kp-OCSPSigning, or is outside its validity period.
    """


class SignatureError(ValidationError):
    """The signature over tbsResponseData does not verify with the signer's key."""


class WeakAlgorithmError(ValidationError):
    """The signature algorithm is refused by policy (MD5 always; SHA-1 if disallowed)."""


class NotYetValidError(ValidationError):
    """thisUpdate lies in the future (beyond the allowed clock skew)."""


class ExpiredResponseError(ValidationError):
    """nextUpdate lies in the past (beyond the allowed clock skew)."""


class StaleResponseError(ValidationError):
    """thisUpdate is older than the policy's maximum age."""


class ProducedAtError(ValidationError):
    """producedAt lies in the future, or is otherwise inconsistent."""


class NonceMismatchError(ValidationError):
    """The response carries a nonce that differs from the request's."""


class NonceMissingError(ValidationError):
    """The request carried a nonce, the response none, and the policy requires one."""


class CriticalExtensionError(ValidationError):
    """The response carries a critical extension that ocspkit does not understand."""


class FetchError(OCSPError):
    """A transport failure while talking to a responder (or fetching an issuer).

    :ivar url: the URL concerned (``None`` if not known).
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{message} ({url})" if url else message)


class FetchTimeoutError(FetchError):
    """A request or the overall deadline timed out."""


class ConnectError(FetchError):
    """The connection could not be made, or was reset."""


class HTTPStatusError(FetchError):
    """The responder answered with a non-200 HTTP status.

    :ivar status_code: the HTTP status; :ivar retry_after: seconds from ``Retry-After`` or None.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status_code: int = 0,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message, url=url)


class ResponseTooLargeError(FetchError):
    """The response body exceeded the size cap."""


class ContentTypeError(FetchError):
    """The response's Content-Type is not ``application/ocsp-response``."""


class RedirectError(FetchError):
    """Too many redirects, a redirect loop, or a redirect to a forbidden scheme."""


class UnsafeURLError(FetchError):
    """The URL resolves to a private, loopback or link-local address and the guard is on."""
