"""Issue 11 from the attacker's side: every hostile input gets a typed answer, and verdicts come
only from signed bytes. One test (or one parametrised family) per item of §1-§8.

Each hostile response is real DER made at test time (ocspkit.testing CAs, asn1crypto for what no
builder makes, re-signed with the right key where the signature must verify).
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import pickle
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import core
from asn1crypto import ocsp as a_ocsp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ocspkit
from ocspkit import CertStatus, Extension, ValidationPolicy
from ocspkit.testing import CA, Leaf, Responder

from ..hostile import craft
from ..hostile.pki import NOW, World, by_issuer, outcome, single, verdict, world

LATER = NOW + timedelta(minutes=1)


@pytest.fixture(scope="module")
def w() -> World:
    return world("ecdsa")


def _not_good(fn: object) -> None:
    got = outcome(fn)  # type: ignore[arg-type]
    assert isinstance(got, ocspkit.OCSPError) or got.status is CertStatus.REVOKED, got


# -- §1 no untyped exception -----------------------------------------------------------------


def _bitstring_decoy(w: World) -> tuple[x509.Certificate, object]:
    """A delegate-looking certificate (attacker's key) whose subject CN is a BIT STRING."""
    attacker = CA("ecdsa", name=w.ca.name)  # same names as the victim CA, other keys
    cand = attacker.issue_responder()
    der = craft.resign_cert(
        cand.cert, attacker.issuer_key, craft.set_subject(craft.bitstring_cn_name())
    )
    return x509.load_der_x509_certificate(der), cand.key


def test_bitstring_cn_decoy_parse_validate_repr(w: World) -> None:
    decoy, key = _bitstring_decoy(w)
    resp = ocspkit.build_response(
        single(w.leaf.cert, w.ca.issuer),
        responder_cert=decoy,
        responder_key=key,  # type: ignore[arg-type]
        produced_at=NOW,
        certificates=[decoy],
    )
    parsed = ocspkit.parse_response(resp.der)
    assert isinstance(repr(parsed), str)
    with pytest.raises(ocspkit.ValidationError):
        ocspkit.validate_response(parsed, w.leaf.cert, w.ca.issuer, now=LATER)
    # the same decoy next to the issuer's own genuine signature changes nothing
    padded = craft.with_certs(w.good.der, [craft.der_of(decoy)])
    assert ocspkit.validate_response(padded, w.leaf.cert, w.ca.issuer, now=LATER).good
    assert isinstance(repr(ocspkit.parse_response(padded)), str)


def test_bitstring_cn_decoy_through_check() -> None:
    victim = CA("ecdsa")
    leaf = victim.issue("victim.test", ocsp_url="")
    decoy, key = _bitstring_decoy(world("ecdsa"))
    with Responder(victim, signer=Leaf(decoy, key, (decoy,))) as responder:  # type: ignore[arg-type]
        with pytest.raises(ocspkit.OCSPError):
            ocspkit.check(
                leaf.cert, victim.issuer, url=responder.url, config=ocspkit.ClientConfig(retries=0)
            )


def test_bytes_served_by_a_plain_http_server_through_check(w: World) -> None:
    """Arbitrary bytes (the decoy-padded genuine GOOD, then garbage) via a real HTTP server."""
    decoy, _ = _bitstring_decoy(w)
    bodies = [craft.with_certs(w.good.der, [craft.der_of(decoy)]), b"\x30\x03\x0a\x01\x63"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = bodies[0]
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        got = outcome(
            lambda: ocspkit.check(w.leaf.cert, w.ca.issuer, url=url, nonce=False, now=LATER)
        )
        assert isinstance(got, ocspkit.OCSPError) or got.good
        bodies.pop(0)
        with pytest.raises(ocspkit.OCSPError, match=r"\b99\b"):
            ocspkit.check(
                w.leaf.cert,
                w.ca.issuer,
                url=url,
                nonce=False,
                config=ocspkit.ClientConfig(retries=0),
            )
    finally:
        server.shutdown()
        server.server_close()


def test_next_update_at_the_end_of_time_is_good(w: World) -> None:
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    resp = by_issuer(w, single(w.leaf.cert, w.ca.issuer, next_update=end))
    assert ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER).good
    assert ocspkit.validate_response(resp.der, w.leaf.cert, w.ca.issuer).good


UNSUPPORTED_KEYS = {
    "gost": (craft.OID_GOST_KEY, craft.tlv(0x30, craft.oid("1.2.643.7.1.2.1.1.1")), b"\x04" * 65),
    "slh-dsa": (craft.OID_SLH_DSA, None, b"\x01" * 32),
    "secp112r1": ("1.2.840.10045.2.1", craft.oid(craft.OID_SECP112R1), b"\x04" + b"\x02" * 28),
}


def _with_key(cert: x509.Certificate, signer_key: object, kind: str) -> x509.Certificate:
    der = craft.resign_cert(cert, signer_key, craft.set_spki(*UNSUPPORTED_KEYS[kind]))
    return x509.load_der_x509_certificate(der)


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_KEYS))
@pytest.mark.parametrize("verify", [True, False])
def test_issuer_with_unsupported_key(w: World, kind: str, verify: bool) -> None:
    odd_issuer = _with_key(w.ca.issuer, w.ca.root_key, kind)  # same subject, odd key
    resp = ocspkit.build_response(
        single(w.leaf.cert, odd_issuer),
        responder_cert=odd_issuer,
        responder_key=w.ca.issuer_key,
        produced_at=NOW,
        responder_id="name",
    )
    policy = ValidationPolicy(verify_issuer_signature=verify)
    with pytest.raises(ocspkit.ValidationError):
        ocspkit.validate_response(resp, w.leaf.cert, odd_issuer, now=LATER, policy=policy)


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_KEYS))
def test_trusted_responder_with_unsupported_key(w: World, kind: str) -> None:
    trusted = _with_key(w.ca.issue("trusted responder", ocsp_url="").cert, w.ca.issuer_key, kind)
    resp = ocspkit.build_response(
        single(w.leaf.cert, w.ca.issuer),
        responder_cert=trusted,
        responder_key=w.ca.issuer_key,
        produced_at=NOW,
        responder_id="name",
    )
    policy = ValidationPolicy(trusted_responders=(trusted,))
    with pytest.raises(ocspkit.ValidationError):
        ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER, policy=policy)


