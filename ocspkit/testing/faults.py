"""Fault modes of the test responder: every way an OCSP responder misbehaves in the field.

This module owns the :class:`Fault` enumeration only: what each fault means, not how it is
served (that is :mod:`ocspkit.testing.responder`). It must never import anything from ocspkit.
"""

from __future__ import annotations

import enum

__all__ = ["Fault"]


class Fault(enum.Enum):
    """What :class:`~ocspkit.testing.Responder` does wrong (switchable while it runs).

    Paths under ``/ok/`` are always served cleanly, whatever the fault (the target of
    :attr:`REDIRECT`).
    """

    #: Answer correctly.
    NONE = "none"
    # -- unsuccessful OCSP responseStatus (HTTP 200, application/ocsp-response) --
    #: responseStatus tryLater.
    TRY_LATER = "try_later"
    #: responseStatus unauthorized.
    UNAUTHORIZED = "unauthorized"
    #: responseStatus malformedRequest.
    MALFORMED_REQUEST = "malformed_request"
    #: responseStatus internalError.
    INTERNAL_ERROR = "internal_error"
    #: responseStatus sigRequired.
    SIG_REQUIRED = "sig_required"
    # -- well-formed but untrustworthy responses --
    #: Signed by the intermediate of an unrelated CA (embedded), not by the issuer.
    WRONG_SIGNER = "wrong_signer"
    #: Signed by a delegated certificate of the right issuer that lacks id-kp-OCSPSigning.
    NO_EKU = "no_eku"
    #: thisUpdate 2 h and nextUpdate 1 h in the past (producedAt 2 h ago).
    EXPIRED = "expired"
    #: thisUpdate 1 h in the future (producedAt now).
    FUTURE = "future"
    #: No nextUpdate.
    NO_NEXT_UPDATE = "no_next_update"
    #: nextUpdate 2 seconds after thisUpdate.
    SHORT_VALIDITY = "short_validity"
    #: A nonce that differs from the request's (a random one even if the request had none).
    WRONG_NONCE = "wrong_nonce"
    # -- broken bodies --
    #: 200 application/ocsp-response with random bytes.
    GARBAGE = "garbage"
    #: 200 with the first half of a valid response.
    TRUNCATED = "truncated"
    #: 200 with a valid response padded to more than 1 MiB, sent fully.
    OVERSIZED = "oversized"
    #: 200 with a correct Content-Length, the body trickled one byte per ``drip_interval``.
    SLOW_DRIP = "slow_drip"
    #: Read the request, never answer (until the responder stops).
    HANG = "hang"
    # -- HTTP level --
    #: HTTP 404.
    HTTP_404 = "http_404"
    #: HTTP 500.
    HTTP_500 = "http_500"
    #: HTTP 503 with ``Retry-After: 1``.
    HTTP_503 = "http_503"
    #: A valid response body labelled ``Content-Type: text/html``.
    WRONG_CONTENT_TYPE = "wrong_content_type"
    #: Redirect to ``/ok/...`` on the same responder (302 for GET, 307 for POST), served cleanly.
    REDIRECT = "redirect"
    #: Redirect to the very same URL, forever.
    REDIRECT_LOOP = "redirect_loop"
    #: Read the request, then close the connection with a TCP RST (SO_LINGER 0).
    RESET = "reset"

    @property
    def response_status(self) -> int | None:
        """The OCSP responseStatus code this fault sends, or None if it is not such a fault."""
        return _STATUS.get(self)


_STATUS: dict[Fault, int] = {
    Fault.MALFORMED_REQUEST: 1,
    Fault.INTERNAL_ERROR: 2,
    Fault.TRY_LATER: 3,
    Fault.SIG_REQUIRED: 5,
    Fault.UNAUTHORIZED: 6,
}
