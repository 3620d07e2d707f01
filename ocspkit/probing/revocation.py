"""The probe's revocation part: how the served certificate's revocation can be checked, and,
when asked, the answer.

Owns :func:`revocation_methods` (the staple, the leaf's OCSP and CRL URLs) and the probe's
call of :func:`ocspkit.check_revocation` (sync and async, the staple passed first so that a
valid one answers without any fetch; the probe's ``timeout`` as the deadline). Must never
raise for what a server or a CA sent: a failure is the report's ``revocation_error``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509

from ..certs import crl_urls, ocsp_urls
from ..errors import OCSPError, UnexpectedError
from ..models import RevocationResult, RevocationSource
from ..policy import ValidationPolicy

if TYPE_CHECKING:
    from ..client import ClientConfig

__all__ = ["arevocation_answer", "revocation_answer", "revocation_methods"]


def revocation_methods(leaf: x509.Certificate, stapled: bool) -> tuple[RevocationSource, ...]:
    """How the revocation of ``leaf`` can be checked: STAPLE (a staple was sent), OCSP (an
    AIA OCSP URL), CRL (a CRL distribution point); empty when by none of them."""
    methods = []
    if stapled:
        methods.append(RevocationSource.STAPLE)
    try:
        if ocsp_urls(leaf):
            methods.append(RevocationSource.OCSP)
        if crl_urls(leaf):
            methods.append(RevocationSource.CRL)
    except OCSPError:  # an extension that does not decode names no URL
        pass
    return tuple(methods)


def _config(timeout: float) -> ClientConfig:
    from ..client import ClientConfig

    return ClientConfig(timeout=timeout, deadline=timeout)


def revocation_answer(
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    staple: bytes | None,
    *,
    timeout: float,
    now: datetime,
    policy: ValidationPolicy | None,
) -> tuple[RevocationResult | None, OCSPError | None]:
    """``check_revocation`` for the served leaf (blocking): the answer, or the error."""
    from ..client import Client  # only when asked: a probe alone does not load httpx

    try:
        with Client(_config(timeout)) as client:
            return (
                client.check_revocation(leaf, issuer, staple=staple, now=now, policy=policy),
                None,
            )
    except OCSPError as exc:
        return None, exc
    except Exception as exc:  # whatever a server or CA sent must be reported, never raised
        return None, UnexpectedError.wrap(exc)


async def arevocation_answer(
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    staple: bytes | None,
    *,
    timeout: float,
    now: datetime,
    policy: ValidationPolicy | None,
) -> tuple[RevocationResult | None, OCSPError | None]:
    """The asyncio form of :func:`revocation_answer`."""
    from ..client import AsyncClient

    try:
        async with AsyncClient(_config(timeout)) as client:
            result = await client.check_revocation(
                leaf, issuer, staple=staple, now=now, policy=policy
            )
            return result, None
    except OCSPError as exc:
        return None, exc
    except Exception as exc:  # whatever a server or CA sent must be reported, never raised
        return None, UnexpectedError.wrap(exc)
