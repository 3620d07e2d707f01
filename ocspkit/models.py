"""ocspkit's public value types: frozen dataclasses and enums.

asn1crypto never appears here; certificates are :class:`cryptography.x509.Certificate`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, SupportsIndex, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import DecodeError

if TYPE_CHECKING:
    from ._facts import Facts

__all__ = [
    "CertStatus",
    "ResponseStatus",
    "RevocationReason",
    "HASH_ALGORITHMS",
    "CertID",
    "Extension",
    "ResponderID",
    "SingleResponse",
    "OCSPResponse",
    "OCSPRequest",
    "ValidationResult",
]

#: CertID hash algorithms ocspkit can compute and match, by name.
HASH_ALGORITHMS: tuple[str, ...] = ("sha1", "sha224", "sha256", "sha384", "sha512")

OID_NONCE = "1.3.6.1.5.5.7.48.1.2"
OID_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5"
OID_ARCHIVE_CUTOFF = "1.3.6.1.5.5.7.48.1.6"
OID_CRL_ID = "1.3.6.1.5.5.7.48.1.3"
OID_EXTENDED_REVOKE = "1.3.6.1.5.5.7.48.1.9"


class CertStatus(enum.Enum):
    """The status of one certificate in a SingleResponse."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class ResponseStatus(enum.IntEnum):
    """OCSPResponseStatus (RFC 6960 §4.2.1)."""

    SUCCESSFUL = 0
    MALFORMED_REQUEST = 1
    INTERNAL_ERROR = 2
    TRY_LATER = 3
    SIG_REQUIRED = 5
    UNAUTHORIZED = 6


class RevocationReason(enum.IntEnum):
    """CRLReason (RFC 5280 §5.3.1)."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8
    PRIVILEGE_WITHDRAWN = 9
    AA_COMPROMISE = 10


def _hash(name: str, data: bytes) -> bytes:
    try:
        return hashlib.new(name, data).digest()
    except ValueError:
        raise ValueError(f"unsupported CertID hash algorithm {name!r}") from None


# Issuer-derived values, cached by object identity (a dict hit costs ~0.1 µs, where hashing a
# Certificate costs ~1 µs). The entry holds the certificate, so its id cannot be reused while
# cached; the cache is bounded by clearing it when full.
_CACHE_MAX = 1024
_parts_cache: dict[int, tuple[x509.Certificate, bytes, bytes]] = {}
_parts_by_der: dict[x509.Certificate, tuple[bytes, bytes]] = {}
_hash_cache: dict[tuple[int, str], tuple[x509.Certificate, bytes, bytes]] = {}


_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Store in one of the bounded caches: emptied when full (hits stay a plain dict read)."""
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def issuer_parts(issuer: x509.Certificate) -> tuple[bytes, bytes]:
    """(subject DER, subjectPublicKey BIT STRING contents) of a certificate, cached.

    First by object identity, then by the certificate's DER (a response's embedded
    certificates are new objects at each parse).
    """
    hit = _parts_cache.get(id(issuer))
    if hit is not None and hit[0] is issuer:
        return hit[1], hit[2]
    parts = _parts_by_der.get(issuer)
    if parts is None:
        from ._der import spki_bit_string, tbs_names_and_key

        # The bytes as the certificate encodes them (RFC 6960 §4.1.1 hashes the DER of the
        # issuer's name and the value of its subjectPublicKey BIT STRING): a re-encoding could
        # differ (an EC point in compressed form, a name with unusual string types).
        try:
            _, subject, spki = tbs_names_and_key(issuer.tbs_certificate_bytes)
        except DecodeError:
            subject = issuer.subject.public_bytes()
            spki = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        parts = (subject, spki_bit_string(spki))
        remember(_parts_by_der, issuer, parts)
    remember(_parts_cache, id(issuer), (issuer, *parts))
    return parts


_serial_cache: dict[int, tuple[x509.Certificate, int]] = {}


def cert_serial(cert: x509.Certificate) -> int:
    """``cert.serial_number``, cached by identity (cryptography builds a new int each read)."""
    hit = _serial_cache.get(id(cert))
    if hit is not None and hit[0] is cert:
        return hit[1]
    serial = cert.serial_number
    remember(_serial_cache, id(cert), (cert, serial))
    return serial


