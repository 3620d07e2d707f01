"""The CRL attack matrix (one test each), RFC 5280 §5 structural rules on hand-built DER,
and hostile bytes: truncations, mutations and a property test (a CRL or a DecodeError)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocspkit import CertStatus, RevocationReason
from ocspkit.crl import parse_crl
from ocspkit.crl_check import crl_status
from ocspkit.crl_validate import validate_crl
from ocspkit.errors import (
    CRLCriticalExtensionError,
    CRLExpiredError,
    CRLIssuerMismatchError,
    CRLScopeError,
    CRLSignatureError,
    CRLSignerError,
    CRLValidationError,
    DecodeError,
    DeltaCRLError,
    IssuerSignatureError,
    MalformedCRLError,
    OCSPError,
    SignatureError,
)
from ocspkit.testing import CA
from ocspkit.testing.profiles import CRLEntrySpec, build_crl, intermediate_certificate

A = "http://crl.test/a.crl"
B = "http://crl.test/b.crl"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture(scope="module")
def revoked(ca: CA) -> x509.Certificate:
    leaf = ca.issue(crl_url=A, ocsp_url="")
    ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
    return leaf.cert


# --- the attack matrix -------------------------------------------------------------------


def test_another_cas_crl(ca: CA, revoked: x509.Certificate) -> None:
    other = CA("ecdsa", name="another")
    with pytest.raises(CRLIssuerMismatchError):
        crl_status(revoked, ca.issuer, der(other.sign_crl()))


def test_same_name_ca_with_another_key(ca: CA, revoked: x509.Certificate) -> None:
    twin_key = ec.generate_private_key(ec.SECP256R1())
    twin = intermediate_certificate(
        twin_key,
        ca.issuer.subject,
        ca.root,
        ca.root_key,
        NOW - timedelta(days=1),
        NOW + timedelta(days=9),
    )
    forged = der(
        build_crl(
            ca.issuer.subject, twin_key, [], this_update=NOW, next_update=NOW + timedelta(days=1)
        )
    )
    with pytest.raises(CRLSignatureError):  # the real issuer's key does not verify it
        crl_status(revoked, ca.issuer, forged)
    with pytest.raises(IssuerSignatureError):  # nor can the twin pose as the issuer
        crl_status(revoked, twin, forged)
    with pytest.raises(CRLSignerError):  # nor vouch for itself as a CRL signer: the root,
        crl_status(revoked, ca.issuer, forged, extra_certs=[twin])  # not the issuer, made it


def test_partition_swapped_for_another(ca: CA, revoked: x509.Certificate) -> None:
    # the attacker serves B's partition (where the certificate is not listed) at A's URL
    swapped = der(ca.sign_crl(idp_url=B))
    with pytest.raises(CRLScopeError):
        crl_status(revoked, ca.issuer, swapped, url=A)
    with pytest.raises(CRLScopeError):  # even without the URL, the certificate points at A
        crl_status(revoked, ca.issuer, swapped)


def test_expired_crl(ca: CA, revoked: x509.Certificate) -> None:
    old = der(ca.sign_crl(now=NOW - timedelta(days=3), validity=timedelta(days=1)))
    with pytest.raises(CRLExpiredError):
        crl_status(revoked, ca.issuer, old)


def test_unknown_critical_crl_extension(ca: CA, revoked: x509.Certificate) -> None:
    crl = der(
        ca.sign_crl(extensions=[(x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), True)])
    )
    with pytest.raises(CRLCriticalExtensionError):
        crl_status(revoked, ca.issuer, crl)
    benign = der(
        ca.sign_crl(extensions=[(x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), False)])
    )
    assert crl_status(revoked, ca.issuer, benign).revoked


def test_unknown_critical_entry_extension(ca: CA, revoked: x509.Certificate) -> None:
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(revoked.serial_number)
        .revocation_date(NOW)
        .add_extension(x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), critical=True)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.issuer.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .add_revoked_certificate(entry)
        .sign(ca.issuer_key, hashes.SHA256())
    )
    with pytest.raises(CRLCriticalExtensionError):
        crl_status(revoked, ca.issuer, der(crl))


def test_delta_applied_to_the_wrong_base(ca: CA, revoked: x509.Certificate) -> None:
    base = der(ca.sign_crl(crl_number=20))
    # a delta un-revoking the certificate, built on base 30 (a later CRL that held it)
    delta = der(
        ca.sign_crl(
            crl_number=31,
            delta_base=30,
            entries=[CRLEntrySpec(revoked.serial_number, NOW, x509.ReasonFlags.remove_from_crl)],
        )
    )
    with pytest.raises(DeltaCRLError):
        crl_status(revoked, ca.issuer, base, delta=delta)
    other = CA("ecdsa", name="delta elsewhere")
    with pytest.raises(CRLValidationError):  # a delta of another CA
        crl_status(
            revoked, ca.issuer, base, delta=der(other.sign_crl(crl_number=21, delta_base=20))
        )


def test_crl_issuer_without_crl_sign(ca: CA, revoked: x509.Certificate) -> None:
    signer = ca.issue_crl_signer(crl_sign=False)
    crl = der(ca.sign_crl(signer=signer))
    with pytest.raises(CRLSignerError):
        crl_status(revoked, ca.issuer, crl, extra_certs=[signer.cert])


def test_issuer_whose_key_usage_lacks_crl_sign(ca: CA) -> None:
    from ocspkit.testing.profiles import build_certificate, tls_leaf_certificate

    key = ec.generate_private_key(ec.SECP256R1())
    no_crl_sign = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    issuer = build_certificate(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "no cRLSign CA")]),
        key.public_key(),
        ca.root_key,
        issuer=ca.root,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=9),
        ca=True,
        key_usage=no_crl_sign,
    )
    leaf = tls_leaf_certificate(
        ec.generate_private_key(ec.SECP256R1()),
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "leaf")]),
        issuer,
        key,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=1),
    )
    entry = CRLEntrySpec(leaf.serial_number + 1, NOW)
    crl = build_crl(
        issuer.subject, key, [entry], this_update=NOW, next_update=NOW + timedelta(days=1)
    )
    with pytest.raises(CRLSignerError, match="cRLSign"):
        crl_status(leaf, issuer, der(crl))


def test_crl_signer_issued_by_another_ca(ca: CA, revoked: x509.Certificate) -> None:
    other = CA("ecdsa", name="rogue")
    rogue = other.issue_crl_signer()
    # a cRLSign certificate named like our issuer, issued by someone else
    rogue_crl = der(
        build_crl(
            ca.issuer.subject, rogue.key, [], this_update=NOW, next_update=NOW + timedelta(days=1)
        )
    )
    with pytest.raises((CRLSignerError, CRLSignatureError)):
        crl_status(revoked, ca.issuer, rogue_crl, extra_certs=[rogue.cert])


def test_tampered_entry(ca: CA, revoked: x509.Certificate) -> None:
    crl = bytearray(der(ca.sign_crl()))
    serial = revoked.serial_number.to_bytes(20, "big").lstrip(b"\x00")
    at = bytes(crl).index(serial)
    crl[at + len(serial) - 1] ^= 0x01  # the entry now names another serial
    with pytest.raises(CRLSignatureError):
        crl_status(revoked, ca.issuer, bytes(crl))
    assert isinstance(CRLSignatureError("x"), SignatureError)


# --- RFC 5280 §5 rules on hand-built DER ---------------------------------------------------


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _utc(t: datetime) -> bytes:
    return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_CRL_NUMBER_1 = _tlv(0x30, bytes.fromhex("0603551d14") + _tlv(0x04, bytes.fromhex("020101")))


def _ext(oid_body: bytes, value: bytes, critical: bool) -> bytes:
    flag = b"\x01\x01\xff" if critical else b""
    return _tlv(0x30, _tlv(0x06, oid_body) + flag + _tlv(0x04, value))


def craft(
    ca: CA,
    *,
    version: bool = True,
    next_update: bool = True,
    entries: bytes | None = None,
    extensions: bytes | None = _CRL_NUMBER_1,
    inner: bytes = _ECDSA_SHA256,
    issuer: bytes | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """A CRL signed by the CA's intermediate (or ``key``), field by field."""
    tbs = _tlv(
        0x30,
        (b"\x02\x01\x01" if version else b"")
        + inner
        + (ca.issuer.subject.public_bytes() if issuer is None else issuer)
        + _utc(NOW)
        + (_utc(NOW + timedelta(days=1)) if next_update else b"")
        + (_tlv(0x30, entries) if entries is not None else b"")
        + (_tlv(0xA0, _tlv(0x30, extensions)) if extensions is not None else b""),
    )
    signing = key or ca.issuer_key
    assert isinstance(signing, ec.EllipticCurvePrivateKey)
    signature = signing.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + _ECDSA_SHA256 + _tlv(0x03, b"\x00" + signature))


