"""The OCSP response decoder: DER bytes → :class:`Facts`, everything a verdict reads.

Owns the one reading of a response. ``parse_response`` builds the public model from these
facts and ``validate_response`` decides from them (never from a model's fields), so an edited,
replaced or hand-built model cannot change a verdict: every fact comes from the bytes, and
the signed ones from inside the signed ``tbsResponseData``.

One decoder, one set of rules (see :mod:`ocspkit._der` and the security page): strict
structure, exact tags, nothing trailing; tolerated because real responders send them and the
signature covers them: an explicit default ``version``, fractional seconds, an empty
extensions list, non-minimal long-form lengths, an explicit ``critical FALSE``. Linear in the
input, with caps on the counts that cost work (:data:`~ocspkit.MAX_EMBEDDED_CERTIFICATES`,
:data:`~ocspkit.MAX_SINGLE_RESPONSES`, :data:`~ocspkit.MAX_EXTENSIONS`). Embedded
certificates are sliced, not decoded. Must never do I/O, read the clock, or raise anything
but :class:`~ocspkit.DecodeError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from ._der import (
    children,
    decode_generalized_time,
    decode_integer,
    decode_oid,
    expect,
    nonce_value,
    read_tlv,
)
from .errors import DecodeError, LimitExceededError
from .models import (
    HASH_OIDS,
    OID_BASIC,
    OID_NONCE,
    CertID,
    CertStatus,
    Extension,
    ResponseStatus,
    RevocationReason,
    SingleResponse,
)
from .policy import MAX_EMBEDDED_CERTIFICATES, MAX_EXTENSIONS, MAX_SINGLE_RESPONSES

__all__ = ["Facts", "decode_extensions", "decode_response", "response_status", "slot_setters"]

_REASONS = {r.value: r for r in RevocationReason}
_STATUSES = {s.value: s for s in ResponseStatus}


def slot_setters(cls: type, fields: str) -> tuple[Callable[[object, object], None], ...]:
    """The slot setters of a frozen slots dataclass whose fields are exactly ``fields`` (names
    separated by spaces, in order) and which has no ``__post_init__``, so that setting them is
    all its generated ``__init__`` does; a model that changes shape fails here, at import."""
    names = tuple(fields.split())
    if (
        tuple(f.name for f in dataclasses.fields(cls)) != names
        or getattr(cls, "__slots__", ()) != names
        or hasattr(cls, "__post_init__")
    ):
        raise TypeError(f"{cls.__name__} changed shape; update ocspkit._decode")
    return tuple(getattr(cls, n).__set__ for n in names)


# CertID and SingleResponse are made once per SingleResponse (hundreds in some responses):
# their slots are set directly, at half the cost of the frozen dataclass __init__ (which
# goes through object.__setattr__ for every field). Same values, same class, same equality.
_NEW = object.__new__
_CID = slot_setters(CertID, "hash_algorithm issuer_name_hash issuer_key_hash serial_number")
_SR = slot_setters(
    SingleResponse,
    "cert_id status this_update next_update revocation_time revocation_reason extensions",
)


class Facts(NamedTuple):
    """The content of a successful response, as read from its bytes."""

    singles: tuple[SingleResponse, ...]
    responder_key_hash: bytes | None
    responder_name_der: bytes | None
    produced_at: datetime
    certificate_ders: tuple[bytes, ...]
    extensions: tuple[Extension, ...]
    nonce: bytes | None
    signature_algorithm_oid: str
    signature_algorithm_params: bytes | None
    signature: bytes
    tbs_response_data: bytes
    version: int


def response_status(der: bytes) -> tuple[ResponseStatus, int, int]:
    """(responseStatus, start and end of the responseBytes contents or (0, 0))."""
    start, end = _expect(der, 0, len(der), 0x30)
    if end != len(der):
        raise DecodeError("trailing data after the OCSP response")
    if start >= end or der[start] != 0x0A:
        if start < end:
            _tlv(der, start, end)  # a truncated element is reported as such
        raise DecodeError("not an OCSP response (no responseStatus)")
    _, vstart, pos = _tlv(der, start, end)
    value = decode_integer(der[vstart:pos], max_octets=4)
    status = _STATUSES.get(value)
    if status is None:
        raise DecodeError(f"unknown responseStatus {value}")
    if pos == end:
        return status, 0, 0
    tag, rstart, rend = _tlv(der, pos, end)
    if tag != 0xA0 or rend != end:
        raise DecodeError("malformed OCSPResponse")
    return status, rstart, rend


def _time(der: bytes, tlv: tuple[int, int, int, int], what: str) -> datetime:
    if tlv[0] != 0x18:
        raise DecodeError(f"{what} is not a GeneralizedTime")
    return decode_generalized_time(der[tlv[2] : tlv[3]])


def decode_extensions(der: bytes, start: int, end: int) -> tuple[Extension, ...]:
    """An ``Extensions`` SEQUENCE's contents: each kept as (OID, critical, raw value bytes).

    Values are never interpreted here, so a non-critical extension that nobody reads cannot
    make a response undecodable. Duplicated OIDs are refused (RFC 5280 §4.2).
    """
    items = children(der, start, end)
    if len(items) > MAX_EXTENSIONS:
        raise LimitExceededError(
            f"{len(items)} extensions in one list (at most {MAX_EXTENSIONS})",
            limit=MAX_EXTENSIONS,
        )
    out = []
    seen = set()
    for tag, _, estart, eend in items:
        if tag != 0x30:
            raise DecodeError("malformed extension")
        parts = children(der, estart, eend)
        if len(parts) not in (2, 3) or parts[0][0] != 0x06 or parts[-1][0] != 0x04:
            raise DecodeError("malformed extension")
        critical = False
        if len(parts) == 3:
            if parts[1][0] != 0x01 or parts[1][3] - parts[1][2] != 1:
                raise DecodeError("malformed extension criticality")
            critical = der[parts[1][2]] != 0
        oid = decode_oid(der[parts[0][2] : parts[0][3]])
        if oid in seen:
            raise DecodeError(f"duplicate extension {oid}")
        seen.add(oid)
        out.append(Extension(oid, critical, der[parts[-1][2] : parts[-1][3]]))
    return tuple(out)


def _explicit_extensions(der: bytes, tlv: tuple[int, int, int, int]) -> tuple[Extension, ...]:
    start, end = expect(der, tlv[2], 0x30, tlv[3])
    if end != tlv[3]:
        raise DecodeError("trailing data after extensions")
    return decode_extensions(der, start, end)


# AlgorithmIdentifier TLV bytes -> CertID hash name (or dotted OID): a response's CertIDs
# repeat one or two of these, so each distinct encoding is read once.
_hash_algs: dict[bytes, str] = {}


def _hash_algorithm(alg_tlv: bytes) -> str:
    hit = _hash_algs.get(alg_tlv)
    if hit is not None:
        return hit
    start, end = expect(alg_tlv, 0, 0x30)
    alg = children(alg_tlv, start, end)
    if not alg or alg[0][0] != 0x06 or len(alg) > 2:
        raise DecodeError("malformed CertID hashAlgorithm")
    oid = decode_oid(alg_tlv[alg[0][2] : alg[0][3]])
    name = HASH_OIDS.get(oid, oid)
    if len(_hash_algs) < 256 and len(alg_tlv) <= 64:
        _hash_algs[alg_tlv] = name
    return name


def _tlv(der: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """:func:`~ocspkit._der.read_tlv`, with its common cases (a low tag, a short-form or a
    two-octet length) inline: the per-SingleResponse loop is the decoder's hot path."""
    if pos + 4 <= end and der[pos] & 0x1F != 0x1F:
        n = der[pos + 1]
        if n < 0x80:
            stop = pos + 2 + n
            if stop <= end:
                return der[pos], pos + 2, stop
        elif n == 0x82:  # the top structures of a response: two length octets
            stop = pos + 4 + ((der[pos + 2] << 8) | der[pos + 3])
            if stop <= end:
                return der[pos], pos + 4, stop
    return read_tlv(der, pos, end)


