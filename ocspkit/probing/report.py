"""The probe's value types: what was probed (:class:`ProbeTarget`), what was found
(:class:`ProbeReport`), and one entry of a scan (:class:`ProbeOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

from cryptography import x509

from ..errors import OCSPError
from ..models import (
    CertStatus,
    HTMLRepr,
    OCSPResponse,
    RevocationResult,
    RevocationSource,
    ValidationResult,
)

#: A value of :meth:`ProbeReport.to_dict` and :meth:`ProbeOutcome.to_dict`.
FlatValue = Union[str, int, bool, None]  # noqa: UP007 - a runtime alias

#: The keys of :meth:`ProbeReport.to_dict`, in order.
REPORT_KEYS = (
    "status", "source", "this_update", "next_update", "revocation_time", "reason", "url",
    "error", "host", "port", "address", "servername", "tls_version", "cipher", "subject",
    "serial", "ocsp_urls", "crl_urls", "revocation_methods", "must_staple", "stapled",
    "staple_status", "staple_error", "must_staple_violation", "chain_valid", "chain_error",
    "checked_at", "ok",
)  # fmt: skip

__all__ = ["REPORT_KEYS", "ProbeOutcome", "ProbeReport", "ProbeTarget"]


@dataclass(frozen=True)
class ProbeTarget:
    """One server to probe.

    :ivar host: a DNS name or an IP address (IPv6 with or without brackets).
    :ivar port: the TCP port (443 by default).
    :ivar servername: the SNI name to send; ``None`` means the host when it is a DNS name, and no
        SNI for an IP address.
    """

    host: str
    port: int = 443
    servername: str | None = None

    @classmethod
    def parse(cls, text: str, default_port: int = 443) -> ProbeTarget:
        """A target from ``"host"``, ``"host:port"``, ``"[v6]:port"``, ``"::1"`` or
        ``"https://host:port/..."``. Raises ``ValueError`` on an empty host, a bad port or a
        URL of another scheme (an ``ftp://`` or ``http://`` address names no TLS server)."""
        spec = text.strip()
        if "://" in spec:
            scheme, spec = spec.split("://", 1)
            if scheme.lower() != "https":
                raise ValueError(f"not an https:// URL: {text!r} (probes speak TLS)")
        spec = spec.split("/", 1)[0].rpartition("@")[2]
        host, port_text = spec, ""
        if spec.startswith("["):
            host, _, after = spec[1:].partition("]")
            if after and not after.startswith(":"):
                raise ValueError(f"cannot parse probe target {text!r}")
            port_text = after[1:]
        elif spec.count(":") == 1:
            host, _, port_text = spec.partition(":")
        if not host:
            raise ValueError(f"no host in probe target {text!r}")
        port = default_port
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"bad port in probe target {text!r}")
            port = int(port_text)
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class ProbeReport(HTMLRepr):
    """What a TLS server sent when asked for a staple, and how it checks out.

    Problems with the server's answer are recorded here, never raised: an absent staple, an
    undecodable or invalid one (:attr:`staple_error`), an untrusted chain (:attr:`chain_error`).

    :ivar host: the host probed.
    :ivar port: its port.
    :ivar address: the IP address connected to.
    :ivar servername: the SNI name sent (``None``: no SNI).
    :ivar tls_version: the negotiated protocol, e.g. ``"TLSv1.3"``.
    :ivar cipher: the negotiated cipher suite.
    :ivar chain: the certificates served, leaf first, as sent.
    :ivar ocsp_urls: for each certificate of :attr:`chain`, its AIA OCSP URIs (a tuple each).
    :ivar stapled: True when the server sent a staple (non-empty CertificateStatus).
    :ivar staple_der: the staple's bytes as sent, ``None`` without one.
    :ivar staple: the decoded staple; ``None`` without one or when it did not decode.
    :ivar staple_result: the staple's validation result when it passed every check.
    :ivar staple_status: GOOD / REVOKED / UNKNOWN from a *valid* staple, else ``None``.
    :ivar staple_error: why the staple is not usable: :class:`~ocspkit.DecodeError`,
        :class:`~ocspkit.ResponderError` (e.g. ``tryLater``), a
        :class:`~ocspkit.ValidationError` such as :class:`~ocspkit.ExpiredResponseError`, or
        :class:`~ocspkit.IssuerNotFoundError` when the leaf's issuer was not served.
    :ivar issuer: the certificate that issued the leaf (from the chain, else the trust roots).
    :ivar must_staple: the leaf carries the TLS Feature status_request (RFC 7633).
    :ivar chain_valid: the chain leads to a trust root at :attr:`checked_at`, may serve TLS,
        and names the server (:attr:`servername`, else :attr:`host`).
    :ivar chain_error: why it is not valid, else ``None``.
    :ivar checked_at: the time the staple and the chain were checked against.
    :ivar revocation_methods: how the leaf's revocation can be checked: STAPLE (one was
        sent), OCSP (it names an OCSP URL), CRL (a CRL distribution point); empty: by none.
    :ivar crl_urls: the leaf's CRL distribution points.
    :ivar revocation: with ``probe(..., revocation=True)``, the answer of
        :func:`ocspkit.check_revocation` for the leaf (the staple first: a valid one answers
        without any fetch; else OCSP, then CRLs); ``None`` when not asked or on error.
    :ivar revocation_error: why there is no :attr:`revocation` answer when one was asked for
        (e.g. :class:`~ocspkit.IssuerNotFoundError`).
    """

    host: str
    port: int
    address: str
    servername: str | None
    tls_version: str
    cipher: str | None
    chain: tuple[x509.Certificate, ...]
    ocsp_urls: tuple[tuple[str, ...], ...]
    stapled: bool
    staple_der: bytes | None = field(repr=False)
    staple: OCSPResponse | None = field(repr=False)
    staple_result: ValidationResult | None = field(repr=False)
    staple_status: CertStatus | None
    staple_error: OCSPError | None
    issuer: x509.Certificate | None = field(repr=False)
    must_staple: bool
    chain_valid: bool
    chain_error: str | None
    checked_at: datetime
    revocation_methods: tuple[RevocationSource, ...] = ()
    crl_urls: tuple[str, ...] = ()
    revocation: RevocationResult | None = field(default=None, repr=False)
    revocation_error: OCSPError | None = None

    @property
    def leaf(self) -> x509.Certificate:
        """The server's own certificate (first of :attr:`chain`)."""
        return self.chain[0]

    @property
    def must_staple_violation(self) -> bool:
        """The leaf is Must-Staple and no *valid* staple came (none, or one that failed)."""
        return self.must_staple and self.staple_result is None

    @property
    def ok(self) -> bool:
        """All is well: the chain is valid, and either a valid staple says GOOD, or no staple
        came and the leaf does not require one."""
        if not self.chain_valid or self.must_staple_violation:
            return False
        if not self.stapled:
            return True
        return self.staple_status is CertStatus.GOOD

    def to_dict(self) -> dict[str, FlatValue]:
        """A flat, JSON-serialisable row, the same keys for every report (stable: keys are
        only ever added). The revocation answer's keys are those of
        :meth:`ocspkit.RevocationResult.to_dict` (``status``, ``source``, ``this_update``,
        ``next_update``, ``revocation_time``, ``reason``, ``url``, ``error``): from
        :attr:`revocation` when it was asked for, else from a valid staple, else ``None``
        (``error`` then says why the staple is unusable). Then the server: ``host``, ``port``,
        ``address``, ``servername``, ``tls_version``, ``cipher``; the leaf: ``subject``,
        ``serial`` (hex), ``ocsp_urls`` and ``crl_urls`` (space-separated),
        ``revocation_methods`` (``"staple ocsp crl"``, or ``"none"``), ``must_staple``; the
        staple: ``stapled``, ``staple_status``, ``staple_error``, ``must_staple_violation``;
        the chain: ``chain_valid``, ``chain_error``; ``checked_at`` and ``ok``.
        """
        from ..certs import subject_text
        from ..revocation import from_validation

        answer = self.revocation
        if answer is None and self.staple_result is not None:
            answer = from_validation(self.staple_result, RevocationSource.STAPLE, None)
        row: dict[str, FlatValue] = dict.fromkeys(REPORT_KEYS[:8])
        if answer is not None:
            row.update(answer.to_dict())
        problem = self.revocation_error or (self.staple_error if answer is None else None)
        if problem is not None and row["error"] is None:
            row["error"] = " ".join(str(problem).split()) or type(problem).__name__
        methods = " ".join(m.value for m in self.revocation_methods) or "none"
        staple_error = self.staple_error
        row.update(
            {
                "host": self.host,
                "port": self.port,
                "address": self.address,
                "servername": self.servername,
                "tls_version": self.tls_version,
                "cipher": self.cipher,
                "subject": subject_text(self.leaf),
                "serial": format(self.leaf.serial_number, "x"),
                "ocsp_urls": " ".join(self.ocsp_urls[0]) if self.ocsp_urls else "",
                "crl_urls": " ".join(self.crl_urls),
                "revocation_methods": methods,
                "must_staple": self.must_staple,
                "stapled": self.stapled,
                "staple_status": self.staple_status.value if self.staple_status else None,
                "staple_error": " ".join(str(staple_error).split()) if staple_error else None,
                "must_staple_violation": self.must_staple_violation,
                "chain_valid": self.chain_valid,
                "chain_error": self.chain_error,
                "checked_at": self.checked_at.isoformat(),
                "ok": self.ok,
            }
        )
        return row


@dataclass(frozen=True)
class ProbeOutcome:
    """One result of :func:`ocspkit.probe_many`: a report, or the error that prevented one.

    :ivar index: the position of :attr:`target` in the input (results arrive as they finish).
    """

    target: ProbeTarget
    index: int
    report: ProbeReport | None = None
    error: OCSPError | None = None

    @property
    def ok(self) -> bool:
        """True when a report was made and it is :attr:`ProbeReport.ok`."""
        return self.report is not None and self.report.ok

    def to_dict(self) -> dict[str, FlatValue]:
        """A flat, JSON-serialisable row: ``index``, ``target`` (``host:port``), the keys of
        :meth:`ProbeReport.to_dict` (``None`` when there is no report), ``error`` and
        ``error_type`` when the probe failed."""
        row: dict[str, FlatValue] = {"index": self.index, "target": str(self.target)}
        row.update(dict.fromkeys(REPORT_KEYS))
        row["error_type"] = None
        if self.report is not None:
            row.update(self.report.to_dict())
            return row
        row["host"], row["port"] = self.target.host, self.target.port
        if self.error is not None:
            row["error"] = " ".join(str(self.error).split()) or type(self.error).__name__
            row["error_type"] = type(self.error).__name__
        return row
