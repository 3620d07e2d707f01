"""A parsed OCSPResponse fills its fields when first read; it must behave exactly like an
eagerly built one (equality, hash, repr, pickling, copying, dataclasses helpers, threads),
and validation must give the same verdicts whichever way the model was made."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from datetime import timedelta

import pytest

import ocspkit
from ocspkit import CertID, CertStatus, OCSPResponse, RevocationReason, SingleResponse

from ._pki import NOW, PKI


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI("ecdsa")


def _der(pki: PKI, **kw: object) -> bytes:
    leaf = pki.leaf()
    rc, rk = pki.responder()
    single = SingleResponse(
        CertID.for_certificate(leaf, pki.issuer),
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
    ).der


def _eager(resp: OCSPResponse) -> OCSPResponse:
    """The same response built through the generated __init__, field by field."""
    return OCSPResponse(**{f.name: getattr(resp, f.name) for f in dataclasses.fields(resp)})


def _unread(resp: OCSPResponse) -> bool:
    """True while the lazily filled fields are still empty (the slot is unset)."""
    try:
        object.__getattribute__(resp, "responses")
    except AttributeError:
        return True
    return False


@pytest.mark.parametrize("rid", ["key", "name"])
def test_every_field_equals_the_eager_model(pki: PKI, rid: str) -> None:
    from ocspkit import _asn1

    der = _der(pki, responder_id=rid)
    lazy = ocspkit.parse_response(der)
    assert _unread(lazy)
    tolerant = _asn1.decode_response(der)  # the other decoder, eagerly built
    for f in dataclasses.fields(OCSPResponse):
        assert getattr(lazy, f.name) == getattr(tolerant, f.name), f.name
    assert not _unread(lazy)
    assert lazy == tolerant and hash(lazy) == hash(tolerant) and repr(lazy) == repr(tolerant)


def test_equality_hash_repr_fill_the_fields(pki: PKI) -> None:
    der = _der(pki)
    a, b = ocspkit.parse_response(der), ocspkit.parse_response(der)
    assert a == b  # both unread: __eq__ reads the fields
    c = ocspkit.parse_response(der)
    assert hash(c) == hash(a) and repr(c) == repr(_eager(a))
    assert a.responses[0].revocation_reason is RevocationReason.KEY_COMPROMISE
    assert a.nonce == b"n" * 16 and a.extensions[-1].oid == "1.2.3.4"


def test_pickle_copy_replace_asdict(pki: PKI) -> None:
    der = _der(pki)
    for make in (
        lambda r: pickle.loads(pickle.dumps(r)),
        copy.copy,
        copy.deepcopy,
        lambda r: dataclasses.replace(r),
    ):
        fresh = ocspkit.parse_response(der)
        clone = make(fresh)
        assert clone == ocspkit.parse_response(der) and clone.responses == fresh.responses
        assert clone.certificates  # embedded certificates survive (as the DER)
    d = dataclasses.asdict(ocspkit.parse_response(der))
    assert set(d) == {f.name for f in dataclasses.fields(OCSPResponse)}
    assert d["nonce"] == b"n" * 16


def test_frozen_and_no_stray_attributes(pki: PKI) -> None:
    resp = ocspkit.parse_response(_der(pki))
    with pytest.raises(dataclasses.FrozenInstanceError):
        resp.nonce = b"x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        resp.no_such_field  # type: ignore[attr-defined]  # noqa: B018
    assert _unread(resp)  # a typo does not fill anything
    eager = ocspkit.build_error_response(ocspkit.ResponseStatus.TRY_LATER)
    assert eager.responses == () and eager.certificates == ()


def test_concurrent_first_reads_agree(pki: PKI) -> None:
    der = _der(pki)

    def read_all(resp: OCSPResponse, seen: list[object]) -> None:
        seen.append((resp.responses, resp.nonce, resp.certificates))

    for _ in range(20):
        resp = ocspkit.parse_response(der)
        seen: list[object] = []
        threads = [threading.Thread(target=read_all, args=(resp, seen)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(seen) == 8 and all(s == seen[0] for s in seen)


def test_validation_same_verdict_lazy_read_or_eager(pki: PKI) -> None:
    """The hot path reads the decoder's facts; a model read first, or built by hand, gives the
    same result, and the result's response is the object passed in."""
    leaf = pki.leaf()
    rc, rk = pki.responder()
    good = SingleResponse(
        CertID.for_certificate(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
    )
    der = ocspkit.build_response(
        good, responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[rc]
    ).der
    lazy = ocspkit.parse_response(der)
    read = ocspkit.parse_response(der)
    _ = read.responses  # filled before validation
    results = [
        ocspkit.validate_response(r, leaf, pki.issuer, now=NOW) for r in (lazy, read, _eager(read))
    ]
    assert all(r.good and r.delegated and r.signer == rc for r in results)
    assert results[0].response is lazy and results[0].single == results[2].single
    # and the same failure, for a time outside the window, whichever way it was made
    for r in (ocspkit.parse_response(der), _eager(read)):
        with pytest.raises(ocspkit.ExpiredResponseError):
            ocspkit.validate_response(r, leaf, pki.issuer, now=NOW + timedelta(days=2))


def test_hand_built_successful_model_without_responder_id(pki: PKI) -> None:
    """A hand-made successful model missing fields is refused with a typed error, not an
    AssertionError."""
    leaf = pki.leaf()
    single = SingleResponse(
        CertID.for_certificate(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
    )
    bare = OCSPResponse(status=ocspkit.ResponseStatus.SUCCESSFUL, der=b"", responses=(single,))
    with pytest.raises(ocspkit.SignerNotFoundError):
        ocspkit.validate_response(bare, leaf, pki.issuer, now=NOW)