def issuer_hashes(issuer: x509.Certificate, hash_algorithm: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of ``issuer`` under ``hash_algorithm``, cached."""
    key = (id(issuer), hash_algorithm)
    hit = _hash_cache.get(key)
    if hit is not None and hit[0] is issuer:
        return hit[1], hit[2]
    if hash_algorithm not in HASH_ALGORITHMS:
        raise ValueError(
            f"unsupported CertID hash algorithm {hash_algorithm!r}; use one of {HASH_ALGORITHMS}"
        )
    name, spk = issuer_parts(issuer)
    hashes = (_hash(hash_algorithm, name), _hash(hash_algorithm, spk))
    remember(_hash_cache, key, (issuer, *hashes))
    return hashes


@dataclass(frozen=True, slots=True)
class CertID:
    """An OCSP CertID: which certificate a request or SingleResponse is about.

    :ivar hash_algorithm: ``"sha1"``, ``"sha256"``, ... (the name; an unknown OID is kept as
        its dotted string and never matches a certificate).
    """

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int

    @classmethod
    def for_certificate(
        cls, cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "sha1"
    ) -> CertID:
        """The CertID of ``cert`` issued by ``issuer`` under ``hash_algorithm``."""
        name_hash, key_hash = issuer_hashes(issuer, hash_algorithm)
        return cls(hash_algorithm, name_hash, key_hash, cert.serial_number)

    def matches(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        """True if this CertID identifies ``cert`` as issued by ``issuer`` (all four fields)."""
        if self.serial_number != cert_serial(cert) or self.hash_algorithm not in HASH_ALGORITHMS:
            return False
        name_hash, key_hash = issuer_hashes(issuer, self.hash_algorithm)
        return self.issuer_name_hash == name_hash and self.issuer_key_hash == key_hash


@dataclass(frozen=True, slots=True)
class Extension:
    """An X.509/OCSP extension as carried: OID, criticality and the extnValue contents (DER)."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True, slots=True)
class ResponderID:
    """The ResponderID of a response: by name (``name`` set) or by key hash (``key_hash`` set).

    :ivar name_der: the name exactly as encoded (``name`` is None when cryptography cannot
        represent an unusual name; matching then compares the encodings).
    """

    name: x509.Name | None = None
    key_hash: bytes | None = None
    name_der: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def by_key(self) -> bool:
        """True for a ResponderID byKey."""
        return self.key_hash is not None

    def matches(self, cert: x509.Certificate) -> bool:
        """True if ``cert`` is the responder this ID names (key SHA-1 hash, or subject name).

        A certificate whose key or name cannot be decoded matches nothing.
        """
        return responder_matches(self.key_hash, self.name_der, self.name, cert)


def responder_matches(
    key_hash: bytes | None, name_der: bytes | None, name: x509.Name | None, cert: x509.Certificate
) -> bool:
    """The body of :meth:`ResponderID.matches`, on the ResponderID's parts."""
    try:
        if key_hash is not None:
            return issuer_hashes(cert, "sha1")[1] == key_hash
        if name_der is not None and issuer_parts(cert)[0] == name_der:
            return True
        return name is not None and cert.subject == name
    except (ValueError, TypeError, UnsupportedAlgorithm, DecodeError):
        return False


@dataclass(frozen=True, slots=True)
class SingleResponse:
    """One SingleResponse: the status of one certificate.

    Also the input of :func:`ocspkit.build_response`.
    """

    cert_id: CertID
    status: CertStatus
    this_update: datetime
    next_update: datetime | None = None
    revocation_time: datetime | None = None
    revocation_reason: RevocationReason | None = None
    extensions: tuple[Extension, ...] = ()


class _LazyFacts:
    """Holds the decoder's facts of a response whose fields are not set yet (see _facts.py)."""

    __slots__ = ("_facts",)
    _facts: Facts


@dataclass(frozen=True, slots=True)
class OCSPResponse(_LazyFacts):
    """A parsed OCSP response, of any responseStatus.

    For unsuccessful responses only :attr:`status` and :attr:`der` are meaningful; the other
    fields are empty. Times are timezone-aware UTC datetimes.

    :func:`~ocspkit.parse_response` fills the fields other than ``status`` and ``der`` from the
    decoded response when one is first read; equality, hashing, ``repr`` and
    :func:`dataclasses.replace` see the same values as for an eagerly built instance. A parsed
    response pickles and copies as its DER, so it pickles even with embedded certificates.
    """

    status: ResponseStatus
    der: bytes
    responses: tuple[SingleResponse, ...] = ()
    responder_id: ResponderID | None = None
    produced_at: datetime | None = None
    certificates: tuple[x509.Certificate, ...] = ()
    extensions: tuple[Extension, ...] = ()
    nonce: bytes | None = None
    signature_algorithm_oid: str | None = None
    signature: bytes = b""
    tbs_response_data: bytes = field(default=b"", repr=False)
    version: int = 1
    signature_algorithm_params: bytes | None = field(default=None, repr=False)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # Only reached for a field slot that is still empty: a lazily decoded response.
            if name in _LAZY_FIELDS:
                facts = self._facts  # AttributeError if this is not a lazy instance
                from ._facts import materialize

                materialize(self, facts)
                return object.__getattribute__(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        # A parsed response pickles and copies as its DER (x509.Certificate does not pickle).
        if getattr(self, "_facts", None) is not None:
            from .response import parse_response

            return (parse_response, (self.der,))
        return object.__reduce_ex__(self, protocol)

    @property
    def successful(self) -> bool:
        """True when ``status`` is ``SUCCESSFUL``."""
        return self.status is ResponseStatus.SUCCESSFUL

    @property
    def signature_algorithm(self) -> str | None:
        """A readable name of the signature algorithm (e.g. ``"sha256WithRSAEncryption"``)."""
        from ._sigalgs import algorithm_name

        return algorithm_name(self.signature_algorithm_oid)

    def find(self, cert_id: CertID) -> tuple[SingleResponse, ...]:
        """The SingleResponses whose CertID equals ``cert_id`` exactly."""
        return tuple(r for r in self.responses if r.cert_id == cert_id)

    def _repr_html_(self) -> str:
        from ._html import response_html

        return response_html(self)


# The fields a parsed response fills on first read (see OCSPResponse.__getattr__).
_LAZY_FIELDS = frozenset(f.name for f in fields(OCSPResponse)) - {"status", "der"}


@dataclass(frozen=True)
class OCSPRequest:
    """An OCSP request: one or more CertIDs and, usually, a nonce."""

    der: bytes
    cert_ids: tuple[CertID, ...]
    nonce: bytes | None = None
    extensions: tuple[Extension, ...] = ()
    signed: bool = False
    requestor_name: str | None = None
    certificates: tuple[x509.Certificate, ...] = ()

    def get_url(self, base_url: str) -> str:
        """The RFC 6960 A.1 / RFC 5019 GET URL: base64 of the DER, percent-encoded, appended.

        ``base_url`` may have a path or not, and a trailing slash or not.
        """
        from .request import get_url

        return get_url(self.der, base_url)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """A response that passed every check, for one certificate.

    :ivar signer: the certificate whose key signed the response (the issuer itself, a delegated
        responder, or a locally trusted responder).
    :ivar delegated: True when a delegated responder certificate signed.
    :ivar response: the whole validated :class:`OCSPResponse`.
    :ivar single: the :class:`SingleResponse` that answers for the certificate.
    """

    signer: x509.Certificate
    delegated: bool
    response: OCSPResponse
    single: SingleResponse

    @property
    def status(self) -> CertStatus:
        """GOOD, REVOKED or UNKNOWN."""
        return self.single.status

    @property
    def cert_id(self) -> CertID:
        """The CertID the answer is for."""
        return self.single.cert_id

    @property
    def this_update(self) -> datetime:
        """thisUpdate of the answer."""
        return self.single.this_update

    @property
    def next_update(self) -> datetime | None:
        """nextUpdate of the answer (None if the responder gave none)."""
        return self.single.next_update

    @property
    def produced_at(self) -> datetime:
        """producedAt of the response."""
        assert self.response.produced_at is not None
        return self.response.produced_at

    @property
    def revocation_time(self) -> datetime | None:
        """When the certificate was revoked (REVOKED only)."""
        return self.single.revocation_time

    @property
    def revocation_reason(self) -> RevocationReason | None:
        """The CRLReason, if the responder gave one (REVOKED only)."""
        return self.single.revocation_reason

    @property
    def good(self) -> bool:
        """True when the certificate's status is GOOD."""
        return self.single.status is CertStatus.GOOD

    @property
    def revoked(self) -> bool:
        """True when the certificate's status is REVOKED."""
        return self.single.status is CertStatus.REVOKED

    def __repr__(self) -> str:
        return (
            f"ValidationResult(status={self.status.name}, serial={self.cert_id.serial_number:x}, "
            f"this_update={self.this_update.isoformat()}, next_update="
            f"{self.next_update.isoformat() if self.next_update else None}, "
            f"delegated={self.delegated})"
        )

    def _repr_html_(self) -> str:
        from ._html import result_html

        return result_html(self)


def ensure_bytes(data: object, what: str) -> bytes:
    """Bytes from bytes-like input, or DecodeError naming ``what``."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise DecodeError(f"{what} must be bytes, not {type(data).__name__}")
