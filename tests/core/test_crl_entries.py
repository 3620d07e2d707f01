"""CRL entries as looked up: the same serial, time, reason and extensions as cryptography
decodes, for every entry shape (no extension, a reasonCode alone, other extensions, UTCTime
and GeneralizedTime revocation dates, serials of every length)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ocspkit
from ocspkit.testing import CA

_CA = CA(key_type="ecdsa")
_NOW = datetime.now(timezone.utc).replace(microsecond=0)
_REASONS = [r for r in x509.ReasonFlags if r is not x509.ReasonFlags.unspecified]

entry = st.tuples(
    st.integers(min_value=1, max_value=2**150),
    # UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)
    st.integers(min_value=-(10**9), max_value=10**9),
    st.sampled_from([None, *_REASONS]),
    st.booleans(),  # an invalidityDate as well (the general path)
)


def _crl(
    entries: list[tuple[int, int, x509.ReasonFlags | None, bool]],
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_CA.issuer.subject)
        .last_update(_NOW)
        .next_update(_NOW + timedelta(days=1))
    )
    for serial, seconds, reason, invalidity in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(
                _NOW + timedelta(seconds=seconds) + timedelta(days=9000 * (seconds % 3 == 0))
            )
        )
        if reason is not None:
            revoked = revoked.add_extension(x509.CRLReason(reason), False)
        if invalidity:
            revoked = revoked.add_extension(x509.InvalidityDate(_NOW.replace(tzinfo=None)), False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(_CA.issuer_key, hashes.SHA256())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entry, min_size=1, max_size=25, unique_by=lambda e: e[0]))
def test_lookup_agrees_with_cryptography(
    entries: list[tuple[int, int, x509.ReasonFlags | None, bool]],
) -> None:
    theirs = _crl(entries)
    ours = ocspkit.parse_crl(theirs.public_bytes(Encoding.DER))
    assert len(ours) == len(entries)
    for revoked in theirs:
        found = ours.lookup(revoked.serial_number)
        assert found is not None
        assert found.serial_number == revoked.serial_number
        assert found.revocation_time == revoked.revocation_date_utc
        try:
            want = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            assert found.reason is None
        else:
            assert found.reason is not None
            assert ocspkit.RevocationReason(found.reason).name.replace("_", "").lower() == (
                want.name.lower().replace("_", "")
            )
        assert [e.oid for e in found.extensions] == [
            e.oid.dotted_string for e in revoked.extensions
        ]
    assert ours.lookup(max(e[0] for e in entries) + 1) is None


def test_the_parsers_entry_constructor_sets_every_field() -> None:
    """``new_entry`` fills CRLEntry's slots directly: a field added to CRLEntry and not to it
    would be left unset, so every field must be set and equal to what ``__init__`` makes."""
    from dataclasses import fields

    from ocspkit.crlmodels import CRLEntry, new_entry

    values = (7, _NOW, 1, b"\x30\x00", _NOW - timedelta(days=1), ())
    assert len(fields(CRLEntry)) == len(values)
    made = new_entry(*values)
    assert made == CRLEntry(*values)
    assert [getattr(made, f.name) for f in fields(CRLEntry)] == list(values)
    assert hash(made) == hash(CRLEntry(*values))
