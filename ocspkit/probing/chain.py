"""Validating a served certificate chain: path to a trust root, server use, host name.

Path building and validation are pyhanko-certvalidator's (RFC 5280 path validation against
certifi's roots or given ones; no network: intermediates must be served, nothing is fetched,
and revocation of the chain is not checked here: the staple covers the leaf). The host name check
follows RFC 6125 as browsers apply it: subjectAltName only (the subject CN is ignored), a
wildcard only as the whole left-most label.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import certifi
from cryptography import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as pv_errors

from .._asn1 import asn1_certificate

__all__ = ["avalidate_chain", "certifi_roots", "hostname_matches", "run_sync", "validate_chain"]

T = TypeVar("T")
_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)

_PV_ERRORS: tuple[type[Exception], ...] = (
    pv_errors.PathBuildingError,
    pv_errors.PathValidationError,
    pv_errors.InvalidCertificateError,
    pv_errors.ValidationError,
    pv_errors.PathError,
)


@lru_cache(maxsize=1)
def certifi_roots() -> tuple[x509.Certificate, ...]:
    """The Mozilla trust roots shipped by certifi (loaded once).

    Each certificate is loaded on its own: one that the installed cryptography rejects (or
    warns about, e.g. a non-positive serial number) is skipped rather than losing them all.
    """
    with open(certifi.where(), "rb") as fh:
        data = fh.read()
    roots = []
    for block in _PEM_BLOCK.findall(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                roots.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return tuple(roots)


@lru_cache(maxsize=8)
def _asn1_roots(roots: tuple[x509.Certificate, ...]) -> tuple[Any, ...]:
    return tuple(asn1_certificate(c) for c in roots)


def hostname_matches(cert: x509.Certificate, hostname: str) -> bool:
    """True if ``cert``'s subjectAltName covers ``hostname`` (a DNS name or an IP address).

    DNS names compare case-insensitively (IDNA A-labels); ``*.example.com`` matches exactly one
    left-most label (``a.example.com``, not ``example.com`` nor ``a.b.example.com``). IP
    addresses match iPAddress entries only. The subject common name is not consulted.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # absent, or an extension cryptography cannot represent
        return False
    name = hostname.strip().strip("[]")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    try:
        wanted = name.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    patterns = san.get_values_for_type(x509.DNSName)
    return any(_dns_match(p.lower().rstrip("."), wanted) for p in patterns)


def _dns_match(pattern: str, name: str) -> bool:
    if not pattern or not name:
        return False
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[2:]
    head, _, rest = name.partition(".")
    return bool(head) and "*" not in suffix and suffix.count(".") >= 1 and rest == suffix


async def avalidate_chain(
    chain: Sequence[x509.Certificate],
    *,
    trust_roots: Sequence[x509.Certificate] | None = None,
    hostname: str | None = None,
    now: datetime,
) -> str | None:
    """Validate a served chain (leaf first); ``None`` if valid, else the reason as text.

    Checks a path from the leaf through the served intermediates to one of ``trust_roots``
    (certifi's when ``None``) at ``now``, that the leaf may serve TLS (keyUsage/extendedKeyUsage
    if present) and, when ``hostname`` is given, that the leaf names it.
    """
    if not chain:
        return "no certificate was served"
    roots = tuple(trust_roots) if trust_roots is not None else certifi_roots()
    if not roots:
        return "no trust roots given"
    leaf = chain[0]
    context = ValidationContext(
        trust_roots=list(_asn1_roots(roots)),
        moment=now,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(
        asn1_certificate(leaf),
        intermediate_certs=[asn1_certificate(c) for c in chain[1:]],
        validation_context=context,
    )
    validate: Any = validator.async_validate_usage  # untyped in pyhanko-certvalidator
    try:
        await validate(set(), {"server_auth"}, extended_optional=True)
    except _PV_ERRORS as exc:
        return str(exc) or type(exc).__name__
    except ValueError as exc:  # malformed certificate contents seen by asn1crypto
        return f"unreadable certificate in the chain: {exc}"
    if hostname is not None and not hostname_matches(leaf, hostname):
        return f"the certificate does not name {hostname!r} in its subjectAltName"
    return None


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    Inside a loop (a Jupyter cell, an async framework) it runs on a fresh loop in a worker
    thread, since a running loop cannot be re-entered.
    """

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def validate_chain(
    chain: Sequence[x509.Certificate],
    *,
    trust_roots: Sequence[x509.Certificate] | None = None,
    hostname: str | None = None,
    now: datetime,
) -> str | None:
    """The blocking form of :func:`avalidate_chain` (same checks, same answer)."""
    return run_sync(
        lambda: avalidate_chain(chain, trust_roots=trust_roots, hostname=hostname, now=now)
    )
