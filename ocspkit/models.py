"""ocspkit's public value types: frozen dataclasses and enums.

Owns the shapes of requests, responses and results. Plain values: no decoding, no caches, no
I/O; it must never import another ocspkit module except :mod:`ocspkit.errors`. asn1crypto never
appears here; certificates are :class:`cryptography.x509.Certificate`. Notebook renderers are
registered from above (:func:`register_html`), never imported from here.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509

from .crlmodels import CRL
from .errors import OCSPError

__all__ = [
    "HASH_ALGORITHMS",
    "CertID",
    "CertStatus",
    "Extension",
    "HTMLRepr",
    "OCSPRequest",
    "OCSPResponse",
    "ResponderID",
    "ResponseStatus",
    "RevocationAttempt",
    "RevocationReason",
    "RevocationResult",
    "RevocationSource",
    "SingleResponse",
    "ValidationResult",
    "register_html",
]

#: CertID hash algorithms ocspkit can compute and match, by name.
HASH_ALGORITHMS: tuple[str, ...] = ("sha1", "sha224", "sha256", "sha384", "sha512")

#: Hash algorithm OIDs by dotted string → name (CertIDs, RSASSA-PSS parameters). MD5 is listed
#: so that it can be named, and refused, wherever it appears.
HASH_OIDS: dict[str, str] = {
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
OID_BASIC = "1.3.6.1.5.5.7.48.1.1"
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

    def __repr__(self) -> str:
        # hexadecimal, as openssl prints serials (and never past int-to-str digit limits)
        return (
            f"CertID(hash_algorithm={self.hash_algorithm!r}, "
            f"issuer_name_hash={self.issuer_name_hash.hex()}, "
            f"issuer_key_hash={self.issuer_key_hash.hex()}, serial_number=0x{self.serial_number:x})"
        )


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

    def __repr__(self) -> str:
        if self.key_hash is not None:
            return f"ResponderID(key_hash={self.key_hash.hex()})"
        return f"ResponderID(name={safe_name(self.name)!r})"


def safe_name(name: x509.Name | None) -> str:
    """``name`` as an RFC 4514 string, or a placeholder when it cannot be rendered."""
    if name is None:
        return "<undecodable name>"
    try:
        return name.rfc4514_string()
    except Exception:  # a name cryptography parsed but cannot render (a BIT STRING CN, ...)
        return "<undecodable name>"


# Notebook renderers by the qualified name of the class they render, registered by the
# renderer layer (ocspkit._html) from above, so no value type imports a renderer.
_HTML: dict[str, Callable[[Any], str]] = {}


def register_html(qualified_name: str, render: Callable[[Any], str]) -> None:
    """Register ``render(value) -> str`` as the ``_repr_html_`` of instances of the class
    named ``qualified_name`` (``"module.QualName"``)."""
    _HTML[qualified_name] = render


class HTMLRepr:
    """Mixin: ``_repr_html_`` is the registered renderer's output (None without one, so that
    Jupyter falls back to ``repr``)."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        cls = type(self)
        render = _HTML.get(f"{cls.__module__}.{cls.__qualname__}")
        return render(self) if render is not None else None


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


