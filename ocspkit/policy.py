"""ValidationPolicy: the knobs of :func:`ocspkit.validate_response`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509

__all__ = ["NonceRule", "ValidationPolicy"]


class NonceRule(enum.Enum):
    """What to do about nonces when a request is given to the validator.

    A response nonce that differs from the request's is always an error.
    """

    #: A missing response nonce is accepted (most responders ignore nonces).
    OPTIONAL = "optional"
    #: A request with a nonce must get it back (:class:`~ocspkit.NonceMissingError`).
    REQUIRED = "required"
    #: Nonces are not compared at all (for cached or pre-produced responses, e.g. staples).
    IGNORE = "ignore"


@dataclass(frozen=True)
class ValidationPolicy:
    """How strict :func:`ocspkit.validate_response` is.

    :ivar clock_skew: tolerance for thisUpdate/nextUpdate/producedAt against ``now``.
    :ivar max_age: if set, thisUpdate may be at most this old (Apache's
        ``SSLStaplingResponseMaxAge``), whether or not nextUpdate is present.
    :ivar max_age_without_next_update: how long a response *without* nextUpdate stays
        acceptable after its thisUpdate (RFC 5019 §6 leaves it to local policy).
    :ivar nonce: the :class:`NonceRule`.
    :ivar trusted_responders: certificates trusted locally to sign responses for any issuer
        (RFC 6960 §4.2.2.2, first case). Their validity period is still checked.
    :ivar allow_sha1_signatures: accept SHA-1 based response signatures (default True: most
        deployed responders still sign with sha1WithRSA). MD5 is never accepted.
    :ivar check_responder_validity: check a delegated responder certificate's validity period
        at ``now`` (default True).
    """

    clock_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta | None = None
    max_age_without_next_update: timedelta = timedelta(days=7)
    nonce: NonceRule = NonceRule.OPTIONAL
    trusted_responders: tuple[x509.Certificate, ...] = ()
    allow_sha1_signatures: bool = True
    check_responder_validity: bool = True