def _entry(serial: int, reason: int | None = None) -> bytes:
    exts = b""
    if reason is not None:
        exts = _tlv(0x30, _ext(bytes.fromhex("551d15"), bytes([0x0A, 1, reason]), False))
    return _tlv(
        0x30, _tlv(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big")) + _utc(NOW) + exts
    )


def test_crafted_baseline_validates(ca: CA) -> None:
    crl = parse_crl(craft(ca, entries=_entry(5, 1) + _entry(6)))
    assert validate_crl(crl, ca.issuer) == crl and len(crl) == 2
    entry = crl.lookup(5)
    assert entry is not None and entry.reason == RevocationReason.KEY_COMPROMISE
    assert (e6 := crl.lookup(6)) is not None and e6.reason is None


def test_empty_revoked_certificates_list(ca: CA) -> None:
    with pytest.raises(MalformedCRLError):
        validate_crl(parse_crl(craft(ca, entries=b"")), ca.issuer)


def test_extensions_in_a_v1_crl(ca: CA) -> None:
    with pytest.raises(MalformedCRLError):
        validate_crl(parse_crl(craft(ca, version=False)), ca.issuer)
    v1_entries = craft(ca, version=False, extensions=None, entries=_entry(7, 1))
    with pytest.raises((MalformedCRLError, DecodeError)):
        validate_crl(parse_crl(v1_entries), ca.issuer)
    plain_v1 = parse_crl(craft(ca, version=False, extensions=None, entries=_entry(7)))
    assert plain_v1.version == 1 and validate_crl(plain_v1, ca.issuer).lookup(7) is not None


def test_non_critical_idp(ca: CA) -> None:
    idp = _tlv(0x30, b"\x81\x01\xff")  # onlyContainsUserCerts
    crl = craft(ca, extensions=_CRL_NUMBER_1 + _ext(bytes.fromhex("551d1c"), idp, False))
    with pytest.raises(MalformedCRLError):
        validate_crl(parse_crl(crl), ca.issuer)


def test_non_critical_certificate_issuer(ca: CA) -> None:
    # an indirect CRL whose entry names its certificate issuer in a non-critical extension: a
    # reader that skipped it would take the entry for the CRL issuer's own certificate
    idp = _ext(bytes.fromhex("551d1c"), _tlv(0x30, b"\x84\x01\xff"), True)
    names = _tlv(0x30, _tlv(0xA4, ca.root.subject.public_bytes()))
    issuer_ext = _ext(bytes.fromhex("551d1d"), names, False)
    entry = _tlv(0x30, _tlv(0x02, b"\x07") + _utc(NOW) + _tlv(0x30, issuer_ext))
    crl = parse_crl(craft(ca, entries=entry, extensions=_CRL_NUMBER_1 + idp))
    with pytest.raises(MalformedCRLError, match="non-critical certificateIssuer"):
        validate_crl(crl, ca.issuer)


def test_empty_issuer_name() -> None:
    from ocspkit.testing.keys import generate_key
    from ocspkit.testing.profiles import build_certificate, ca_key_usage

    key = generate_key("ecdsa")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    nameless = build_certificate(
        x509.Name([]),
        key.public_key(),
        key,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=1),
        ca=True,
        key_usage=ca_key_usage(),
    )
    crl = craft(CA("ecdsa"), issuer=b"\x30\x00", key=key)
    with pytest.raises(MalformedCRLError, match="empty issuer"):
        validate_crl(parse_crl(crl), nameless)