def _tls_feature_99(cert: x509.Certificate, key: object) -> x509.Certificate:
    """``cert`` plus a TLS Feature extension listing status_request (5) and 99."""
    edit = craft.add_extension(cert, craft.OID_TLS_FEATURE, b"\x30\x06\x02\x01\x05\x02\x01\x63")
    return x509.load_der_x509_certificate(craft.resign_cert(cert, key, edit))


def test_tls_feature_with_an_unknown_value(w: World) -> None:
    url = "http://ocsp.example.test/"
    plain = w.ca.issue("odd-feature.test", ocsp_url=url)
    cert = _tls_feature_99(plain.cert, w.ca.issuer_key)
    urls = outcome(lambda: ocspkit.ocsp_urls(cert))
    assert isinstance(urls, ocspkit.OCSPError) or urls in ((), (url,))
    staple = outcome(lambda: ocspkit.is_must_staple(cert))
    assert isinstance(staple, (bool, ocspkit.OCSPError))
    match = outcome(lambda: ocspkit.hostname_matches(cert, "odd-feature.test"))
    assert isinstance(match, (bool, ocspkit.OCSPError))
    # a delegate carrying the extension: a typed refusal or a valid answer, nothing else
    delegate = w.ca.issue_responder()
    odd = _tls_feature_99(delegate.cert, w.ca.issuer_key)
    resp = ocspkit.build_response(
        single(w.leaf.cert, w.ca.issuer),
        responder_cert=odd,
        responder_key=delegate.key,
        produced_at=NOW,
        certificates=[odd],
    )
    got = outcome(lambda: ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER))
    assert isinstance(got, ocspkit.ValidationError) or got.good


@pytest.mark.parametrize("version", [3, 5, 0x7F])
def test_x509_version_out_of_range_is_a_certificate_error(w: World, version: int) -> None:
    der = craft.set_version(craft.der_of(w.leaf.cert), version)
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der)
    pem += b"-----END CERTIFICATE-----\n"
    for data in (der, pem):
        with pytest.raises(ocspkit.CertificateError):
            ocspkit.load_certificates(data)


def _huge_serial() -> int:
    return 10 ** (sys.get_int_max_str_digits() + 10) if sys.get_int_max_str_digits() else 10**5000


