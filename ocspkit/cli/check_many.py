"""``ocspkit check-many``: check many certificate files concurrently, one row per file.

What this module owns: reading the file names (arguments, or standard input with ``-``),
turning each unreadable file into an error row, and writing the rows as text, ``--json``,
``--jsonl`` or ``--csv``, with a ``tqdm`` progress bar on standard error when it is a terminal.
What it must never do: stop the run for one bad file, or draw a progress bar into a pipe.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..models import CertStatus, RevocationResult
from .check import _Input, add_source_option, common_options, inputs, issuer_bundle, sources_of
from .common import (
    CLIError,
    ExitCode,
    SubParsers,
    UsageError,
    describe_error,
    settle,
)
from .output import (
    JSONValue,
    Style,
    attempts_json,
    cert_json,
    emit_json,
    envelope,
    error_json,
    revocation_json,
)

__all__ = ["ROW_KEYS", "register", "run"]

#: The columns of ``--csv`` and the keys of each ``--jsonl`` line, in order: ``file``, then
#: those of :meth:`ocspkit.RevocationOutcome.to_dict` (``index`` is the file's position;
#: ``source`` is ``ocsp``, ``crl``, ``staple``, ``short_lived`` or ``no_revocation_info``),
#: then, for an OCSP answer, those of :meth:`ocspkit.ValidationResult.to_dict`.
ROW_KEYS = (
    "file", "index", "subject", "serial", "status", "source", "this_update", "next_update",
    "produced_at", "revocation_time", "reason", "url", "error", "error_type", "signer",
    "delegated", "contradicted", "hash_algorithm", "nonce", "attempts",
)  # fmt: skip


def register(sub: SubParsers, summary: str) -> None:
    """Add ``check-many`` to the subcommands."""
    p = sub.add_parser(
        "check-many",
        help=summary,
        description="Check every FILE as 'check' does (OCSP, then CRLs; each CRL is fetched "
        "once for all the certificates it covers). A FILE is a certificate, or a chain with "
        "its issuer after it; "
        "'-' reads file names from standard input, one a line. A file that cannot be read "
        "is an error row; the run goes on. Exit code: 1 if any is revoked, else 3 if any got "
        "no valid answer (or could not be read), else 2 if any is unknown, else 0; 4 for a "
        "usage error.",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="certificate or chain files ('-': names on stdin)"
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help=f"queries in flight (default 8, at most {MAX_CONCURRENCY})",
    )
    form = p.add_mutually_exclusive_group()
    form.add_argument(
        "--jsonl", action="store_true", help="one flat JSON object per file and line, as each ends"
    )
    form.add_argument("--csv", action="store_true", help="CSV with a header row, as each ends")
    add_source_option(p)
    common_options(p, "each certificate", "each FILE")
    p.set_defaults(func=run)


#: The most queries ``--concurrency`` may keep in flight (each holds a socket and a task).
MAX_CONCURRENCY = 1000


def _names(args: argparse.Namespace) -> Iterator[str]:
    for name in args.files:
        if name != "-":
            yield name
            continue
        if sys.stdin is None:
            raise UsageError("'-' reads file names from standard input, which is closed")
        try:
            for line in sys.stdin:
                if line.strip():
                    yield line.rstrip("\r\n")
        except (UnicodeDecodeError, OSError) as exc:
            raise UsageError(f"cannot read file names from standard input: {exc}") from None


def _progress(total: int) -> Any:
    """A tqdm bar on stderr when it is a terminal (``None`` otherwise, or without tqdm)."""
    if total < 2 or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, unit="cert", leave=False, dynamic_ncols=True)


class _Writer:
    """Rows as they complete: ``--jsonl`` / ``--csv`` stream; text and ``--json`` at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.csv: Any = None
        if args.csv:
            self.csv = csv.DictWriter(sys.stdout, fieldnames=ROW_KEYS, lineterminator="\n")
            self.csv.writeheader()

    def row(self, path: str, flat: dict[str, Any]) -> None:
        line = {"file": path, **{k: flat.get(k) for k in ROW_KEYS if k != "file"}}
        if self.args.jsonl:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        elif self.csv is not None:
            self.csv.writerow({k: "" if v is None else v for k, v in line.items()})
        else:
            return
        sys.stdout.flush()


def _error_row(index: int, exc: BaseException, message: str) -> dict[str, Any]:
    return {"index": index, "error": message, "error_type": type(exc).__name__}


