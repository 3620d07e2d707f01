"""``check_revocation`` / ``acheck_revocation``: the one answer, with a client of their own.

What this module owns: the one-shot entry points of the revocation verdict (a client made
from ``config``, or the caller's ``client``). What it must never do: decide anything (the
verdict flow, :mod:`ocspkit.revocation`, does) or keep a client open after the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime

from cryptography import x509

from ..models import OCSPResponse, RevocationResult
from ..policy import ValidationPolicy
from ..revocation import SOURCES
from .aio import AsyncClient
from .base import BundleInput, CertInput
from .config import ClientConfig
from .sync import Client

__all__ = ["acheck_revocation", "check_revocation"]


def check_revocation(
    cert: CertInput | Iterable[x509.Certificate],
    issuer: CertInput | None = None,
    *,
    staple: OCSPResponse | bytes | None = None,
    sources: Sequence[str] = SOURCES,
    require: bool = False,
    url: str | None = None,
    bundle: BundleInput = (),
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    client: Client | None = None,
) -> RevocationResult:
    """Is ``cert`` revoked? The answer of whichever source the CA publishes, validated.

    In order: a valid ``staple`` (DER or parsed; nonces ignored); a certificate that needs
    no answer (RFC 9608 noRevAvail: source NO_REVOCATION_INFO; short-lived with neither OCSP
    URL nor CRL distribution point: SHORT_LIVED); then each of ``sources`` in order —
    ``"ocsp"``: every AIA OCSP URL (or ``url``, or the config's ``force_url``), ``"crl"``:
    every CRL distribution point (fetched, validated and cached until nextUpdate). A source
    with no URL, or whose every URL failed (transport, responder status, nonce, signature,
    freshness, scope...), hands over to the next. The first validated GOOD or REVOKED answer
    wins; what failed before it is in ``result.attempts``. A validated OCSP "unknown" is the
    answer only when no later source says GOOD or REVOKED.

    :param issuer: the issuing certificate; ``None`` looks in ``bundle`` (and after the
        first certificate of ``cert`` if it is a chain), then fetches it by AIA caIssuers.
    :param require: hard failure: raise :class:`~ocspkit.RevocationUnavailableError`
        (listing the attempts) when no source answered; by default (soft failure) the result
        is UNKNOWN with ``source`` None and the attempts.
    :param config: the settings of the client made for this call: its ``deadline`` bounds the
        whole call (issuer fetch, OCSP attempts, CRL fetches); when CRLs follow OCSP, the OCSP
        attempts end at half the time left, so that a hanging responder leaves the CRLs time.
    :param client: a :class:`~ocspkit.Client` to use instead (its cache, CRL cache and
        limits apply; it is not closed).
    :returns: a :class:`~ocspkit.RevocationResult`; a revoked certificate is a result.
    :raises OCSPError: :class:`~ocspkit.CertificateError` for unusable inputs,
        :class:`~ocspkit.IssuerNotFoundError` when the issuer is needed and not found, and
        :class:`~ocspkit.RevocationUnavailableError` with ``require=True``.
    :raises ValueError: for an unknown name in ``sources``.
    """
    if client is not None and config is not None:
        raise ValueError("pass the config to the client, not with client=")
    with Client(config) if client is None else nullcontext(client) as using:
        return using.check_revocation(
            cert,
            issuer,
            staple=staple,
            sources=sources,
            require=require,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )


async def acheck_revocation(
    cert: CertInput | Iterable[x509.Certificate],
    issuer: CertInput | None = None,
    *,
    staple: OCSPResponse | bytes | None = None,
    sources: Sequence[str] = SOURCES,
    require: bool = False,
    url: str | None = None,
    bundle: BundleInput = (),
    now: datetime | None = None,
    hash_algorithm: str = "sha1",
    nonce: bool | bytes = True,
    policy: ValidationPolicy | None = None,
    config: ClientConfig | None = None,
    client: AsyncClient | None = None,
) -> RevocationResult:
    """The asyncio form of :func:`check_revocation` (same arguments; ``client`` is an
    :class:`~ocspkit.AsyncClient`), with the same decisions."""
    if client is not None and config is not None:
        raise ValueError("pass the config to the client, not with client=")
    async with AsyncClient(config) if client is None else nullcontext(client) as using:
        return await using.check_revocation(
            cert,
            issuer,
            staple=staple,
            sources=sources,
            require=require,
            url=url,
            bundle=bundle,
            now=now,
            hash_algorithm=hash_algorithm,
            nonce=nonce,
            policy=policy,
        )
