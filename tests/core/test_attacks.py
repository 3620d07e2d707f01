"""The attack matrix: each way to forge or replay an OCSP answer, one test each.

Every response here is a real signed DER made at test time; every forgery must raise its own
ValidationError subclass, never return GOOD.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

import ocspkit
from ocspkit import CertStatus, SingleResponse

from .._pki import NOW, PKI, make_cert, new_key


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
    return SingleResponse(ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, **opts)  # type: ignore[arg-type]


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
    forged_id = ocspkit.cert_id(leaf, other.issuer)
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
        ocspkit.cert_id(leaf, pki.issuer),
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
    # the strictest signed status wins, whichever comes first (browsers; OpenSSL takes the first)
    for order in ([a, b], [b, a]):
        result = ocspkit.validate_response(sign_as_issuer(pki, order), leaf, pki.issuer, now=NOW)
        assert result.status is CertStatus.REVOKED


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


# --- regressions from the security review ---------------------------------------------------


def _craft(
    pki: PKI, tbs: bytes, alg: bytes, signature: bytes, certs: list[x509.Certificate] = ()
) -> bytes:  # type: ignore[assignment]
    """A response with an arbitrary signatureAlgorithm (hostile input for the validator)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from ocspkit._encode import OID_BASIC, octets, oid, seq, tlv

    parts = [tbs, alg, tlv(0x03, b"\x00" + signature)]
    if certs:
        parts.append(tlv(0xA0, seq(*(c.public_bytes(Encoding.DER) for c in certs))))
    return seq(b"\x0a\x01\x00", tlv(0xA0, seq(oid(OID_BASIC), octets(seq(*parts)))))


def test_pss_with_absurd_salt_is_a_typed_error() -> None:
    from ocspkit._encode import integer, oid, seq, tlv

    pki = PKI("rsa")
    leaf = pki.leaf()
    tbs = sign_as_issuer(pki, good(leaf, pki)).tbs_response_data
    alg = seq(oid("1.2.840.113549.1.1.10"), seq(tlv(0xA2, integer(2**63))))
    with pytest.raises(ocspkit.OCSPError):
        ocspkit.validate_response(_craft(pki, tbs, alg, b"\x01" * 256), leaf, pki.issuer, now=NOW)


def test_weak_decoy_does_not_hide_a_valid_delegate() -> None:
    pki = PKI("rsa")
    leaf = pki.leaf()
    rc, rk = pki.responder()
    # a decoy: the delegate's own TBSCertificate, re-signed by the issuer with SHA-1 (refused
    # by the policy below); it comes first, the real delegate second
    from cryptography import x509 as _x
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from ocspkit._encode import oid, seq, tlv

    sha256_rsa = bytes.fromhex("06092a864886f70d01010b")
    tbs = rc.tbs_certificate_bytes.replace(sha256_rsa, sha256_rsa[:-1] + b"\x05", 1)
    sig = pki.issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())  # type: ignore[union-attr, call-arg]
    decoy = _x.load_der_x509_certificate(
        seq(tbs, seq(oid("1.2.840.113549.1.1.5"), b"\x05\x00"), tlv(0x03, b"\x00" + sig))
    )
    resp = ocspkit.build_response(
        good(leaf, pki),
        responder_cert=rc,
        responder_key=rk,
        produced_at=NOW,
        certificates=[decoy, rc],
    )
    policy = ocspkit.ValidationPolicy(allow_sha1_signatures=False)
    r = ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW, policy=policy)
    assert r.good and r.signer == rc
    only_decoy = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=rk, produced_at=NOW, certificates=[decoy]
    )
    with pytest.raises(ocspkit.WeakAlgorithmError):
        ocspkit.validate_response(only_decoy, leaf, pki.issuer, now=NOW, policy=policy)


def test_delegate_with_unknown_critical_extension_is_refused() -> None:
    pki = PKI("ecdsa")
    leaf = pki.leaf()
    from cryptography import x509 as _x
    from cryptography.hazmat.primitives import hashes

    from .._pki import new_key as _nk

    key = _nk("ecdsa")
    rc = (
        _x.CertificateBuilder()
        .subject_name(_x.Name.from_rfc4514_string("CN=odd responder"))
        .issuer_name(pki.issuer.subject)
        .public_key(key.public_key())
        .serial_number(9)  # type: ignore[arg-type]
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(_x.ExtendedKeyUsage([_x.oid.ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .add_extension(
            _x.UnrecognizedExtension(_x.ObjectIdentifier("1.2.3.4.5.6"), b"\x05\x00"), True
        )
        .sign(pki.issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    resp = ocspkit.build_response(
        good(leaf, pki), responder_cert=rc, responder_key=key, produced_at=NOW, certificates=[rc]
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError, match="critical"):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)


def test_wrong_issuer_is_refused() -> None:
    pki = PKI("ecdsa")
    leaf = pki.leaf()
    resp = sign_as_issuer(pki, good(leaf, pki))
    with pytest.raises(ocspkit.IssuerMismatchError):
        ocspkit.validate_response(resp, leaf, pki.root, now=NOW)


def test_critical_extension_on_an_agreeing_duplicate() -> None:
    pki = PKI("ecdsa")
    leaf = pki.leaf()
    a = good(leaf, pki)
    b = good(
        leaf,
        pki,
        this_update=NOW - timedelta(hours=2),
        extensions=(ocspkit.Extension("1.2.3.4", True, b"\x05\x00"),),
    )
    with pytest.raises(ocspkit.CriticalExtensionError):
        ocspkit.validate_response(sign_as_issuer(pki, [a, b]), leaf, pki.issuer, now=NOW)


def test_revoked_single_without_time_cannot_be_built() -> None:
    pki = PKI("ecdsa")
    leaf = pki.leaf()
    with pytest.raises(ValueError):
        sign_as_issuer(
            pki, SingleResponse(ocspkit.cert_id(leaf, pki.issuer), CertStatus.REVOKED, NOW)
        )
