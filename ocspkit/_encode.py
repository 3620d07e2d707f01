"""A direct DER encoder for the OCSP structures ocspkit builds (requests and responses).

Encoding is fully determined by RFC 6960's ASN.1, so writing the bytes directly is short and
about 50x faster than building asn1crypto objects (which matters for a responder).
Decoding stays in ``_asn1`` (tolerant) and ``response`` (fast).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from ._cache import BoundedCache
from .models import (
    HASH_OIDS,
    OID_BASIC,
    OID_NONCE,
    CertID,
    CertStatus,
    Extension,
    ResponseStatus,
    SingleResponse,
)

__all__ = [
    "encode_basic_response",
    "encode_error_response",
    "encode_request",
    "encode_response_data",
]

_HASH_OID_OF = {name: oid for oid, name in HASH_OIDS.items()}
_NULL = b"\x05\x00"


def tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def seq(*parts: bytes) -> bytes:
    """A SEQUENCE of already-encoded parts."""
    return tlv(0x30, b"".join(parts))


def integer(value: int) -> bytes:
    """An INTEGER (two's complement, minimal)."""
    length = (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(max(length, 1), "big", signed=True))


def octets(value: bytes) -> bytes:
    """An OCTET STRING."""
    return tlv(0x04, value)


_oids = BoundedCache[str, bytes]("encode.oids", 256)


def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER (the few OIDs a process writes are remembered)."""
    hit = _oids.get(dotted)
    return hit if hit is not None else _oids.put(dotted, _oid(dotted))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2:
        raise ValueError(f"bad OID {dotted!r}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def generalized_time(t: datetime) -> bytes:
    """A GeneralizedTime in UTC, whole seconds (``YYYYMMDDHHMMSSZ``)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    text = f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}Z"
    return tlv(0x18, text.encode("ascii"))


# (hash algorithm, issuerNameHash, issuerKeyHash) -> the encoding of those three CertID fields:
# every request and answer about one issuer's certificates starts its CertIDs the same way.
_cert_id_heads = BoundedCache[tuple[str, bytes, bytes], bytes]("encode.certid_heads", 64)


def _cert_id(c: CertID) -> bytes:
    # bytes() returns a bytes object itself; a bytearray (typed as bytes, but it encoded) is copied
    key = (c.hash_algorithm, bytes(c.issuer_name_hash), bytes(c.issuer_key_hash))
    head = _cert_id_heads.get(key)
    if head is None:
        hash_oid = _HASH_OID_OF.get(c.hash_algorithm, c.hash_algorithm)
        head = _cert_id_heads.put(
            key,
            seq(oid(hash_oid), _NULL) + octets(c.issuer_name_hash) + octets(c.issuer_key_hash),
        )
    return tlv(0x30, head + integer(c.serial_number))


def _extension(e: Extension) -> bytes:
    return seq(oid(e.oid), b"\x01\x01\xff" if e.critical else b"", octets(e.value))


def _extensions(encoded: Sequence[bytes]) -> bytes:
    """Extensions, from each Extension's encoding (nonce first when there is one)."""
    return tlv(0x30, b"".join(encoded))


def _nonce_ext(nonce: bytes) -> bytes:
    """The nonce extension (RFC 8954: extnValue holds an OCTET STRING of the nonce)."""
    return seq(oid(OID_NONCE), octets(octets(nonce)))


def _single(s: SingleResponse) -> bytes:
    if s.status is CertStatus.GOOD:
        status = b"\x80\x00"
    elif s.status is CertStatus.UNKNOWN:
        status = b"\x82\x00"
    else:
        if s.revocation_time is None:
            raise ValueError("a revoked SingleResponse needs a revocation_time")
        info = generalized_time(s.revocation_time)
        if s.revocation_reason is not None:
            info += tlv(0xA0, tlv(0x0A, bytes((int(s.revocation_reason),))))
        status = tlv(0xA1, info)
    parts = [_cert_id(s.cert_id), status, generalized_time(s.this_update)]
    if s.next_update is not None:
        parts.append(tlv(0xA0, generalized_time(s.next_update)))
    if s.extensions:
        parts.append(tlv(0xA1, _extensions([_extension(e) for e in s.extensions])))
    return seq(*parts)


def encode_request(
    cert_ids: Sequence[CertID], nonce: bytes | None, extensions: Sequence[Extension] = ()
) -> bytes:
    """DER of an unsigned OCSPRequest."""
    exts = [_extension(e) for e in extensions]
    if nonce is not None:
        exts.insert(0, _nonce_ext(nonce))
    tbs = [seq(*(seq(_cert_id(c)) for c in cert_ids))]
    if exts:
        tbs.append(tlv(0xA2, _extensions(exts)))
    return seq(seq(*tbs))


def encode_response_data(
    singles: Sequence[SingleResponse],
    *,
    responder_key_hash: bytes | None,
    responder_name_der: bytes | None,
    produced_at: datetime,
    nonce: bytes | None,
    extensions: Sequence[Extension],
) -> bytes:
    """DER of tbsResponseData (ResponseData, version v1 omitted as DER requires)."""
    if responder_key_hash is not None:
        rid = tlv(0xA2, octets(responder_key_hash))
    else:
        assert responder_name_der is not None
        rid = tlv(0xA1, responder_name_der)
    parts = [rid, generalized_time(produced_at), seq(*(_single(s) for s in singles))]
    exts = [_extension(e) for e in extensions]
    if nonce is not None:
        exts.insert(0, _nonce_ext(nonce))
    if exts:
        parts.append(tlv(0xA1, _extensions(exts)))
    return seq(*parts)


def encode_basic_response(
    tbs_der: bytes, signature_oid: str, signature: bytes, certificates: Sequence[bytes]
) -> bytes:
    """DER of a successful OCSPResponse wrapping a BasicOCSPResponse."""
    alg = seq(oid(signature_oid), _NULL if signature_oid.startswith("1.2.840.113549.1.1.") else b"")
    parts = [tbs_der, alg, tlv(0x03, b"\x00" + signature)]
    if certificates:
        parts.append(tlv(0xA0, seq(*certificates)))
    basic = seq(*parts)
    return seq(b"\x0a\x01\x00", tlv(0xA0, seq(oid(OID_BASIC), octets(basic))))


def encode_error_response(status: ResponseStatus) -> bytes:
    """DER of an unsuccessful OCSPResponse (no responseBytes)."""
    return seq(tlv(0x0A, bytes((int(status),))))
