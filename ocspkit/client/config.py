"""ClientConfig: every knob of :class:`~ocspkit.Client` and :class:`~ocspkit.AsyncClient`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..policy import ValidationPolicy

__all__ = ["CONFIG_FIELDS", "ClientConfig", "Method"]

#: How requests are sent: ``"auto"`` (RFC 5019 GET when it fits, else POST; GET failures fall
#: back to POST), ``"post"`` or ``"get"``.
Method = Literal["auto", "post", "get"]

_METHODS = ("auto", "post", "get")


@dataclass(frozen=True)
class ClientConfig:
    """The settings of a client; immutable and shared by the sync and async clients.

    :ivar timeout: seconds allowed for each network operation of one HTTP request (connect,
        each read, each write); never more than what is left of the deadline.
    :ivar deadline: seconds allowed for one whole ``query``/``check`` call: issuer fetch,
        every URL, redirect, retry and backoff sleep included. Nothing runs past it.
    :ivar method: ``"auto"``, ``"post"`` or ``"get"`` (see :data:`Method`).
    :ivar force_url: send every request to this responder instead of the certificate's AIA
        URLs (like Apache's ``SSLStaplingForceURL``).
    :ivar proxy: an HTTP(S) proxy URL for requests (passed to httpx).
    :ivar max_response_size: the largest body accepted, in bytes; enforced while streaming.
    :ivar max_redirects: redirects followed per request (http and https only; loops refused).
    :ivar retries: extra attempts per URL after tryLater, HTTP 429/5xx or a connection error.
    :ivar backoff: base of the exponential backoff in seconds (``backoff * 2**n``, with full
        jitter); ``Retry-After`` is honoured when it fits in the deadline.
    :ivar block_private_addresses: refuse responder and issuer URLs whose host resolves to a
        private, loopback, link-local or otherwise non-global address (for tools that take
        certificates from untrusted users). Off by default.
    :ivar policy: the default :class:`~ocspkit.ValidationPolicy` of ``check``.
    :ivar per_host: at most this many requests in flight per host (``None``: no limit).
    """

    timeout: float = 10.0
    deadline: float = 30.0
    method: Method = "auto"
    force_url: str | None = None
    proxy: str | None = None
    max_response_size: int = 65536
    max_redirects: int = 3
    retries: int = 2
    backoff: float = 0.5
    block_private_addresses: bool = False
    policy: ValidationPolicy | None = None
    per_host: int | None = None

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, not {self.method!r}")
        if not isinstance(self.backoff, (int, float)) or not 0 <= self.backoff < math.inf:
            raise ValueError(f"backoff must be a non-negative number, not {self.backoff!r}")
        for name in ("max_response_size", "max_redirects", "retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if self.max_response_size == 0:
            raise ValueError("max_response_size must be positive")
        if self.per_host is not None and (not isinstance(self.per_host, int) or self.per_host < 1):
            raise ValueError(f"per_host must be a positive integer or None, not {self.per_host!r}")


#: The keyword arguments that configure a client (as opposed to those of ``check``).
CONFIG_FIELDS: frozenset[str] = frozenset(ClientConfig.__dataclass_fields__)
