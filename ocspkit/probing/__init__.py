"""Probing live TLS servers: does it staple, and is the staple valid?

>>> report = ocspkit.probe("example.com")                  # doctest: +SKIP
>>> report.tls_version, report.stapled, report.staple_status  # doctest: +SKIP
('TLSv1.3', True, <CertStatus.GOOD: 'good'>)

:func:`probe` sends a ClientHello with status_request (pyOpenSSL), reads the served chain and
the stapled OCSP response, validates the staple against the served issuer with
:func:`ocspkit.validate_response`, and the chain against trust roots (certifi's by default) with
pyhanko-certvalidator. :func:`aprobe` is its asyncio form; :func:`probe_many` scans many servers.
"""

from __future__ import annotations

from ..errors import (
    NoCertificateError,
    NotTLSError,
    ProbeConnectionError,
    ProbeError,
    ProbeRefusedError,
    ProbeTimeoutError,
    TLSHandshakeError,
)
from .api import aprobe, probe, probe_many
from .chain import hostname_matches
from .report import ProbeOutcome, ProbeReport, ProbeTarget

__all__ = [
    "NoCertificateError",
    "NotTLSError",
    "ProbeConnectionError",
    "ProbeError",
    "ProbeOutcome",
    "ProbeRefusedError",
    "ProbeReport",
    "ProbeTarget",
    "ProbeTimeoutError",
    "TLSHandshakeError",
    "aprobe",
    "hostname_matches",
    "probe",
    "probe_many",
]