@pytest.mark.parametrize("oddity", ["empty-rdn", "bitstring-cn", "huge-serial"])
def test_repr_of_every_model_never_raises(w: World, oddity: str) -> None:
    key = w.ca.issuer_key
    name = craft.empty_rdn_name() if oddity == "empty-rdn" else craft.bitstring_cn_name()
    odd_cert = x509.load_der_x509_certificate(
        craft.resign_cert(w.ca.issue("odd", ocsp_url="").cert, key, craft.set_subject(name))
    )
    base = by_issuer(w, certificates=[odd_cert])
    if oddity == "huge-serial":

        def edit(tbs: a_ocsp.ResponseData) -> None:
            tbs["responses"][0]["cert_id"]["serial_number"] = _huge_serial()

        resp = ocspkit.parse_response(craft.resign(base.der, key, edit))
    else:  # the ResponderID names the odd subject, byName
        parts = craft.single_parts(base.der)
        tbs = craft.tlv(0x30, craft.tlv(0xA1, name) + parts["produced_at"] + parts["responses"])
        resp = ocspkit.parse_response(craft.sign_tbs(tbs, key, [craft.der_of(odd_cert)]))
    request_der = ocspkit.build_request(w.leaf.cert, w.ca.issuer).der
    if oddity == "huge-serial":
        req = a_ocsp.OCSPRequest.load(request_der)
        req["tbs_request"]["request_list"][0]["req_cert"]["serial_number"] = _huge_serial()
        request_der = req.dump(force=True)
    request = ocspkit.parse_request(request_der)
    result = ocspkit.validate_response(w.good, w.leaf.cert, w.ca.issuer, now=LATER)
    models = [resp, *resp.responses, resp.responder_id, request, *request.cert_ids]
    models += [dataclasses.replace(result, single=s) for s in resp.responses]
    models += [s.cert_id for s in resp.responses]
    for model in models:
        assert isinstance(repr(model), str), type(model)


def _nonce_tbs(w: World, nonce: bytes, *, explicit_version: bool) -> bytes:
    parts = craft.single_parts(w.good.der)
    body = b"".join(parts[k] for k in ("cert_id", "cert_status", "this_update", "next_update"))
    inner = b"\x04\x81" + bytes([len(nonce)]) + nonce  # non-minimal length of the nonce
    ext = craft.tlv(0x30, craft.oid(craft.OID_NONCE) + craft.tlv(0x04, inner))
    version = craft.tlv(0xA0, b"\x02\x01\x00") if explicit_version else b""
    return craft.tlv(
        0x30,
        version
        + parts["responder_id"]
        + parts["produced_at"]
        + craft.tlv(0x30, craft.tlv(0x30, body))
        + craft.tlv(0xA1, craft.tlv(0x30, ext)),
    )


def test_decoders_agree_on_a_non_minimal_nonce(w: World) -> None:
    nonce = bytes(range(16))
    request = ocspkit.build_request(w.leaf.cert, w.ca.issuer, nonce=nonce)
    seen = []
    for explicit in (False, True):  # an explicit default version sends it to the tolerant one
        der = craft.sign_tbs(_nonce_tbs(w, nonce, explicit_version=explicit), w.ca.issuer_key)
        got = outcome(lambda d=der: ocspkit.parse_response(d))  # type: ignore[misc]
        if isinstance(got, ocspkit.OCSPError):
            seen.append((type(got).__name__, None))
            continue
        v = verdict(
            lambda g=got: ocspkit.validate_response(  # type: ignore[misc]
                g, w.leaf.cert, w.ca.issuer, now=LATER, request=request
            )
        )
        seen.append((v, got.nonce))
    assert seen[0] == seen[1], seen
    assert seen[0][1] in (None, nonce)


# -- §2 linear time, capped ------------------------------------------------------------------


def test_caps_are_public_constants() -> None:
    assert ocspkit.MAX_EMBEDDED_CERTIFICATES == 32
    assert ocspkit.MAX_SINGLE_RESPONSES == 1000
    assert ocspkit.MAX_EXTENSIONS == 64
    assert issubclass(ocspkit.LimitExceededError, ocspkit.DecodeError)


def test_genuine_good_padded_past_the_certificate_cap(w: World) -> None:
    cap = ocspkit.MAX_EMBEDDED_CERTIFICATES
    padded = craft.with_certs(w.good.der, [craft.der_of(w.leaf.cert)] * (cap + 1))
    with pytest.raises(ocspkit.LimitExceededError) as info:
        ocspkit.parse_response(padded)
    assert info.value.limit == cap
    with pytest.raises(ocspkit.LimitExceededError):
        ocspkit.validate_response(padded, w.leaf.cert, w.ca.issuer, now=LATER)


