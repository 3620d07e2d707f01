"""ValidationPolicy, the knobs of :func:`ocspkit.validate_response`, and the decoder's caps.

A value type: owns settings and their one default each; must never import another ocspkit
module or hold behaviour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509

__all__ = [
    "MAX_EMBEDDED_CERTIFICATES",
    "MAX_EXTENSIONS",
    "MAX_SINGLE_RESPONSES",
    "NonceRule",
    "ValidationPolicy",
]

#: At most this many certificates embedded in one response (real responders embed 0-3).
#: Embedded certificates lie outside the signature, so anyone on the path of plain-HTTP OCSP
#: can add them: past the cap the response is refused with :class:`~ocspkit.LimitExceededError`.
MAX_EMBEDDED_CERTIFICATES = 32
#: At most this many SingleResponses in one response (RFC 5019 responders send one; some
#: CAs send dozens for a whole chain or batch).
MAX_SINGLE_RESPONSES = 1000
#: At most this many extensions in one extensions list (response, single or certificate).
MAX_EXTENSIONS = 64


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
    :ivar verify_issuer_signature: prove that ``issuer`` issued the certificate by verifying
        the certificate's signature with the issuer's key (default True; SHA-1 per
        ``allow_sha1_signatures``). Without it a same-name CA with another key, handed over
        in a chain that nobody validated, could vouch for the certificate. Switch it off only
        when the path from the certificate to the issuer was already validated. The result
        is cached by the DER of both certificates, so a repeated check costs a lookup.
    :ivar allow_produced_outside_validity: accept a response whose producedAt lies outside
        the certificate's own validity period (default False: browsers refuse it, since a
        responder has no business vouching for a certificate that was not yet or no longer
        valid; :class:`~ocspkit.ProducedAtError`).
    :ivar short_lived_max_validity: a certificate valid for at most this long, with neither an
        OCSP URL nor a CRL distribution point, needs no revocation answer (the CA/B Forum's
        short-lived certificates, 7 days since 2026-03-15).
    """

    clock_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta | None = None
    max_age_without_next_update: timedelta = timedelta(days=7)
    nonce: NonceRule = NonceRule.OPTIONAL
    trusted_responders: tuple[x509.Certificate, ...] = ()
    allow_sha1_signatures: bool = True
    check_responder_validity: bool = True
    verify_issuer_signature: bool = True
    allow_produced_outside_validity: bool = False
    short_lived_max_validity: timedelta = timedelta(days=7)
