"""A small DER reader: TLVs, OIDs, INTEGERs, GeneralizedTime, and certificate slices.

Owns the byte-level rules of what ocspkit accepts (documented on the security page):
definite lengths only; long-form lengths may be non-minimal (as OpenSSL accepts); tags must be
exactly the expected ones; nothing may follow the last element of a structure. It slices
values out of the bytes it is given and never re-encodes them, so what is checked is exactly
what was signed. It must never import anything above the value types, and never raise
anything but :class:`~ocspkit.DecodeError`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .errors import DecodeError

__all__ = [
    "cert_parts",
    "children",
    "decode_generalized_time",
    "decode_integer",
    "decode_oid",
    "decode_time",
    "expect",
    "nonce_value",
    "read_tbs",
    "read_tlv",
    "spki_bit_string",
]

#: Long-form lengths of at most this many octets (4 GiB): anything longer is not an input.
_MAX_LENGTH_OCTETS = 4


def read_tlv(data: bytes, pos: int, end: int | None = None) -> tuple[int, int, int]:
    """Read one TLV at ``pos`` within ``data[:end]``: (tag, start of contents, end of contents).

    Only single-octet tags (every tag OCSP, CRLs and certificates use) and definite lengths.
    """
    limit = len(data) if end is None else end
    if pos + 2 > limit:
        raise DecodeError("truncated DER")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DecodeError("multi-octet DER tags are not used by OCSP")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0:
            raise DecodeError("indefinite lengths are not DER")
        if n > _MAX_LENGTH_OCTETS or pos + n > limit:
            raise DecodeError("truncated or oversized DER length")
        if n == 1:
            length = data[pos]
        elif n == 2:
            length = (data[pos] << 8) | data[pos + 1]
        else:
            length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    stop = pos + length
    if stop > limit:
        raise DecodeError("truncated DER")
    return tag, pos, stop


def expect(data: bytes, pos: int, tag: int, end: int | None = None) -> tuple[int, int]:
    """Read a TLV that must have ``tag``: (start of contents, end of contents)."""
    got, start, stop = read_tlv(data, pos, end)
    if got != tag:
        raise DecodeError(f"expected DER tag 0x{tag:02x}, found 0x{got:02x}")
    return start, stop


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The TLVs filling ``data[start:end]`` exactly: (tag, tlv start, contents start, end)."""
    out = []
    pos = start
    while pos < end:
        # the common case inline (a low tag, a short-form length); the rest via read_tlv
        if pos + 2 <= end and data[pos + 1] < 0x80 and data[pos] & 0x1F != 0x1F:
            cstart = pos + 2
            stop = cstart + data[pos + 1]
            if stop > end:
                raise DecodeError("truncated DER")
            out.append((data[pos], pos, cstart, stop))
        else:
            tag, cstart, stop = read_tlv(data, pos, end)
            out.append((tag, pos, cstart, stop))
        pos = stop
    return out


_oid_cache: dict[bytes, str] = {}