def test_genuine_good_padded_to_one_mebibyte(
    w: World, record_property: pytest.RecordProperty
) -> None:
    cert = craft.der_of(w.leaf.cert)
    padded = craft.with_certs(w.good.der, [cert] * (1024 * 1024 // len(cert) + 1))
    assert len(padded) > 1024 * 1024
    start = time.perf_counter()
    got = outcome(lambda: ocspkit.validate_response(padded, w.leaf.cert, w.ca.issuer, now=LATER))
    record_property("padded_1mib_seconds", round(time.perf_counter() - start, 4))
    assert isinstance(got, ocspkit.LimitExceededError) or got.good, got


def test_padded_to_exactly_the_cap_with_large_certificates(w: World) -> None:
    big = []
    for i in range(ocspkit.MAX_EMBEDDED_CERTIFICATES):
        filler = x509.UnrecognizedExtension(
            x509.ObjectIdentifier(f"1.3.6.1.4.1.99999.{i}"), b"\x04\x82\x7f\xf0" + b"A" * 0x7FF0
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(w.leaf.cert.subject)
            .issuer_name(w.leaf.cert.issuer)
            .public_key(w.leaf.cert.public_key())  # type: ignore[arg-type]
            .serial_number(i + 1)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
            .add_extension(filler, critical=False)
            .sign(
                w.ca.issuer_key,
                x509.load_der_x509_certificate(craft.der_of(w.leaf.cert)).signature_hash_algorithm,
            )  # type: ignore[arg-type]
        )
        big.append(craft.der_of(cert))
    padded = craft.with_certs(w.good.der, big)
    assert len(padded) > 1024 * 1024
    assert ocspkit.validate_response(padded, w.leaf.cert, w.ca.issuer, now=LATER).good


def _many_singles(w: World, count: int) -> bytes:
    base = by_issuer(w)
    target = a_ocsp.ResponseData.load(craft.tbs_of(base.der))["responses"][0]

    def edit(tbs: a_ocsp.ResponseData) -> None:
        others = []
        for i in range(count - 1):
            s = a_ocsp.SingleResponse.load(target.dump())
            s["cert_id"]["serial_number"] = i + 1
            others.append(s)
        tbs["responses"] = [*others, a_ocsp.SingleResponse.load(target.dump())]

    return craft.resign(base.der, w.ca.issuer_key, edit)


def test_single_response_cap(w: World) -> None:
    cap = ocspkit.MAX_SINGLE_RESPONSES
    assert ocspkit.validate_response(
        _many_singles(w, cap), w.leaf.cert, w.ca.issuer, now=LATER
    ).good
    with pytest.raises(ocspkit.LimitExceededError) as info:
        ocspkit.parse_response(_many_singles(w, cap + 1))
    assert info.value.limit == cap


@pytest.mark.parametrize("where", ["response", "single"])
def test_extension_cap(w: World, where: str) -> None:
    cap = ocspkit.MAX_EXTENSIONS

    def make(n: int) -> bytes:
        exts = [Extension(f"1.3.6.1.4.1.99999.7.{i}", False, b"\x05\x00") for i in range(n)]
        if where == "response":
            return craft.resign(
                by_issuer(w).der, w.ca.issuer_key, _set_exts("response_extensions", exts)
            )
        return craft.resign(by_issuer(w).der, w.ca.issuer_key, _set_exts("single_extensions", exts))

    assert ocspkit.validate_response(make(cap), w.leaf.cert, w.ca.issuer, now=LATER).good
    with pytest.raises(ocspkit.LimitExceededError) as info:
        ocspkit.parse_response(make(cap + 1))
    assert info.value.limit == cap


def _set_exts(field: str, exts: list[Extension]) -> object:
    raw = craft.tlv(
        0x30,
        b"".join(craft.tlv(0x30, craft.oid(e.oid) + craft.tlv(0x04, e.value)) for e in exts),
    )

    def edit(tbs: a_ocsp.ResponseData) -> None:
        if field == "response_extensions":
            tbs[field] = a_ocsp.ResponseDataExtensions.load(raw)
        else:
            tbs["responses"][0][field] = a_ocsp.SingleResponseExtensions.load(raw)

    return edit


# -- §3 verdicts only from signed bytes ------------------------------------------------------


def _revoked_good(w: World) -> tuple[ocspkit.OCSPResponse, ocspkit.OCSPResponse, x509.Certificate]:
    """A genuine REVOKED and a genuine GOOD for the *same* certificate."""
    cert = w.revoked_leaf.cert
    revoked = by_issuer(w, single(cert, w.ca.issuer, CertStatus.REVOKED))
    good = by_issuer(w, single(cert, w.ca.issuer))
    return revoked, good, cert


EDITS = [
    "responses",
    "certificates",
    "status",
    "produced_at",
    "nonce",
    "signature",
    "tbs_response_data",
    "spliced",
]


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_model_never_turns_revoked_into_good(w: World, edit: str) -> None:
    revoked, good, cert = _revoked_good(w)
    changes: dict[str, object] = {
        "responses": {"responses": good.responses},
        "certificates": {"certificates": (w.ca.issuer, w.leaf.cert)},
        "status": {"status": ocspkit.ResponseStatus.TRY_LATER},
        "produced_at": {"produced_at": NOW - timedelta(days=400)},
        "nonce": {"nonce": b"\x00" * 16},
        "signature": {"signature": good.signature},
        "tbs_response_data": {"tbs_response_data": good.tbs_response_data},
        "spliced": {
            "responses": good.responses,
            "tbs_response_data": good.tbs_response_data,
            "signature": good.signature,
        },
    }[edit]
    edited = dataclasses.replace(revoked, **changes)  # type: ignore[arg-type]
    _not_good(lambda: ocspkit.validate_response(edited, cert, w.ca.issuer, now=LATER))


def test_pickled_and_hand_built_models_keep_the_signed_verdict(w: World) -> None:
    revoked, good, cert = _revoked_good(w)
    again = pickle.loads(pickle.dumps(revoked))
    assert ocspkit.validate_response(again, cert, w.ca.issuer, now=LATER).revoked
    fields = {f.name: getattr(good, f.name) for f in dataclasses.fields(good)}
    fields["der"] = revoked.der
    forged = ocspkit.OCSPResponse(**fields)
    _not_good(lambda: ocspkit.validate_response(forged, cert, w.ca.issuer, now=LATER))
    fields["der"] = b""
    empty = ocspkit.OCSPResponse(**fields)
    with pytest.raises(ocspkit.OCSPError):
        ocspkit.validate_response(empty, cert, w.ca.issuer, now=LATER)


# -- §4 the issuer is proved -----------------------------------------------------------------


def test_same_name_issuer_with_the_attackers_key(w: World) -> None:
    attacker = CA("ecdsa", name=w.ca.name)
    assert attacker.issuer.subject == w.ca.issuer.subject
    resp = ocspkit.build_response(
        single(w.leaf.cert, attacker.issuer),
        responder_cert=attacker.issuer,
        responder_key=attacker.issuer_key,
        produced_at=NOW,
    )
    with pytest.raises(ocspkit.IssuerSignatureError):
        ocspkit.validate_response(resp, w.leaf.cert, attacker.issuer, now=LATER)
    assert issubclass(ocspkit.IssuerSignatureError, ocspkit.IssuerMismatchError)
    off = ValidationPolicy(verify_issuer_signature=False)
    assert ocspkit.validate_response(resp, w.leaf.cert, attacker.issuer, now=LATER, policy=off).good
    assert ValidationPolicy().verify_issuer_signature is True
    assert ocspkit.validate_response(w.good, w.leaf.cert, w.ca.issuer, now=LATER).good


def test_same_name_issuer_through_check(tmp_path: object) -> None:
    victim = CA("ecdsa")
    leaf = victim.issue("victim.test", ocsp_url="")
    index = victim.write_index(f"{tmp_path}/index.txt")
    attacker = CA("ecdsa", name=victim.name)
    with Responder(attacker, index_file=index) as responder:
        with pytest.raises(ocspkit.IssuerSignatureError):
            ocspkit.check(
                leaf.cert,
                attacker.issuer,
                url=responder.url,
                config=ocspkit.ClientConfig(retries=0),
            )
        off = ValidationPolicy(verify_issuer_signature=False)
        got = ocspkit.check(leaf.cert, attacker.issuer, url=responder.url, policy=off)
        assert got.good


# -- §5 strict where the signed content is malformed -----------------------------------------


def test_delegate_with_differing_inner_and_outer_signature_algorithms(w: World) -> None:
    delegate = w.ca.issue_responder()
    inner = x509.load_der_x509_certificate(
        craft.resign_cert(delegate.cert, w.ca.issuer_key, _tbs_sig_alg("sha384_ecdsa"))
    )
    assert inner.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2"
    resp = ocspkit.build_response(
        single(w.leaf.cert, w.ca.issuer),
        responder_cert=inner,
        responder_key=delegate.key,
        produced_at=NOW,
        certificates=[inner],
    )
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER)


def _tbs_sig_alg(name: str) -> object:
    from asn1crypto import algos

    return craft.set_field("signature", algos.SignedDigestAlgorithm({"algorithm": name}).dump())


def test_content_inside_the_null_of_good(w: World) -> None:
    parts = craft.single_parts(w.good.der)
    assert parts["cert_status"] == b"\x80\x00"
    for status in (b"\x80\x00", b"\x80\x01\x00", b"\x80\x02\x05\x00"):
        body = parts["cert_id"] + status + parts["this_update"] + parts["next_update"]
        tbs = craft.tlv(
            0x30,
            parts["responder_id"] + parts["produced_at"] + craft.tlv(0x30, craft.tlv(0x30, body)),
        )
        der = craft.sign_tbs(tbs, w.ca.issuer_key)
        got = outcome(
            lambda d=der: ocspkit.validate_response(d, w.leaf.cert, w.ca.issuer, now=LATER)
        )  # type: ignore[misc]
        if status == b"\x80\x00":
            assert got.good  # the control: same bytes, well-formed NULL
        else:
            assert isinstance(got, ocspkit.DecodeError), got


@pytest.fixture(scope="module")
def rsa_world() -> World:
    return world("rsa")


@pytest.mark.parametrize(
    "mgf, policy, expect",
    [
        ("sha256", ValidationPolicy(), None),
        ("md5", ValidationPolicy(), ocspkit.WeakAlgorithmError),
        ("md5", ValidationPolicy(allow_sha1_signatures=True), ocspkit.WeakAlgorithmError),
        ("sha1", ValidationPolicy(allow_sha1_signatures=False), ocspkit.WeakAlgorithmError),
    ],
)
def test_pss_mgf1_hash_is_checked(
    rsa_world: World, mgf: str, policy: ValidationPolicy, expect: type[Exception] | None
) -> None:
    w = rsa_world
    der = craft.resign(by_issuer(w).der, w.ca.issuer_key, pss_mgf=mgf)
    if expect is None:
        assert ocspkit.validate_response(
            der, w.leaf.cert, w.ca.issuer, now=LATER, policy=policy
        ).good
    else:
        with pytest.raises(expect):
            ocspkit.validate_response(der, w.leaf.cert, w.ca.issuer, now=LATER, policy=policy)


@pytest.mark.parametrize("side", ["before-not-before", "after-not-after"])
def test_produced_at_outside_the_certificates_validity(w: World, side: str) -> None:
    if side == "before-not-before":
        leaf = w.ca.issue("future.test", ocsp_url="", not_before=NOW + timedelta(days=2))
        produced, now = NOW + timedelta(days=1), NOW + timedelta(days=3)
    else:
        leaf = w.ca.issue(
            "expired.test",
            ocsp_url="",
            not_before=NOW - timedelta(days=10),
            not_after=NOW - timedelta(days=1),
        )
        produced, now = NOW, NOW + timedelta(hours=1)
    s = single(
        leaf.cert, w.ca.issuer, this_update=produced, next_update=produced + timedelta(days=10)
    )
    resp = by_issuer(w, s, produced_at=produced)
    with pytest.raises(ocspkit.ProducedAtError):
        ocspkit.validate_response(resp, leaf.cert, w.ca.issuer, now=now)
    allow = ValidationPolicy(allow_produced_outside_validity=True)
    assert ocspkit.validate_response(resp, leaf.cert, w.ca.issuer, now=now, policy=allow).good
    assert ValidationPolicy().allow_produced_outside_validity is False


# -- §6 contradictions resolve to the strictest signed status --------------------------------

G, R, U = CertStatus.GOOD, CertStatus.REVOKED, CertStatus.UNKNOWN


@pytest.mark.parametrize(
    "statuses, expect, contradicted",
    [
        ((G,), G, False),
        ((G, G), G, False),
        ((R, R), R, False),
        ((G, R), R, True),
        ((R, G), R, True),
        ((G, U), U, True),
        ((U, G), U, True),
        ((U, R), R, True),
        ((R, U), R, True),
        ((G, U, R), R, True),
    ],
)
def test_contradictions_resolve_to_the_strictest(
    w: World, statuses: tuple[CertStatus, ...], expect: CertStatus, contradicted: bool
) -> None:
    resp = by_issuer(w, *(single(w.leaf.cert, w.ca.issuer, s) for s in statuses))
    result = ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER)
    assert result.status is expect
    assert result.contradicted is contradicted


