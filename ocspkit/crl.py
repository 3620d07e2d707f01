"""parse_crl: a certificate revocation list (RFC 5280 §5) from DER, PEM or a file.

Owns the decoding of CRLs. cryptography's CRL decoder is the gate (anything it refuses is a
:class:`~ocspkit.DecodeError`) and supplies the issuer name and the CRL's times; everything a
verdict depends on (extensions, the issuing distribution point, entries) is sliced from the
DER by :mod:`ocspkit._der`, so an odd-but-harmless extension value cannot make a decoder
raise and what is checked is exactly what was signed. Entries are indexed in one linear pass
(serial → offset; under 200 bytes of memory per entry, measured) and decoded only when looked up.
Structural faults that the signature may still cover are recorded as *problems* for
:func:`ocspkit.validate_crl` to refuse; this module never decides whether a CRL is
trustworthy. Pure: no I/O beyond reading a file the caller named, no clock.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from ._cache import BoundedCache
from ._der import (
    children,
    decode_generalized_time,
    decode_integer,
    decode_oid,
    decode_time,
    expect,
    read_tlv,
)
from ._guard import typed_errors
from ._pem import der_from
from .crlmodels import CRL, CRLEntry, IssuingDistributionPoint, new_entry
from .errors import DecodeError
from .models import Extension, RevocationReason

__all__ = ["crl_facts", "parse_crl"]

OID_CRL_NUMBER = "2.5.29.20"
OID_DELTA_CRL_INDICATOR = "2.5.29.27"
OID_IDP = "2.5.29.28"
OID_REASON_CODE = "2.5.29.21"
OID_INVALIDITY_DATE = "2.5.29.24"
OID_CERTIFICATE_ISSUER = "2.5.29.29"
OID_HOLD_INSTRUCTION = "2.5.29.23"

#: Entry extensions ocspkit understands (a critical one outside the set refuses the CRL).
KNOWN_ENTRY_EXTENSIONS = frozenset(
    {OID_REASON_CODE, OID_INVALIDITY_DATE, OID_CERTIFICATE_ISSUER, OID_HOLD_INSTRUCTION}
)
# The same OIDs as their DER contents, compared without decoding on the indexing pass.
_OID_BODY = {
    b"\x55\x1d\x15": OID_REASON_CODE,
    b"\x55\x1d\x18": OID_INVALIDITY_DATE,
    b"\x55\x1d\x1d": OID_CERTIFICATE_ISSUER,
    b"\x55\x1d\x17": OID_HOLD_INSTRUCTION,
}
_REMOVE_FROM_CRL = b"\x0a\x01\x08"
# crlEntryExtensions holding only a non-critical reasonCode, up to the reason's value octet
_REASON_ONLY = bytes.fromhex("300c300a0603551d1504030a01")
_PEM_MARK = "-----BEGIN"


class CRLIndex:
    """serial → entry offsets over one CRL's DER, built in one pass (see :class:`CRL`).

    :ivar problems: structural faults found on the way (for :func:`ocspkit.validate_crl`).
    :ivar unknown_critical: the OID of the first critical entry extension ocspkit does not
        understand, or None.
    :ivar remove_from_crl: True when an entry has the reason removeFromCRL.
    :ivar entry_extensions: True when any entry carries extensions.
    """

    __slots__ = (
        "_count",
        "_der",
        "_issuer_at",
        "_issuer_from",
        "_offsets",
        "certificate_issuers",
        "entry_extensions",
        "problems",
        "remove_from_crl",
        "unknown_critical",
    )

    def __init__(
        self, der: bytes, start: int, end: int, crl_issuer: bytes, *, present: bool = True
    ) -> None:
        self._der = der
        offsets: dict[int, int | list[int]] = {}
        issuer_at: list[int] = []  # offsets where certificateIssuer changes ...
        issuer_from: list[bytes | None] = []  # ... and the issuer from there on
        problems: list[str] = []
        unknown: str | None = None
        remove = False
        with_exts = False
        current: bytes | None = None
        count = 0
        pos = start
        get = offsets.get
        while pos < end:
            # the common shapes inline (short lengths, a reasonCode-only extension list);
            # anything else through the general reader, with the same checks
            if der[pos] == 0x30 and der[pos + 1] < 0x80 and der[pos + 2] == 0x02:
                cend = pos + 2 + der[pos + 1]
                sstart = pos + 4
                send = sstart + der[pos + 3]
                if der[pos + 3] >= 0x80 or send + 2 > cend or cend > end:
                    raise DecodeError("truncated revokedCertificates entry")
                ttag = der[send]
                tend = send + 2 + der[send + 1]
                if der[send + 1] >= 0x80 or tend > cend:
                    raise DecodeError("truncated revocationDate")
            else:
                tag, cstart, cend = read_tlv(der, pos, end)
                if tag != 0x30:
                    raise DecodeError("a revokedCertificates entry is not a SEQUENCE")
                stag, sstart, send = read_tlv(der, cstart, cend)
                if stag != 0x02:
                    raise DecodeError("a revokedCertificates entry has no serial number")
                ttag, _, tend = read_tlv(der, send, cend)
            if send == sstart:
                raise DecodeError("a revokedCertificates entry has an empty serial number")
            if ttag != 0x17 and ttag != 0x18:
                raise DecodeError("a revokedCertificates entry has no revocationDate")
            serial = int.from_bytes(der[sstart:send], "big", signed=True)
            if tend != cend:
                with_exts = True
                if cend - tend == 14 and der[tend : tend + 13] == _REASON_ONLY:
                    remove = remove or der[tend + 13] == 8
                else:
                    found = _scan_entry_extensions(der, tend, cend)
                    if found.lax_issuer and not problems:  # a reader skipping it misreads
                        problems.append("a non-critical certificateIssuer (RFC 5280 §5.3.3)")
                    if found.issuer is not None:
                        current = None if found.issuer == crl_issuer else found.issuer
                        issuer_at.append(pos)
                        issuer_from.append(current)
                    if found.unknown is not None and unknown is None:
                        unknown = found.unknown
                    remove = remove or found.remove
            key_offsets = get(serial)
            if key_offsets is None:
                offsets[serial] = pos
            elif isinstance(key_offsets, list):
                key_offsets.append(pos)
            else:
                offsets[serial] = [key_offsets, pos]
            count += 1
            pos = cend
        if count == 0 and present:
            problems.append("revokedCertificates is present but empty (RFC 5280 §5.1.2.6)")
        self._offsets = offsets
        self._issuer_at = issuer_at
        self._issuer_from = issuer_from
        self._count = count
        self.problems = tuple(problems)
        self.unknown_critical = unknown
        self.remove_from_crl = remove
        self.entry_extensions = with_exts
        self.certificate_issuers = tuple(dict.fromkeys(i for i in issuer_from if i is not None))

    def __len__(self) -> int:
        return self._count

    def _issuer_of(self, offset: int) -> bytes | None:
        i = bisect_right(self._issuer_at, offset)
        return self._issuer_from[i - 1] if i else None

    def find(self, serial: int, certificate_issuer: bytes | None) -> CRLEntry | None:
        """The entry for ``serial`` about ``certificate_issuer`` (None: the CRL's issuer)."""
        hit = self._offsets.get(serial)
        if hit is None:
            return None
        if certificate_issuer is None and not self._issuer_at and not isinstance(hit, list):
            return _entry_at(self._der, hit, None)  # the common case: one entry, a direct CRL
        for offset in hit if isinstance(hit, list) else (hit,):
            issuer = self._issuer_of(offset)
            if issuer == certificate_issuer:
                return _entry_at(self._der, offset, issuer)
        return None


class _EntryExts:
    __slots__ = ("issuer", "lax_issuer", "remove", "unknown")

    def __init__(self) -> None:
        self.issuer: bytes | None = None
        self.unknown: str | None = None
        self.remove = self.lax_issuer = False


def _scan_entry_extensions(der: bytes, pos: int, end: int) -> _EntryExts:
    found = _EntryExts()
    start, stop = expect(der, pos, 0x30, end)
    if stop != end:
        raise DecodeError("trailing data in a revokedCertificates entry")
    for tag, _, estart, eend in children(der, start, stop):
        if tag != 0x30:
            raise DecodeError("malformed CRL entry extension")
        parts = children(der, estart, eend)
        if len(parts) not in (2, 3) or parts[0][0] != 0x06 or parts[-1][0] != 0x04:
            raise DecodeError("malformed CRL entry extension")
        body = der[parts[0][2] : parts[0][3]]
        critical = len(parts) == 3 and any(der[parts[1][2] : parts[1][3]])
        oid = _OID_BODY.get(body)
        value = der[parts[-1][2] : parts[-1][3]]
        if oid is None:
            if critical and found.unknown is None:
                found.unknown = decode_oid(body)
        elif oid == OID_REASON_CODE:
            found.remove = found.remove or value == _REMOVE_FROM_CRL
        elif oid == OID_CERTIFICATE_ISSUER:
            found.issuer = _directory_name(value)
            found.lax_issuer = found.lax_issuer or not critical
    return found


def _directory_name(value: bytes) -> bytes:
    """The Name DER of the first directoryName [4] in a GeneralNames extnValue."""
    start, end = expect(value, 0, 0x30)
    for tag, _, cstart, cend in children(value, start, end):
        if tag == 0xA4:
            _, nend = expect(value, cstart, 0x30, cend)
            if nend != cend:
                raise DecodeError("trailing data in a certificateIssuer directoryName")
            return value[cstart:cend]
    raise DecodeError("a certificateIssuer without a directoryName")


def _extensions(der: bytes, start: int, end: int) -> tuple[Extension, ...]:
    out: list[Extension] = []
    for tag, _, estart, eend in children(der, start, end):
        parts = children(der, estart, eend)
        if tag != 0x30 or len(parts) not in (2, 3) or parts[0][0] != 0x06:
            raise DecodeError("malformed extension")
        if parts[-1][0] != 0x04 or (len(parts) == 3 and parts[1][0] != 0x01):
            raise DecodeError("malformed extension")
        oid = decode_oid(der[parts[0][2] : parts[0][3]])
        if any(e.oid == oid for e in out):
            raise DecodeError(f"duplicate extension {oid}")
        critical = len(parts) == 3 and any(der[parts[1][2] : parts[1][3]])
        out.append(Extension(oid, critical, der[parts[-1][2] : parts[-1][3]]))
    return tuple(out)


def _entry_at(der: bytes, offset: int, issuer: bytes | None) -> CRLEntry:
    # the common shape inline (short lengths, a UTCTime, no extension or a reasonCode alone:
    # what the index walked); anything else through the general reader below
    cend, send = offset + 2 + der[offset + 1], offset + 4 + der[offset + 3]
    tend = send + 15
    if der[offset + 1] < 0x80 and der[offset + 3] < 0x80 and der[send : send + 2] == b"\x17\x0d":
        serial = int.from_bytes(der[offset + 4 : send], "big", signed=True)
        when = decode_time(0x17, der[send + 2 : tend])
        if tend == cend:
            return new_entry(serial, when, None, issuer, None, ())
        if cend - tend == 14 and der[tend : tend + 13] == _REASON_ONLY:
            value = der[tend + 11 : cend]
            known = _REASON_EXTS.get(value)
            if known is None:  # one immutable Extension per reasonCode value (at most 256)
                code = int.from_bytes(value[2:], "big", signed=True)
                ext = Extension(OID_REASON_CODE, False, value)
                known = _REASON_EXTS[value] = (ext, _REASONS.get(code, code))
            return new_entry(serial, when, known[1], issuer, None, (known[0],))
    _, cstart, cend = read_tlv(der, offset)
    _, sstart, send = read_tlv(der, cstart, cend)
    ttag, tstart, tend = read_tlv(der, send, cend)
    exts: tuple[Extension, ...] = ()
    if tend != cend:
        estart, eend = expect(der, tend, 0x30, cend)
        exts = _extensions(der, estart, eend)
    reason: int | None = None
    invalidity: datetime | None = None
    for ext in exts:
        # informational values: one that does not decode leaves the entry listed, without it
        try:
            if ext.oid == OID_REASON_CODE:
                rstart, rend = expect(ext.value, 0, 0x0A)
                code = decode_integer(ext.value[rstart:rend], max_octets=2)
                reason = _REASONS.get(code, code)
            elif ext.oid == OID_INVALIDITY_DATE:
                istart, iend = expect(ext.value, 0, 0x18)
                invalidity = decode_generalized_time(ext.value[istart:iend])
        except DecodeError:
            continue
    return CRLEntry(
        serial_number=int.from_bytes(der[sstart:send], "big", signed=True),
        revocation_time=decode_time(ttag, der[tstart:tend]),
        reason=reason,
        certificate_issuer=issuer,
        invalidity_date=invalidity,
        extensions=exts,
    )


_REASONS: dict[int, int] = {int(r): r for r in RevocationReason}
_REASON_EXTS: dict[bytes, tuple[Extension, int]] = {}

# ReasonFlags bit → CRLReason code: bits 1-6 are codes 1-6, bit 7 privilegeWithdrawn (9),
# bit 8 aACompromise (10); bit 0 is unused and later bits name no reason
_BIT_REASON = (0, 1, 2, 3, 4, 5, 6, 9, 10)
#: Every reason a ReasonFlags can name, as CRLReason codes (RFC 5280 §6.3.3 "all-reasons").
ALL_REASONS = frozenset(_BIT_REASON[1:])


def reason_flags(body: bytes) -> frozenset[int]:
    """A ReasonFlags BIT STRING's contents as the CRLReason codes it names."""
    if not body or body[0] > 7:
        raise DecodeError("malformed ReasonFlags")
    bits = body[1:]
    top = min(len(bits) * 8, len(_BIT_REASON))
    return frozenset(_BIT_REASON[i] for i in range(1, top) if bits[i // 8] & (0x80 >> (i % 8)))


def parse_idp(value: bytes) -> IssuingDistributionPoint:
    """An issuingDistributionPoint extnValue (RFC 5280 §5.2.5)."""
    start, end = expect(value, 0, 0x30)
    if end != len(value):
        raise DecodeError("trailing data in issuingDistributionPoint")
    names: list[str] = []
    flags = {1: False, 2: False, 4: False, 5: False}
    reasons: frozenset[int] | None = None
    relative = other = False
    last = -1
    for tag, _, cstart, cend in children(value, start, end):
        number = tag & 0x1F
        if number <= last:
            raise DecodeError("issuingDistributionPoint fields out of order")
        last = number
        if tag == 0xA0:
            for ntag, _, nstart, nend in children(value, cstart, cend):
                if ntag == 0xA0:
                    for gtag, _, gstart, gend in children(value, nstart, nend):
                        uri = value[gstart:gend]
                        if gtag == 0x86 and uri.isascii():
                            names.append(uri.decode("ascii"))
                        else:  # a directoryName, ...: still a partition, never matched
                            other = True
                elif ntag == 0xA1:
                    relative = True
                else:
                    raise DecodeError("malformed DistributionPointName")
        elif tag in (0x81, 0x82, 0x84, 0x85):
            if cend - cstart != 1:
                raise DecodeError("malformed BOOLEAN")
            flags[number] = value[cstart] != 0
        elif tag == 0x83:
            reasons = reason_flags(value[cstart:cend])
        else:
            raise DecodeError("unexpected field in issuingDistributionPoint")
    return IssuingDistributionPoint(
        full_names=tuple(names),
        only_contains_user_certs=flags[1],
        only_contains_ca_certs=flags[2],
        only_some_reasons=reasons,
        indirect_crl=flags[4],
        only_contains_attribute_certs=flags[5],
        relative_name=relative,
        other_names=other,
        der=value,
    )


def _integer_value(value: bytes, what: str) -> int:
    start, end = expect(value, 0, 0x02)
    if end != len(value):
        raise DecodeError(f"trailing data in {what}")
    return decode_integer(value[start:end], max_octets=64)


def crl_der(data: object) -> bytes:
    """A CRL's DER from DER or PEM bytes (any bytes-like), PEM text or a file path."""
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        if isinstance(data, str) and _PEM_MARK in text:
            data = text.encode()
        else:
            try:
                data = Path(text).read_bytes()
            except OSError as exc:
                raise DecodeError(f"cannot read CRL file {text!r}: {exc.strerror}") from None
    return der_from(data, "X509 CRL")


@dataclass(frozen=True, slots=True)
class CRLFacts:
    """What :func:`parse_crl` sliced from the DER beyond the model: the signed TBSCertList,
    the outer and inner AlgorithmIdentifiers, the signature bits and the entry index."""

    tbs: bytes
    outer_algorithm: bytes
    inner_algorithm: bytes
    signature: bytes
    index: CRLIndex
    crl: CRL


_facts = BoundedCache[bytes, CRLFacts]("crl.facts", 16)


def crl_facts(der: bytes) -> CRLFacts:
    """The :class:`CRLFacts` of a CRL's DER, cached by the DER (the validator's only input)."""
    hit = _facts.get(der)
    if hit is not None:
        return hit
    return _facts.put(der, _decode(der))


def _decode(der: bytes) -> CRLFacts:
    try:
        xcrl = x509.load_der_x509_crl(der)
        issuer_name: x509.Name | None = xcrl.issuer
        this_update = xcrl.last_update_utc
        next_update = xcrl.next_update_utc
    except Exception as exc:  # the gate: whatever cryptography refuses is not a CRL
        raise DecodeError(f"not a CRL ({type(exc).__name__})") from None
    start, end = expect(der, 0, 0x30)
    if end != len(der):
        raise DecodeError("trailing data after the CRL")
    top = children(der, start, end)
    if len(top) != 3 or top[0][0] != 0x30 or top[1][0] != 0x30 or top[2][0] != 0x03:
        raise DecodeError("unexpected CertificateList structure")
    tbs = der[top[0][1] : top[0][3]]
    outer = der[top[1][1] : top[1][3]]
    if top[2][3] == top[2][2] or der[top[2][2]] != 0:
        raise DecodeError("malformed CRL signature BIT STRING")
    signature = der[top[2][2] + 1 : top[2][3]]
    fields = children(der, top[0][2], top[0][3])
    version = 1
    if fields and fields[0][0] == 0x02:
        version = decode_integer(der[fields[0][2] : fields[0][3]], max_octets=4) + 1
        fields = fields[1:]
    if len(fields) < 3 or fields[0][0] != 0x30 or fields[1][0] != 0x30:
        raise DecodeError("unexpected TBSCertList structure")
    inner = der[fields[0][1] : fields[0][3]]
    issuer_der = der[fields[1][1] : fields[1][3]]
    rest = fields[3:]  # after thisUpdate
    if rest and rest[0][0] in (0x17, 0x18):
        rest = rest[1:]
    index: CRLIndex | None = None
    if rest and rest[0][0] == 0x30:
        index = CRLIndex(der, rest[0][2], rest[0][3], issuer_der)
        rest = rest[1:]
    exts: tuple[Extension, ...] = ()
    if rest and rest[0][0] == 0xA0:
        estart, eend = expect(der, rest[0][2], 0x30, rest[0][3])
        if eend != rest[0][3]:
            raise DecodeError("trailing data in crlExtensions")
        exts = _extensions(der, estart, eend)
        rest = rest[1:]
    if rest:
        raise DecodeError("unexpected field in TBSCertList")
    if index is None:
        index = CRLIndex(der, 0, 0, issuer_der, present=False)  # absent: how "none" is spelled
    by_oid = {e.oid: e for e in exts}
    crl_number = base = None
    idp = None
    if OID_CRL_NUMBER in by_oid:
        crl_number = _integer_value(by_oid[OID_CRL_NUMBER].value, "cRLNumber")
    if OID_DELTA_CRL_INDICATOR in by_oid:
        base = _integer_value(by_oid[OID_DELTA_CRL_INDICATOR].value, "deltaCRLIndicator")
    if OID_IDP in by_oid:
        idp = parse_idp(by_oid[OID_IDP].value)
    crl = CRL(
        der=der,
        issuer=issuer_name,
        issuer_der=issuer_der,
        this_update=this_update,
        next_update=next_update,
        version=version,
        crl_number=crl_number,
        base_crl_number=base,
        issuing_distribution_point=idp,
        extensions=exts,
        signature_algorithm_oid=_algorithm_oid(outer),
        index=index,
    )
    return CRLFacts(tbs, outer, inner, signature, index, crl)


def _algorithm_oid(alg: bytes) -> str:
    start, end = expect(alg, 0, 0x30)
    ostart, oend = expect(alg, start, 0x06, end)
    return decode_oid(alg[ostart:oend])


@typed_errors(DecodeError, "parse_crl")
def parse_crl(data: bytes | str | os.PathLike[str]) -> CRL:
    """Parse a CRL from DER or PEM bytes, PEM text, or a file path.

    Entries are indexed once (linear time, under 200 bytes per entry) and decoded only
    by :meth:`CRL.lookup`. Raises :class:`~ocspkit.DecodeError` for anything that is not a
    well-formed CRL, an unreadable file included. Parsing does not validate: use
    :func:`ocspkit.validate_crl` or :func:`ocspkit.crl_status`.
    """
    return crl_facts(crl_der(data)).crl
