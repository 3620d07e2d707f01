"""An in-memory cache of verified OCSP responses, keyed by the full CertID and the URL."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime

from cryptography import x509

from ..errors import OCSPError
from ..models import CertID, OCSPResponse, ValidationResult
from ..policy import NonceRule, ValidationPolicy
from ..validate import validate_response

__all__ = ["ResponseCache"]


class ResponseCache:
    """A bounded, thread-safe LRU cache of responses that passed validation.

    A response is served only while it still validates at the caller's ``now`` under the
    caller's policy (with nonces ignored: a cached answer cannot echo a new nonce); one that
    no longer does is dropped. A policy that *requires* nonces never uses the cache.

    :param max_entries: how many (CertID, URL) entries to keep; the least recently used go.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[CertID, str], OCSPResponse] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def put(self, cert_id: CertID, url: str, response: OCSPResponse) -> None:
        """Remember ``response`` (already validated) for ``cert_id`` from ``url``."""
        with self._lock:
            self._entries[(cert_id, url)] = response
            self._entries.move_to_end((cert_id, url))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(
        self,
        cert_id: CertID,
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: datetime | None,
        policy: ValidationPolicy,
    ) -> ValidationResult | None:
        """A result re-validated from the cached response, or None (missing or no longer valid)."""
        if policy.nonce is NonceRule.REQUIRED:
            return None
        key = (cert_id, url)
        with self._lock:
            response = self._entries.get(key)
            if response is None:
                return None
            self._entries.move_to_end(key)
        try:
            return validate_response(
                response, cert, issuer, now=now, policy=replace(policy, nonce=NonceRule.IGNORE)
            )
        except OCSPError:
            with self._lock:
                if self._entries.get(key) is response:
                    del self._entries[key]
            return None
