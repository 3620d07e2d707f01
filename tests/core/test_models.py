"""The public models are plain frozen values, and a verdict never depends on their fields.

A parsed OCSPResponse equals what asn1crypto (an independent decoder) reads from the same
bytes; it pickles and copies as its DER; editing, replacing or hand-building a model never
changes the verdict, which ``validate_response`` derives from ``der`` alone.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import timedelta

import pytest
from asn1crypto import ocsp as a_ocsp  # test-only: an independent decoder as the oracle
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import CertStatus, OCSPResponse, RevocationReason, SingleResponse

from .._pki import NOW, PKI


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI("ecdsa")


def _revoked(pki: PKI, leaf: object, **kw: object) -> OCSPResponse:
    rc, rk = pki.responder()
    single = SingleResponse(
        ocspkit.cert_id(leaf, pki.issuer),  # type: ignore[arg-type]
        CertStatus.REVOKED,
        NOW,
        NOW + timedelta(hours=1),
        revocation_time=NOW - timedelta(days=1),
        revocation_reason=RevocationReason.KEY_COMPROMISE,
    )
    return ocspkit.build_response(
        single,
        responder_cert=rc,
        responder_key=rk,
        produced_at=NOW,
        certificates=[rc],
        nonce=b"n" * 16,
        extensions=[ocspkit.Extension("1.2.3.4", False, b"\x05\x00")],
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("rid", ["key", "name"])
def test_fields_agree_with_an_independent_decoder(pki: PKI, rid: str) -> None:
    resp = _revoked(pki, pki.leaf(), responder_id=rid)
    oracle = a_ocsp.OCSPResponse.load(resp.der)
    basic = oracle["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    single = tbs["responses"][0]
    (ours,) = resp.responses
    assert ours.cert_id.serial_number == single["cert_id"]["serial_number"].native
    assert ours.cert_id.issuer_key_hash == single["cert_id"]["issuer_key_hash"].native
    assert ours.status is CertStatus.REVOKED and single["cert_status"].name == "revoked"
    assert ours.this_update == single["this_update"].native
    assert ours.next_update == single["next_update"].native
    assert ours.revocation_reason is RevocationReason.KEY_COMPROMISE
    assert resp.produced_at == tbs["produced_at"].native
    assert resp.tbs_response_data == tbs.dump()
    assert resp.signature == basic["signature"].native
    assert resp.signature_algorithm_oid == basic["signature_algorithm"]["algorithm"].dotted
    assert [c.public_bytes(Encoding.DER) for c in resp.certificates] == [
        c.dump() for c in basic["certs"]
    ]
    assert resp.nonce == b"n" * 16
    assert [(e.oid, e.critical) for e in resp.extensions] == [
        (e["extn_id"].dotted, e["critical"].native) for e in tbs["response_extensions"]
    ]
    assert resp.responder_id is not None and resp.responder_id.by_key is (rid == "key")


def test_plain_values_pickle_copy_replace_asdict(pki: PKI) -> None:
    resp = _revoked(pki, pki.leaf())
    assert pickle.loads(pickle.dumps(resp)) == resp
    assert copy.copy(resp) == resp and copy.deepcopy(resp) == resp
    assert dataclasses.replace(resp) == resp
    assert dataclasses.asdict(resp)["der"] == resp.der
    assert hash(resp) == hash(ocspkit.parse_response(resp.der))
    assert "REVOKED" not in repr(resp) and "SUCCESSFUL" in repr(resp)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resp.der = b""  # type: ignore[misc]


def test_edited_models_never_change_the_verdict(pki: PKI) -> None:
    """The verdict comes from the signed DER, whatever the model's fields say."""
    leaf = pki.leaf()
    revoked = _revoked(pki, leaf)
    good = SingleResponse(
        ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
    )
    edits = [
        dataclasses.replace(revoked, responses=(good,)),
        dataclasses.replace(revoked, certificates=()),
        dataclasses.replace(revoked, nonce=None, extensions=()),
        dataclasses.replace(revoked, status=ocspkit.ResponseStatus.SUCCESSFUL, produced_at=NOW),
        pickle.loads(pickle.dumps(dataclasses.replace(revoked, responses=(good,)))),
        OCSPResponse(status=ocspkit.ResponseStatus.SUCCESSFUL, der=revoked.der, responses=(good,)),
    ]
    for edited in edits:
        result = ocspkit.validate_response(edited, leaf, pki.issuer, now=NOW)
        assert result.status is CertStatus.REVOKED
        assert result.response == ocspkit.parse_response(revoked.der)


def test_hand_built_model_without_der_is_a_typed_error(pki: PKI) -> None:
    leaf = pki.leaf()
    good = SingleResponse(
        ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
    )
    fake = OCSPResponse(status=ocspkit.ResponseStatus.SUCCESSFUL, der=b"", responses=(good,))
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.validate_response(fake, leaf, pki.issuer, now=NOW)
    fake = dataclasses.replace(fake, der=b"\x30\x03\x0a\x01\x00")
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.validate_response(fake, leaf, pki.issuer, now=NOW)


def test_reprs_never_raise(pki: PKI) -> None:
    resp = _revoked(pki, pki.leaf(), responder_id="name")
    huge = ocspkit.CertID("sha1", b"a", b"b", 10**5000)
    for value in (resp, resp.responses[0], resp.responder_id, huge):
        assert repr(value)
    assert "0x" in repr(huge)


def test_request_repr_with_an_undecodable_embedded_certificate() -> None:
    """Found by the fuzz campaign: a signed request whose embedded certificate's subject holds
    a string tag cryptography refuses; repr() must not call the certificate's own repr."""
    from pathlib import Path

    der = bytearray(
        (Path(__file__).parents[1] / "vectors/bouncycastle-ocsp/core-signedReq.der").read_bytes()
    )
    at = bytes(der).rfind(bytes.fromhex("060355040613024155")) + 5  # the subject's C=AU
    der[at] = 0xEE  # the countryName's PrintableString tag becomes a private constructed tag
    request = ocspkit.parse_request(bytes(der))
    assert request.signed and request.certificates
    assert "certificates=1" in repr(request)