class _Memo:
    """What the SingleResponses of one response share, read once: the CertID's hashAlgorithm
    and issuer hashes (one issuer), and the encoding after the CertID (status, times,
    extensions). Equal bytes decode to equal values, so a repeat is looked up, not re-read."""

    __slots__ = ("head", "prefix", "tails")

    def __init__(self) -> None:
        self.prefix = b""
        self.head: tuple[str, bytes, bytes] = ("", b"", b"")
        self.tails: dict[bytes, _Tail] = {}


_Time = datetime | None
_Tail = tuple[CertStatus, _Time, "RevocationReason | None", datetime, _Time, tuple[Extension, ...]]


def _expect(der: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """:func:`~ocspkit._der.expect` through :func:`_tlv`."""
    got, start, stop = _tlv(der, pos, end)
    if got != tag:
        raise DecodeError(f"expected DER tag 0x{tag:02x}, found 0x{got:02x}")
    return start, stop


# signatureAlgorithm TLV bytes -> (OID, parameters DER or None): one responder uses one or two.
_sig_algs: dict[bytes, tuple[str, bytes | None]] = {}


def _signature_algorithm(alg_tlv: bytes) -> tuple[str, bytes | None]:
    hit = _sig_algs.get(alg_tlv)
    if hit is not None:
        return hit
    start, end = expect(alg_tlv, 0, 0x30)
    alg = children(alg_tlv, start, end)
    if not alg or alg[0][0] != 0x06 or len(alg) > 2:
        raise DecodeError("malformed signatureAlgorithm")
    value = (
        decode_oid(alg_tlv[alg[0][2] : alg[0][3]]),
        alg_tlv[alg[1][1] : alg[1][3]] if len(alg) == 2 else None,
    )
    if len(_sig_algs) < 256 and len(alg_tlv) <= 128:
        _sig_algs[alg_tlv] = value
    return value


def _cert_id(der: bytes, start: int, end: int, memo: _Memo) -> CertID:
    prefix = memo.prefix
    if prefix and der.startswith(prefix, start):
        name, name_hash, key_hash = memo.head
        pos = start + len(prefix)
    else:
        fields = []
        pos = start
        for want in (0x30, 0x04, 0x04):
            if pos >= end:
                raise DecodeError("malformed CertID")
            tag, cstart, stop = _tlv(der, pos, end)
            if tag != want:
                raise DecodeError("malformed CertID")
            fields.append((pos, cstart, stop))
            pos = stop
        (a0, _, e0), (_, s1, e1), (_, s2, e2) = fields
        name, name_hash, key_hash = _hash_algorithm(der[a0:e0]), der[s1:e1], der[s2:e2]
        if pos - start <= 256:
            memo.prefix, memo.head = der[start:pos], (name, name_hash, key_hash)
    if pos >= end:
        raise DecodeError("malformed CertID")
    tag, s3, e3 = _tlv(der, pos, end)
    if tag != 0x02 or e3 != end:
        raise DecodeError("malformed CertID")
    # serials beyond RFC 5280's 20 octets exist; the cap only bounds the work
    serial = decode_integer(der[s3:e3], max_octets=4096)
    cid = _NEW(CertID)
    a, b, c, d = _CID
    a(cid, name)
    b(cid, name_hash)
    c(cid, key_hash)
    d(cid, serial)
    return cid


def _generalized_time(der: bytes, pos: int, end: int, what: str) -> tuple[datetime, int]:
    """The GeneralizedTime at ``pos`` and the position after it."""
    tag, start, stop = _tlv(der, pos, end)
    if tag != 0x18:
        raise DecodeError(f"{what} is not a GeneralizedTime")
    return decode_generalized_time(der[start:stop]), stop


def _single(der: bytes, start: int, end: int, memo: _Memo) -> SingleResponse:
    # certID, certStatus, thisUpdate, [0] nextUpdate OPTIONAL, [1] singleExtensions OPTIONAL
    if start >= end:
        raise DecodeError("malformed SingleResponse")
    tag, cstart, pos = _tlv(der, start, end)
    if tag != 0x30 or pos >= end:
        raise DecodeError("malformed SingleResponse")
    cert_id = _cert_id(der, cstart, pos, memo)
    tail = der[pos:end]
    hit = memo.tails.get(tail)
    if hit is None:
        hit = _tail(der, pos, end)
        if len(tail) <= 512:
            memo.tails[tail] = hit
    single = _NEW(SingleResponse)
    a, b, c, d, e, f, g = _SR
    a(single, cert_id)
    b(single, hit[0])
    c(single, hit[3])
    d(single, hit[4])
    e(single, hit[1])
    f(single, hit[2])
    g(single, hit[5])
    return single


def _tail(der: bytes, pos: int, end: int) -> _Tail:
    """A SingleResponse after its CertID: (status, revocationTime, reason, thisUpdate,
    nextUpdate, extensions)."""
    tag, sstart, send = _tlv(der, pos, end)
    revocation_time = None
    reason = None
    if tag == 0x80:  # good [0] IMPLICIT NULL
        status = CertStatus.GOOD
        if send != sstart:
            raise DecodeError("content inside the NULL of a good certStatus")
    elif tag == 0x82:  # unknown [2] IMPLICIT NULL
        status = CertStatus.UNKNOWN
        if send != sstart:
            raise DecodeError("content inside the NULL of an unknown certStatus")
    elif tag == 0xA1:  # revoked [1] IMPLICIT RevokedInfo
        status = CertStatus.REVOKED
        info = children(der, sstart, send)
        if not info or len(info) > 2:
            raise DecodeError("malformed RevokedInfo")
        revocation_time = _time(der, info[0], "revocationTime")
        if len(info) == 2:
            if info[1][0] != 0xA0:
                raise DecodeError("malformed RevokedInfo")
            rstart, rend = expect(der, info[1][2], 0x0A, info[1][3])
            if rend != info[1][3]:
                raise DecodeError("malformed revocationReason")
            # a reason value outside RFC 5280's list keeps the REVOKED status, without reason
            reason = _REASONS.get(decode_integer(der[rstart:rend], max_octets=4))
    else:
        raise DecodeError(f"unknown certStatus tag 0x{tag:02x}")
    if send >= end:
        raise DecodeError("malformed SingleResponse")
    this_update, pos = _generalized_time(der, send, end, "thisUpdate")
    next_update = None
    extensions: tuple[Extension, ...] = ()
    if pos < end and der[pos] == 0xA0:
        _, nstart, nend = _tlv(der, pos, end)
        if nstart == nend:
            raise DecodeError("malformed nextUpdate")
        next_update, after = _generalized_time(der, nstart, nend, "nextUpdate")
        if after != nend:
            raise DecodeError("malformed nextUpdate")
        pos = nend
    if pos < end and der[pos] == 0xA1:
        _, xstart, xend = _tlv(der, pos, end)
        extensions = _explicit_extensions(der, (0xA1, pos, xstart, xend))
        pos = xend
    if pos != end:
        if pos < end:
            _tlv(der, pos, end)  # a truncated element is reported as such
        raise DecodeError("unexpected element in SingleResponse")
    return status, revocation_time, reason, this_update, next_update, extensions


def decode_response(der: bytes, start: int, end: int) -> Facts:
    """The facts of a successful response whose responseBytes contents are ``der[start:end]``."""
    # read in order with _tlv, no lists: responseBytes { responseType, response OCTET STRING
    # { BasicOCSPResponse { tbsResponseData, signatureAlgorithm, signature, [0] certs } } }
    rb_start, rb_end = _expect(der, start, end, 0x30)
    if rb_end != end:
        raise DecodeError("trailing data after responseBytes")
    if rb_start >= rb_end:
        raise DecodeError("malformed responseBytes")
    tag, oid_start, oid_end = _tlv(der, rb_start, rb_end)
    if tag != 0x06 or oid_end >= rb_end:
        raise DecodeError("malformed responseBytes")
    tag, os_start, os_end = _tlv(der, oid_end, rb_end)
    if tag != 0x04 or os_end != rb_end:
        raise DecodeError("malformed responseBytes")
    rtype = decode_oid(der[oid_start:oid_end])
    if rtype != OID_BASIC:
        raise DecodeError(f"unsupported responseType {rtype}")
    b_start, b_end = _expect(der, os_start, os_end, 0x30)
    if b_end != os_end:
        raise DecodeError("trailing data after BasicOCSPResponse")
    basic: list[tuple[int, int, int, int]] = []
    pos = b_start
    for want in (0x30, 0x30, 0x03):
        if pos >= b_end:
            raise DecodeError("malformed BasicOCSPResponse")
        tag, cstart, stop = _tlv(der, pos, b_end)
        if tag != want:
            raise DecodeError("malformed BasicOCSPResponse")
        basic.append((tag, pos, cstart, stop))
        pos = stop
    if pos < b_end:
        tag, cstart, stop = _tlv(der, pos, b_end)
        if stop != b_end:
            raise DecodeError("malformed BasicOCSPResponse")
        basic.append((tag, pos, cstart, stop))
    tbs_tlv, alg_tlv, sig_tlv = basic[:3]

    sig_oid, sig_params = _signature_algorithm(der[alg_tlv[1] : alg_tlv[3]])
    if sig_tlv[3] == sig_tlv[2] or der[sig_tlv[2]] != 0:
        raise DecodeError("malformed signature BIT STRING")
    signature = der[sig_tlv[2] + 1 : sig_tlv[3]]

    cert_ders: tuple[bytes, ...] = ()
    if len(basic) == 4:
        if basic[3][0] != 0xA0:
            raise DecodeError("unexpected element after the signature")
        seq_start, seq_end = expect(der, basic[3][2], 0x30, basic[3][3])
        if seq_end != basic[3][3]:
            raise DecodeError("trailing data after certs")
        certs: list[bytes] = []
        pos = seq_start
        while pos < seq_end:
            if len(certs) == MAX_EMBEDDED_CERTIFICATES:
                raise LimitExceededError(
                    f"more than {MAX_EMBEDDED_CERTIFICATES} embedded certificates",
                    limit=MAX_EMBEDDED_CERTIFICATES,
                )
            tag, _, stop = read_tlv(der, pos, seq_end)
            if tag != 0x30:
                raise DecodeError("an embedded certificate is not a SEQUENCE")
            certs.append(der[pos:stop])
            pos = stop
        cert_ders = tuple(certs)

    rd = children(der, tbs_tlv[2], tbs_tlv[3])
    version = 1
    if rd and rd[0][0] == 0xA0:  # an explicit DEFAULT version: tolerated when it says v1
        vstart, vend = expect(der, rd[0][2], 0x02, rd[0][3])
        if vend != rd[0][3] or decode_integer(der[vstart:vend], max_octets=4) != 0:
            raise DecodeError("unsupported ResponseData version")
        rd = rd[1:]
    if len(rd) < 3:
        raise DecodeError("malformed ResponseData")
    rid_tag, _, rid_start, rid_end = rd[0]
    key_hash = name_der = None
    if rid_tag == 0xA2:  # byKey [2] EXPLICIT KeyHash
        kstart, kend = expect(der, rid_start, 0x04, rid_end)
        if kend != rid_end:
            raise DecodeError("malformed ResponderID")
        key_hash = der[kstart:kend]
    elif rid_tag == 0xA1:  # byName [1] EXPLICIT Name
        _, nend = expect(der, rid_start, 0x30, rid_end)
        if nend != rid_end:
            raise DecodeError("malformed ResponderID")
        name_der = der[rid_start:rid_end]
    else:
        raise DecodeError("malformed ResponderID")
    produced_at = _time(der, rd[1], "producedAt")
    if rd[2][0] != 0x30:
        raise DecodeError("malformed responses")
    singles: list[SingleResponse] = []
    memo = _Memo()
    pos, stop = rd[2][2], rd[2][3]
    while pos < stop:
        if len(singles) == MAX_SINGLE_RESPONSES:
            raise LimitExceededError(
                f"more than {MAX_SINGLE_RESPONSES} SingleResponses",
                limit=MAX_SINGLE_RESPONSES,
            )
        s_start, s_end = _expect(der, pos, stop, 0x30)
        singles.append(_single(der, s_start, s_end, memo))
        pos = s_end
    if not singles:
        raise DecodeError("a successful response without any SingleResponse")
    extensions: tuple[Extension, ...] = ()
    rest = rd[3:]
    if rest and rest[0][0] == 0xA1:
        extensions = _explicit_extensions(der, rest[0])
        rest = rest[1:]
    if rest:
        raise DecodeError("unexpected element in ResponseData")
    nonce = None
    if extensions:
        nonce = next((nonce_value(e.value) for e in extensions if e.oid == OID_NONCE), None)
    return Facts(
        tuple(singles),
        key_hash,
        name_der,
        produced_at,
        cert_ders,
        extensions,
        nonce,
        sig_oid,
        sig_params,
        signature,
        der[tbs_tlv[1] : tbs_tlv[3]],
        version,
    )
