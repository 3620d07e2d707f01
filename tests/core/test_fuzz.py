"""Property-based tests: random and mutated DER never raise anything but ocspkit's own errors.

parse_response/parse_request raise only DecodeError; validate_response raises only
DecodeError, ResponderError or ValidationError — and a mutated response never validates as
anything it was not signed to say.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ocspkit
from ocspkit import CertStatus, SingleResponse

from .._pki import NOW, PKI

_PKI = PKI("ecdsa")
_LEAF = _PKI.leaf()
_RESPONDER, _RKEY = _PKI.responder()
_REQ = ocspkit.build_request(_LEAF, _PKI.issuer)
_REVOKED = ocspkit.build_response(
    SingleResponse(
        ocspkit.cert_id(_LEAF, _PKI.issuer),
        CertStatus.REVOKED,
        NOW,
        NOW + timedelta(hours=1),
        revocation_time=NOW - timedelta(days=1),
    ),
    responder_cert=_RESPONDER,
    responder_key=_RKEY,
    produced_at=NOW,
    certificates=[_RESPONDER],
    nonce=_REQ.nonce,
).der
_ALLOWED = (ocspkit.DecodeError, ocspkit.ResponderError, ocspkit.ValidationError)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    try:
        ocspkit.parse_response(data)
    except ocspkit.DecodeError:
        pass
    try:
        ocspkit.parse_request(data)
    except ocspkit.DecodeError:
        pass


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice"]))
    b = bytearray(data)
    i = draw(st.integers(0, len(b) - 1))
    if kind == "flip":
        b[i] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del b[i:]
    elif kind == "insert":
        b[i:i] = draw(st.binary(min_size=1, max_size=8))
    elif kind == "delete":
        del b[i : i + draw(st.integers(1, 8))]
    else:
        j = draw(st.integers(0, len(b) - 1))
        b[i], b[j] = b[j], b[i]
    return bytes(b)


@st.composite
def mutated_response(draw: st.DrawFn) -> bytes:
    data = _REVOKED
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate(data, draw) if data else data
    return data


@_SETTINGS
@given(mutated_response())
def test_mutated_response_never_lies(data: bytes) -> None:
    try:
        result = ocspkit.validate_response(data, _LEAF, _PKI.issuer, now=NOW, request=_REQ)
    except _ALLOWED:
        return
    # If a mutation still validates, it must say exactly what was signed.
    assert result.status is CertStatus.REVOKED
    assert result.revocation_time == NOW - timedelta(days=1)


@st.composite
def mutated_request(draw: st.DrawFn) -> bytes:
    return _mutate(_REQ.der, draw)


@_SETTINGS
@given(mutated_request())
def test_mutated_request(data: bytes) -> None:
    try:
        req = ocspkit.parse_request(data)
    except ocspkit.DecodeError:
        return
    assert req.cert_ids
