"""The probe's value types: what was probed (:class:`ProbeTarget`), what was found
(:class:`ProbeReport`), and one entry of a scan (:class:`ProbeOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from ..errors import OCSPError
from ..models import CertStatus, HTMLRepr, OCSPResponse, ValidationResult

__all__ = ["ProbeOutcome", "ProbeReport", "ProbeTarget"]


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
        ``"https://host:port/..."``. Raises ``ValueError`` on an empty host or a bad port."""
        spec = text.strip()
        if "://" in spec:
            spec = spec.split("://", 1)[1]
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