def _printable(name: x509.Name, upper: bool = False) -> bytes:
    """``name`` re-encoded: every value a PrintableString (``upper``: in capitals)."""
    rdns = b""
    for attr in name:
        one = x509.Name([attr]).public_bytes()  # SEQUENCE { SET { SEQUENCE { OID, value } } }
        oid = one[6 : 6 + 2 + one[7]]
        value = attr.value if isinstance(attr.value, str) else attr.value.decode()
        text = value.upper() if upper else value
        rdns += _tlv(0x31, _tlv(0x30, oid + _tlv(0x13, text.encode())))
    return _tlv(0x30, rdns)


def test_a_reencoded_issuer_name_never_hides_a_listing(ca: CA) -> None:
    leaf = ca.issue(ocsp_url="")
    other_encoding = _printable(ca.issuer.subject)
    assert other_encoding != ca.issuer.subject.public_bytes()
    crl = craft(ca, issuer=other_encoding, entries=_entry(leaf.serial_number))
    assert parse_crl(crl).issuer == ca.issuer.subject  # the same name, encoded otherwise
    assert crl_status(leaf.cert, ca.issuer, crl).revoked


def test_a_reencoded_certificate_issuer_entry_never_hides_a_listing(ca: CA) -> None:
    leaf = ca.issue(ocsp_url="")
    idp = _ext(bytes.fromhex("551d1c"), _tlv(0x30, b"\x84\x01\xff"), True)  # indirect
    for upper in (False, True):
        names = _tlv(0x30, _tlv(0xA4, _printable(ca.issuer.subject, upper=upper)))
        issuer_ext = _ext(bytes.fromhex("551d1d"), names, True)
        serial = leaf.serial_number.to_bytes(21, "big").lstrip(b"\x00")
        if serial[0] & 0x80:
            serial = b"\x00" + serial
        entry = _tlv(0x30, _tlv(0x02, serial) + _utc(NOW) + _tlv(0x30, issuer_ext))
        crl = craft(ca, entries=entry, extensions=_CRL_NUMBER_1 + idp)
        assert crl_status(leaf.cert, ca.issuer, crl).revoked, upper


