"""The test CA's status table: what it issued, what it revoked, and when.

This module owns :class:`StatusTable` (thread-safe: a responder thread reads it while a test
revokes) and its OpenSSL ``index.txt`` form (:meth:`StatusTable.index_lines`). Everything that
publishes revocation status reads this one table: OCSP responses today
(:meth:`ocspkit.testing.CA.sign_response`), CRLs later, through :meth:`StatusTable.revoked`.
It must never sign anything, build certificates, or read files (reading ``index.txt`` is
:mod:`ocspkit.testing.openssl`); it imports only the value types.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509

from ..models import CertStatus, RevocationReason

__all__ = ["Revocation", "StatusLookup", "StatusTable"]

#: serial -> (status, revocation time, reason): a status table.
StatusLookup = Callable[[int], tuple[CertStatus, "datetime | None", "RevocationReason | None"]]

# OpenSSL's CRL reason strings (apps/ca.c crl_reasons); the other reasons have no spelling.
_OPENSSL_REASONS: dict[RevocationReason, str] = {
    RevocationReason.UNSPECIFIED: "unspecified",
    RevocationReason.KEY_COMPROMISE: "keyCompromise",
    RevocationReason.CA_COMPROMISE: "CACompromise",
    RevocationReason.AFFILIATION_CHANGED: "affiliationChanged",
    RevocationReason.SUPERSEDED: "superseded",
    RevocationReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    RevocationReason.CERTIFICATE_HOLD: "certificateHold",
    RevocationReason.REMOVE_FROM_CRL: "removeFromCRL",
}


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate: what a CRL entry or an OCSP "revoked" answer says."""

    cert: x509.Certificate
    time: datetime
    reason: RevocationReason | None


@dataclass(frozen=True)
class _Entry:
    cert: x509.Certificate
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None


class StatusTable:
    """Every certificate one issuer signed, keyed by serial, with its revocation if any."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[int, _Entry] = {}

    def add(self, cert: x509.Certificate) -> None:
        """Record a freshly issued certificate (good)."""
        with self._lock:
            self._entries[cert.serial_number] = _Entry(cert)

    def revoke(self, serial: int, when: datetime, reason: RevocationReason | None) -> None:
        """Mark ``serial`` revoked; ``ValueError`` if it was never issued."""
        with self._lock:
            self._entries[serial] = _Entry(self._get(serial).cert, when, reason)

    def unrevoke(self, serial: int) -> None:
        """Mark ``serial`` good again; ``ValueError`` if it was never issued."""
        with self._lock:
            self._entries[serial] = _Entry(self._get(serial).cert)

    def _get(self, serial: int) -> _Entry:
        entry = self._entries.get(serial)
        if entry is None:
            raise ValueError(f"serial {serial:#x} was not issued by this CA")
        return entry

    def lookup(self, serial: int) -> tuple[CertStatus, datetime | None, RevocationReason | None]:
        """``(status, revocation_time, reason)``; UNKNOWN for a serial never issued."""
        with self._lock:
            entry = self._entries.get(serial)
        if entry is None:
            return CertStatus.UNKNOWN, None, None
        if entry.revoked_at is not None:
            return CertStatus.REVOKED, entry.revoked_at, entry.reason
        return CertStatus.GOOD, None, None

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate recorded, oldest first."""
        with self._lock:
            return tuple(e.cert for e in self._entries.values())

    def revoked(self) -> tuple[Revocation, ...]:
        """Every revoked certificate, in issuing order (the entries of a CRL)."""
        with self._lock:
            entries = list(self._entries.values())
        return tuple(
            Revocation(e.cert, e.revoked_at, e.reason) for e in entries if e.revoked_at is not None
        )

    def index_lines(self) -> list[str]:
        """The OpenSSL ``index.txt`` lines for everything recorded.

        Reasons OpenSSL cannot spell (privilegeWithdrawn, aACompromise) are written as
        ``unspecified``.
        """
        with self._lock:
            entries = list(self._entries.values())
        lines = []
        for e in entries:
            expiry = _openssl_time(e.cert.not_valid_after_utc)
            if e.revoked_at is None:
                flag, rev = "V", ""
            else:
                flag = "R"
                rev = _openssl_time(e.revoked_at)
                if e.reason is not None:
                    rev += "," + _OPENSSL_REASONS.get(e.reason, "unspecified")
            serial = _openssl_serial(e.cert.serial_number)
            lines.append(
                f"{flag}\t{expiry}\t{rev}\t{serial}\tunknown\t{_openssl_dn(e.cert.subject)}"
            )
        return lines


def _openssl_time(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    if 1950 <= value.year < 2050:
        return value.strftime("%y%m%d%H%M%SZ")
    return value.strftime("%Y%m%d%H%M%SZ")


def _openssl_serial(serial: int) -> str:
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def _openssl_dn(name: x509.Name) -> str:
    parts = []
    for attr in name:
        key = attr.rfc4514_attribute_name
        value = str(attr.value).replace("/", "\\/")
        parts.append(f"/{key}={value}")
    return "".join(parts) or "/"
