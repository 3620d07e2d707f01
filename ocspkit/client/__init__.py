"""Querying OCSP responders: sync and async clients, one-shot checks, bulk checks.

What this package owns: every network exchange with OCSP responders, caIssuers and CRL
servers, and the CRL cache with its stores.
What it must never do: decide a verdict (the core's ``validate_response`` does), use a
private attribute or module of httpx or httpcore, or import another edge's internals.

:class:`Client` and :class:`AsyncClient` share every decision (which URL and method, what to
retry, what to check) through :mod:`ocspkit.client.plan`; they differ only by ``await``.
"""

from __future__ import annotations

from ..errors import ContentEncodingError, InvalidURLError, IssuerFetchError, UnexpectedError
from .aio import AsyncClient, acheck
from .bulk import CheckOutcome, acheck_many, check_many
from .cache import ResponseCache
from .config import ClientConfig
from .crl_cache import CRLCache, CRLStore, MemoryCRLStore, StoredCRL
from .crl_stores import DirectoryCRLStore, RedisCRLStore
from .guard import METADATA_ADDRESSES, is_metadata_address, is_public_address
from .revocation import acheck_revocation, check_revocation
from .revocation_bulk import RevocationOutcome, acheck_revocation_many, check_revocation_many
from .sync import Client, check

__all__ = [
    "METADATA_ADDRESSES",
    "AsyncClient",
    "CRLCache",
    "CRLStore",
    "CheckOutcome",
    "Client",
    "ClientConfig",
    "ContentEncodingError",
    "DirectoryCRLStore",
    "InvalidURLError",
    "IssuerFetchError",
    "MemoryCRLStore",
    "RedisCRLStore",
    "ResponseCache",
    "RevocationOutcome",
    "StoredCRL",
    "UnexpectedError",
    "acheck",
    "acheck_many",
    "acheck_revocation",
    "acheck_revocation_many",
    "check",
    "check_many",
    "check_revocation",
    "check_revocation_many",
    "is_metadata_address",
    "is_public_address",
]
