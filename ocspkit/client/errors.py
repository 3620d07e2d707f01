"""The error classes the clients add to ocspkit's tree (all below :class:`~ocspkit.OCSPError`)."""

from __future__ import annotations

from ..errors import FetchError, OCSPError

__all__ = ["InvalidURLError", "ContentEncodingError", "UnexpectedError", "unexpected"]


class InvalidURLError(FetchError):
    """A responder, issuer or redirect URL that cannot be parsed or used (bad IPv6 literal,
    bad port, control characters, no host); ``url`` holds it as found."""


class ContentEncodingError(FetchError):
    """The server sent a body with a ``Content-Encoding`` other than ``identity``.

    An OCSP response or a certificate is never compressed, and decoding one would let a tiny
    body expand without bound (a decompression bomb), so such a body is refused unread.
    """


class UnexpectedError(OCSPError):
    """An unexpected exception while handling one item of a bulk run (``check_many``,
    ``probe_many``) or one staple; the original exception is the ``__cause__``.

    It keeps one hostile input from aborting a whole batch; please report it as a bug.
    """


def unexpected(exc: Exception) -> UnexpectedError:
    """``exc`` (not an OCSPError) wrapped as an :class:`UnexpectedError` (its ``__cause__``)."""
    error = UnexpectedError(f"unexpected {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
