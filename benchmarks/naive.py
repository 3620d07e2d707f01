"""A minimal, honest pyca-only OCSP validator: the peer of benchmarks/validate.py.

What a careful script written directly on cryptography's ``x509.ocsp`` loader checks, no more
and no less: the responseStatus; the SingleResponse whose CertID matches (hash of the issuer's
name and key, serial); the signer is the issuer, or a delegated responder certificate embedded
in the response, carrying id-kp-OCSPSigning and issued by the issuer (name and signature); the
response signature; thisUpdate/nextUpdate against ``now``. Every call starts from bytes, as a
monitor does, and nothing is cached.

It does not verify the issuer's signature on the certificate, check the responder
certificate's validity period, critical extensions, producedAt, contradictory answers or
nonces (ocspkit does all of these). It is a yardstick, not a validator to use.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = ["NaiveError", "validate", "validate_objects"]

_SKEW = timedelta(minutes=5)


class NaiveError(Exception):
    """The response is not acceptable."""


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what CertID and ResponderID byKey hash)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    raise NaiveError("unsupported key type")


def _verify(key: object, signature: bytes, data: bytes, hash_alg: object) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_alg)  # type: ignore[arg-type]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_alg))  # type: ignore[arg-type]
    else:
        raise NaiveError("unsupported key type")


def _names(r: ocsp.OCSPResponse, cert: x509.Certificate, bits: bytes) -> bool:
    if r.responder_key_hash is not None:
        return r.responder_key_hash == hashlib.sha1(bits).digest()
    return r.responder_name == cert.subject


def validate(
    response_der: bytes, cert_der: bytes, issuer_der: bytes, now: datetime
) -> ocsp.OCSPSingleResponse:
    """The matching SingleResponse of a response that passes the checks above, or raise."""
    return validate_objects(
        ocsp.load_der_ocsp_response(response_der),
        x509.load_der_x509_certificate(cert_der),
        x509.load_der_x509_certificate(issuer_der),
        now,
    )


def validate_objects(
    r: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> ocsp.OCSPSingleResponse:
    """:func:`validate` on objects already loaded (the reused-objects row)."""
    if r.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise NaiveError(f"responseStatus {r.response_status}")

    issuer_bits = _key_bits(issuer)
    issuer_name_der = issuer.subject.public_bytes()
    serial = cert.serial_number
    single = None
    for s in r.responses:
        if s.serial_number != serial:
            continue
        h = s.hash_algorithm.name
        if (
            s.issuer_name_hash == hashlib.new(h, issuer_name_der).digest()
            and s.issuer_key_hash == hashlib.new(h, issuer_bits).digest()
        ):
            single = s
            break
    if single is None:
        raise NaiveError("no matching SingleResponse")

    if _names(r, issuer, issuer_bits):
        signer_key = issuer.public_key()
    else:
        for c in r.certificates:
            if _names(r, c, _key_bits(c)):
                break
        else:
            raise NaiveError("signer not found")
        try:
            c.verify_directly_issued_by(issuer)
            eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, x509.ExtensionNotFound) as exc:
            raise NaiveError(f"delegated responder not authorised: {exc!r}") from None
        except Exception as exc:  # InvalidSignature
            raise NaiveError(f"delegated responder not issued by the issuer: {exc!r}") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise NaiveError("delegated responder lacks id-kp-OCSPSigning")
        signer_key = c.public_key()

    hash_alg = r.signature_hash_algorithm
    if hash_alg is None:
        raise NaiveError("unsupported signature algorithm")
    try:
        _verify(signer_key, r.signature, r.tbs_response_bytes, hash_alg)
    except NaiveError:
        raise
    except Exception:
        raise NaiveError("bad signature") from None

    tu, nu = single.this_update_utc, single.next_update_utc
    if tu > now + _SKEW:
        raise NaiveError("thisUpdate in the future")
    if nu is not None and nu < now - _SKEW:
        raise NaiveError("expired")
    return single
