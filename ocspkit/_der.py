"""A tiny DER reader for the few hot-path spots that do not warrant a full decoder."""

from __future__ import annotations

from .errors import DecodeError


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one TLV at ``pos``: (tag, start of contents, end of contents)."""
    try:
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            if n == 0 or n > 4:
                raise DecodeError("unsupported DER length")
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
    except IndexError:
        raise DecodeError("truncated DER") from None
    end = pos + length
    if end > len(data):
        raise DecodeError("truncated DER")
    return tag, pos, end


def spki_bit_string(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING contents (without the unused-bits octet) of an SPKI."""
    _, start, _ = read_tlv(spki, 0)  # SubjectPublicKeyInfo SEQUENCE
    _, _, alg_end = read_tlv(spki, start)  # AlgorithmIdentifier
    tag, bstart, bend = read_tlv(spki, alg_end)
    if tag != 0x03:
        raise DecodeError("SubjectPublicKeyInfo without BIT STRING")
    return spki[bstart + 1 : bend]


def tbs_names_and_key(tbs: bytes) -> tuple[bytes, bytes, bytes]:
    """(issuer Name DER, subject Name DER, SubjectPublicKeyInfo DER) of a TBSCertificate,
    exactly as encoded in the certificate. Raises DecodeError on an unexpected structure."""
    _, pos, _ = read_tlv(tbs, 0)  # TBSCertificate SEQUENCE
    tag, _, end = read_tlv(tbs, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
        tag, _, end = read_tlv(tbs, pos)
    pos = end  # after serialNumber
    _, _, pos = read_tlv(tbs, pos)  # signature AlgorithmIdentifier
    fields = []
    for _ in range(4):  # issuer, validity, subject, subjectPublicKeyInfo
        tag, _, end = read_tlv(tbs, pos)
        if tag != 0x30:
            raise DecodeError("unexpected TBSCertificate structure")
        fields.append(tbs[pos:end])
        pos = end
    return fields[0], fields[2], fields[3]


def tbs_issuer_der(tbs: bytes) -> bytes | None:
    """The issuer Name DER of a TBSCertificate (None if the structure is unexpected)."""
    try:
        return tbs_names_and_key(tbs)[0]
    except DecodeError:
        return None


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
