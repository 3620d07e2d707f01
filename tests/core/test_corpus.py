"""Every third-party vector in tests/vectors/ against its expected verdict.

The verdicts are the "Expected verdicts" rows of each folder's README (and, for openssl, the rows
of ``expected-80-test_ocsp.tsv``, which this module reads).

Responses from real CAs and other projects' test suites, validated "as of" the READMEs'
times. Where a README gives no end-entity certificate, a stand-in with the response's
serial number is made (validate_response matches the CertID; it does not path-validate).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import ocspkit
from ocspkit import CertStatus, ResponseStatus, RevocationReason

CORPUS = Path(__file__).resolve().parents[1] / "vectors"

OSSL = CORPUS / "openssl-ocsp-tests"
RC = CORPUS / "rustcrypto-x509-ocsp"
GO = CORPUS / "golang-x-crypto-ocsp"
BC = CORPUS / "bouncycastle-ocsp"
AWS = CORPUS / "aws-lc-ocsp"
PH = CORPUS / "pyhanko-certvalidator"


def at(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def ors(name: str) -> bytes:
    return base64.b64decode((OSSL / name).read_text())


def cert(path: Path) -> x509.Certificate:
    return ocspkit.load_certificate(path)


def stand_in(serial: int, issuer: x509.Certificate) -> x509.Certificate:
    """A certificate with ``serial`` under ``issuer``'s name (signed by a throwaway key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime(2000, 1, 1, tzinfo=timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=20000))
        .sign(key, hashes.SHA256())
    )


def stand_in_policy(policy: ocspkit.ValidationPolicy | None = None) -> ocspkit.ValidationPolicy:
    """The policy for a stand-in: its issuer cannot be proved (a throwaway key signed it), so
    the issuer-signature check is off; every check of the response itself stays on."""
    return dataclasses.replace(policy or ocspkit.ValidationPolicy(), verify_issuer_signature=False)


