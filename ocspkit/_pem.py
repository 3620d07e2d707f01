"""PEM armour for OCSP requests, responses and CRLs ("-----BEGIN OCSP RESPONSE-----").

A codec: bytes in, bytes out; must never decode ASN.1 or raise anything but DecodeError.
"""

from __future__ import annotations

import base64
import binascii

from .errors import DecodeError


def ensure_bytes(data: object, what: str) -> bytes:
    """Bytes from bytes-like input, or DecodeError naming ``what``."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise DecodeError(f"{what} must be bytes, not {type(data).__name__}")


def der_from(data: object, label: str) -> bytes:
    """DER bytes from DER or PEM-armoured input with the given label (e.g. ``OCSP RESPONSE``)."""
    raw = ensure_bytes(data, label)
    head = raw[:64].lstrip()
    if not head.startswith(b"-----BEGIN"):
        return raw
    begin = f"-----BEGIN {label}-----".encode()
    end = f"-----END {label}-----".encode()
    start = raw.find(begin)
    stop = raw.find(end, start + len(begin))
    if start < 0 or stop < 0:
        raise DecodeError(f"PEM input without a {label} block")
    try:
        return base64.b64decode(b"".join(raw[start + len(begin) : stop].split()), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"bad base64 in the PEM {label} block") from None


def to_pem(der: bytes, label: str) -> str:
    """PEM text of ``der`` with ``label``."""
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])