# -- §7 tolerate what no decision depends on -------------------------------------------------

CT_OID = "1.3.6.1.4.1.11129.2.4.5"
CRL_REASON_OID = "2.5.29.21"
BAD_VALUES = {
    "ct-garbage": (CT_OID, b"\xff\xff\x00"),
    "ct-bad-list": (CT_OID, b"\x04\x04\x00\x10\x00\x01"),
    "reason-enum-99": (CRL_REASON_OID, b"\x0a\x01\x63"),
    "reason-garbage": (CRL_REASON_OID, b"\x02\x05\x01"),
}


@pytest.mark.parametrize("where", ["single", "response"])
@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_undecodable_non_critical_extension_is_kept_raw(w: World, where: str, bad: str) -> None:
    ext = Extension(BAD_VALUES[bad][0], False, BAD_VALUES[bad][1])
    # ocspkit's encoder writes extension values as given (asn1crypto would parse them)
    if where == "single":
        built = by_issuer(w, single(w.leaf.cert, w.ca.issuer, extensions=(ext,)))
    else:
        built = by_issuer(w, extensions=[ext])
    resp = ocspkit.parse_response(built.der)
    exts = resp.responses[0].extensions if where == "single" else resp.extensions
    assert exts == (ext,)
    assert ocspkit.validate_response(resp, w.leaf.cert, w.ca.issuer, now=LATER).good