def validate_for_serial(der: bytes, issuer: x509.Certificate, now: datetime, **kw: object):  # type: ignore[no-untyped-def]
    resp = ocspkit.parse_response(der)
    serial = resp.responses[0].cert_id.serial_number
    kw["policy"] = stand_in_policy(kw.get("policy"))  # type: ignore[arg-type]
    return ocspkit.validate_response(resp, stand_in(serial, issuer), issuer, now=now, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# openssl test/recipes/80-test_ocsp.t: all 59 rows
# ---------------------------------------------------------------------------------------------

_SUBJECT = {
    "ND1": "ND1_Cert_EE.pem",
    "ND2": "ND2_Cert_ICA.pem",
    "ND3": "ND3_Cert_EE.pem",
    "D1": "D1_Cert_EE.pem",
    "D2": "D2_Cert_ICA.pem",
    "D3": "D3_Cert_EE.pem",
}


def _as_of(response: str) -> datetime:
    prefix, _, base = response.removesuffix(".ors").rpartition("_")
    delegated = base.startswith("D")
    if not prefix:
        return at("2012-10-23T11:00Z") if delegated else at("2012-10-12T00:00Z")
    if prefix == "ISOP":
        return at("2012-10-10T14:00Z") if delegated else at("2012-10-12T00:00Z")
    if prefix in ("WINH", "WIKH"):
        return at("2012-10-11T15:00Z") if delegated else at("2012-10-12T00:00Z")
    return at("2012-10-11T14:00Z") if delegated else at("2012-10-12T00:00Z")


def _trusted_issuer(
    subject: x509.Certificate, trusted: list[x509.Certificate], untrusted: list[x509.Certificate]
) -> x509.Certificate:
    """The issuer of ``subject`` among the given certificates, and that it is trusted: a trust
    anchor itself, or issued (signature checked) by one. Mirrors `openssl ocsp -CAfile`."""
    issuer = ocspkit.find_issuer(subject, [*trusted, *untrusted])
    current = issuer
    for _ in range(5):
        if current in trusted or any(ocspkit.is_issued_by(current, t) for t in trusted):
            return issuer
        current = ocspkit.find_issuer(current, untrusted)  # one more untrusted step up
    raise ocspkit.IssuerNotFoundError("the issuer does not chain to a trust anchor")


def _tsv_rows() -> list[dict[str, str]]:
    with (OSSL / "expected-80-test_ocsp.tsv").open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_tsv_has_59_rows() -> None:
    assert len(_tsv_rows()) == 59


@pytest.mark.parametrize(
    "row", _tsv_rows(), ids=lambda r: f"{r['response']}-{r['CAfile(trusted)']}-{r['untrusted_opt']}"
)
def test_openssl_80_test_ocsp(row: dict[str, str]) -> None:
    response = row["response"]
    base = response.removesuffix(".ors").rpartition("_")[2]
    subject = cert(OSSL / _SUBJECT[base])
    trusted = ocspkit.load_certificates(OSSL / row["CAfile(trusted)"])
    untrusted = ocspkit.load_certificates(OSSL / row["untrusted"])
    now = _as_of(response)
    if row["expected_exit"] == "0":
        issuer = _trusted_issuer(subject, trusted, untrusted)
        result = ocspkit.validate_response(ors(response), subject, issuer, now=now)
        assert result.status is CertStatus.GOOD
        assert result.delegated is base.startswith("D")
    else:
        with pytest.raises(ocspkit.OCSPError):
            issuer = _trusted_issuer(subject, trusted, untrusted)
            ocspkit.validate_response(ors(response), subject, issuer, now=now)


# Specific failure reasons for the byte-edited openssl vectors.
@pytest.mark.parametrize(
    ("response", "error"),
    [
        *[
            (f"ISOP_{b}.ors", ocspkit.SignatureError)
            for b in ("ND1", "ND2", "ND3", "D1", "D2", "D3")
        ],
        *[
            (f"WRID_{b}.ors", ocspkit.SignerNotFoundError)
            for b in ("ND1", "ND2", "ND3", "D1", "D2", "D3")
        ],
        *[
            (f"WINH_{b}.ors", ocspkit.NoMatchingResponseError)
            for b in ("ND1", "ND2", "ND3", "D1", "D2", "D3")
        ],
        *[
            (f"WIKH_{b}.ors", ocspkit.NoMatchingResponseError)
            for b in ("ND1", "ND2", "ND3", "D1", "D2", "D3")
        ],
        *[(f"ISDOSC_{b}.ors", ocspkit.UnauthorizedResponderError) for b in ("D1", "D2", "D3")],
    ],
)
def test_openssl_vectors_fail_for_the_right_reason(response: str, error: type[Exception]) -> None:
    base = response.removesuffix(".ors").rpartition("_")[2]
    issuer_file = {
        "ND1": "ND1_Issuer_ICA.pem",
        "ND2": "ND2_Issuer_Root.pem",
        "ND3": "ND3_Issuer_Root.pem",
        "D1": "D1_Issuer_ICA.pem",
        "D2": "D2_Issuer_Root.pem",
        "D3": "D3_Issuer_Root.pem",
    }[base]
    with pytest.raises(error):
        ocspkit.validate_response(
            ors(response),
            cert(OSSL / _SUBJECT[base]),
            cert(OSSL / issuer_file),
            now=_as_of(response),
        )


def test_wkdosc_wrong_key_in_delegated_cert_fails() -> None:
    for base in ("D1", "D2", "D3"):
        issuer = cert(
            OSSL
            / {"D1": "D1_Issuer_ICA.pem", "D2": "D2_Issuer_Root.pem", "D3": "D3_Issuer_Root.pem"}[
                base
            ]
        )
        with pytest.raises(ocspkit.ValidationError):
            ocspkit.validate_response(
                ors(f"WKDOSC_{base}.ors"),
                cert(OSSL / _SUBJECT[base]),
                issuer,
                now=at("2012-10-11T14:00Z"),
            )


def test_nd3_stale_a_year_later() -> None:
    """pyhanko's openssl-ocsp.json stale case: ND3 at 2013-10-12 is not recent enough."""
    with pytest.raises(ocspkit.ExpiredResponseError):
        ocspkit.validate_response(
            ors("ND3.ors"),
            cert(OSSL / "ND3_Cert_EE.pem"),
            cert(OSSL / "ND3_Issuer_Root.pem"),
            now=at("2013-10-12T00:00Z"),
        )


def test_d3_byname_responder_without_nocheck() -> None:
    r = ocspkit.validate_response(
        ors("D3.ors"),
        cert(OSSL / "D3_Cert_EE.pem"),
        cert(OSSL / "D3_Issuer_Root.pem"),
        now=at("2012-10-23T11:00Z"),
    )
    assert r.status is CertStatus.GOOD and r.delegated
    assert r.response.responder_id is not None and r.response.responder_id.name is not None


def test_openssl_tls_staple_fixture_parse_only() -> None:
    r = ocspkit.parse_response((OSSL / "ocsp-response.der").read_bytes())
    assert r.status is ResponseStatus.SUCCESSFUL
    (s,) = r.responses
    assert s.status is CertStatus.UNKNOWN and s.cert_id.serial_number == 2 and s.next_update is None
    assert r.nonce is not None
    assert r.responder_id is not None and r.responder_id.name is not None
    assert r.responder_id.name.rfc4514_string() == "CN=Root CA"
    assert len(r.certificates) == 1
    assert r.produced_at == at("2025-10-21T09:47:44Z")


# ---------------------------------------------------------------------------------------------
# pyhanko-certvalidator (certomancer)
# ---------------------------------------------------------------------------------------------

FRESH = PH / "freshness"


@pytest.mark.parametrize(
    ("name", "now", "status"),
    [
        ("alice-2020-10-01.ors", "2020-10-01T00:05Z", CertStatus.GOOD),
        ("alice-2020-11-29.ors", "2020-11-29T00:05Z", CertStatus.GOOD),
        ("alice-2020-12-10.ors", "2020-12-10T00:05Z", CertStatus.REVOKED),
    ],
)
def test_pyhanko_freshness(name: str, now: str, status: CertStatus) -> None:
    r = ocspkit.validate_response(
        (FRESH / name).read_bytes(),
        cert(FRESH / "certs" / "alice.crt"),
        cert(FRESH / "certs" / "interm.crt"),
        now=at(now),
    )
    assert r.status is status and r.delegated
    assert r.cert_id.hash_algorithm == "sha256"
    if status is CertStatus.REVOKED:
        assert r.revocation_reason is RevocationReason.KEY_COMPROMISE
        assert r.revocation_time == at("2020-12-01T00:00Z")


def test_pyhanko_postdated_response_is_rejected() -> None:
    with pytest.raises((ocspkit.NotYetValidError, ocspkit.ProducedAtError)):
        ocspkit.validate_response(
            (FRESH / "alice-2020-12-10.ors").read_bytes(),
            cert(FRESH / "certs" / "alice.crt"),
            cert(FRESH / "certs" / "interm.crt"),
            now=at("2020-11-29T00:05Z"),
        )


def test_pyhanko_ten_minute_window_expires() -> None:
    with pytest.raises(ocspkit.ExpiredResponseError):
        ocspkit.validate_response(
            (FRESH / "alice-2020-10-01.ors").read_bytes(),
            cert(FRESH / "certs" / "alice.crt"),
            cert(FRESH / "certs" / "interm.crt"),
            now=at("2020-10-01T00:30Z"),
        )


@pytest.mark.parametrize(
    ("resp", "subject", "issuer"),
    [
        ("ocsp-resp-alice.der", "alice.cert.pem", "interm.cert.pem"),
        ("ocsp-resp-interm.der", "interm.cert.pem", "root.cert.pem"),
    ],
)
def test_pyhanko_fractional_seconds(resp: str, subject: str, issuer: str) -> None:
    d = PH / "multitasking-ocsp"
    r = ocspkit.validate_response(
        (d / resp).read_bytes(), cert(d / subject), cert(d / issuer), now=at("2021-08-19T12:20:44Z")
    )
    assert r.status is CertStatus.GOOD and r.delegated


def test_pyhanko_same_serial_other_issuer_does_not_match() -> None:
    """alice and interm share serial 1001: alice's response must not answer for interm."""
    d = PH / "multitasking-ocsp"
    with pytest.raises(ocspkit.NoMatchingResponseError):
        ocspkit.validate_response(
            (d / "ocsp-resp-alice.der").read_bytes(),
            cert(d / "interm.cert.pem"),
            cert(d / "root.cert.pem"),
            now=at("2021-08-19T12:20:44Z"),
        )


# ---------------------------------------------------------------------------------------------
# RustCrypto x509-ocsp
# ---------------------------------------------------------------------------------------------


def rc_ca() -> x509.Certificate:
    return cert(RC / "rsa-2048-sha256-ca.der")


def test_rc_revoked_delegated() -> None:
    r = validate_for_serial(
        (RC / "rsa-2048-sha256-revoked-ocsp-res.der").read_bytes(), rc_ca(), at("2023-11-06T00:00Z")
    )
    assert r.status is CertStatus.REVOKED and r.delegated
    assert r.cert_id.serial_number == 3
    assert r.revocation_time == at("2023-11-05T01:09:45Z") and r.revocation_reason is None


@pytest.mark.parametrize(
    "name", ["sha1-certid-ocsp-res.der", "sha256-certid-ocsp-res.der", "sha512-certid-ocsp-res.der"]
)
def test_rc_byname_responder_but_ca_signed_is_rejected(name: str) -> None:
    """ResponderID names the OCSP cert, yet the CA key signed: a lenient validator says GOOD."""
    with pytest.raises(ocspkit.SignerNotFoundError):
        validate_for_serial((RC / name).read_bytes(), rc_ca(), at("2020-01-01T00:00Z"))


def test_rc_multiple_responses_parse_all_eight() -> None:
    r = ocspkit.parse_response((RC / "ocsp-multiple-responses-res.der").read_bytes())
    assert len(r.responses) == 8
    algs = {s.cert_id.hash_algorithm for s in r.responses}
    assert {"sha1", "sha224", "sha256", "sha384", "sha512"} <= algs
    assert {5, 0x16, 0xFFFFFFFF} <= {s.cert_id.serial_number for s in r.responses}


def test_rc_multiple_exts() -> None:
    r = ocspkit.parse_response((RC / "ocsp-multiple-exts-res.der").read_bytes())
    assert r.nonce is not None
    assert sum(len(s.extensions) for s in r.responses) >= 2


def test_rc_delegated_signer_not_embedded_supplied_but_not_valid_at_produced_at() -> None:
    ocsp_crt = cert(RC / "rsa-2048-sha256-ocsp-crt.der")
    der = (RC / "ocsp-dtm-no-chain-res.der").read_bytes()
    with pytest.raises(ocspkit.SignerNotFoundError):  # without the certificate: nobody to trust
        validate_for_serial(der, rc_ca(), at("2023-11-06T00:00Z"))
    with pytest.raises(ocspkit.ValidationError):
        validate_for_serial(der, rc_ca(), at("2023-11-06T00:00Z"), extra_certs=[ocsp_crt])


def test_rc_bykey_matching_no_cert() -> None:
    with pytest.raises(ocspkit.SignerNotFoundError):
        validate_for_serial(
            (RC / "ocsp-by-key-res.der").read_bytes(),
            rc_ca(),
            at("2023-11-06T00:00Z"),
            extra_certs=[cert(RC / "rsa-2048-sha256-ocsp-crt.der")],
        )


def test_rc_dod_twenty_responses() -> None:
    r = ocspkit.parse_response((RC / "DODEMAILCA_63-resp.der").read_bytes())
    assert len(r.responses) == 20
    by_serial = {s.cert_id.serial_number: s for s in r.responses}
    assert by_serial[0x7AB85].status is CertStatus.GOOD
    assert by_serial[0x7AB86].status is CertStatus.REVOKED
    assert by_serial[0x7AB86].revocation_reason is RevocationReason.KEY_COMPROMISE
    assert by_serial[0x7AB87].revocation_reason is RevocationReason.SUPERSEDED
    assert r.produced_at == at("2023-11-07T18:42:37Z")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ocsp-malformed.der", ResponseStatus.MALFORMED_REQUEST),
        ("ocsp-internal-error.der", ResponseStatus.INTERNAL_ERROR),
        ("ocsp-try-later.der", ResponseStatus.TRY_LATER),
        ("ocsp-sig-required.der", ResponseStatus.SIG_REQUIRED),
        ("ocsp-unauthorized.der", ResponseStatus.UNAUTHORIZED),
    ],
)
def test_rc_error_statuses(name: str, status: ResponseStatus) -> None:
    der = (RC / name).read_bytes()
    assert ocspkit.parse_response(der).status is status
    with pytest.raises(ocspkit.ResponderError) as exc:
        ocspkit.validate_response(der, rc_ca(), rc_ca())
    assert exc.value.status is status


