"""The CRL core: parse_crl, validate_crl, crl_status, revocation_not_needed, crl_urls, with
CRLs signed by ocspkit.testing's CA (complete, partitioned, delta, indirect)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocspkit import CertStatus, RevocationReason, ValidationPolicy
from ocspkit.certs import crl_urls
from ocspkit.crl import parse_crl
from ocspkit.crl_check import crl_status, revocation_not_needed
from ocspkit.crl_validate import validate_crl
from ocspkit.errors import (
    CRLExpiredError,
    CRLIssuerMismatchError,
    CRLNotYetValidError,
    CRLScopeError,
    CRLStaleError,
    DecodeError,
    DeltaCRLError,
    IssuerMismatchError,
    MalformedCRLError,
)
from ocspkit.models import RevocationAttempt, RevocationResult, RevocationSource
from ocspkit.testing import CA
from ocspkit.testing.keys import generate_key
from ocspkit.testing.profiles import CRLEntrySpec, build_crl, tls_leaf_certificate

A = "http://crl.test/a.crl"
B = "http://crl.test/b.crl"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def test_crl_urls_in_order_and_only_full_name_uris(ca: CA) -> None:
    leaf = ca.issue(crl_url=(A, "ldap://dir.test/cn=crl", B), ocsp_url="")
    assert crl_urls(leaf.cert) == (A, "ldap://dir.test/cn=crl", B)
    assert crl_urls(ca.issue(ocsp_url="").cert) == ()


def test_parse_der_pem_and_path(ca: CA, tmp_path: Path) -> None:
    leaf = ca.issue(crl_url=A)
    ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
    signed = ca.sign_crl(now=NOW, crl_number=7)
    path = tmp_path / "x.crl"
    path.write_bytes(signed.public_bytes(Encoding.PEM))
    for source in (der(signed), signed.public_bytes(Encoding.PEM), path, str(path)):
        crl = parse_crl(source)
        assert crl.der == der(signed)
        assert crl.crl_number == 7 and not crl.is_delta
        assert crl.this_update == NOW and crl.next_update == NOW + timedelta(days=1)
        assert crl.issuer == ca.issuer.subject
        assert crl.issuing_distribution_point is None
        assert len(crl) == len(list(signed)) >= 1
        entry = crl.lookup(leaf.cert.serial_number)
        assert entry is not None and entry.reason == RevocationReason.KEY_COMPROMISE
        assert crl.lookup(leaf.cert.serial_number + 1) is None


def test_parse_garbage_and_unreadable_file(tmp_path: Path) -> None:
    for bad in (b"", b"\x30\x00", b"not a crl", b"-----BEGIN X509 CRL-----\n!!\n"):
        with pytest.raises(DecodeError):
            parse_crl(bad)
    with pytest.raises(DecodeError):
        parse_crl(tmp_path / "missing.crl")


def test_validate_crl_reads_what_parse_crl_reads(ca: CA, tmp_path: Path) -> None:
    crl = ca.sign_crl()
    raw = der(crl)
    pem = crl.public_bytes(Encoding.PEM)
    (tmp_path / "ca.crl").write_bytes(raw)
    forms: list[object] = [raw, bytearray(raw), memoryview(raw), pem, pem.decode()]
    forms += [tmp_path / "ca.crl", str(tmp_path / "ca.crl"), parse_crl(raw)]
    for form in forms:
        assert validate_crl(form, ca.issuer).der == raw  # type: ignore[arg-type]
        assert crl_status(ca.issue("forms.test").cert, ca.issuer, form).good  # type: ignore[arg-type]
    for junk in (b"not a crl", "not a crl", tmp_path / "missing.crl", bytearray(b"\x30\x00")):
        with pytest.raises(DecodeError):
            validate_crl(junk, ca.issuer)  # type: ignore[arg-type]


def test_idp_fields_are_read(ca: CA) -> None:
    crl = parse_crl(
        der(
            ca.sign_crl(
                idp_url=A,
                only_user=True,
                only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}),
            )
        )
    )
    idp = crl.issuing_distribution_point
    assert idp is not None and idp.full_names == (A,) and idp.only_contains_user_certs
    assert idp.only_some_reasons == frozenset({int(RevocationReason.KEY_COMPROMISE)})
    assert not idp.indirect_crl and not idp.only_contains_ca_certs


def test_revoked_and_good_from_a_complete_crl(ca: CA) -> None:
    bad, good = ca.issue(crl_url=A, ocsp_url=""), ca.issue(crl_url=A, ocsp_url="")
    when = NOW - timedelta(hours=2)
    ca.revoke(bad.cert, RevocationReason.SUPERSEDED, at=when)
    crl = der(ca.sign_crl(now=NOW))
    result = crl_status(bad.cert, ca.issuer, crl, url=A)
    assert result.status is CertStatus.REVOKED and result.source is RevocationSource.CRL
    assert result.revocation_time == when
    assert result.revocation_reason is RevocationReason.SUPERSEDED
    assert result.crl is not None and result.crl.der == crl and result.url == A
    ok = crl_status(good.cert, ca.issuer, crl, url=A)
    assert ok.status is CertStatus.GOOD and ok.next_update == NOW + timedelta(days=1)
    flat = ok.to_dict()
    assert json.loads(json.dumps(flat)) == flat
    assert flat["status"] == "good" and flat["source"] == "crl" and flat["url"] == A


def test_certificate_hold_counts_as_revoked(ca: CA) -> None:
    held = ca.issue(crl_url=A)
    ca.revoke(held.cert, RevocationReason.CERTIFICATE_HOLD)
    result = crl_status(held.cert, ca.issuer, der(ca.sign_crl()))
    assert result.revoked and result.revocation_reason is RevocationReason.CERTIFICATE_HOLD


def test_partition_lists_only_its_own_certificates(ca: CA) -> None:
    in_a, in_b = ca.issue(crl_url=A, ocsp_url=""), ca.issue(crl_url=B, ocsp_url="")
    ca.revoke(in_a.cert)
    ca.revoke(in_b.cert)
    part_a, part_b = der(ca.sign_crl(idp_url=A)), der(ca.sign_crl(idp_url=B))
    assert crl_status(in_a.cert, ca.issuer, part_a, url=A).revoked
    assert crl_status(in_b.cert, ca.issuer, part_b, url=B).revoked
    with pytest.raises(CRLScopeError):  # the certificate points at B
        crl_status(in_b.cert, ca.issuer, part_a, url=A)
    with pytest.raises(CRLScopeError):  # fetched from B, but the partition is A's
        validate_crl(parse_crl(part_a), ca.issuer, url=B)
    no_dp = ca.issue(ocsp_url="")
    with pytest.raises(CRLScopeError):
        crl_status(no_dp.cert, ca.issuer, part_a)


def test_user_only_and_ca_only_scopes(ca: CA) -> None:
    leaf = ca.issue(crl_url=A)
    assert crl_status(leaf.cert, ca.issuer, der(ca.sign_crl(only_user=True))).good
    with pytest.raises(CRLScopeError):
        crl_status(leaf.cert, ca.issuer, der(ca.sign_crl(only_ca=True)))
    # the intermediate is a CA certificate: out of the root's user-only CRL's scope

    def root_crl(**scope: bool) -> bytes:
        return der(
            build_crl(
                ca.root.subject,
                ca.root_key,
                [],
                this_update=NOW,
                next_update=NOW + timedelta(days=1),
                crl_number=1,
                **scope,
            )
        )

    with pytest.raises(CRLScopeError):
        crl_status(ca.issuer, ca.root, root_crl(only_user=True))
    assert crl_status(ca.issuer, ca.root, root_crl(only_ca=True)).good
    with pytest.raises(IssuerMismatchError):  # the leaf was not issued by the root
        crl_status(leaf.cert, ca.root, root_crl())


def test_only_some_reasons_cannot_say_good(ca: CA) -> None:
    leaf = ca.issue(crl_url=A)
    crl = der(ca.sign_crl(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})))
    with pytest.raises(CRLScopeError):
        crl_status(leaf.cert, ca.issuer, crl)


def test_times_against_now_and_policy(ca: CA) -> None:
    crl = parse_crl(der(ca.sign_crl(now=NOW, validity=timedelta(hours=1))))
    assert validate_crl(crl, ca.issuer, now=NOW + timedelta(minutes=64)) == crl  # skew
    with pytest.raises(CRLExpiredError):
        validate_crl(crl, ca.issuer, now=NOW + timedelta(hours=2))
    with pytest.raises(CRLNotYetValidError):
        validate_crl(crl, ca.issuer, now=NOW - timedelta(hours=1))
    with pytest.raises(CRLStaleError):
        validate_crl(
            crl,
            ca.issuer,
            now=NOW + timedelta(minutes=30),
            policy=ValidationPolicy(max_age=timedelta(minutes=10)),
        )


def _delta(ca: CA, number: int, base: int, entries: list[CRLEntrySpec]) -> bytes:
    return der(ca.sign_crl(crl_number=number, delta_base=base, entries=entries))


def test_delta_revokes_and_remove_from_crl_unrevokes(ca: CA) -> None:
    held, later = ca.issue(crl_url=A), ca.issue(crl_url=A)
    ca.revoke(held.cert, RevocationReason.CERTIFICATE_HOLD)
    base = der(ca.sign_crl(crl_number=10))
    assert crl_status(later.cert, ca.issuer, base).good
    delta = _delta(
        ca,
        11,
        10,
        [
            CRLEntrySpec(held.cert.serial_number, NOW, x509.ReasonFlags.remove_from_crl),
            CRLEntrySpec(later.cert.serial_number, NOW, x509.ReasonFlags.key_compromise),
        ],
    )
    assert crl_status(held.cert, ca.issuer, base, delta=delta).good
    result = crl_status(later.cert, ca.issuer, base, delta=delta)
    assert result.revoked and result.delta is not None and result.delta.crl_number == 11
    ca.unrevoke(held.cert)


def test_delta_rules(ca: CA) -> None:
    leaf = ca.issue(crl_url=A)
    base = der(ca.sign_crl(crl_number=10))
    with pytest.raises(DeltaCRLError):  # a delta as the complete CRL
        crl_status(leaf.cert, ca.issuer, _delta(ca, 11, 10, []))
    with pytest.raises(DeltaCRLError):  # built on a base newer than ours
        crl_status(leaf.cert, ca.issuer, base, delta=_delta(ca, 13, 12, []))
    with pytest.raises(DeltaCRLError):  # older than the complete CRL
        crl_status(leaf.cert, ca.issuer, base, delta=_delta(ca, 9, 8, []))
    with pytest.raises(DeltaCRLError):  # a complete CRL given as the delta
        crl_status(leaf.cert, ca.issuer, base, delta=der(ca.sign_crl(crl_number=11)))
    with pytest.raises(DeltaCRLError):  # another scope
        crl_status(
            leaf.cert,
            ca.issuer,
            base,
            delta=der(ca.sign_crl(crl_number=11, delta_base=10, entries=[], only_user=True)),
        )
    with pytest.raises(CRLExpiredError):  # an invalid delta raises, never ignored
        crl_status(
            leaf.cert,
            ca.issuer,
            base,
            now=NOW + timedelta(hours=6),
            delta=der(
                ca.sign_crl(crl_number=11, delta_base=10, entries=[], validity=timedelta(hours=1))
            ),
        )


def test_remove_from_crl_in_a_complete_crl_is_malformed(ca: CA) -> None:
    leaf = ca.issue(crl_url=A)
    spec = CRLEntrySpec(leaf.cert.serial_number, NOW, x509.ReasonFlags.remove_from_crl)
    with pytest.raises(MalformedCRLError):
        validate_crl(parse_crl(der(ca.sign_crl(entries=[spec]))), ca.issuer)


def test_dedicated_crl_signer_in_extra_certs(ca: CA) -> None:
    leaf = ca.issue(crl_url=A)
    ca.revoke(leaf.cert)
    signer = ca.issue_crl_signer()
    crl = der(ca.sign_crl(signer=signer))
    with pytest.raises(Exception):  # noqa: B017 - the issuer's own key does not verify it
        crl_status(leaf.cert, ca.issuer, crl)
    assert crl_status(leaf.cert, ca.issuer, crl, extra_certs=[signer.cert]).revoked


def test_indirect_crl_entries_carry_their_issuer() -> None:
    ca = CA("ecdsa")
    other = CA("ecdsa", name="other")
    signer = ca.issue_crl_signer(common_name="ocspkit indirect CRL issuer")
    crl_issuer = signer.cert.subject
    leaf = ca.issue(ocsp_url="")
    # a leaf whose distribution point names the indirect CRL's issuer
    cert = tls_leaf_certificate(
        generate_key("ecdsa"),
        leaf.cert.subject,
        ca.issuer,
        ca.issuer_key,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=1),
        crl_urls=(A,),
        crl_issuer=crl_issuer,
    )
    entries = [
        CRLEntrySpec(cert.serial_number, NOW, None, certificate_issuer=other.issuer.subject),
        CRLEntrySpec(cert.serial_number + 1, NOW, None, certificate_issuer=ca.issuer.subject),
    ]
    crl = der(ca.sign_crl(signer=signer, entries=entries, indirect=True, idp_url=A))
    # the entry with the same serial is about the other CA: not ours
    assert crl_status(cert, ca.issuer, crl, url=A, extra_certs=[signer.cert]).good
    plain = der(ca.sign_crl(signer=signer, entries=[], idp_url=A))
    with pytest.raises(CRLIssuerMismatchError):  # another name, not an indirect CRL
        crl_status(cert, ca.issuer, plain, url=A, extra_certs=[signer.cert])


def test_revocation_not_needed() -> None:
    ca = CA("ecdsa")
    short = ca.issue(ocsp_url="", not_after=NOW + timedelta(days=5))
    got = revocation_not_needed(short.cert)
    assert got is not None and got.good and got.source is RevocationSource.SHORT_LIVED
    assert revocation_not_needed(ca.issue(ocsp_url="http://ocsp.test/").cert) is None
    short_with_crl = ca.issue(ocsp_url="", crl_url=A, not_after=NOW + timedelta(days=5))
    assert revocation_not_needed(short_with_crl.cert) is None
    norev = revocation_not_needed(ca.issue(no_rev_avail=True).cert)
    assert norev is not None and norev.source is RevocationSource.NO_REVOCATION_INFO
    assert norev.to_dict()["source"] == "no_revocation_info"


def test_revocation_result_to_dict_keys_are_stable() -> None:
    error = CRLExpiredError("the CRL expired")
    result = RevocationResult(
        status=CertStatus.UNKNOWN,
        source=None,
        attempts=(RevocationAttempt(RevocationSource.CRL, A, error),),
    )
    assert result.to_dict() == {
        "status": "unknown",
        "source": None,
        "this_update": None,
        "next_update": None,
        "revocation_time": None,
        "reason": None,
        "url": None,
        "error": "the CRL expired",
    }


# --- reasons (RFC 5280 §6.3.3 (d), (e)) ----------------------------------------------------

KC_CAC = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})
REST = frozenset(
    {
        x509.ReasonFlags.affiliation_changed,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
        x509.ReasonFlags.certificate_hold,
        x509.ReasonFlags.privilege_withdrawn,
        x509.ReasonFlags.aa_compromise,
    }
)


def test_reason_flags_bits_7_and_8_are_codes_9_and_10(ca: CA) -> None:
    crl = parse_crl(der(ca.sign_crl(idp_url=A, only_some_reasons=REST)))
    idp = crl.issuing_distribution_point
    assert idp is not None and idp.only_some_reasons == frozenset({3, 4, 5, 6, 9, 10})
    assert RevocationReason.PRIVILEGE_WITHDRAWN in idp.only_some_reasons


def _split_leaf(ca: CA) -> x509.Certificate:
    """A leaf whose first distribution point (A) covers key and CA compromise and whose
    second (B) covers every other reason."""
    second = x509.DistributionPoint([x509.UniformResourceIdentifier(B)], None, REST, None)
    return tls_leaf_certificate(
        generate_key("ecdsa"),
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "split")]),
        ca.issuer,
        ca.issuer_key,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=1),
        crl_urls=(A,),
        crl_reasons=KC_CAC,
        crl_points=(second,),
    )


def test_a_reasons_partition_alone_cannot_say_good_the_union_can() -> None:
    ca = CA("ecdsa")
    cert = _split_leaf(ca)
    crl_a = der(ca.sign_crl(idp_url=A, only_some_reasons=KC_CAC))
    crl_b = der(ca.sign_crl(idp_url=B, only_some_reasons=REST))
    with pytest.raises(CRLScopeError, match="superseded"):  # the missing reasons are named
        crl_status(cert, ca.issuer, crl_a, url=A)
    with pytest.raises(CRLScopeError, match="key_compromise"):
        crl_status(cert, ca.issuer, crl_b, url=B)
    both = crl_status(cert, ca.issuer, crl_a, url=A, more_crls=[(crl_b, B)])
    assert both.good and both.url == A
    with pytest.raises(CRLScopeError):  # the same partition twice covers nothing more
        crl_status(cert, ca.issuer, crl_a, url=A, more_crls=[(crl_a, A)])
    with pytest.raises(CRLScopeError):  # B's CRL served for A
        crl_status(cert, ca.issuer, crl_a, url=A, more_crls=[(crl_b, A)])


def test_a_listing_on_any_reasons_partition_is_revoked() -> None:
    ca = CA("ecdsa")
    cert = _split_leaf(ca)
    ca.status_table.add(cert)
    ca.revoke(cert, RevocationReason.SUPERSEDED, at=NOW - timedelta(minutes=5))
    crl_a = der(ca.sign_crl(idp_url=A, only_some_reasons=KC_CAC, entries=[]))
    crl_b = der(ca.sign_crl(idp_url=B, only_some_reasons=REST))
    alone = crl_status(cert, ca.issuer, crl_b, url=B)
    assert alone.revoked and alone.revocation_reason is RevocationReason.SUPERSEDED
    result = crl_status(cert, ca.issuer, crl_a, url=A, more_crls=[(crl_b, B)])
    assert result.revoked and result.url == B and result.crl is not None
    assert result.crl.der == crl_b  # the evidence is the CRL that lists it
    expired = der(ca.sign_crl(idp_url=B, only_some_reasons=REST, now=NOW - timedelta(days=3)))
    with pytest.raises(CRLExpiredError):  # every CRL given is validated
        crl_status(cert, ca.issuer, crl_a, url=A, more_crls=[(expired, B)])


def test_distribution_point_reasons_limit_a_complete_crl() -> None:
    ca = CA("ecdsa")
    cert = tls_leaf_certificate(
        generate_key("ecdsa"),
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "kc only")]),
        ca.issuer,
        ca.issuer_key,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=1),
        crl_urls=(A,),
        crl_reasons=KC_CAC,
    )
    with pytest.raises(CRLScopeError, match="only some reasons"):
        crl_status(cert, ca.issuer, der(ca.sign_crl()), url=A)


# --- the test CA's CRL publishing ----------------------------------------------------------


def test_ca_crl_url_lifetime_numbers_and_since() -> None:
    ca = CA("ecdsa", crl_url=A, ocsp_url="")
    le_shape = ca.issue()
    assert (
        crl_urls(le_shape.cert) == (A,)
        and not le_shape.cert.extensions.get_extension_for_oid(
            x509.ExtensionOID.CRL_DISTRIBUTION_POINTS
        ).critical
    )
    short = ca.issue(crl_url="", lifetime=timedelta(days=6))
    assert crl_urls(short.cert) == ()
    needed = revocation_not_needed(short.cert)
    assert needed is not None and needed.source is RevocationSource.SHORT_LIVED
    assert [parse_crl(der(ca.sign_crl())).crl_number for _ in range(3)] == [1, 2, 3]
    assert parse_crl(der(ca.sign_crl(crl_number=10))).crl_number == 10
    assert parse_crl(der(ca.sign_crl())).crl_number == 11  # the sequence moves on
    ca.revoke(le_shape, at=NOW - timedelta(hours=3))
    base = der(ca.sign_crl(now=NOW - timedelta(hours=2)))
    late = ca.issue()
    ca.revoke(late, at=NOW - timedelta(minutes=30))
    delta = ca.sign_crl(delta_base=parse_crl(base).crl_number, since=NOW - timedelta(hours=2))
    parsed = parse_crl(der(delta))
    assert parsed.is_delta and len(parsed) == 1 and parsed.lookup(late.serial_number)
    assert crl_status(late.cert, ca.issuer, base, delta=der(delta)).revoked
    assert crl_status(le_shape.cert, ca.issuer, base, delta=der(delta)).revoked
