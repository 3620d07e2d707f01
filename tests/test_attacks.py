"""The attack matrix: each way to forge or replay an OCSP answer, one test each.

Every response here is a real signed DER made at test time; every forgery must raise its own
ValidationError subclass, never return GOOD.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

import ocspkit
from ocspkit import CertID, CertStatus, SingleResponse

from ._pki import NOW, PKI, make_cert, new_key


@pytest.fixture(scope="module", params=["rsa", "ecdsa", "ed25519"])
def pki(request: pytest.FixtureRequest) -> PKI:
    return PKI(request.param)


@pytest.fixture(scope="module")
def leaf(pki: PKI) -> x509.Certificate:
    return pki.leaf()


def good(leaf: x509.Certificate, pki: PKI, **kw: object) -> SingleResponse:
    opts: dict[str, object] = {
        "this_update": NOW - timedelta(hours=1),
        "next_update": NOW + timedelta(hours=6),
    }
    opts.update(kw)
    return SingleResponse(CertID.for_certificate(leaf, pki.issuer), CertStatus.GOOD, **opts)  # type: ignore[arg-type]


def sign_as_issuer(pki: PKI, single: SingleResponse, **kw: object) -> ocspkit.OCSPResponse:
    return ocspkit.build_response(
        single,
        responder_cert=pki.issuer,
        responder_key=pki.issuer_key,
        produced_at=NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_baseline_is_good(pki: PKI, leaf: x509.Certificate) -> None:
    r = ocspkit.validate_response(sign_as_issuer(pki, good(leaf, pki)), leaf, pki.issuer, now=NOW)
    assert r.status is CertStatus.GOOD and r.signer == pki.issuer


def test_another_cas_responder(pki: PKI, leaf: x509.Certificate) -> None:
    other = PKI(pki.kind)
    rc, rk = other.responder()
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_another_ca_signing_as_itself(pki: PKI, leaf: x509.Certificate) -> None:
    other = PKI(pki.kind)
    resp = ocspkit.build_response(
        good(leaf, pki),
        responder_cert=other.issuer,
        responder_key=other.issuer_key,
        produced_at=NOW,
        certificates=[other.issuer],
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_responder_without_eku(pki: PKI, leaf: x509.Certificate) -> None:
    rc, rk = pki.responder(ocsp_signing=False)
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError, match="OCSPSigning"):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_expired_responder_cert(pki: PKI, leaf: x509.Certificate) -> None:
    rc, rk = pki.responder(not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError, match="expired"):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_responder_issued_by_the_root_not_the_issuer(pki: PKI, leaf: x509.Certificate) -> None:
    """A delegate must be issued *directly* by the issuer, not by its parent."""
    key = new_key(pki.kind)
    rc = make_cert(
        "root-issued responder",
        key,
        pki.root.subject,
        pki.root_key,
        ocsp_signing=True,
        ocsp_url=None,
    )
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=key, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_responder_with_issuers_name_but_self_signed(pki: PKI, leaf: x509.Certificate) -> None:
    """Same issuer *name*, other key: name matching alone would trust it."""
    key = new_key(pki.kind)
    rc = make_cert(
        "forged responder", key, pki.issuer.subject, key, ocsp_signing=True, ocsp_url=None
    )
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=key, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError, match="signature"):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_response_for_another_serial(pki: PKI, leaf: x509.Certificate) -> None:
    other = pki.leaf()
    resp = sign_as_issuer(pki, good(other, pki))
    with pytest.raises(ocspkit.NoMatchingResponseError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_same_serial_other_issuer(pki: PKI, leaf: x509.Certificate) -> None:
    other = PKI(pki.kind)
    forged_id = CertID.for_certificate(leaf, other.issuer)
    single = SingleResponse(
        forged_id, CertStatus.GOOD, NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    )
    resp = sign_as_issuer(pki, single)
    with pytest.raises(ocspkit.NoMatchingResponseError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def _flip(der: bytes, index: int) -> bytes:
    b = bytearray(der)
    b[index] ^= 0x01
    return bytes(b)


def test_tampered_signature(pki: PKI, leaf: x509.Certificate) -> None:
    resp = sign_as_issuer(pki, good(leaf, pki))
    tampered = _flip(resp.der, len(resp.der) - 3)
    with pytest.raises(ocspkit.SignatureError):
        ocspkit.validate_response(tampered, leaf, pki.issuer, now=NOW)


def test_tampered_tbs_status(pki: PKI, leaf: x509.Certificate) -> None:
    """Turn REVOKED into ... anything else by editing one byte of tbsResponseData."""
    single = SingleResponse(
        CertID.for_certificate(leaf, pki.issuer),
        CertStatus.REVOKED,
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=6),
        revocation_time=NOW - timedelta(days=1),
        revocation_reason=ocspkit.RevocationReason.KEY_COMPROMISE,
    )
    resp = sign_as_issuer(pki, single)
    produced = b"\x18\x0f" + NOW.strftime("%Y%m%d%H%M%SZ").encode()
    at = resp.der.find(produced)
    assert at > 0
    tampered = _flip(resp.der, at + len(produced) - 2)  # producedAt's last seconds digit
    with pytest.raises(ocspkit.SignatureError):
        ocspkit.validate_response(tampered, leaf, pki.issuer, now=NOW)


def test_replayed_stale_response(pki: PKI, leaf: x509.Certificate) -> None:
    resp = sign_as_issuer(pki, good(leaf, pki))
    with pytest.raises(ocspkit.ExpiredResponseError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW + timedelta(days=2))


def test_replayed_response_against_a_nonce(pki: PKI, leaf: x509.Certificate) -> None:
    req = ocspkit.build_request(leaf, pki.issuer)
    resp = sign_as_issuer(pki, good(leaf, pki), nonce=b"an older nonce!!")
    with pytest.raises(ocspkit.NonceMismatchError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW, request=req)


def test_missing_nonce_follows_policy(pki: PKI, leaf: x509.Certificate) -> None:
    req = ocspkit.build_request(leaf, pki.issuer)
    resp = sign_as_issuer(pki, good(leaf, pki))
    assert ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW, request=req).good
    strict = ocspkit.ValidationPolicy(nonce=ocspkit.NonceRule.REQUIRED)
    with pytest.raises(ocspkit.NonceMissingError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW, request=req, policy=strict)


def test_this_update_in_the_future(pki: PKI, leaf: x509.Certificate) -> None:
    resp = sign_as_issuer(
        pki,
        good(leaf, pki, this_update=NOW + timedelta(hours=1), next_update=NOW + timedelta(hours=9)),
    )
    with pytest.raises(ocspkit.NotYetValidError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_produced_at_in_the_future(pki: PKI, leaf: x509.Certificate) -> None:
    resp = sign_as_issuer(pki, good(leaf, pki))
    with pytest.raises(ocspkit.ProducedAtError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW - timedelta(hours=1))


def test_trust_smuggled_via_embedded_certs(pki: PKI, leaf: x509.Certificate) -> None:
    """An attacker embeds a whole chain of its own (root + responder): none of it is trusted."""
    evil = PKI(pki.kind)
    rc, rk = evil.responder()
    resp = ocspkit.build_response(
        good(leaf, pki),
        responder_cert=rc,
        responder_key=rk,
        produced_at=NOW,
        certificates=[rc, evil.issuer, evil.root, pki.issuer],
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)
    # and embedding the real issuer does not let the attacker's key sign as the issuer
    forged = ocspkit.build_response(
        good(leaf, pki),
        responder_cert=pki.issuer,
        responder_key=rk,
        produced_at=NOW,
        certificates=[pki.issuer],
    )
    with pytest.raises(ocspkit.SignatureError):
        ocspkit.validate_response(forged, leaf, pki.issuer, now=NOW)


def test_contradictory_duplicates(pki: PKI, leaf: x509.Certificate) -> None:
    a = good(leaf, pki)
    b = SingleResponse(
        a.cert_id,
        CertStatus.REVOKED,
        a.this_update,
        a.next_update,
        revocation_time=NOW - timedelta(days=1),
    )
    with pytest.raises(ocspkit.ConflictingResponsesError):
        ocspkit.validate_response(sign_as_issuer(pki, [a, b]), leaf, pki.issuer, now=NOW)


def test_unknown_critical_extensions(pki: PKI, leaf: x509.Certificate) -> None:
    ext = ocspkit.Extension("1.2.3.4.5", True, b"\x05\x00")
    with pytest.raises(ocspkit.CriticalExtensionError):
        ocspkit.validate_response(
            sign_as_issuer(pki, good(leaf, pki), extensions=[ext]), leaf, pki.issuer, now=NOW
        )
    with pytest.raises(ocspkit.CriticalExtensionError):
        ocspkit.validate_response(
            sign_as_issuer(pki, good(leaf, pki, extensions=(ext,))), leaf, pki.issuer, now=NOW
        )
    benign = ocspkit.Extension("1.2.3.4.5", False, b"\x05\x00")
    assert ocspkit.validate_response(
        sign_as_issuer(pki, good(leaf, pki), extensions=[benign]), leaf, pki.issuer, now=NOW
    ).good


def test_sha1_signature_refused_by_policy() -> None:
    pki = PKI("rsa")
    leaf = pki.leaf()
    resp = sign_as_issuer(pki, good(leaf, pki), signature_hash="sha1")
    assert ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW).good
    with pytest.raises(ocspkit.WeakAlgorithmError):
        ocspkit.validate_response(
            resp,
            leaf,
            pki.issuer,
            now=NOW,
            policy=ocspkit.ValidationPolicy(allow_sha1_signatures=False),
        )


def test_unsuccessful_status_is_responder_error(pki: PKI, leaf: x509.Certificate) -> None:
    for status in ocspkit.ResponseStatus:
        if status is ocspkit.ResponseStatus.SUCCESSFUL:
            continue
        with pytest.raises(ocspkit.ResponderError) as exc:
            ocspkit.validate_response(
                ocspkit.build_error_response(status).der, leaf, pki.issuer, now=NOW
            )
        assert exc.value.status is status