@pytest.mark.parametrize("alg", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_rc_certid_requests(alg: str) -> None:
    req = ocspkit.parse_request((RC / f"{alg}-certid-ocsp-req.der").read_bytes())
    (cid,) = req.cert_ids
    assert cid.hash_algorithm == alg
    expected = ocspkit.cert_id(stand_in(cid.serial_number, rc_ca()), rc_ca(), alg)
    assert cid == expected


def test_rc_other_requests() -> None:
    multi = ocspkit.parse_request((RC / "ocsp-multiple-requests-req.der").read_bytes())
    assert len(multi.cert_ids) == 8 and multi.nonce is None
    multi_n = ocspkit.parse_request((RC / "ocsp-multiple-requests-nonce-req.der").read_bytes())
    assert len(multi_n.cert_ids) == 8 and multi_n.nonce is not None
    exts = ocspkit.parse_request((RC / "ocsp-multiple-exts-clean-req.der").read_bytes())
    assert exts.nonce is not None and len(exts.extensions) >= 2
    signed = ocspkit.parse_request((RC / "ocsp-signed-req.der").read_bytes())
    assert signed.signed and signed.certificates[0] == cert(RC / "rsa-2048-sha256-crt.der")


# ---------------------------------------------------------------------------------------------
# golang/crypto ocsp
# ---------------------------------------------------------------------------------------------


def test_go_gts1c3_good() -> None:
    r = validate_for_serial(
        (GO / "gts1c3-good-resp.der").read_bytes(),
        cert(GO / "gts-ca-1c3.pem"),
        at("2021-11-08T00:00Z"),
    )
    assert r.status is CertStatus.GOOD and not r.delegated


def test_go_comodo_without_certs_good() -> None:
    r = validate_for_serial(
        (GO / "resp-without-cert.der").read_bytes(),
        cert(OSSL / "ND1_Issuer_ICA.pem"),
        at("2013-06-19T00:00Z"),
    )
    assert r.status is CertStatus.GOOD


def test_go_startcom_delegated_nocheck_inside_eku() -> None:
    r = validate_for_serial(
        (GO / "old-startcom-delegated-good-resp.der").read_bytes(),
        cert(GO / "startcom-cert.der"),
        at("2010-07-07T18:00Z"),
    )
    assert r.status is CertStatus.GOOD and r.delegated


def test_go_multi_resp() -> None:
    r = ocspkit.parse_response((GO / "old-multi-resp.der").read_bytes())
    assert len(r.responses) == 20
    leaf = cert(GO / "old-multi-resp-cert.der")
    matches = [s for s in r.responses if s.cert_id.serial_number == leaf.serial_number]
    assert len(matches) == 1 and matches[0].status is CertStatus.GOOD
    # Matching is by full CertID, never by serial alone (Go's mistake): the same serial under
    # another issuer finds nothing.
    startcom = cert(GO / "startcom-cert.der")
    with pytest.raises(ocspkit.NoMatchingResponseError):
        ocspkit.validate_response(
            r,
            stand_in(leaf.serial_number, startcom),
            startcom,
            now=at("2015-06-02T12:00Z"),
            policy=stand_in_policy(),
        )


def test_go_explicit_default_version_and_produced_after_next_update() -> None:
    der = (GO / "resp-nonce-ext.der").read_bytes()
    r = ocspkit.parse_response(der)
    assert r.responses[0].status is CertStatus.REVOKED
    responder = cert(GO / "responder-cert.der")
    policy = ocspkit.ValidationPolicy(
        trusted_responders=(responder,), check_responder_validity=False
    )
    for now in ("2010-07-07T16:00Z", "2016-01-04T17:00Z"):
        with pytest.raises(ocspkit.ValidationError):
            validate_for_serial(der, responder, at(now), policy=policy)


def test_go_critical_unknown_single_extension() -> None:
    der = (GO / "resp-critical-unknown-ext.der").read_bytes()
    r = ocspkit.parse_response(der)
    assert any(e.critical for e in r.responses[0].extensions)
    with pytest.raises(ocspkit.ValidationError):
        validate_for_serial(der, cert(GO / "responder-cert.der"), at("2010-07-07T16:00Z"))


def test_go_malformed_request_status_and_request() -> None:
    assert (
        ocspkit.parse_response((GO / "resp-malformed-request.der").read_bytes()).status
        is ResponseStatus.MALFORMED_REQUEST
    )
    req = ocspkit.parse_request((GO / "req-sha1.der").read_bytes())
    leaf, issuer = cert(GO / "leaf-cert.der"), cert(GO / "issuer-cert.der")
    assert ocspkit.cert_id_matches(req.cert_ids[0], leaf, issuer)
    assert req.cert_ids[0] == ocspkit.cert_id(leaf, issuer)


# ---------------------------------------------------------------------------------------------
# Bouncy Castle
# ---------------------------------------------------------------------------------------------


def test_bc_tcs_revoked_no_next_update() -> None:
    r = ocspkit.parse_response((BC / "pkix-testResp1-tcs-ca-2003.der").read_bytes())
    (s,) = r.responses
    assert s.status is CertStatus.REVOKED and s.next_update is None and s.revocation_reason is None
    assert s.revocation_time == at("2002-08-29T07:09:26Z")
    assert (BC / "core-response.der").read_bytes() == (
        BC / "pkix-testResp1-tcs-ca-2003.der"
    ).read_bytes()


def test_bc_md5_response_rejected() -> None:
    der = (BC / "pkix-testResp2-forum-systems-2003.der").read_bytes()
    r = ocspkit.parse_response(der)
    assert (
        r.version == 1
        and len(r.certificates) == 2
        and r.signature_algorithm_oid == "1.2.840.113549.1.1.4"
    )
    ca = next(c for c in r.certificates if c.subject == c.issuer)
    with pytest.raises(ocspkit.WeakAlgorithmError):
        validate_for_serial(der, ca, at("2003-05-19T21:00Z"))


def test_bc_empty_extensions_archive_cutoff() -> None:
    r = ocspkit.parse_response((BC / "pkix-emptyExtResp-sk-eid-2024.der").read_bytes())
    (s,) = r.responses
    assert s.status is CertStatus.REVOKED and s.revocation_time == at("2021-02-04T09:45:16Z")
    assert s.revocation_reason is RevocationReason.UNSPECIFIED
    assert any(e.oid == "1.3.6.1.5.5.7.48.1.6" for e in s.extensions)


def test_bc_zero_length_enum_is_decode_error() -> None:
    with pytest.raises(ocspkit.DecodeError):
        ocspkit.parse_response((BC / "pkix-invalidResp-zero-length-enum.der").read_bytes())


def test_bc_requests() -> None:
    irreg = ocspkit.parse_request((BC / "pkix-irregReq-signed-explicit-version.der").read_bytes())
    assert irreg.signed and len(irreg.certificates) == 4 and len(irreg.cert_ids) == 1
    assert ocspkit.parse_request((BC / "core-signedReq.der").read_bytes()).signed
    assert not ocspkit.parse_request((BC / "core-unsignedReq.der").read_bytes()).signed


# ---------------------------------------------------------------------------------------------
# AWS-LC / s2n
# ---------------------------------------------------------------------------------------------

AWS_NOW = at("2023-07-01T00:00Z")


@pytest.mark.parametrize(
    ("name", "status", "delegated"),
    [
        ("ocsp_response.der", CertStatus.GOOD, True),
        ("ocsp_response_ca_signed.der", CertStatus.GOOD, False),
        ("ocsp_response_revoked.der", CertStatus.REVOKED, True),
        ("ocsp_response_revoked_sha256.der", CertStatus.REVOKED, True),
        ("ocsp_response_unknown.der", CertStatus.UNKNOWN, True),
        ("ocsp_response_unknown_sha256.der", CertStatus.UNKNOWN, True),
        ("ocsp_response_sha256.der", CertStatus.GOOD, True),
        ("ocsp_response_no_nonce.der", CertStatus.GOOD, True),
    ],
)
def test_aws_verdicts(name: str, status: CertStatus, delegated: bool) -> None:
    r = ocspkit.validate_response(
        (AWS / name).read_bytes(),
        cert(AWS / "rsa_cert.pem"),
        cert(AWS / "ca_cert.pem"),
        now=AWS_NOW,
    )
    assert r.status is status and r.delegated is delegated
    if status is CertStatus.REVOKED:
        assert r.revocation_time == at("2018-08-12T05:39:25Z")


def test_aws_sha256_response_has_no_entry_for_ecdsa_cert() -> None:
    with pytest.raises(ocspkit.NoMatchingResponseError):
        ocspkit.validate_response(
            (AWS / "ocsp_response_sha256.der").read_bytes(),
            cert(AWS / "ecdsa_cert.pem"),
            cert(AWS / "ca_cert.pem"),
            now=AWS_NOW,
        )


@pytest.mark.parametrize(
    "name",
    [
        "ocsp_response_wrong_signer.der",
        "ocsp_response_wrong_signer_sha256.der",
        "ocsp_response_expired_signer.der",
    ],
)
def test_aws_unauthorised_signers(name: str) -> None:
    with pytest.raises(ocspkit.UnauthorizedResponderError):
        ocspkit.validate_response(
            (AWS / name).read_bytes(),
            cert(AWS / "rsa_cert.pem"),
            cert(AWS / "ca_cert.pem"),
            now=AWS_NOW,
        )


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ocsp_response_malformedrequest.der", ResponseStatus.MALFORMED_REQUEST),
        ("ocsp_response_internalerror.der", ResponseStatus.INTERNAL_ERROR),
        ("ocsp_response_trylater.der", ResponseStatus.TRY_LATER),
        ("ocsp_response_sigrequired.der", ResponseStatus.SIG_REQUIRED),
        ("ocsp_response_unauthorized.der", ResponseStatus.UNAUTHORIZED),
    ],
)
def test_aws_error_statuses(name: str, status: ResponseStatus) -> None:
    assert ocspkit.parse_response((AWS / name).read_bytes()).status is status


