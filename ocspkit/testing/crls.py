"""What the test CA publishes as CRLs: complete, partitioned and delta CRLs from its table.

This module owns the CRL side of :class:`~ocspkit.testing.CA`: choosing the entries (the live
status table's revocations, the ones of a partition, the ones since a delta's base), the CRL
numbers (one increasing sequence per CA, shared by complete and delta CRLs as RFC 5280
§5.2.4 asks), and the mapping of the table's reasons to ReasonFlags. The encoding is
:func:`ocspkit.testing.profiles.build_crl`. It must never keep revocation state of its own
(the table is :mod:`ocspkit.testing.status`), serve HTTP, or be imported by the library's own
non-testing modules.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from cryptography import x509

from ..models import RevocationReason
from .keys import PrivateKey, aware, utcnow
from .leaf import Leaf
from .profiles import CRLEntrySpec, build_crl
from .status import StatusTable

__all__ = ["CRLNumbers", "reason_flag", "sign_crl"]


class CRLNumbers:
    """One CA's cRLNumber sequence: 1, 2, 3, ... (thread-safe), never reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter: Iterator[int] = itertools.count(1)
        self.last = 0

    def next(self) -> int:
        """The next CRL number (also :attr:`last` from then on)."""
        with self._lock:
            self.last = next(self._counter)
            return self.last

    def skip_to(self, number: int) -> None:
        """Continue after ``number`` (an explicitly numbered CRL was signed)."""
        with self._lock:
            if number > self.last:
                self.last = number
                self._counter = itertools.count(number + 1)


def reason_flag(reason: RevocationReason | None) -> x509.ReasonFlags | None:
    """The ReasonFlags member cryptography's CRL builder takes for a table reason."""
    return None if reason is None else _REASON_FLAGS[reason]


_REASON_FLAGS = {
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.CERTIFICATE_HOLD: x509.ReasonFlags.certificate_hold,
    RevocationReason.REMOVE_FROM_CRL: x509.ReasonFlags.remove_from_crl,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
    RevocationReason.AA_COMPROMISE: x509.ReasonFlags.aa_compromise,
}


def sign_crl(
    table: StatusTable,
    numbers: CRLNumbers,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    *,
    now: datetime | None = None,
    validity: timedelta = timedelta(days=1),
    crl_number: int | None = None,
    idp_url: str | None = None,
    delta_base: int | None = None,
    since: datetime | None = None,
    entries: Iterable[CRLEntrySpec] | None = None,
    signer: Leaf | None = None,
    **options: object,
) -> x509.CertificateRevocationList:
    """A signed CRL of ``issuer`` listing ``table``'s revocations (the parameters are those of
    :meth:`ocspkit.testing.CA.sign_crl`)."""
    from ..certs import crl_urls

    tu = aware(now).replace(microsecond=0) if now is not None else utcnow()
    start = aware(since) if since is not None else None
    if entries is None:
        entries = [
            CRLEntrySpec(r.cert.serial_number, r.time, reason_flag(r.reason))
            for r in table.revoked()
            if (idp_url is None or idp_url in crl_urls(r.cert))
            and (start is None or r.time >= start)
        ]
    if crl_number is None:
        crl_number = numbers.next()
    else:
        numbers.skip_to(crl_number)
    cert, key = (signer.cert, signer.key) if signer else (issuer, issuer_key)
    return build_crl(
        cert.subject,
        key,
        entries,
        this_update=tu,
        next_update=tu + validity,
        crl_number=crl_number,
        delta_base=delta_base,
        idp_urls=(idp_url,) if idp_url else (),
        aki_from=cert,
        **options,  # type: ignore[arg-type]
    )