def test_a_partition_named_by_a_directory_name_is_still_a_partition(ca: CA) -> None:
    # issuingDistributionPoint { distributionPoint [0] { fullName [0] { directoryName } } }:
    # a partition that names no URL must not pass for a CRL of everything (a GOOD for
    # certificates of other partitions)
    leaf = ca.issue(crl_url=A, ocsp_url="")
    dir_name = _tlv(0xA4, ca.root.subject.public_bytes())
    idp = _ext(bytes.fromhex("551d1c"), _tlv(0x30, _tlv(0xA0, _tlv(0xA0, dir_name))), True)
    crl = parse_crl(craft(ca, extensions=_CRL_NUMBER_1 + idp))
    got = crl.issuing_distribution_point
    assert got is not None and got.other_names and got.has_distribution_point
    with pytest.raises(CRLScopeError):
        crl_status(leaf.cert, ca.issuer, crl)
    with pytest.raises(CRLScopeError):
        crl_status(leaf.cert, ca.issuer, crl, url=A)


def test_differing_inner_signature_algorithm(ca: CA) -> None:
    ecdsa_sha384 = bytes.fromhex("300a06082a8648ce3d040303")
    with pytest.raises((MalformedCRLError, DecodeError)):
        validate_crl(parse_crl(craft(ca, inner=ecdsa_sha384)), ca.issuer)