_JUNK = [b"", b"\x30", b"\x30\x80", b"\x30\x03\x0a\x01", b"\x30\x05\x0a\x01\x00\xa0\x00"]


def _leaky(message: str) -> str | None:
    if re.search(r"(\\x[0-9a-fA-F]{2}){5,}", message) or re.search(r"b'[^']{12,}'", message):
        return "byte dump"
    m = re.search(
        r"asn1crypto|ParsableOctetString|OctetString|Asn1Value|SequenceOf|tag should have been|"
        r"while parsing|Insufficient data",
        message,
    )
    return m.group(0) if m else None


def test_error_messages_do_not_leak_decoder_internals(w: World) -> None:
    genuine = [w.good.der, w.revoked.der, ocspkit.build_request(w.leaf.cert, w.ca.issuer).der]
    inputs = list(_JUNK)
    for der in genuine:
        inputs += [der[:n] for n in range(1, len(der), 7)]
        inputs += [der[:i] + bytes([der[i] ^ 0x5A]) + der[i + 1 :] for i in range(0, len(der), 11)]
    messages = []
    for data in inputs:
        for call in (
            lambda d=data: ocspkit.parse_response(d),  # type: ignore[misc]
            lambda d=data: ocspkit.parse_request(d),  # type: ignore[misc]
            lambda d=data: ocspkit.load_certificates(d),  # type: ignore[misc]
            lambda d=data: ocspkit.validate_response(d, w.leaf.cert, w.ca.issuer, now=LATER),  # type: ignore[misc]
        ):
            got = outcome(call)
            if isinstance(got, ocspkit.OCSPError):
                messages.append(str(got))
    assert len(messages) > 100
    leaks = {m for m in messages if _leaky(m)}
    assert not leaks, sorted(leaks)[:5]