@dataclass(frozen=True, slots=True)
class OCSPResponse(HTMLRepr):
    """A parsed OCSP response, of any responseStatus.

    For unsuccessful responses only :attr:`status` and :attr:`der` are meaningful; the other
    fields are empty. Times are timezone-aware UTC datetimes.

    The fields describe :attr:`der`; :func:`~ocspkit.validate_response` decides from
    :attr:`der` alone, so editing a field (:func:`dataclasses.replace`) never changes a
    verdict. Embedded certificates that cannot be decoded are left out of
    :attr:`certificates` (they could never authorise a signature).
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

    def __repr__(self) -> str:
        if self.status is not ResponseStatus.SUCCESSFUL:
            return f"OCSPResponse(status={self.status.name})"
        produced = self.produced_at.isoformat() if self.produced_at else None
        return (
            f"OCSPResponse(status=SUCCESSFUL, responses={len(self.responses)}, "
            f"responder_id={self.responder_id!r}, produced_at={produced}, "
            f"certificates={len(self.certificates)}, nonce="
            f"{self.nonce.hex() if self.nonce is not None else None})"
        )

    @property
    def successful(self) -> bool:
        """True when ``status`` is ``SUCCESSFUL``."""
        return self.status is ResponseStatus.SUCCESSFUL

    def find(self, cert_id: CertID) -> tuple[SingleResponse, ...]:
        """The SingleResponses whose CertID equals ``cert_id`` exactly."""
        return tuple(r for r in self.responses if r.cert_id == cert_id)


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

    def __repr__(self) -> str:
        # never the certificates' own repr, which raises for names cryptography cannot render
        return (
            f"OCSPRequest(cert_ids={self.cert_ids!r}, nonce="
            f"{self.nonce.hex() if self.nonce is not None else None}, signed={self.signed}, "
            f"requestor_name={self.requestor_name!r}, certificates={len(self.certificates)})"
        )

    def get_url(self, base_url: str) -> str:
        """The RFC 6960 A.1 / RFC 5019 GET URL: base64 of the DER, percent-encoded, appended.

        ``base_url`` may have a path or not, and a trailing slash or not.
        """
        # percent-encoding base64 (quote(..., safe="")) touches only these three characters
        encoded = (
            base64.b64encode(self.der)
            .decode("ascii")
            .replace("+", "%2B")
            .replace("/", "%2F")
            .replace("=", "%3D")
        )
        parts = urlsplit(base_url)
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit((parts.scheme, parts.netloc, path + encoded, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True)
class ValidationResult(HTMLRepr):
    """A response that passed every check, for one certificate.

    :ivar signer: the certificate whose key signed the response (the issuer itself, a delegated
        responder, or a locally trusted responder).
    :ivar delegated: True when a delegated responder certificate signed.
    :ivar response: the whole validated :class:`OCSPResponse`, as decoded from its DER.
    :ivar single: the :class:`SingleResponse` that answers for the certificate.
    :ivar contradicted: True when the response held several answers for the certificate that
        disagree; :attr:`single` is then the strictest of them (REVOKED over UNKNOWN over
        GOOD), as browsers decide.
    """

    signer: x509.Certificate
    delegated: bool
    response: OCSPResponse
    single: SingleResponse
    contradicted: bool = False

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
        produced = self.response.produced_at
        if produced is None:  # only a hand-built result lacks it
            raise AttributeError("the response has no producedAt")
        return produced

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

    def to_dict(self) -> dict[str, str | bool | None]:
        """A flat, JSON-serialisable summary, the same keys for every result (stable: keys
        are only ever added). Times are ISO 8601 UTC strings (``"2026-01-31T12:00:00Z"``).

        ``status``, ``source`` (``"ocsp"``), ``serial`` (lower-case hex), ``this_update``,
        ``next_update``, ``produced_at``, ``revocation_time``, ``reason`` (e.g.
        ``"key_compromise"``), ``url`` (``None``: a result does not know where it came from),
        ``error`` (``None``), ``signer`` (RFC 4514 subject), ``delegated``,
        ``contradicted``, ``hash_algorithm`` (of the CertID) and ``nonce`` (hex).
        ``pandas.DataFrame([r.to_dict() for r in results])`` gives one column per key.
        """

        reason = self.revocation_reason
        nonce = self.response.nonce
        return {
            "status": self.status.value,
            "source": "ocsp",
            "serial": format(self.cert_id.serial_number, "x"),
            "this_update": _iso(self.this_update),
            "next_update": _iso(self.next_update),
            "produced_at": _iso(self.response.produced_at),
            "revocation_time": _iso(self.revocation_time),
            "reason": reason.name.lower() if reason is not None else None,
            "url": None,
            "error": None,
            "signer": safe_name(self.signer.subject),
            "delegated": self.delegated,
            "contradicted": self.contradicted,
            "hash_algorithm": self.cert_id.hash_algorithm,
            "nonce": nonce.hex() if nonce is not None else None,
        }

    def __repr__(self) -> str:
        return (
            f"ValidationResult(status={self.status.name}, serial={self.cert_id.serial_number:x}, "
            f"this_update={self.this_update.isoformat()}, next_update="
            f"{self.next_update.isoformat() if self.next_update else None}, "
            f"delegated={self.delegated}, contradicted={self.contradicted})"
        )


# --- revocation: one answer from whichever source answered -------------------------------


class RevocationSource(enum.Enum):
    """Where a revocation answer came from."""

    STAPLE = "staple"
    OCSP = "ocsp"
    CRL = "crl"
    #: a short-lived certificate (no OCSP URL, no CRL distribution point) needs no answer
    SHORT_LIVED = "short_lived"
    #: the certificate carries RFC 9608 noRevAvail: its CA publishes no revocation status
    NO_REVOCATION_INFO = "no_revocation_info"


@dataclass(frozen=True, slots=True)
class RevocationAttempt:
    """One source tried before the answer, and why it failed.

    :ivar url: the OCSP or CRL URL tried (None for a staple).
    :ivar error: the typed error it ended with.
    """

    source: RevocationSource
    url: str | None
    error: OCSPError


def _iso(t: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, to the second (what every ``to_dict`` and the CLI's JSON
    print; ``None`` stays ``None``)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


@dataclass(frozen=True, slots=True)
class RevocationResult(HTMLRepr):
    """The one answer to "is this certificate revoked?", with its source and evidence.

    :ivar status: GOOD, REVOKED, or UNKNOWN (no source answered).
    :ivar source: where the answer came from; None for an UNKNOWN answer no source gave.
    :ivar url: the OCSP or CRL URL that answered, if any.
    :ivar ocsp: the validated OCSP answer (sources STAPLE and OCSP).
    :ivar crl: the validated CRL (source CRL; the complete CRL when a delta was applied).
    :ivar delta: the validated delta CRL that was applied, if any.
    :ivar attempts: the sources tried before the answer, in order, each with its error.
    """

    status: CertStatus
    source: RevocationSource | None
    this_update: datetime | None = None
    next_update: datetime | None = None
    revocation_time: datetime | None = None
    revocation_reason: RevocationReason | None = None
    url: str | None = None
    ocsp: ValidationResult | None = None
    crl: CRL | None = None
    delta: CRL | None = None
    attempts: tuple[RevocationAttempt, ...] = ()

    @property
    def good(self) -> bool:
        """True when the status is GOOD."""
        return self.status is CertStatus.GOOD

    @property
    def revoked(self) -> bool:
        """True when the status is REVOKED."""
        return self.status is CertStatus.REVOKED

    def to_dict(self) -> dict[str, str | None]:
        """Flat JSON-serialisable keys, stable across releases: ``status``, ``source``,
        ``this_update``, ``next_update``, ``revocation_time`` (ISO 8601 UTC, ``...Z``),
        ``reason`` (the lower-case :class:`RevocationReason` name), ``url`` and ``error``
        (the last attempt's error when the status is UNKNOWN, else None)."""
        reason = self.revocation_reason
        error = None
        if self.status is CertStatus.UNKNOWN and self.attempts:
            error = str(self.attempts[-1].error)
        return {
            "status": self.status.value,
            "source": self.source.value if self.source is not None else None,
            "this_update": _iso(self.this_update),
            "next_update": _iso(self.next_update),
            "revocation_time": _iso(self.revocation_time),
            "reason": reason.name.lower() if reason is not None else None,
            "url": self.url,
            "error": error,
        }

    def __repr__(self) -> str:
        source = self.source.name if self.source is not None else None
        return (
            f"RevocationResult(status={self.status.name}, source={source}, url={self.url!r}, "
            f"attempts={len(self.attempts)})"
        )
