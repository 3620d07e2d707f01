"""Validating a served certificate chain: path to a trust root, server use, host name.

Owns the probe's chain verdict and its readable reason. Path building and validation are
``cryptography.x509.verification``'s (RFC 5280 path building under the CA/Browser Forum profile,
in Rust: validity at the given time, basicConstraints and keyUsage, extendedKeyUsage serverAuth,
the web PKI's key and signature algorithms, and the subjectAltName match). The host name rules
are RFC 6125 as browsers apply them: subjectAltName only (the subject CN is ignored), a wildcard
only as the whole left-most label; :func:`hostname_matches` states them on its own.

Must never fetch (intermediates must be served: nothing is downloaded), never check the chain's
revocation (the staple covers the leaf), and never raise for what a server sent: every problem
with a served certificate becomes the reason string.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import (
    PolicyBuilder,
    ServerVerifier,
    Store,
    Subject,
    VerificationError,
)

from .roots import default_trust_roots

__all__ = ["hostname_matches", "validate_chain"]

#: cryptography's verification messages end with the certificate being processed, as a repr.
_AT_CERT = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*\)$")
_NO_PATH = "no path to a trust root"
#: What cryptography's decoded extensions may raise for a served certificate (an absent SAN,
#: a duplicate, a GeneralName or TLS Feature value it cannot represent). Only the SAN is read
#: through them here; everything else ocspkit reads comes from the certificate's DER.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    x509.ExtensionNotFound,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
#: "Forbidden public key algorithm: AlgorithmIdentifier { ..., params: Ed25519 }"
_FORBIDDEN = re.compile(r"Forbidden (public key|signature) algorithm: .*?params: (\w+)")


def hostname_matches(cert: x509.Certificate, hostname: str) -> bool:
    """True if ``cert``'s subjectAltName covers ``hostname`` (a DNS name or an IP address).

    DNS names compare case-insensitively (IDNA A-labels); ``*.example.com`` matches exactly one
    left-most label (``a.example.com``, not ``example.com`` nor ``a.b.example.com``). IP
    addresses match iPAddress entries only. The subject common name is not consulted. A
    subjectAltName that does not decode matches nothing.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        patterns = san.get_values_for_type(x509.DNSName)
        addresses = san.get_values_for_type(x509.IPAddress)
    except _DECODE_ERRORS:
        return False
    name = hostname.strip().strip("[]")
    ip = _ip(name)
    if ip is not None:
        return ip in addresses
    wanted = _a_label(name)
    if wanted is None:
        return False
    return any(_dns_match(p.lower().rstrip("."), wanted) for p in patterns)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _a_label(name: str) -> str | None:
    try:
        return name.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


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


def _subject(hostname: str) -> Subject | None:
    """The verifier's subject for ``hostname``; ``None`` if it is no IDNA-encodable name."""
    name = hostname.strip().strip("[]")
    ip = _ip(name)
    if ip is not None:
        return IPAddress(ip)
    label = _a_label(name)
    return DNSName(label) if label else None


def _verifier(builder: PolicyBuilder, subject: Subject | None) -> ServerVerifier | None:
    """A verifier for ``subject``; ``None`` when cryptography cannot express the name (e.g. a
    DNS label with an underscore: its DNSName rules are stricter than DNS itself)."""
    if subject is None:
        return None
    try:
        return builder.build_server_verifier(subject)
    except ValueError:
        return None


def _leaf_verifier(builder: PolicyBuilder, leaf: x509.Certificate) -> ServerVerifier | None:
    """A verifier for a name the leaf itself carries, to check the path apart from the host."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
        addresses = san.get_values_for_type(x509.IPAddress)
    except _DECODE_ERRORS:
        return None
    subjects: list[Subject] = [IPAddress(a) for a in addresses[:1]]
    for name in names:  # a wildcard is checked through one name it covers
        subject = _subject("x" + name[1:] if name.startswith("*.") else name)
        if subject is not None:
            subjects.append(subject)
    for subject in subjects:
        verifier = _verifier(builder, subject)
        if verifier is not None:
            return verifier
    return None


def _readable(exc: Exception) -> str:
    """cryptography's verification message, without its prefix and object reprs."""
    text = str(exc).strip() or type(exc).__name__
    text = text.removeprefix("validation failed: ")
    match = _AT_CERT.search(text)
    if match:
        text = f"{text[: match.start()]} (at {match.group(1)})"
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        kind, name = forbidden.groups()
        text = (
            f"{text[: forbidden.start()]}a {kind} algorithm the CA/Browser Forum profile "
            f"does not allow ({name})"
        )
    if text.startswith("candidates exhausted: "):
        detail = text.removeprefix("candidates exhausted: ")
        if "no interior errors" in detail:
            return (
                f"{_NO_PATH}: an issuer is neither served nor among the trust roots "
                "(a missing intermediate, or an unknown root)"
            )
        if detail == "signature does not match":
            detail = "a certificate was not signed by the issuer its name points to (a root or "
            detail += "intermediate of the same name but another key)"
        return f"{_NO_PATH}: {detail}"
    return text


def _verify(verifier: ServerVerifier, chain: Sequence[x509.Certificate]) -> str | None:
    try:
        verifier.verify(chain[0], list(chain[1:]))
    except VerificationError as exc:
        return _readable(exc)
    except _DECODE_ERRORS as exc:  # a served certificate whose contents do not decode
        return f"unreadable certificate in the chain: {type(exc).__name__}: {exc}"
    return None


def validate_chain(
    chain: Sequence[x509.Certificate],
    *,
    trust_roots: Sequence[x509.Certificate] | None = None,
    hostname: str | None = None,
    now: datetime,
) -> str | None:
    """Validate a served chain (leaf first); ``None`` if valid, else the reason as text.

    Checks a path from the leaf through the served intermediates to one of ``trust_roots``
    (:func:`~ocspkit.probing.default_trust_roots` when ``None``) at ``now``, that the leaf
    may serve TLS, and, when ``hostname`` is given, that the leaf names it. When both the path
    and the name fail, the reason says both.
    """
    if not chain:
        return "no certificate was served"
    roots = tuple(trust_roots) if trust_roots is not None else default_trust_roots().certificates
    if not roots:
        if trust_roots is not None:
            return "no trust roots given"
        return "no trust roots: the system store is empty and certifi is not installed"
    leaf = chain[0]
    try:
        builder = PolicyBuilder().store(Store(list(roots))).time(now)
        named = hostname is not None and hostname_matches(leaf, hostname)
        if hostname is not None:
            verifier = _verifier(builder, _subject(hostname))
            if verifier is not None:
                error = _verify(verifier, chain)
                if error is None or named:
                    return error
            else:
                return f"{hostname!r} is not a DNS name the CA/Browser Forum profile accepts"
        # the host name is not the (only) problem: check the path apart from it
        own = _leaf_verifier(builder, leaf)
        if own is None:
            path_error: str | None = (
                "the certificate's subjectAltName is missing, does not decode, "
                "or names no DNS name or IP address"
            )
        else:
            path_error = _verify(own, chain)
    except Exception as exc:  # defensive: hostile bytes must become a reason, never escape
        return f"the chain could not be checked: {type(exc).__name__}: {exc}"
    reasons = [path_error] if path_error else []
    if hostname is not None and not named:
        reasons.append(f"the certificate does not name {hostname!r} in its subjectAltName")
    return "; ".join(reasons) or None
