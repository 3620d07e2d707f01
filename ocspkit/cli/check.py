"""``ocspkit check``: is the certificate revoked? The one answer of ``check_revocation``.

Also owns what ``check-many`` and ``inspect`` share with it: the common options and reading a
certificate with its issuer. Must never print a result it did not validate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from ..errors import IssuerNotFoundError
from ..models import RevocationResult
from .common import (
    SubParsers,
    UsageError,
    add_json_flag,
    add_timeout_option,
    add_verbose_flag,
    describe_error,
    exit_for_error,
    exit_for_status,
    http_url,
    settle,
    shown,
)
from .output import (
    Style,
    attempts_json,
    cert_json,
    emit_json,
    envelope,
    error_json,
    revocation_json,
    revocation_rows,
    subject,
)

__all__ = ["add_source_option", "common_options", "inputs", "issuer_bundle", "register", "run",
           "sources_of"]  # fmt: skip

_ISSUER_HELP = (
    "the issuer's certificate (PEM/DER; a bundle works, the issuer is found in it by signature). "
    "Default: the certificates after the first in {where}, else AIA caIssuers"
)


def common_options(
    p: argparse.ArgumentParser, what: str = "the command", where: str = "--cert"
) -> None:
    """``--issuer``, ``--url``, ``--sha256``, ``--no-nonce``, ``--timeout``, ``-v``, ``--json``;
    ``what`` the deadline covers, ``where`` the issuer is looked for by default."""
    p.add_argument("--issuer", metavar="FILE", help=_ISSUER_HELP.format(where=where))
    p.add_argument(
        "--url",
        type=http_url,
        help="ask this responder instead of the certificate's AIA OCSP URLs "
        "(like Apache's SSLStaplingForceURL)",
    )
    p.add_argument("--sha256", action="store_true", help="use SHA-256 CertIDs (default: SHA-1)")
    p.add_argument("--no-nonce", action="store_true", help="send no nonce in the request")
    add_timeout_option(p, what)
    add_verbose_flag(p)
    add_json_flag(p)


def add_source_option(p: argparse.ArgumentParser) -> None:
    """``--source ocsp|crl``: ask only that source (default: OCSP, then the CRLs)."""
    p.add_argument(
        "--source",
        choices=("ocsp", "crl"),
        help="ask only this source: 'ocsp' (the AIA OCSP responders, or --url) or 'crl' (the "
        "CRL distribution points). Default: OCSP first, then the CRLs when OCSP gives no answer",
    )


def sources_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The ``sources`` of ``check_revocation`` for ``--source``."""
    return (args.source,) if args.source else ("ocsp", "crl")


def register(sub: SubParsers, summary: str) -> None:
    """Add ``check`` to the subcommands."""
    p = sub.add_parser(
        "check",
        help=summary,
        description="Answer from whichever source the CA publishes: the certificate's OCSP "
        "responders (or --url), then, when none answers, its CRL distribution points. Every "
        "answer is validated completely (OCSP: CertID, signature, responder authorisation, "
        "freshness, nonce; CRL: signature, issuer, freshness, scope). Certificates that need "
        "no answer (noRevAvail, short-lived) are good without a request. The source is "
        "printed. Exit code: 0 good, 1 revoked, 2 unknown, 3 no valid answer, 4 usage.",
    )
    p.add_argument(
        "--cert",
        required=True,
        metavar="FILE",
        help="the certificate to check (PEM or DER; in a PEM chain, the first one)",
    )
    add_source_option(p)
    common_options(p)
    p.set_defaults(func=run)


@dataclass(frozen=True)
class _Input:
    """A certificate to check, its issuer if known locally, and the other certificates."""

    path: str
    cert: x509.Certificate
    issuer: x509.Certificate | None
    bundle: tuple[x509.Certificate, ...]


def inputs(path: str, extra: Sequence[x509.Certificate]) -> _Input:
    """The certificate in ``path`` (the first), its issuer if found there or in ``extra``."""
    from ..issuers import find_issuer
    from .common import load_cert_file

    certs = load_cert_file(path)
    cert, bundle = certs[0], (*certs[1:], *extra)
    try:
        issuer: x509.Certificate | None = find_issuer(cert, bundle)
    except IssuerNotFoundError:
        issuer = None
    return _Input(path, cert, issuer, tuple(bundle))


def issuer_bundle(args: argparse.Namespace) -> list[x509.Certificate]:
    """The certificates of ``--issuer`` (none without it)."""
    from .common import load_cert_file

    return load_cert_file(args.issuer, "issuer") if args.issuer else []


def no_issuer(issuer_file: str | None, cert_file: str, cert: x509.Certificate) -> UsageError:
    """The usage error for ``cert`` (read from ``cert_file``) whose issuer is in none of the
    files given: the ``--issuer`` file, else the certificates after it in ``cert_file``."""
    if issuer_file:
        return UsageError(f"{shown(issuer_file)} holds no certificate that issued {subject(cert)}")
    where = f"{shown(cert_file)} (after the certificate)"
    return UsageError(f"no issuer of {subject(cert)} found in {where}: use --issuer")


def run(args: argparse.Namespace) -> int:
    """``ocspkit check``."""
    from ..certs import crl_urls, ocsp_urls
    from ..client import ClientConfig, check_revocation

    extra = issuer_bundle(args)
    item = inputs(args.cert, extra)
    if args.issuer and item.issuer is None:
        raise no_issuer(args.issuer, args.cert, item.cert)
    urls: list[str] = [args.url] if args.url else list(ocsp_urls(item.cert))
    result: RevocationResult | None = None
    error: BaseException | None = None
    try:
        result = check_revocation(
            item.cert,
            item.issuer,
            url=args.url,
            bundle=item.bundle,
            sources=sources_of(args),
            require=True,
            hash_algorithm="sha256" if args.sha256 else "sha1",
            nonce=not args.no_nonce,
            config=ClientConfig(timeout=args.timeout, deadline=args.timeout),
        )
    except Exception as exc:  # reported below: one line, exit 3 (or 4 for bad input)
        error = exc
    if result is not None:
        code = exit_for_status(result.status)
    else:
        code = exit_for_error(error or RuntimeError("no answer"))
    settle(code)
    message = describe_error(error) if error is not None else None
    if args.json:
        emit_json(
            envelope(
                "check",
                int(code),
                certificate=cert_json(item.cert),
                issuer=cert_json(item.issuer) if item.issuer is not None else None,
                ocsp_urls=urls,
                crl_urls=list(crl_urls(item.cert)),
                status=result.status.value if result is not None else None,
                source=result.source.value if result and result.source else None,
                result=revocation_json(result) if result is not None else None,
                attempts=attempts_json(result if result is not None else error),
                error=error_json(error, message or "") if error is not None else None,
            )
        )
    else:
        style = Style()
        style.line(f"{style.paint(subject(item.cert), 'bold')}  serial {item.cert.serial_number:x}")
        rows = [
            ("responder", ", ".join(urls) or "(none)"),
            ("crl", ", ".join(crl_urls(item.cert)) or "(none)"),
        ]
        style.table(rows + (revocation_rows(result, style) if result is not None else []))
    if message is not None:
        sys.stderr.write(f"ocspkit check: error: {message}\n")
    return int(code)