def test_aws_requests() -> None:
    assert ocspkit.parse_request((AWS / "ocsp_request.der").read_bytes()).nonce is not None
    assert ocspkit.parse_request((AWS / "ocsp_request_no_nonce.der").read_bytes()).nonce is None
    for name in (
        "ocsp_request_signed.der",
        "ocsp_request_signed_sha256.der",
        "ocsp_request_attached_cert.der",
    ):
        req = ocspkit.parse_request((AWS / name).read_bytes())
        assert req.signed and req.certificates
    assert (
        ocspkit.parse_request((AWS / "ocsp_request_signed_sha256.der").read_bytes())
        .cert_ids[0]
        .hash_algorithm
        == "sha256"
    )
    wrong = ocspkit.parse_request((AWS / "ocsp_request_wrong_signer.der").read_bytes())
    assert wrong.signed and not wrong.certificates
    rsa_cert, ca = cert(AWS / "rsa_cert.pem"), cert(AWS / "ca_cert.pem")
    assert ocspkit.cert_id_matches(
        ocspkit.parse_request((AWS / "ocsp_request.der").read_bytes()).cert_ids[0], rsa_cert, ca
    )


# ---------------------------------------------------------------------------------------------
# misc
# ---------------------------------------------------------------------------------------------


def test_pem_armoured_response_and_request() -> None:
    r = ocspkit.parse_response((CORPUS / "misc-pki-tools" / "res.pem").read_bytes())
    (s,) = r.responses
    assert s.cert_id.hash_algorithm == "sha512" and s.status is CertStatus.REVOKED
    assert r.signature_algorithm_oid == "1.2.840.113549.1.1.13"
    assert s.this_update > r.produced_at  # the oddity a freshness check must flag
    req = ocspkit.parse_request((CORPUS / "misc-pki-tools" / "req.pem").read_bytes())
    assert req.cert_ids[0].hash_algorithm == "sha512"
