"""Querying OCSP responders: sync and async clients, one-shot checks, bulk checks.

:class:`Client` and :class:`AsyncClient` share every decision (which URL and method, what to
retry, what to check) through :mod:`ocspkit.client.plan`; they differ only by ``await``.
"""

from __future__ import annotations

from ..errors import ContentEncodingError, InvalidURLError, IssuerFetchError, UnexpectedError
from .aio import AsyncClient, acheck
from .bulk import CheckOutcome, acheck_many, check_many
from .cache import ResponseCache
from .config import ClientConfig
from .sync import Client, check

__all__ = [
    "AsyncClient",
    "CheckOutcome",
    "Client",
    "ClientConfig",
    "ContentEncodingError",
    "InvalidURLError",
    "IssuerFetchError",
    "ResponseCache",
    "UnexpectedError",
    "acheck",
    "acheck_many",
    "check",
    "check_many",
]