@pytest.mark.parametrize("value", [4, 7, 99, 127])
def test_unknown_response_status_prints_its_value(w: World, value: int) -> None:
    der = craft.tlv(0x30, craft.tlv(0x0A, bytes([value])))
    for call in (
        lambda: ocspkit.parse_response(der),
        lambda: ocspkit.validate_response(der, w.leaf.cert, w.ca.issuer, now=LATER),
    ):
        with pytest.raises((ocspkit.DecodeError, ocspkit.ResponderError)) as info:
            call()
        assert re.search(rf"\b{value}\b", str(info.value)), str(info.value)


# -- §8 post-quantum signatures --------------------------------------------------------------

ML_DSA = {
    "ML-DSA-44": mldsa.MLDSA44PrivateKey,
    "ML-DSA-65": mldsa.MLDSA65PrivateKey,
    "ML-DSA-87": mldsa.MLDSA87PrivateKey,
}


def _cert(
    subject: str,
    key: object,
    issuer: x509.Certificate | None,
    issuer_key: object,
    *,
    ca: bool,
    eku: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.OCSP_SIGNING]), False)
    return b.sign(issuer_key, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", sorted(ML_DSA))
@pytest.mark.parametrize("signer", ["issuer", "delegated"])
def test_ml_dsa_responses_and_certificates_verify(alg: str, signer: str) -> None:
    gen = ML_DSA[alg].generate
    root_key, issuer_key, leaf_key = gen(), gen(), gen()
    root = _cert("pq root", root_key, None, root_key, ca=True)
    issuer = _cert("pq issuer", issuer_key, root, root_key, ca=True)
    leaf = _cert("pq leaf", leaf_key, issuer, issuer_key, ca=False)
    responder_cert, responder_key, embed = issuer, issuer_key, []
    if signer == "delegated":
        responder_key = gen()
        responder_cert = _cert(
            "pq responder", responder_key, issuer, issuer_key, ca=False, eku=True
        )
        embed = [responder_cert]
    resp = ocspkit.build_response(
        single(leaf, issuer),
        responder_cert=responder_cert,
        responder_key=responder_key,  # type: ignore[arg-type]
        produced_at=NOW,
        certificates=embed,
        signature_hash=None,
    )
    result = ocspkit.validate_response(resp.der, leaf, issuer, now=LATER)
    assert result.good and result.delegated is (signer == "delegated")
    tampered = bytearray(resp.der)
    tampered[-len(embed[0].public_bytes(craft.Encoding.DER)) - 40 if embed else -40] ^= 1
    got = outcome(lambda: ocspkit.validate_response(bytes(tampered), leaf, issuer, now=LATER))
    assert isinstance(got, ocspkit.OCSPError)


@pytest.mark.parametrize("alg_oid", [craft.OID_SLH_DSA, craft.OID_GOST_SIG, "1.2.3.4.5.6.7"])
def test_unsupported_signature_algorithm_names_its_oid(w: World, alg_oid: str) -> None:
    alg = craft.tlv(0x30, craft.oid(alg_oid))
    der = craft.assemble(craft.tbs_of(w.good.der), alg, b"\x01" * 64)
    with pytest.raises(ocspkit.SignatureError, match=re.escape(alg_oid)):
        ocspkit.validate_response(der, w.leaf.cert, w.ca.issuer, now=LATER)


# -- §1 the fast and tolerant decoders, as a property ----------------------------------------

_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    w = world("ecdsa")
    which = draw(st.sampled_from(["good", "revoked"]))
    data = bytearray(w.good.der if which == "good" else w.revoked.der)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i : i + draw(st.integers(1, 4))]
        if not data:
            data = bytearray(b"\x30")
    return bytes(data), which


