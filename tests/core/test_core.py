"""Requests, responses and validation policy, through the public API."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit import CertStatus, RevocationReason, SingleResponse

from .._pki import NOW, PKI


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI("rsa")


# --- certificates ------------------------------------------------------------------------------


def test_load_certificates_forms(pki: PKI, tmp_path: Path) -> None:
    leaf = pki.leaf()
    pem = leaf.public_bytes(Encoding.PEM) + pki.issuer.public_bytes(Encoding.PEM)
    der = leaf.public_bytes(Encoding.DER)
    (tmp_path / "b.pem").write_bytes(b"junk before\n" + pem)
    (tmp_path / "c.der").write_bytes(der)
    assert ocspkit.load_certificates(pem) == [leaf, pki.issuer]
    assert ocspkit.load_certificates(pem.decode()) == [leaf, pki.issuer]
    assert ocspkit.load_certificates(tmp_path / "b.pem") == [leaf, pki.issuer]
    assert ocspkit.load_certificates(str(tmp_path / "c.der")) == [leaf]
    assert ocspkit.load_certificates(der) == [leaf]
    assert ocspkit.load_certificates([leaf]) == [leaf]


@pytest.mark.parametrize(
    "bad", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 42]
)
def test_load_certificates_errors(bad: object) -> None:
    with pytest.raises(ocspkit.CertificateError):
        ocspkit.load_certificates(bad)  # type: ignore[arg-type]


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ocspkit.CertificateError, match="cannot read"):
        ocspkit.load_certificates(tmp_path / "nope.pem")


def test_urls_and_must_staple(pki: PKI) -> None:
    leaf = pki.leaf(ocsp_url="http://ocsp.example.test/a", must_staple=True)
    assert ocspkit.ocsp_urls(leaf) == ("http://ocsp.example.test/a",)
    assert ocspkit.is_must_staple(leaf)
    plain = pki.leaf(ocsp_url=None)
    assert ocspkit.ocsp_urls(plain) == () and not ocspkit.is_must_staple(plain)


def test_find_issuer_checks_signature_not_just_name(pki: PKI) -> None:
    leaf = pki.leaf()
    impostor = PKI("rsa").issuer  # different key, and a different name
    same_name = PKI("rsa")
    assert ocspkit.find_issuer(leaf, [impostor, pki.root, pki.issuer]) == pki.issuer
    assert not ocspkit.is_issued_by(leaf, same_name.issuer)
    with pytest.raises(ocspkit.IssuerNotFoundError):
        ocspkit.find_issuer(leaf, [pki.root, impostor])


def test_find_issuer_answers_the_same_for_an_object_and_its_copy(pki: PKI) -> None:
    copy = x509.load_der_x509_certificate(pki.root.public_bytes(Encoding.DER))
    assert ocspkit.find_issuer(pki.root, [pki.root]) is pki.root  # a root issued itself
    assert ocspkit.find_issuer(pki.root, [copy]) is copy
    leaf = pki.leaf()
    assert ocspkit.find_issuer(leaf, [leaf, pki.issuer]) is pki.issuer


@pytest.mark.parametrize("bad", [None, "x", b"\x30\x00", 7])
def test_issuer_checks_refuse_what_is_no_certificate_with_a_typed_error(
    pki: PKI, bad: object
) -> None:
    leaf = pki.leaf()
    for call in (
        lambda: ocspkit.is_issued_by(leaf, bad),  # type: ignore[arg-type]
        lambda: ocspkit.is_issued_by(bad, pki.issuer),  # type: ignore[arg-type]
        lambda: ocspkit.find_issuer(leaf, [bad]),  # type: ignore[list-item]
    ):
        with pytest.raises(ocspkit.CertificateError):
            call()


# --- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["sha1", "sha256", "sha384", "sha512"])
def test_request_roundtrip(pki: PKI, alg: str) -> None:
    leaves = [pki.leaf() for _ in range(3)]
    req = ocspkit.build_request(leaves, pki.issuer, hash_algorithm=alg)
    assert req.nonce is not None and len(req.nonce) == 16
    parsed = ocspkit.parse_request(req.der)
    assert parsed.cert_ids == req.cert_ids and parsed.nonce == req.nonce and not parsed.signed
    for cid, leaf in zip(parsed.cert_ids, leaves):
        assert cid.hash_algorithm == alg and ocspkit.cert_id_matches(cid, leaf, pki.issuer)


def test_request_nonce_options(pki: PKI) -> None:
    leaf = pki.leaf()
    assert ocspkit.build_request(leaf, pki.issuer, nonce=False).nonce is None
    assert ocspkit.build_request(leaf, pki.issuer, nonce=b"x").nonce == b"x"
    assert (
        ocspkit.parse_request(ocspkit.build_request(leaf, pki.issuer, nonce=b"n" * 32).der).nonce
        == b"n" * 32
    )
    for bad in (b"", b"n" * 33):
        with pytest.raises(ValueError):
            ocspkit.build_request(leaf, pki.issuer, nonce=bad)
    with pytest.raises(ValueError):
        ocspkit.build_request(leaf, pki.issuer, hash_algorithm="md5")


@pytest.mark.parametrize(
    ("base", "prefix"),
    [
        ("http://ocsp.test", "http://ocsp.test/"),
        ("http://ocsp.test/", "http://ocsp.test/"),
        ("http://ocsp.test/path", "http://ocsp.test/path/"),
        ("http://ocsp.test/path/", "http://ocsp.test/path/"),
    ],
)
def test_get_url_forms(pki: PKI, base: str, prefix: str) -> None:
    # find a request whose base64 contains '+' or '/' so escaping is exercised
    for _ in range(200):
        req = ocspkit.build_request(pki.leaf(), pki.issuer)
        b64 = base64.b64encode(req.der).decode()
        if "+" in b64 or "/" in b64:
            break
    url = req.get_url(base)
    assert url.startswith(prefix)
    tail = url[len(prefix) :]
    assert "/" not in tail and "+" not in tail and "=" not in tail
    assert base64.b64decode(unquote(tail)) == req.der


def test_get_url_keeps_a_query_string(pki: PKI) -> None:
    req = ocspkit.build_request(pki.leaf(), pki.issuer)
    url = req.get_url("http://ocsp.test/a?x=1")
    assert url.startswith("http://ocsp.test/a/") and url.endswith("?x=1")


def test_parse_request_rejects_garbage() -> None:
    for bad in (b"", b"\x30\x00", b"\x30\x03\x02\x01\x00", b"not der"):
        with pytest.raises(ocspkit.DecodeError):
            ocspkit.parse_request(bad)


# --- responses ---------------------------------------------------------------------------------


def test_build_parse_roundtrip_many_singles(pki: PKI) -> None:
    leaves = [pki.leaf() for _ in range(3)]
    singles = [
        SingleResponse(
            ocspkit.cert_id(leaves[0], pki.issuer),
            CertStatus.GOOD,
            NOW,
            NOW + timedelta(hours=1),
        ),
        SingleResponse(
            ocspkit.cert_id(leaves[1], pki.issuer, "sha256"),
            CertStatus.REVOKED,
            NOW,
            NOW + timedelta(hours=1),
            revocation_time=NOW - timedelta(days=3),
            revocation_reason=RevocationReason.CA_COMPROMISE,
        ),
        SingleResponse(ocspkit.cert_id(leaves[2], pki.issuer), CertStatus.UNKNOWN, NOW, None),
    ]
    rc, rk = pki.responder()
    resp = ocspkit.build_response(
        singles,
        responder_cert=rc,
        responder_key=rk,
        produced_at=NOW,
        responder_id="name",
        certificates=[rc],
        nonce=b"0123456789abcdef",
    )
    again = ocspkit.parse_response(resp.der)
    assert again == resp
    assert again.responses == tuple(singles)
    assert again.nonce == b"0123456789abcdef"
    assert again.responder_id is not None and again.responder_id.name == rc.subject
    assert again.certificates == (rc,)
    statuses = [
        ocspkit.validate_response(again, leaf, pki.issuer, now=NOW).status for leaf in leaves
    ]
    assert statuses == [CertStatus.GOOD, CertStatus.REVOKED, CertStatus.UNKNOWN]
    revoked = ocspkit.validate_response(again, leaves[1], pki.issuer, now=NOW)
    assert revoked.revocation_reason is RevocationReason.CA_COMPROMISE
    assert revoked.revocation_time == NOW - timedelta(days=3)


def test_error_responses_roundtrip() -> None:
    for status in ocspkit.ResponseStatus:
        if status is ocspkit.ResponseStatus.SUCCESSFUL:
            with pytest.raises(ValueError):
                ocspkit.build_error_response(status)
            continue
        resp = ocspkit.build_error_response(status)
        assert ocspkit.parse_response(resp.der).status is status and not resp.successful


def test_pem_response(pki: PKI) -> None:
    leaf = pki.leaf()
    resp = ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
        ),
        responder_cert=pki.issuer,
        responder_key=pki.issuer_key,
        produced_at=NOW,
    )
    pem = (
        b"-----BEGIN OCSP RESPONSE-----\n"
        + base64.encodebytes(resp.der)
        + b"-----END OCSP RESPONSE-----\n"
    )
    assert ocspkit.parse_response(pem) == resp


@pytest.mark.parametrize(
    "bad", [b"", b"\x00", b"\x30\x03\x0a\x01\x04", b"\x30\x03\x0a\x01\x07", b"\x30\x80", "text"]
)
def test_parse_response_rejects(bad: object) -> None:
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.parse_response(bad)  # type: ignore[arg-type]


def test_trailing_data_and_truncation(pki: PKI) -> None:
    leaf = pki.leaf()
    resp = ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
        ),
        responder_cert=pki.issuer,
        responder_key=pki.issuer_key,
        produced_at=NOW,
    )
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.parse_response(resp.der + b"\x00")
    for cut in (1, 10, len(resp.der) // 2, len(resp.der) - 1):
        with pytest.raises(ocspkit.DecodeError):
            ocspkit.parse_response(resp.der[:cut])


# --- policy ------------------------------------------------------------------------------------


def _resp(pki: PKI, leaf, this_update, next_update):  # type: ignore[no-untyped-def]
    return ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, this_update, next_update
        ),
        responder_cert=pki.issuer,
        responder_key=pki.issuer_key,
        produced_at=this_update,
    )


def test_clock_skew(pki: PKI) -> None:
    leaf = pki.leaf()
    resp = _resp(pki, leaf, NOW, NOW + timedelta(hours=1))
    assert ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW - timedelta(minutes=4)).good
    with pytest.raises(ocspkit.NotYetValidError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW - timedelta(minutes=6))
    assert ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW + timedelta(minutes=64)).good
    with pytest.raises(ocspkit.ExpiredResponseError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW + timedelta(minutes=66))
    tight = ocspkit.ValidationPolicy(clock_skew=timedelta(0))
    with pytest.raises(ocspkit.NotYetValidError):
        ocspkit.validate_response(
            resp, leaf, pki.issuer, now=NOW - timedelta(seconds=1), policy=tight
        )


def test_max_age_and_no_next_update(pki: PKI) -> None:
    leaf = pki.leaf()
    long_window = _resp(pki, leaf, NOW - timedelta(days=3), NOW + timedelta(days=4))
    assert ocspkit.validate_response(long_window, leaf, pki.issuer, now=NOW).good
    with pytest.raises(ocspkit.StaleResponseError):
        ocspkit.validate_response(
            long_window,
            leaf,
            pki.issuer,
            now=NOW,
            policy=ocspkit.ValidationPolicy(max_age=timedelta(days=1)),
        )
    open_ended = _resp(pki, leaf, NOW - timedelta(hours=2), None)
    assert ocspkit.validate_response(open_ended, leaf, pki.issuer, now=NOW).good
    with pytest.raises(ocspkit.StaleResponseError):
        ocspkit.validate_response(
            open_ended,
            leaf,
            pki.issuer,
            now=NOW,
            policy=ocspkit.ValidationPolicy(max_age_without_next_update=timedelta(hours=1)),
        )


def test_locally_trusted_responder(pki: PKI) -> None:
    """A responder trusted by local policy (RFC 6960 §4.2.2.2 case 1), e.g. a VA of another PKI."""
    leaf = pki.leaf()
    va = PKI("ecdsa")
    resp = ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(leaf, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
        ),
        responder_cert=va.root,
        responder_key=va.root_key,
        produced_at=NOW,
    )
    with pytest.raises(ocspkit.SignerNotFoundError):
        ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW)
    trusted = ocspkit.ValidationPolicy(trusted_responders=(va.root,))
    r = ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW, policy=trusted)
    assert r.good and r.signer == va.root and not r.delegated


def test_naive_now_is_utc(pki: PKI) -> None:
    leaf = pki.leaf()
    resp = _resp(pki, leaf, NOW, NOW + timedelta(hours=1))
    assert ocspkit.validate_response(resp, leaf, pki.issuer, now=NOW.replace(tzinfo=None)).good


def test_duplicate_extensions_never_escape(pki: PKI) -> None:
    """A certificate with a duplicated AIA extension (invalid, as a hostile server may send):
    the helpers answer instead of raising cryptography's DuplicateExtension."""
    from asn1crypto import x509 as ax  # test-only: crafting hostile input
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    leaf = pki.leaf(ocsp_url="http://127.0.0.1:9/", must_staple=True)
    c = ax.Certificate.load(leaf.public_bytes(Encoding.DER))
    tbs = c["tbs_certificate"]
    exts = list(tbs["extensions"])
    tbs["extensions"] = ax.Extensions([*exts, ax.Extension.load(exts[-1].dump())])
    tbs_der = tbs.dump(force=True)
    sig = pki.issuer_key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg, union-attr]
    bad = x509.load_der_x509_certificate(
        ax.Certificate(
            {
                "tbs_certificate": ax.TbsCertificate.load(tbs_der),
                "signature_algorithm": c["signature_algorithm"],
                "signature_value": sig,
            }
        ).dump()
    )
    assert ocspkit.ocsp_urls(bad) == ()
    assert ocspkit.is_must_staple(bad) in (True, False)
    resp = ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(bad, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
        ),
        responder_cert=pki.issuer,
        responder_key=pki.issuer_key,
        produced_at=NOW,
    )
    assert ocspkit.validate_response(resp, bad, pki.issuer, now=NOW).good
    # as an embedded delegate, it is refused with a typed error, never DuplicateExtension
    delegate_resp = ocspkit.build_response(
        SingleResponse(
            ocspkit.cert_id(bad, pki.issuer), CertStatus.GOOD, NOW, NOW + timedelta(hours=1)
        ),
        responder_cert=bad,
        responder_key=pki.issuer_key,
        produced_at=NOW,
        certificates=[bad],
    )
    with pytest.raises(ocspkit.ValidationError):
        ocspkit.validate_response(delegate_resp, bad, pki.issuer, now=NOW)
