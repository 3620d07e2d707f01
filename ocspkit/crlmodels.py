"""The CRL value types: :class:`CRL`, :class:`CRLEntry`, :class:`IssuingDistributionPoint`.

Owns the shapes of a parsed certificate revocation list (RFC 5280 §5). Plain frozen values:
the decoding lives in :mod:`ocspkit.crl`, which hands each :class:`CRL` an :class:`EntryIndex`
built in one pass over the DER, so :meth:`CRL.lookup` is a dictionary read. This module sits
below :mod:`ocspkit.models` (whose ``RevocationResult`` carries a CRL as evidence), so it must
never import another ocspkit module except :mod:`ocspkit.errors`; the extension and reason
types are therefore described structurally (:class:`RawExtension`, an ``int`` reason code that
the parser fills with :class:`ocspkit.RevocationReason` members).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Protocol

from cryptography import x509

__all__ = [
    "CRL",
    "CRLEntry",
    "EntryIndex",
    "IssuingDistributionPoint",
    "RawExtension",
    "new_entry",
]


class RawExtension(Protocol):
    """An extension as carried (what :class:`ocspkit.Extension` is): OID, criticality and the
    extnValue contents (DER)."""

    @property
    def oid(self) -> str: ...

    @property
    def critical(self) -> bool: ...

    @property
    def value(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class CRLEntry:
    """One revokedCertificates entry.

    :ivar serial_number: the revoked certificate's serial.
    :ivar revocation_time: revocationDate (aware UTC).
    :ivar reason: the reasonCode extension's CRLReason, as an :class:`ocspkit.RevocationReason`
        member (an ``int``); None when the entry has none.
    :ivar certificate_issuer: for an indirect CRL, the DER of the Name the entry is about
        (certificateIssuer, carried over from the preceding entry as RFC 5280 §5.3.3 says);
        None when the entry is about the CRL's own issuer.
    :ivar invalidity_date: the invalidityDate extension, if any.
    :ivar extensions: the entry's extensions as carried.
    """

    serial_number: int
    revocation_time: datetime
    reason: int | None = None
    certificate_issuer: bytes | None = field(default=None, repr=False)
    invalidity_date: datetime | None = None
    extensions: tuple[RawExtension, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        reason = getattr(self.reason, "name", self.reason)
        return (
            f"CRLEntry(serial_number=0x{self.serial_number:x}, "
            f"revocation_time={self.revocation_time.isoformat()}, reason={reason})"
        )


def new_entry(
    serial_number: int,
    revocation_time: datetime,
    reason: int | None,
    certificate_issuer: bytes | None,
    invalidity_date: datetime | None,
    extensions: tuple[RawExtension, ...],
) -> CRLEntry:
    """A :class:`CRLEntry` from every field, in order, for the parser's values (already of the
    right types): the slots are filled directly, without the frozen dataclass ``__init__``'s
    ``object.__setattr__`` per field, which was the largest part of a CRL look-up."""
    entry = _new(CRLEntry)
    _set_serial(entry, serial_number)
    _set_time(entry, revocation_time)
    _set_reason(entry, reason)
    _set_issuer(entry, certificate_issuer)
    _set_invalidity(entry, invalidity_date)
    _set_extensions(entry, extensions)
    return entry


_new = object.__new__
# the slot descriptors of CRLEntry's fields, in field order (a test checks they are all here)
_set_serial, _set_time, _set_reason, _set_issuer, _set_invalidity, _set_extensions = (
    CRLEntry.__dict__[f.name].__set__ for f in fields(CRLEntry)
)


@dataclass(frozen=True, slots=True)
class IssuingDistributionPoint:
    """The issuingDistributionPoint extension (RFC 5280 §5.2.5): which certificates a CRL
    covers.

    :ivar full_names: the URIs of distributionPoint fullName, in order.
    :ivar relative_name: True when distributionPoint is a nameRelativeToCRLIssuer.
    :ivar other_names: True when fullName holds names that are not URIs (a directoryName,
        ...): the CRL is still a partition, one that ocspkit never matches to a URL.
    :ivar only_some_reasons: the reasons covered (onlySomeReasons' ReasonFlags, as CRLReason
        codes: privilegeWithdrawn is 9, aACompromise 10), or None for all of them.
    :ivar der: the extnValue, as encoded (two CRLs have the same scope when these match).
    """

    full_names: tuple[str, ...] = ()
    only_contains_user_certs: bool = False
    only_contains_ca_certs: bool = False
    only_some_reasons: frozenset[int] | None = None
    indirect_crl: bool = False
    only_contains_attribute_certs: bool = False
    relative_name: bool = False
    other_names: bool = False
    der: bytes = field(default=b"", repr=False)

    @property
    def has_distribution_point(self) -> bool:
        """True when the extension names a distribution point (the CRL is a partition)."""
        return bool(self.full_names) or self.relative_name or self.other_names


class EntryIndex(Protocol):
    """What :mod:`ocspkit.crl` builds over a CRL's entries in one pass."""

    def __len__(self) -> int: ...

    def find(self, serial: int, certificate_issuer: bytes | None) -> CRLEntry | None: ...


@dataclass(frozen=True, slots=True)
class CRL:
    """A parsed certificate revocation list (complete or delta), as :func:`ocspkit.parse_crl`
    returns it. Times are aware UTC datetimes.

    The fields describe :attr:`der`; :func:`ocspkit.validate_crl` and
    :func:`ocspkit.crl_status` read their verdict from the DER, never from edited fields.

    :ivar issuer: the issuer name (None when cryptography cannot represent it).
    :ivar issuer_der: the issuer Name exactly as encoded.
    :ivar version: 1 or 2 (the X.509 version; v1 CRLs omit the field).
    :ivar crl_number: the cRLNumber extension, if any.
    :ivar base_crl_number: the deltaCRLIndicator's BaseCRLNumber: set only for a delta CRL.
    :ivar issuing_distribution_point: the scope, or None for a CRL covering everything the
        issuer issued.
    :ivar extensions: the crlExtensions as carried.
    :ivar signature_algorithm_oid: the outer signatureAlgorithm OID.
    """

    der: bytes = field(repr=False)
    issuer: x509.Name | None
    issuer_der: bytes = field(repr=False)
    this_update: datetime
    next_update: datetime | None
    version: int = 2
    crl_number: int | None = None
    base_crl_number: int | None = None
    issuing_distribution_point: IssuingDistributionPoint | None = None
    extensions: tuple[RawExtension, ...] = field(default=(), repr=False)
    signature_algorithm_oid: str = ""
    index: EntryIndex | None = field(default=None, repr=False, compare=False)

    @property
    def is_delta(self) -> bool:
        """True for a delta CRL (it carries a deltaCRLIndicator)."""
        return self.base_crl_number is not None

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else 0

    def lookup(self, serial: int, certificate_issuer: bytes | None = None) -> CRLEntry | None:
        """The entry revoking ``serial``, or None; a dictionary read.

        For an indirect CRL pass ``certificate_issuer`` (the DER of the certificate's issuer
        name): entries about other issuers are then skipped. Without it, the first entry with
        that serial about the CRL's own issuer answers.
        """
        if self.index is None:
            return None
        return self.index.find(serial, certificate_issuer)

    def __repr__(self) -> str:
        nu = self.next_update.isoformat() if self.next_update else None
        kind = "delta " if self.is_delta else ""
        return (
            f"CRL({kind}entries={len(self)}, this_update={self.this_update.isoformat()}, "
            f"next_update={nu}, crl_number={self.crl_number})"
        )