@_PROPERTY
@given(_mutated())
def test_any_accepted_input_gives_the_verdict_of_its_der(case: tuple[bytes, str]) -> None:
    data, which = case
    w = world("ecdsa")
    cert = w.leaf.cert if which == "good" else w.revoked_leaf.cert
    model = outcome(lambda: ocspkit.parse_response(data))
    if isinstance(model, ocspkit.OCSPError):
        assert isinstance(model, ocspkit.DecodeError)
        return
    check = lambda m: verdict(lambda: ocspkit.validate_response(m, cert, w.ca.issuer, now=LATER))  # noqa: E731
    first = check(model)
    assert first == check(ocspkit.parse_response(model.der)) == check(data)
    assert first == check(pickle.loads(pickle.dumps(model)))
    if first == "GOOD":
        assert which == "good" and craft.tbs_of(data) == craft.tbs_of(w.good.der)


_TIMES = st.datetimes(
    min_value=datetime(1950, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.just(timezone.utc),
)
_EXT = st.builds(
    Extension,
    st.sampled_from(
        [
            CT_OID,
            CRL_REASON_OID,
            "2.5.29.24",
            "1.3.6.1.5.5.7.48.1.6",
            "1.3.6.1.4.1.99999.1",
            "1.2.3",
        ]
    ),
    st.booleans(),
    st.binary(max_size=40),
)


@_PROPERTY
@given(
    status=st.sampled_from(list(CertStatus)),
    this_update=_TIMES,
    next_update=st.none() | _TIMES,
    revocation_time=_TIMES,
    reason=st.none() | st.sampled_from(list(ocspkit.RevocationReason)),
    serial=st.integers(0, 2**159),
    hash_algorithm=st.sampled_from(ocspkit.HASH_ALGORITHMS),
    single_exts=st.lists(_EXT, max_size=4, unique_by=lambda e: e.oid),
    response_exts=st.lists(_EXT, max_size=4, unique_by=lambda e: e.oid),
)
def test_build_response_output_always_parses(
    status: CertStatus,
    this_update: datetime,
    next_update: datetime | None,
    revocation_time: datetime,
    reason: ocspkit.RevocationReason | None,
    serial: int,
    hash_algorithm: str,
    single_exts: list[Extension],
    response_exts: list[Extension],
) -> None:
    w = world("ecdsa")
    cid = ocspkit.cert_id(w.leaf.cert, w.ca.issuer, hash_algorithm)
    revoked = status is CertStatus.REVOKED
    s = ocspkit.SingleResponse(
        dataclasses.replace(cid, serial_number=serial),
        status,
        this_update,
        next_update,
        revocation_time if revoked else None,
        reason if revoked else None,
        tuple(single_exts),
    )
    built = by_issuer(w, s, extensions=response_exts)
    again = ocspkit.parse_response(built.der).responses[0]
    assert again.cert_id == s.cert_id and again.status is status
    assert again.this_update == this_update.replace(microsecond=0)
    assert again.extensions == s.extensions
    assert ocspkit.parse_response(built.der).extensions == tuple(response_exts)


def test_helpers_are_sound(w: World) -> None:
    """The crafting helpers reproduce genuine bytes exactly (so a failure above is real)."""
    parts = craft.single_parts(w.good.der)
    body = b"".join(parts[k] for k in ("cert_id", "cert_status", "this_update", "next_update"))
    rebuilt = craft.tlv(
        0x30, parts["responder_id"] + parts["produced_at"] + craft.tlv(0x30, craft.tlv(0x30, body))
    )
    assert rebuilt == craft.tbs_of(w.good.der)
    assert craft.tbs_of(craft.resign(w.good.der, w.ca.issuer_key)) == craft.tbs_of(w.good.der)
    assert ocspkit.validate_response(
        craft.resign(w.good.der, w.ca.issuer_key), w.leaf.cert, w.ca.issuer, now=LATER
    ).good
    assert ocspkit.validate_response(
        craft.with_certs(w.good.der, []), w.leaf.cert, w.ca.issuer, now=LATER
    ).good
    assert isinstance(core.Sequence.load(craft.der_of(w.leaf.cert)), core.Sequence)