def decode_oid(body: bytes) -> str:
    """An OBJECT IDENTIFIER's contents as a dotted string."""
    hit = _oid_cache.get(body)
    if hit is not None:
        return hit
    if not body or body[-1] & 0x80 or len(body) > 64:
        raise DecodeError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    first = True
    for octet in body:
        if first and octet == 0x80:
            raise DecodeError("non-minimal OBJECT IDENTIFIER arc")
        value = (value << 7) | (octet & 0x7F)
        first = False
        if not octet & 0x80:
            arcs.append(value)
            value = 0
            first = True
    head = arcs[0]
    x = min(head // 40, 2)
    dotted = ".".join(str(a) for a in (x, head - 40 * x, *arcs[1:]))
    if len(_oid_cache) < 4096:
        _oid_cache[body] = dotted
    return dotted


def decode_integer(body: bytes, *, max_octets: int = 1024) -> int:
    """A DER INTEGER's contents (two's complement), at most ``max_octets`` long."""
    if not body:
        raise DecodeError("empty INTEGER")
    if len(body) > max_octets:
        raise DecodeError(f"INTEGER longer than {max_octets} octets")
    return int.from_bytes(body, "big", signed=True)


def decode_generalized_time(body: bytes) -> datetime:
    """GeneralizedTime ``YYYYMMDDHHMMSS[.f+]Z`` as an aware UTC datetime.

    Fractional seconds are accepted (real responders send them; DER forbids only trailing
    zeros) and kept to the microsecond; a time without seconds or without ``Z`` is refused.
    """
    if len(body) < 15 or body[-1:] != b"Z" or not body[:14].isdigit():
        raise DecodeError("malformed GeneralizedTime")
    micro = 0
    if len(body) > 15:
        frac = body[14:-1]
        if frac[:1] != b"." or len(frac) < 2 or not frac[1:].isdigit():
            raise DecodeError("malformed GeneralizedTime fraction")
        micro = int((frac[1:] + b"000000")[:6])
    try:
        if _ISO_BASIC:  # ISO 8601 basic format, read in C
            value = datetime.fromisoformat((body[:8] + b"T" + body[8:14] + b"Z").decode("ascii"))
        else:
            value = _from_digits(int(body[:14]))
    except ValueError:  # a month 13, an hour 24, a year 0
        raise DecodeError("GeneralizedTime out of range") from None
    return value.replace(microsecond=micro) if micro else value


def decode_time(tag: int, body: bytes) -> datetime:
    """A UTCTime (0x17, ``YYMMDDHHMMSSZ``, years 1950-2049) or GeneralizedTime (0x18) as an
    aware UTC datetime."""
    if tag == 0x18:
        return decode_generalized_time(body)
    if tag != 0x17 or len(body) != 13 or body[12] != 0x5A or not body[:12].isdigit():
        raise DecodeError("malformed UTCTime")
    # the GeneralizedTime reading of the same digits, inline: every CRL look-up decodes one
    century = b"19" if body[:2] >= b"50" else b"20"
    try:
        if _ISO_BASIC:
            return datetime.fromisoformat((century + body[:6] + b"T" + body[6:]).decode("ascii"))
        return _from_digits(int(century + body[:12]))
    except ValueError:  # a month 13, an hour 24
        raise DecodeError("UTCTime out of range") from None


def _from_digits(v: int) -> datetime:
    v, second = divmod(v, 100)
    v, minute = divmod(v, 100)
    v, hour = divmod(v, 100)
    v, day = divmod(v, 100)
    year, month = divmod(v, 100)
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


def _iso_basic() -> bool:
    """Whether ``datetime.fromisoformat`` reads "YYYYMMDDTHHMMSSZ" (Python 3.11 and later)."""
    try:
        return datetime.fromisoformat("20000102T030405Z") == _from_digits(20000102030405)
    except ValueError:
        return False


_ISO_BASIC = _iso_basic()


def spki_bit_string(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING contents (without the unused-bits octet) of an SPKI."""
    start, end = expect(spki, 0, 0x30)
    _, _, alg_end = read_tlv(spki, start, end)  # AlgorithmIdentifier
    bstart, bend = expect(spki, alg_end, 0x03, end)
    if bend == bstart:
        raise DecodeError("empty subjectPublicKey BIT STRING")
    return spki[bstart + 1 : bend]


def cert_parts(der: bytes) -> tuple[bytes, bytes]:
    """(TBSCertificate DER, outer signatureAlgorithm DER) of a certificate, as encoded."""
    start, end = expect(der, 0, 0x30)
    _, tbs_end = expect(der, start, 0x30, end)
    alg_start = tbs_end
    _, alg_end = expect(der, alg_start, 0x30, end)
    return der[start:tbs_end], der[alg_start:alg_end]


def read_tbs(tbs: bytes) -> tuple[bytes, bytes, bytes, bytes, dict[str, tuple[bool, bytes]] | None]:
    """(inner signature AlgorithmIdentifier, issuer Name, subject Name, SubjectPublicKeyInfo,
    extensions) of a TBSCertificate, each exactly as encoded, in one pass over its fields.

    Raises DecodeError on an unexpected structure. The extensions are OID → (critical,
    extnValue contents), read without interpreting a value (cryptography decodes every
    extension when one is read and raises on any it cannot represent: an unknown TLS Feature
    value, a duplicate), so one odd extension cannot hide the others; they are ``None`` when
    the Extensions field itself is malformed or holds a duplicate.
    """
    start, end = expect(tbs, 0, 0x30)
    fields = children(tbs, start, end)
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
    if len(fields) < 6 or any(f[0] != 0x30 for f in fields[1:6]):
        raise DecodeError("unexpected TBSCertificate structure")
    alg, issuer, subject, spki = fields[1], fields[2], fields[4], fields[5]
    exts: dict[str, tuple[bool, bytes]] | None = {}
    for tag, _, cstart, cend in fields[6:]:
        if tag == 0xA3:  # [3] EXPLICIT Extensions
            try:
                exts = _extensions(tbs, cstart, cend)
            except DecodeError:
                exts = None
    return (
        tbs[alg[1] : alg[3]],
        tbs[issuer[1] : issuer[3]],
        tbs[subject[1] : subject[3]],
        tbs[spki[1] : spki[3]],
        exts,
    )


def _extensions(tbs: bytes, cstart: int, cend: int) -> dict[str, tuple[bool, bytes]]:
    out: dict[str, tuple[bool, bytes]] = {}
    seq_start, seq_end = expect(tbs, cstart, 0x30, cend)
    for etag, _, estart, eend in children(tbs, seq_start, seq_end):
        if etag != 0x30:
            raise DecodeError("malformed certificate extension")
        tag, ostart, oend = read_tlv(tbs, estart, eend)
        if tag != 0x06:
            raise DecodeError("malformed certificate extension")
        tag, vstart, vend = read_tlv(tbs, oend, eend)
        critical = False
        if tag == 0x01:  # critical BOOLEAN (DEFAULT FALSE)
            critical = any(tbs[vstart:vend])
            tag, vstart, vend = read_tlv(tbs, vend, eend)
        if tag != 0x04 or vend != eend:
            raise DecodeError("malformed certificate extension")
        oid = decode_oid(tbs[ostart:oend])
        if oid in out:
            raise DecodeError(f"duplicate certificate extension {oid}")
        out[oid] = (critical, tbs[vstart:vend])
    return out


def nonce_value(ext_value: bytes) -> bytes:
    """The nonce octets of an id-pkix-ocsp-nonce extnValue.

    RFC 8954: the extnValue holds an OCTET STRING; some responders put the raw octets
    there instead, which are returned as they are.
    """
    if len(ext_value) >= 2 and ext_value[0] == 0x04:
        try:
            _, start, end = read_tlv(ext_value, 0)
        except DecodeError:
            return ext_value
        if end == len(ext_value):
            return ext_value[start:end]
    return ext_value
