"""``ocspkit staple-file``: fetch, validate and atomically write a staple file.

For cron jobs feeding nginx's ``ssl_stapling_file`` or HAProxy's ``.ocsp`` files. Exit codes
say whether a staple was *written* (0, whatever its status: the server must be reloaded so
that clients learn of a revocation) or not (3 nothing valid or servable fetched, 4 usage).
Must never write a response it did not validate, nor one a server may not staple now.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IssuerNotFoundError
from .common import (
    ExitCode,
    SubParsers,
    UsageError,
    add_json_flag,
    add_timeout_option,
    add_verbose_flag,
    describe_error,
    exit_for_error,
    http_url,
    load_cert_file,
    settle,
    shown,
)
from .output import (
    Style,
    cert_json,
    emit_json,
    envelope,
    error_json,
    result_json,
    result_rows,
)

if TYPE_CHECKING:
    from ..models import ValidationResult
    from ..stapling.options import StaplerOptions

__all__ = ["register", "run"]


def register(sub: SubParsers, summary: str) -> None:
    """Add ``staple-file`` to the subcommands."""
    p = sub.add_parser(
        "staple-file",
        help=summary,
        description="Query the OCSP responder of the chain's leaf, validate the answer, and "
        "replace --out atomically with the DER response (only a valid answer that a stapling "
        "server may serve now is written: not within 5 minutes of its nextUpdate, and without "
        "nextUpdate not older than 1 hour; on failure the old file stays). Exit code: 0 a "
        "staple was written, whatever it says (good, revoked or unknown: reload the server; "
        "a revoked or unknown one is also named on stderr), 3 nothing was written (no valid "
        "or servable answer), 4 usage (nothing written). Cron: "
        "'ocspkit staple-file ... && nginx -s reload'.",
    )
    p.add_argument(
        "--chain",
        required=True,
        metavar="FILE",
        help="the server's chain (PEM): the leaf first, then its issuer",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the staple file to write (DER)")
    p.add_argument("--issuer", metavar="FILE", help="the issuer, if not in --chain")
    p.add_argument(
        "--url", type=http_url, help="ask this responder instead of the leaf's AIA OCSP URLs"
    )
    p.add_argument("--sha256", action="store_true", help="use SHA-256 CertIDs (default: SHA-1)")
    p.add_argument("--no-nonce", action="store_true", help="send no nonce in the request")
    add_timeout_option(p)
    add_verbose_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def _check_servable(result: ValidationResult, now: datetime, options: StaplerOptions) -> None:
    """Refuse what the stapler would not serve now: a response at or past nextUpdate minus the
    margin, or without nextUpdate and older than ``max_age_without_next_update`` (a server
    staples a file whatever it holds, so nothing stale may be written)."""
    from ..errors import UnservableResponseError
    from ..refresh import staple_times

    times = staple_times(
        result.this_update,
        result.next_update,
        now=now,
        schedule=options.schedule,
        policy=options.policy,
        signer_not_after=result.signer.not_valid_after_utc,
    )
    if not times.servable(now):
        if result.next_update is None:
            why = (
                f"it has no nextUpdate and its thisUpdate {result.this_update} is older than "
                f"{options.schedule.serve_without_next_update}"
            )
        else:
            why = (
                f"its serving limit {times.serve_until} (nextUpdate {result.next_update} "
                f"minus {options.schedule.margin}, or the responder certificate's expiry) "
                "has passed"
            )
        raise UnservableResponseError(f"the response would not be stapled now: {why}")


def _out_path(args: argparse.Namespace) -> Path:
    """``--out``, refused unless it is a regular file or a new name in an existing directory,
    and none of the inputs (:func:`~ocspkit.stapling.outputs.staple_path_problem`)."""
    from ..stapling.outputs import staple_path_problem

    if not args.out:
        raise UsageError("no --out file name given (an empty argument)")
    out = Path(args.out)
    problem = staple_path_problem(out, (args.chain, args.issuer))
    if problem is not None:
        raise UsageError(f"--out: {problem}")
    if not out.parent.is_dir():
        raise UsageError(f"directory of --out does not exist: {shown(str(out.parent))}")
    return out


def run(args: argparse.Namespace) -> int:
    """``ocspkit staple-file``."""
    from ..client import ClientConfig, check
    from ..issuers import find_issuer
    from ..stapling.options import StaplerOptions
    from ..stapling.outputs import StapleFile
    from .check import no_issuer

    certs = load_cert_file(args.chain, "chain")
    leaf, bundle = certs[0], list(certs[1:])
    if args.issuer:
        bundle += load_cert_file(args.issuer, "issuer")
    out = _out_path(args)
    try:
        issuer = find_issuer(leaf, bundle)
    except IssuerNotFoundError:
        if args.issuer:
            raise no_issuer(args.issuer, args.chain, leaf) from None
        issuer = None
    written = False
    error: BaseException | None = None
    result = None
    options = StaplerOptions()
    try:
        now = datetime.now(timezone.utc)
        result = check(
            leaf,
            issuer,
            url=args.url,
            bundle=tuple(bundle),
            hash_algorithm="sha256" if args.sha256 else "sha1",
            nonce=not args.no_nonce,
            config=ClientConfig(timeout=args.timeout, deadline=args.timeout),
            now=now,
            policy=options.policy,
        )
        _check_servable(result, now, options)
        StapleFile(out).update(result.response.der)
        written = True
    except Exception as exc:  # one line below, exit 3
        error = exc
    if written:
        code = ExitCode.GOOD  # a staple was written: whatever it says, reload the server
    else:
        code = exit_for_error(error or RuntimeError("no answer"))
    settle(code)
    message = describe_error(error) if error is not None else None
    if args.json:
        emit_json(
            envelope(
                "staple-file",
                int(code),
                chain=args.chain,
                out=str(out),
                written=written,
                bytes=len(result.response.der) if written and result is not None else 0,
                certificate=cert_json(leaf),
                status=result.status.value if result is not None else None,
                result=result_json(result) if result is not None else None,
                error=error_json(error, message or "") if error is not None else None,
            )
        )
    elif result is not None and written:
        style = Style()
        style.line(f"wrote {out} ({len(result.response.der)} bytes)")
        style.table(result_rows(result, style))
    if message is not None:
        sys.stderr.write(f"ocspkit staple-file: error: {message}; {out} left unchanged\n")
    elif written and result is not None and not result.good:
        sys.stderr.write(
            f"ocspkit staple-file: warning: the staple written to {out} says "
            f"{result.status.value.upper()}\n"
        )
    return int(code)