def test_no_next_update_uses_the_policy_max_age(ca: CA) -> None:
    from ocspkit import ValidationPolicy

    try:
        crl = parse_crl(craft(ca, next_update=False))
    except DecodeError:
        pytest.skip("cryptography refuses a CRL without nextUpdate")
    assert validate_crl(crl, ca.issuer, now=NOW + timedelta(days=3)).next_update is None
    with pytest.raises(CRLExpiredError):
        validate_crl(crl, ca.issuer, now=NOW + timedelta(days=8))
    short = ValidationPolicy(max_age_without_next_update=timedelta(hours=1))
    with pytest.raises(CRLExpiredError):
        validate_crl(crl, ca.issuer, now=NOW + timedelta(hours=2), policy=short)


# --- hostile bytes -----------------------------------------------------------------------


def _outcome(data: bytes, ca: CA) -> None:
    """parse_crl gives a CRL or a DecodeError; validating one gives a result or a typed error."""
    try:
        crl = parse_crl(data)
    except DecodeError:
        return
    len(crl)
    crl.lookup(5)
    try:
        validate_crl(crl, ca.issuer)
    except OCSPError:
        pass


_SAMPLES: dict[int, bytes] = {}


def _sample(ca: CA) -> bytes:
    """One crafted CRL per CA (ECDSA signatures vary in length from one signing to the next)."""
    return _SAMPLES.setdefault(id(ca), craft(ca, entries=_entry(5, 1) + _entry(6, 6)))


def test_every_truncation_is_a_decode_error(ca: CA) -> None:
    data = craft(ca, entries=_entry(5, 1) + _entry(6))
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            parse_crl(data[:cut])


def test_every_single_byte_mutation_is_typed(ca: CA) -> None:
    data = craft(ca, entries=_entry(5, 1) + _entry(6))
    results = set()
    for i in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(data)
            mutated[i] ^= flip
            try:
                crl = parse_crl(bytes(mutated))
                validate_crl(crl, ca.issuer)
                results.add("valid")
            except DecodeError:
                results.add("decode")
            except CRLValidationError:
                results.add("invalid")
            except SignatureError:
                results.add("signature")
    assert "decode" in results and ("invalid" in results or "signature" in results)
    assert "valid" not in results or parse_crl(data).lookup(5) is not None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_property_random_bytes(ca: CA, data: bytes) -> None:
    _outcome(data, ca)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_property_mutated_crl(ca: CA, data: st.DataObject) -> None:
    base = bytearray(_sample(ca))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(base) - 1))
        base[at] = data.draw(st.integers(0, 255))
    _outcome(bytes(base), ca)


_LISTED: dict[int, bytes] = {}


def _listed_crl(ca: CA, revoked: x509.Certificate) -> bytes:
    """One CRL listing ``revoked`` (signed once: the property tests mutate it)."""
    assert ca.status_of(revoked)[0] is CertStatus.REVOKED
    return _LISTED.setdefault(id(ca), der(ca.sign_crl(validity=timedelta(days=2))))


def _never_good(ca: CA, revoked: x509.Certificate, data: bytes) -> None:
    try:
        result = crl_status(revoked, ca.issuer, data)
    except OCSPError:  # typed: DecodeError, a CRLValidationError, a SignatureError ...
        return
    assert result.status is CertStatus.REVOKED


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_property_mutated_or_truncated_crl_never_says_good_for_a_listed_serial(
    ca: CA, revoked: x509.Certificate, data: st.DataObject
) -> None:
    crl = bytearray(_listed_crl(ca, revoked))
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(crl) - 1))
        crl[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(crl)))
    _never_good(ca, revoked, bytes(crl[:cut]))


def test_every_single_byte_mutation_of_a_listing_crl_is_never_good(
    ca: CA, revoked: x509.Certificate
) -> None:
    data = _listed_crl(ca, revoked)
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        _never_good(ca, revoked, bytes(mutated))


def test_a_good_verdict_needs_the_certificate_unlisted(ca: CA, revoked: x509.Certificate) -> None:
    result = crl_status(revoked, ca.issuer, der(ca.sign_crl()))
    assert result.status is CertStatus.REVOKED
