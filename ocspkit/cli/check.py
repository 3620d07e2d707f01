"""``ocspkit check`` and ``ocspkit check-many``: query responders, validate every answer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from ..errors import IssuerNotFoundError
from ..models import CertStatus, ValidationResult
from .common import (
    ExitCode,
    SubParsers,
    UsageError,
    add_json_flag,
    describe_error,
    exit_for_error,
    exit_for_status,
    seconds,
)
from .output import (
    JSONValue,
    Style,
    cert_json,
    emit_json,
    envelope,
    error_json,
    result_json,
    result_rows,
    subject,
)

__all__ = ["register", "register_many", "run", "run_many"]

_ISSUER_HELP = (
    "the issuer's certificate (PEM/DER; a bundle works, the issuer is found in it by signature). "
    "Default: the certificates after the first in --cert, else AIA caIssuers"
)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--issuer", metavar="FILE", help=_ISSUER_HELP)
    p.add_argument("--sha256", action="store_true", help="use SHA-256 CertIDs (default: SHA-1)")
    p.add_argument("--no-nonce", action="store_true", help="send no nonce in the request")
    p.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="SECONDS", help="per request (default 10)"
    )
    add_json_flag(p)


def register(sub: SubParsers) -> None:
    """Add ``check`` to the subcommands."""
    p = sub.add_parser(
        "check",
        help="check one certificate (like openssl ocsp, but fully validated)",
        description="Ask the certificate's OCSP responder (or --url) about it and validate the "
        "answer completely: CertID, signature, responder authorisation, freshness, nonce. "
        "Exit code: 0 good, 1 revoked, 2 unknown, 3 no valid answer, 4 usage.",
    )
    p.add_argument(
        "--cert",
        required=True,
        metavar="FILE",
        help="the certificate to check (PEM or DER; in a PEM chain, the first one)",
    )
    p.add_argument("--url", help="ask this responder instead of the certificate's AIA OCSP URLs")
    _common_options(p)
    p.set_defaults(func=run)


def register_many(sub: SubParsers) -> None:
    """Add ``check-many`` to the subcommands."""
    p = sub.add_parser(
        "check-many",
        help="check many certificates concurrently (progress bar on a terminal)",
        description="Check every FILE (a certificate, or a chain with its issuer after it). "
        "Exit code: 1 if any is revoked, else 3 if any got no valid answer, else 2 if any "
        "is unknown, else 0; 4 for a usage error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="certificate or chain files")
    p.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="queries in flight (default 8)"
    )
    _common_options(p)
    p.set_defaults(func=run_many)


@dataclass(frozen=True)
class _Input:
    """A certificate to check, its issuer if known locally, and the other certificates."""

    path: str
    cert: x509.Certificate
    issuer: x509.Certificate | None
    bundle: tuple[x509.Certificate, ...]


def _inputs(path: str, extra: Sequence[x509.Certificate]) -> _Input:
    from ..issuers import find_issuer
    from .common import load_cert_file

    certs = load_cert_file(path)
    cert, bundle = certs[0], (*certs[1:], *extra)
    try:
        issuer: x509.Certificate | None = find_issuer(cert, bundle)
    except IssuerNotFoundError:
        issuer = None
    return _Input(path, cert, issuer, tuple(bundle))


def _issuer_bundle(args: argparse.Namespace) -> list[x509.Certificate]:
    from .common import load_cert_file

    return load_cert_file(args.issuer, "issuer") if args.issuer else []


def run(args: argparse.Namespace) -> int:
    """``ocspkit check``."""
    from ..client import ClientConfig, check

    extra = _issuer_bundle(args)
    item = _inputs(args.cert, extra)
    if args.issuer and item.issuer is None:
        raise UsageError(f"{args.issuer} holds no certificate that issued {subject(item.cert)}")
    urls: list[str] = [args.url] if args.url else []
    if not urls:
        from ..certs import ocsp_urls

        urls = list(ocsp_urls(item.cert))
    result: ValidationResult | None = None
    error: BaseException | None = None
    try:
        result = check(
            item.cert,
            item.issuer,
            url=args.url,
            bundle=item.bundle,
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
    message = describe_error(error) if error is not None else None
    if args.json:
        emit_json(
            envelope(
                "check",
                int(code),
                certificate=cert_json(item.cert),
                issuer=cert_json(item.issuer) if item.issuer is not None else None,
                ocsp_urls=urls,
                status=result.status.value if result is not None else None,
                result=result_json(result) if result is not None else None,
                error=error_json(error, message or "") if error is not None else None,
            )
        )
    else:
        style = Style()
        style.line(f"{style.paint(subject(item.cert), 'bold')}  serial {item.cert.serial_number:x}")
        rows = [("responder", ", ".join(urls) or "(none)")]
        style.table(rows + (result_rows(result, style) if result is not None else []))
    if message is not None:
        sys.stderr.write(f"ocspkit check: error: {message}\n")
    return int(code)


def _many_exit(statuses: Sequence[CertStatus | None]) -> ExitCode:
    if CertStatus.REVOKED in statuses:
        return ExitCode.REVOKED
    if None in statuses:
        return ExitCode.NO_ANSWER
    if CertStatus.UNKNOWN in statuses:
        return ExitCode.UNKNOWN
    return ExitCode.GOOD


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() and total > 1

    def __call__(self, done: int, _outcome: object = None) -> None:
        if not self.enabled:
            return
        total = self.total
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def run_many(args: argparse.Namespace) -> int:
    """``ocspkit check-many``."""
    from ..client import ClientConfig, check_many

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    extra = _issuer_bundle(args)
    items = [_inputs(path, extra) for path in args.files]
    progress = _Progress(len(items))
    rows: list[dict[str, JSONValue]] = []
    statuses: list[CertStatus | None] = []
    style = Style()
    outcomes = check_many(
        [(i.cert, *i.bundle) for i in items],
        concurrency=args.concurrency,
        hash_algorithm="sha256" if args.sha256 else "sha1",
        nonce=not args.no_nonce,
        config=ClientConfig(timeout=args.timeout, deadline=args.timeout),
        progress=progress,
    )
    results: list[ValidationResult | BaseException | None] = [None] * len(items)
    try:
        for outcome in outcomes:
            results[outcome.index] = outcome.result if outcome.result is not None else outcome.error
    finally:
        progress.close()
    width = max(len(i.path) for i in items)
    for item, got in zip(items, results, strict=True):
        if isinstance(got, ValidationResult):
            statuses.append(got.status)
            rows.append(
                {
                    "file": item.path,
                    "certificate": cert_json(item.cert),
                    "status": got.status.value,
                    "result": result_json(got),
                    "error": None,
                }
            )
            if not args.json:
                detail = f"next update {got.next_update:%Y-%m-%d %H:%M}Z" if got.next_update else ""
                if got.revocation_time is not None:
                    detail = f"revoked at {got.revocation_time:%Y-%m-%d %H:%M}Z"
                label = style.status(got.status, got.status.value.upper().ljust(7))
                style.line(f"{item.path.ljust(width)}  {label}  {detail}")
        else:
            statuses.append(None)
            exc = got if got is not None else RuntimeError("no outcome reported")
            message = describe_error(exc)
            rows.append(
                {
                    "file": item.path,
                    "certificate": cert_json(item.cert),
                    "status": None,
                    "result": None,
                    "error": error_json(exc, message),
                }
            )
            if not args.json:
                label = style.status(None, "ERROR".ljust(7))
                style.line(f"{item.path.ljust(width)}  {label}  {message}")
    code = _many_exit(statuses)
    summary = {
        "good": statuses.count(CertStatus.GOOD),
        "revoked": statuses.count(CertStatus.REVOKED),
        "unknown": statuses.count(CertStatus.UNKNOWN),
        "error": statuses.count(None),
    }
    if args.json:
        emit_json(envelope("check-many", int(code), summary=summary, results=rows))
    else:
        style.line(", ".join(f"{v} {k}" for k, v in summary.items()))
    return int(code)