def run(args: argparse.Namespace) -> int:
    """``ocspkit check-many``."""
    from ..client import ClientConfig, check_revocation_many

    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be 1 to {MAX_CONCURRENCY}")
    extra = issuer_bundle(args)
    names = list(_names(args))
    if not names:
        raise UsageError("no certificate file named (on the command line or standard input)")
    writer = _Writer(args)
    loaded: dict[int, _Input] = {}
    got: dict[int, RevocationResult | BaseException] = {}
    for index, path in enumerate(names):
        try:
            loaded[index] = inputs(path, extra)
        except CLIError as exc:  # unreadable, not a certificate...: an error row, go on
            got[index] = exc
            writer.row(path, _error_row(index, exc, str(exc)))
    order = list(loaded)
    progress = _progress(len(order))
    try:
        outcomes = check_revocation_many(
            [(loaded[i].cert, *loaded[i].bundle) for i in order],
            url=args.url,
            sources=sources_of(args),
            require=True,
            concurrency=min(args.concurrency, max(1, len(order))),
            hash_algorithm="sha256" if args.sha256 else "sha1",
            nonce=not args.no_nonce,
            config=ClientConfig(timeout=args.timeout, deadline=args.timeout),
        )
        for outcome in outcomes:
            index = order[outcome.index]
            ocsp = outcome.result.ocsp if outcome.result is not None else None
            flat: dict[str, Any] = {
                **(ocsp.to_dict() if ocsp is not None else {}),
                **outcome.to_dict(),
                "index": index,
            }
            if outcome.result is not None:
                got[index] = outcome.result
            else:
                error = outcome.error or RuntimeError("no outcome reported")
                got[index] = error
                flat["error"] = describe_error(error)
            writer.row(names[index], flat)
            if progress is not None:
                progress.update(1)
    finally:
        if progress is not None:
            progress.close()
    return _report(args, names, loaded, got)


def _report(
    args: argparse.Namespace,
    names: list[str],
    loaded: dict[int, _Input],
    got: dict[int, RevocationResult | BaseException],
) -> int:
    style = Style()
    width = max(len(n) for n in names)
    rows: list[dict[str, JSONValue]] = []
    statuses: list[CertStatus | None] = []
    text = not (args.json or args.jsonl or args.csv)
    for index, path in enumerate(names):
        item = loaded.get(index)
        value = got.get(index, RuntimeError("no outcome reported"))
        certificate = cert_json(item.cert) if item is not None else None
        if isinstance(value, RevocationResult):
            statuses.append(value.status)
            rows.append(
                {
                    "file": path,
                    "certificate": certificate,
                    "status": value.status.value,
                    "source": value.source.value if value.source else None,
                    "result": revocation_json(value),
                    "attempts": attempts_json(value),
                    "error": None,
                }
            )
            if text:
                detail = (
                    f"next update {value.next_update:%Y-%m-%d %H:%M}Z" if value.next_update else ""
                )
                if value.revocation_time is not None:
                    detail = f"revoked at {value.revocation_time:%Y-%m-%d %H:%M}Z"
                source = (value.source.value if value.source else "-").ljust(4)
                label = style.status(value.status, value.status.value.upper().ljust(7))
                style.line(f"{path.ljust(width)}  {label}  {source}  {detail}".rstrip())
        else:
            statuses.append(None)
            message = describe_error(value)
            rows.append(
                {
                    "file": path,
                    "certificate": certificate,
                    "status": None,
                    "source": None,
                    "result": None,
                    "attempts": attempts_json(value),
                    "error": error_json(value, message),
                }
            )
            if text:
                label = style.status(None, "ERROR".ljust(7))
                style.line(f"{path.ljust(width)}  {label}  {message}")
    code = settle(_exit(statuses))
    summary = {
        "good": statuses.count(CertStatus.GOOD),
        "revoked": statuses.count(CertStatus.REVOKED),
        "unknown": statuses.count(CertStatus.UNKNOWN),
        "error": statuses.count(None),
    }
    if args.json:
        emit_json(envelope("check-many", int(code), summary=summary, results=rows))
    elif text:
        style.line(", ".join(f"{v} {k}" for k, v in summary.items()))
    return int(code)


def _exit(statuses: list[CertStatus | None]) -> ExitCode:
    if CertStatus.REVOKED in statuses:
        return ExitCode.REVOKED
    if None in statuses:
        return ExitCode.NO_ANSWER
    if CertStatus.UNKNOWN in statuses:
        return ExitCode.UNKNOWN
    return ExitCode.GOOD
