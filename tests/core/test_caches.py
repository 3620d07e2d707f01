"""The core's caches are keyed by content: a fresh object for the same bytes hits, and nothing
that merely resembles a certificate seen before (its signature value, its serial) is taken for
it. Every certificate and response here is made at test time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import ocspkit
from ocspkit.testing import CA

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _with_signature(cert: x509.Certificate, signature: bytes) -> x509.Certificate:
    """``cert``'s TBSCertificate and algorithm with another certificate's signature value."""
    der = cert.public_bytes(Encoding.DER)
    # TBSCertificate and signatureAlgorithm, exactly as encoded, then the new BIT STRING
    body_start = 4 if der[1] == 0x82 else 3 if der[1] == 0x81 else 2
    tbs = cert.tbs_certificate_bytes
    alg_start = body_start + len(tbs)
    alg_len = der[alg_start + 1] + 2  # a short AlgorithmIdentifier
    alg = der[alg_start : alg_start + alg_len]
    return x509.load_der_x509_certificate(_tlv(0x30, tbs + alg + _tlv(0x03, b"\x00" + signature)))


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


def test_a_copied_signature_does_not_borrow_the_genuine_certificates_proof(ca: CA) -> None:
    genuine = ca.issue("genuine.test").cert
    other = ca.issue("other.test").cert
    ok = ocspkit.validate_response(ca.sign_response(genuine, now=NOW), genuine, ca.issuer, now=NOW)
    assert ok.good  # the genuine certificate is proved, and its parts cached
    forged = _with_signature(other, genuine.signature)
    assert forged.signature == genuine.signature
    assert forged.serial_number == other.serial_number
    response = ca.sign_response(other, now=NOW)  # a genuine GOOD answer for that serial
    with pytest.raises(ocspkit.IssuerSignatureError):
        ocspkit.validate_response(response, forged, ca.issuer, now=NOW)
    # and the genuine certificate still validates afterwards
    again = x509.load_der_x509_certificate(genuine.public_bytes(Encoding.DER))
    assert ocspkit.validate_response(
        ca.sign_response(genuine, now=NOW), again, ca.issuer, now=NOW
    ).good


def test_fresh_objects_for_the_same_bytes_give_the_same_verdicts(ca: CA) -> None:
    leaf = ca.issue("fresh.test").cert
    ca.revoke(leaf)
    der = ca.sign_response(leaf, now=NOW, signer="delegated").der
    leaf_der = leaf.public_bytes(Encoding.DER)
    issuer_der = ca.issuer.public_bytes(Encoding.DER)
    for _ in range(3):
        result = ocspkit.validate_response(
            ocspkit.parse_response(der),
            x509.load_der_x509_certificate(leaf_der),
            x509.load_der_x509_certificate(issuer_der),
            now=NOW,
        )
        assert result.revoked and result.delegated
        assert result.signer == ca.delegated.cert
    # the same bytes a day after the responder certificate's validity: refused, not cached
    later = NOW + timedelta(days=400)
    with pytest.raises(ocspkit.ValidationError):
        ocspkit.validate_response(
            der,
            x509.load_der_x509_certificate(leaf_der),
            x509.load_der_x509_certificate(issuer_der),
            now=later,
        )


def _crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.DER)


def test_a_crl_signature_proved_once_answers_only_for_those_bytes_and_that_signer(ca: CA) -> None:
    der = _crl_der(ca.sign_crl(now=NOW))
    assert ocspkit.validate_crl(der, ca.issuer, now=NOW).der == der  # proved, and remembered
    twin = CA("ecdsa", name=ca.name)  # the same names, another key
    assert twin.issuer.subject == ca.issuer.subject
    with pytest.raises(ocspkit.CRLSignatureError):
        ocspkit.validate_crl(der, twin.issuer, now=NOW)
    # the same TBSCertList under another signature value (s flipped in its last bit)
    mutated = der[:-1] + bytes([der[-1] ^ 1])
    with pytest.raises(ocspkit.CRLSignatureError):
        ocspkit.validate_crl(mutated, ca.issuer, now=NOW)
    # a fresh bytes object of the genuine CRL, and a fresh issuer object: still proved
    issuer = x509.load_der_x509_certificate(ca.issuer.public_bytes(Encoding.DER))
    assert ocspkit.validate_crl(bytes(bytearray(der)), issuer, now=NOW).der == der
    # a proved signature is no pass for the rest: the same bytes after nextUpdate are refused
    with pytest.raises(ocspkit.CRLExpiredError):
        ocspkit.validate_crl(der, ca.issuer, now=NOW + timedelta(days=3))


def _sha1_crl(rsa: CA) -> bytes:
    """A CRL of ``rsa`` signed with sha1WithRSAEncryption (which cryptography no longer signs
    with: a SHA-256 CRL's two AlgorithmIdentifiers swapped, same length, and signed again)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    sha256 = bytes.fromhex("300d06092a864886f70d01010b0500")
    sha1 = bytes.fromhex("300d06092a864886f70d0101050500")
    crl = rsa.sign_crl(now=NOW)
    tbs = crl.tbs_certlist_bytes.replace(sha256, sha1, 1)
    key = rsa.issuer_key
    assert isinstance(key, rsa_keys.RSAPrivateKey)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return _tlv(0x30, tbs + sha1 + _tlv(0x03, b"\x00" + signature))


def test_a_sha1_crl_proved_where_sha1_is_allowed_is_still_refused_where_it_is_not() -> None:
    rsa = CA("rsa")
    der = _sha1_crl(rsa)
    strict = ocspkit.ValidationPolicy(allow_sha1_signatures=False)
    for _ in range(2):  # the second time from the cache of proved signatures
        assert ocspkit.validate_crl(der, rsa.issuer, now=NOW).der == der  # SHA-1 allowed
        with pytest.raises(ocspkit.WeakAlgorithmError):
            ocspkit.validate_crl(der, rsa.issuer, now=NOW, policy=strict)
