"""probe / aprobe / probe_many: ask a TLS server for its staple and check what comes back.

Owns the probe's public functions and the decisions they share: which roots are trusted
(``trust_roots`` replaces the default store, ``extra_roots`` adds to it), which issuer the staple
is checked against, and how the report is assembled. Both forms share every decision; they differ
only in how bytes move (:func:`ocspkit.probing.tls.tls_handshake` vs ``atls_handshake``) and in
``aprobe`` reading the roots off the event loop. Must never raise for what a server sent: a bad
staple or chain is a field of the report.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime, timezone
from typing import Union

from cryptography import x509

from ..certs import crl_urls, is_must_staple, load_certificates, ocsp_urls
from ..errors import (
    DecodeError,
    IssuerNotFoundError,
    OCSPError,
    ProbeConnectionError,
    UnexpectedError,
)
from ..issuers import find_issuer
from ..models import OCSPResponse, ValidationResult
from ..policy import NonceRule, ValidationPolicy
from ..response import parse_response
from ..validate import validate_response
from .chain import validate_chain
from .report import ProbeOutcome, ProbeReport, ProbeTarget
from .revocation import arevocation_answer, revocation_answer, revocation_methods
from .roots import default_trust_roots
from .tls import HandshakeResult, atls_handshake, default_servername, tls_handshake

__all__ = [
    "STAPLE_POLICY",
    "TargetLike",
    "TrustRoots",
    "aprobe",
    "probe",
    "probe_many",
    "resolve_roots",
]


#: The default policy for staples: a staple answers no request of ours, so nonces are ignored.
STAPLE_POLICY = ValidationPolicy(nonce=NonceRule.IGNORE)

#: What ``trust_roots=`` and ``extra_roots=`` accept: certificates, a PEM bundle (bytes or
#: text) or its path.
TrustRoots = Union[Sequence[x509.Certificate], bytes, str, "os.PathLike[str]", None]
#: What :func:`probe_many` accepts as a target.
TargetLike = Union[ProbeTarget, str, tuple[str, int], tuple[str, int, Union[str, None]]]  # noqa: UP007


def _load(roots: TrustRoots) -> tuple[x509.Certificate, ...]:
    if roots is None:
        return ()
    if isinstance(roots, (bytes, str, os.PathLike)):
        return tuple(load_certificates(roots))
    items = list(roots)
    return tuple(load_certificates(items)) if items else ()


def resolve_roots(
    trust_roots: TrustRoots = None, extra_roots: TrustRoots = None
) -> tuple[x509.Certificate, ...]:
    """The roots a probe trusts: ``trust_roots`` (or, when ``None``, the default store: the
    system's, else certifi's), plus ``extra_roots``; each root once.

    Raises :class:`~ocspkit.CertificateError` for a bundle that cannot be read.
    """
    base = _load(trust_roots) if trust_roots is not None else default_trust_roots().certificates
    extra = _load(extra_roots)
    return tuple(dict.fromkeys(base + extra))


def _prepare(
    host: str, port: int, servername: str | None, now: datetime | None
) -> tuple[str, str | None]:
    if not isinstance(host, str) or not host.strip("[] "):
        raise ValueError(f"host must be a non-empty string, not {host!r}")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be 1..65535, not {port!r}")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
    host = host.strip().strip("[]")
    sni = servername if servername is not None else default_servername(host)
    try:
        if sni:
            sni.encode("idna")
    except UnicodeError as exc:
        if servername is not None:
            raise ValueError(f"invalid servername {servername!r}: {exc}") from None
        raise ProbeConnectionError(f"invalid host name: {exc}", host=host, port=port) from None
    return host, sni


def _check_staple(
    der: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    now: datetime,
    policy: ValidationPolicy,
) -> tuple[OCSPResponse | None, ValidationResult | None, OCSPError | None]:
    try:
        staple = parse_response(der)
    except DecodeError as exc:
        return None, None, exc
    except Exception as exc:  # defensive: the parser is meant to raise DecodeError only
        return None, None, UnexpectedError.wrap(exc)
    if issuer is None:
        return (
            staple,
            None,
            IssuerNotFoundError(
                "the leaf's issuer is neither in the served chain nor among the trust roots"
            ),
        )
    try:
        return staple, validate_response(staple, leaf, issuer, now=now, policy=policy), None
    except OCSPError as exc:  # ResponderError, ValidationError subclasses
        return staple, None, exc
    except Exception as exc:  # a hostile staple must be reported, never escape probe()
        return staple, None, UnexpectedError.wrap(exc)


def _find_issuer(
    chain: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]
) -> x509.Certificate | None:
    leaf = chain[0]
    for candidates in (chain[1:], roots):
        try:
            return find_issuer(leaf, candidates)
        except IssuerNotFoundError:
            continue
        except Exception:  # defensive: a served name that does not decode names no issuer
            continue
    return None


def _make_report(
    hs: HandshakeResult,
    *,
    host: str,
    port: int,
    servername: str | None,
    roots: tuple[x509.Certificate, ...],
    now: datetime,
    policy: ValidationPolicy | None,
    chain_error: str | None,
) -> ProbeReport:
    leaf = hs.chain[0]
    issuer = _find_issuer(hs.chain, roots)
    staple = result = error = None
    if hs.staple is not None:
        staple, result, error = _check_staple(
            hs.staple, leaf, issuer, now, policy if policy is not None else STAPLE_POLICY
        )
    return ProbeReport(
        host=host,
        port=port,
        address=hs.address,
        servername=servername,
        tls_version=hs.tls_version,
        cipher=hs.cipher,
        chain=hs.chain,
        ocsp_urls=tuple(ocsp_urls(c) for c in hs.chain),
        stapled=hs.staple is not None,
        staple_der=hs.staple,
        staple=staple,
        staple_result=result,
        staple_status=result.status if result is not None else None,
        staple_error=error,
        issuer=issuer,
        must_staple=is_must_staple(leaf),
        chain_valid=chain_error is None,
        chain_error=chain_error,
        checked_at=now,
        revocation_methods=revocation_methods(leaf, hs.staple is not None),
        crl_urls=_crl_urls(leaf),
    )


def _crl_urls(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        return crl_urls(leaf)
    except Exception:  # an extension that does not decode names no URL
        return ()


def _check_chain(
    hs: HandshakeResult,
    roots: tuple[x509.Certificate, ...],
    trust_roots: TrustRoots,
    hostname: str,
    now: datetime,
) -> str | None:
    # no roots at all: say why (an empty default store) rather than "none given"
    given = roots if roots or trust_roots is not None else None
    return validate_chain(hs.chain, trust_roots=given, hostname=hostname, now=now)


def probe(
    host: str,
    port: int = 443,
    *,
    servername: str | None = None,
    timeout: float = 10.0,
    tls_version: str | None = None,
    trust_roots: TrustRoots = None,
    extra_roots: TrustRoots = None,
    now: datetime | None = None,
    policy: ValidationPolicy | None = None,
    revocation: bool = False,
) -> ProbeReport:
    """Connect to a TLS server, ask for a staple (status_request), and check what it sends.

    :param host: DNS name or IP address (IPv4 or IPv6, brackets optional).
    :param servername: the SNI name; default: ``host`` when it is a DNS name, none for an IP.
    :param timeout: seconds for the whole network part (resolving, connecting, handshake).
    :param tls_version: ``"1.2"`` or ``"1.3"`` to pin the protocol; ``None`` negotiates.
    :param trust_roots: the only roots to trust for the chain check (certificates, a PEM
        bundle or its path), *instead of* the default store; ``None`` trusts the default store:
        the system's (OpenSSL's default verify paths), or certifi's when that is empty.
    :param extra_roots: roots to trust *in addition* (to ``trust_roots``, or to the default
        store), in the same forms; e.g. a private CA.
    :param now: the time to check the staple and the chain at (default: after the handshake).
    :param policy: the staple's :class:`~ocspkit.ValidationPolicy` (default: nonces ignored).
    :param revocation: also answer "is the served certificate revoked?" with
        :func:`ocspkit.check_revocation` (:attr:`ProbeReport.revocation`): a valid staple
        answers without any fetch; without one, the leaf's OCSP responders, then its CRLs,
        are asked, within a further ``timeout`` seconds. Off by default: a probe then makes
        no request beyond the TLS handshake.
    :returns: a :class:`ProbeReport`; a bad or missing staple or chain is reported there.
    :raises ProbeError: (``ProbeRefusedError``, ``ProbeConnectionError``, ``ProbeTimeoutError``,
        ``TLSHandshakeError``, ``NotTLSError``, ``NoCertificateError``) when there is
        nothing to report on.
    :raises CertificateError: when ``trust_roots`` or ``extra_roots`` cannot be read.
    """
    host, sni = _prepare(host, port, servername, now)
    roots = resolve_roots(trust_roots, extra_roots)
    hs = tls_handshake(host, port, servername=sni, timeout=timeout, tls_version=tls_version)
    at = now if now is not None else datetime.now(timezone.utc)
    chain_error = _check_chain(hs, roots, trust_roots, sni or host, at)
    report = _make_report(
        hs,
        host=host,
        port=port,
        servername=sni,
        roots=roots,
        now=at,
        policy=policy,
        chain_error=chain_error,
    )
    if not revocation:
        return report
    answer, error = revocation_answer(
        report.leaf, report.issuer, hs.staple, timeout=timeout, now=at, policy=policy
    )
    return dataclasses.replace(report, revocation=answer, revocation_error=error)


async def aprobe(
    host: str,
    port: int = 443,
    *,
    servername: str | None = None,
    timeout: float = 10.0,
    tls_version: str | None = None,
    trust_roots: TrustRoots = None,
    extra_roots: TrustRoots = None,
    now: datetime | None = None,
    policy: ValidationPolicy | None = None,
    revocation: bool = False,
) -> ProbeReport:
    """The asyncio form of :func:`probe`: same parameters, same report, same errors.

    The roots are read in a worker thread (the first use reads the system store from disk);
    the chain and staple checks are CPU-only and run on the loop.
    """
    host, sni = _prepare(host, port, servername, now)
    roots = await asyncio.to_thread(resolve_roots, trust_roots, extra_roots)
    hs = await atls_handshake(host, port, servername=sni, timeout=timeout, tls_version=tls_version)
    at = now if now is not None else datetime.now(timezone.utc)
    chain_error = _check_chain(hs, roots, trust_roots, sni or host, at)
    report = _make_report(
        hs,
        host=host,
        port=port,
        servername=sni,
        roots=roots,
        now=at,
        policy=policy,
        chain_error=chain_error,
    )
    if not revocation:
        return report
    answer, error = await arevocation_answer(
        report.leaf, report.issuer, hs.staple, timeout=timeout, now=at, policy=policy
    )
    return dataclasses.replace(report, revocation=answer, revocation_error=error)


def _target(item: TargetLike) -> ProbeTarget:
    if isinstance(item, ProbeTarget):
        return item
    if isinstance(item, str):
        return ProbeTarget.parse(item)
    if isinstance(item, tuple) and len(item) in (2, 3):
        return ProbeTarget(*item)
    raise ValueError(
        f"a probe target is 'host[:port]', (host, port[, servername]) "
        f"or a ProbeTarget, not {item!r}"
    )


def probe_many(
    targets: Iterable[TargetLike],
    *,
    concurrency: int = 20,
    servername: str | None = None,
    timeout: float = 10.0,
    tls_version: str | None = None,
    trust_roots: TrustRoots = None,
    extra_roots: TrustRoots = None,
    now: datetime | None = None,
    policy: ValidationPolicy | None = None,
    revocation: bool = False,
) -> Generator[ProbeOutcome, None, None]:
    """Probe many servers, ``concurrency`` at a time; yield a :class:`ProbeOutcome` for each as
    it finishes (``outcome.index`` is its position in ``targets``).

    ``targets`` are ``"host"``, ``"host:port"``, ``"[v6]:port"``, ``(host, port)``,
    ``(host, port, servername)`` or :class:`ProbeTarget` values, read lazily (a generator of
    millions is fine: at most ``2 * concurrency`` are pending). The other parameters are
    :func:`probe`'s (``servername`` is used for targets that name none); the roots are read
    once for the whole scan. An error that prevents a report (refused, timeout, handshake
    failure) is returned in ``outcome.error``, never raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")
    roots = resolve_roots(trust_roots, extra_roots)  # load bundles once, not once per target
    shared_roots: TrustRoots = roots if roots or trust_roots is not None else None

    def run(target: ProbeTarget, index: int) -> ProbeOutcome:
        try:
            report = probe(
                target.host,
                target.port,
                servername=target.servername or servername,
                timeout=timeout,
                tls_version=tls_version,
                trust_roots=shared_roots,
                now=now,
                policy=policy,
                revocation=revocation,
            )
        except OCSPError as exc:
            return ProbeOutcome(target, index, error=exc)
        except Exception as exc:  # one target's surprise must not abort the batch
            return ProbeOutcome(target, index, error=UnexpectedError.wrap(exc))
        return ProbeOutcome(target, index, report=report)

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="ocspkit-probe"
    )
    pending: set[concurrent.futures.Future[ProbeOutcome]] = set()
    try:
        for index, item in enumerate(targets):
            pending.add(pool.submit(run, _target(item), index))
            if len(pending) >= 2 * concurrency:
                done, pending = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                yield from (f.result() for f in done)
        while pending:
            done, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            yield from (f.result() for f in done)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
