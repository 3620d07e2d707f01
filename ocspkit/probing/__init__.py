"""Probing live TLS servers: does it staple, and is the staple valid?

>>> report = ocspkit.probe("example.com")                  # doctest: +SKIP
>>> report.tls_version, report.stapled, report.staple_status  # doctest: +SKIP
('TLSv1.3', True, <CertStatus.GOOD: 'good'>)

The :mod:`ocspkit.probing` package is an I/O edge: it imports the core and :mod:`ocspkit.errors`,
never another edge, and is loaded only when one of its names is first used.
:func:`probe` sends a ClientHello with status_request (pyOpenSSL), reads the served chain and
the stapled OCSP response, validates the staple against the served issuer with
:func:`ocspkit.validate_response`, and the chain with ``cryptography.x509.verification`` against
the system's trust store (certifi's bundle only as the fallback; see
:func:`default_trust_roots`). :func:`aprobe` is its asyncio form; :func:`probe_many` scans many
servers.
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
from .api import TrustRoots as TrustRoots
from .api import aprobe, probe, probe_many
from .chain import hostname_matches
from .report import ProbeOutcome, ProbeReport, ProbeTarget
from .roots import DefaultRoots as DefaultRoots
from .roots import certifi_roots as certifi_roots
from .roots import default_trust_roots as default_trust_roots
from .roots import system_roots as system_roots

# DefaultRoots, TrustRoots, certifi_roots, default_trust_roots and system_roots are public
# (documented in the probe guide) and join __all__ once ``ocspkit`` exports them too.
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
