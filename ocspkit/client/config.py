"""ClientConfig: every knob of :class:`~ocspkit.Client` and :class:`~ocspkit.AsyncClient`.

What this module owns: the one home and the one default of each client setting, and their
validation. What it must never do: perform I/O or hold state (a config is a frozen value
shared by the sync and async clients, the one-shot checks and the bulk checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..policy import ValidationPolicy
from .guard import is_public_address

__all__ = ["ClientConfig", "Method"]

#: How requests are sent: ``"auto"`` (RFC 5019 GET when it fits, else POST; GET failures, and
#: GETs answered ``malformedRequest``, fall back to POST), ``"post"`` or ``"get"``.
Method = Literal["auto", "post", "get"]

_METHODS = ("auto", "post", "get")


@dataclass(frozen=True)
class ClientConfig:
    """The settings of a client; immutable and shared by the sync and async clients.

    :ivar deadline: the whole operation's deadline, in seconds: one ``query``, ``check`` or
        ``fetch_issuer`` call (and each item of a bulk check) ends within it, name lookups,
        connects, TLS handshakes, sending, receiving, the issuer fetch, every URL, redirect,
        retry and backoff sleep included. A server that trickles its answer one byte at a
        time is cut off at the deadline. This is the setting a command line's ``--timeout``
        maps onto.
    :ivar timeout: seconds allowed for each network operation of one HTTP request (connect,
        each read, each write): how long to wait for a silent server before moving on to
        the next URL or retry; never more than what is left of the deadline.
    :ivar method: ``"auto"``, ``"post"`` or ``"get"`` (see :data:`Method`).
    :ivar force_url: send every request to this responder instead of the certificate's AIA
        URLs (like Apache's ``SSLStaplingForceURL``).
    :ivar proxy: an HTTP(S) proxy URL for requests (passed to httpx).
    :ivar max_response_size: the largest body accepted, in bytes; enforced while streaming.
    :ivar max_crl_size: the largest CRL body ``fetch_crl`` accepts, in bytes (64 MiB by
        default: real CRLs reach tens of MB); enforced the same way.
    :ivar max_redirects: redirects followed per request (http and https only; loops refused).
    :ivar retries: extra attempts per URL after tryLater, HTTP 429/5xx or a connection error.
    :ivar backoff: the wait before the first retry, in seconds; each further retry doubles
        it, spread by ±50 % (computed by :func:`ocspkit.refresh.retry_delay`, the backoff
        the stapler uses too); ``Retry-After`` is honoured when it fits in the deadline.
    :ivar block_private_addresses: refuse *every* responder and issuer URL whose host
        resolves to a non-public address (private, loopback, link-local, CGNAT, NAT64-mapped,
        metadata...), also those the certificate or the caller names: for tools that take
        certificates from untrusted users. Off by default (private PKI works).
    :ivar allow_private_redirects: follow a redirect from a public address to a non-public
        one. Off by default: such a redirect raises :class:`~ocspkit.UnsafeURLError`, so a
        public responder cannot send the client into the network it runs in. Redirects
        between non-public addresses (an internal responder) are always followed.
    :ivar is_public: decides whether an IP address (a string) counts as public for the two
        rules above; the default is :func:`ocspkit.client.is_public_address`. Replace it to
        add your own internal ranges (or, in tests, to treat a loopback address as public).
        Cloud metadata addresses are never connected to, whatever it says.
    :ivar policy: the default :class:`~ocspkit.ValidationPolicy` of ``check``.
    :ivar per_host: at most this many requests in flight per host (``None``: no limit).
    """

    timeout: float = 10.0
    deadline: float = 30.0
    method: Method = "auto"
    force_url: str | None = None
    proxy: str | None = None
    max_response_size: int = 65536
    max_crl_size: int = 64 * 1024 * 1024
    max_redirects: int = 3
    retries: int = 2
    backoff: float = 0.5
    block_private_addresses: bool = False
    allow_private_redirects: bool = False
    is_public: Callable[[str], bool] = is_public_address
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
        for name in ("max_response_size", "max_crl_size", "max_redirects", "retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        for name in ("max_response_size", "max_crl_size"):
            if getattr(self, name) == 0:
                raise ValueError(f"{name} must be positive")
        if self.per_host is not None and (not isinstance(self.per_host, int) or self.per_host < 1):
            raise ValueError(f"per_host must be a positive integer or None, not {self.per_host!r}")
        if not callable(self.is_public):
            raise ValueError(f"is_public must be a callable, not {self.is_public!r}")
