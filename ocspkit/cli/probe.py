"""``ocspkit probe``: like ``openssl s_client -status``, with the staple validated.

Owns the command's arguments, its exit code and its two renderings (text and ``--json``) of an
:class:`ocspkit.probing.ProbeReport`. Must never decide anything the report already decides:
it calls :func:`ocspkit.probe` and shows what it returns.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import OCSPError
from .common import (
    CLIError,
    ExitCode,
    SubParsers,
    add_json_flag,
    exit_for_status,
    parse_target,
    seconds,
    server_name,
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
    iso,
    result_json,
    result_rows,
    revocation_json,
    revocation_rows,
    subject,
)

if TYPE_CHECKING:
    from ..probing.report import ProbeReport

__all__ = ["print_probe", "probe_exit", "probe_json", "register", "run", "staple_problem"]


def register(sub: SubParsers, summary: str) -> None:
    """Add ``probe`` to the subcommands."""
    p = sub.add_parser(
        "probe",
        help=summary,
        description="Connect to HOST[:PORT] (port 443 by default) with status_request, "
        "validate the chain and the stapled OCSP response, and check Must-Staple. "
        "Exit code: the staple's status (0 good, 1 revoked, 2 unknown); 3 when there is "
        "no valid staple or the server cannot be reached; 4 usage. The chain is checked "
        "against the system trust store; --cafile adds roots, and with --no-system-store "
        "replaces it.",
    )
    p.add_argument("target", metavar="HOST[:PORT]")
    p.add_argument(
        "--servername", type=server_name, metavar="NAME", help="SNI name to send (default: HOST)"
    )
    version = p.add_mutually_exclusive_group()
    version.add_argument(
        "--tls1_2", dest="tls_version", action="store_const", const="1.2", help="TLS 1.2 only"
    )
    version.add_argument(
        "--tls1_3", dest="tls_version", action="store_const", const="1.3", help="TLS 1.3 only"
    )
    p.add_argument(
        "--cafile",
        metavar="FILE",
        help="also trust the roots in FILE (PEM/DER) for the chain, in addition to the "
        "system trust store (certifi's bundle when the system store is empty)",
    )
    p.add_argument(
        "--no-system-store",
        action="store_true",
        help="trust only the roots of --cafile, not the system store (needs --cafile)",
    )
    p.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="SECONDS", help="overall (default 10)"
    )
    p.add_argument(
        "--revocation",
        action="store_true",
        help="also answer 'is the served certificate revoked?' as 'check' does (a valid "
        "staple answers; else OCSP, then CRLs), within a further --timeout",
    )
    add_json_flag(p)
    p.set_defaults(func=run, tls_version=None)


def staple_problem(report: ProbeReport) -> str | None:
    """Why the probe gives no valid answer (exit code 3), or ``None`` when it does."""
    if not report.chain_valid:
        return f"the server's certificate chain is not valid: {report.chain_error}"
    if report.staple_error is not None:
        return f"invalid staple ({type(report.staple_error).__name__}): {report.staple_error}"
    if not report.stapled:
        return "no staple" + (" (Must-Staple violation)" if report.must_staple else "")
    if report.staple_status is None:
        return "no valid staple"
    return None


def probe_exit(report: ProbeReport) -> ExitCode:
    """0/1/2 from a valid staple's status; 3 without one (none sent, or it failed a check), or
    when the server's chain does not validate (a staple from an untrusted server proves nothing).
    """
    if not report.chain_valid or report.staple_status is None or report.staple_result is None:
        return ExitCode.NO_ANSWER
    return exit_for_status(report.staple_status)


def probe_json(report: ProbeReport) -> dict[str, JSONValue]:
    """The ``probe`` JSON fields (without the envelope)."""
    error = report.staple_error
    return {
        "host": report.host,
        "port": report.port,
        "address": report.address,
        "servername": report.servername,
        "tls_version": report.tls_version,
        "cipher": report.cipher,
        "chain": [cert_json(c) for c in report.chain],
        "chain_valid": report.chain_valid,
        "chain_error": report.chain_error,
        "must_staple": report.must_staple,
        "must_staple_violation": report.must_staple_violation,
        "stapled": report.stapled,
        "staple_status": report.staple_status.value if report.staple_status else None,
        "staple": result_json(report.staple_result) if report.staple_result else None,
        "staple_error": error_json(error, " ".join(str(error).split())) if error else None,
        "checked_at": iso(report.checked_at),
        "revocation_methods": [m.value for m in report.revocation_methods],
        "crl_urls": list(report.crl_urls),
        "revocation": revocation_json(report.revocation) if report.revocation else None,
        "revocation_attempts": attempts_json(report.revocation or report.revocation_error),
        "revocation_error": (
            error_json(report.revocation_error, " ".join(str(report.revocation_error).split()))
            if report.revocation_error
            else None
        ),
    }


def print_probe(report: ProbeReport, style: Style) -> None:
    """The readable form of a probe report."""
    where = f"[{report.host}]" if ":" in report.host else report.host
    style.line(
        f"{style.paint(f'{where}:{report.port}', 'bold')} ({report.address})  "
        f"{report.tls_version}  SNI {report.servername or '(none)'}"
    )
    chain_state = (
        style.paint("valid", "green")
        if report.chain_valid
        else style.paint(f"NOT valid: {report.chain_error}", "red")
    )
    rows: list[tuple[str, str]] = [("chain", f"{len(report.chain)} certificate(s), {chain_state}")]
    for i, (cert, urls) in enumerate(zip(report.chain, report.ocsp_urls, strict=False)):
        rows.append((f"  {i}", subject(cert) + (f"  OCSP {', '.join(urls)}" if urls else "")))
    rows.append(("Must-Staple", "yes" if report.must_staple else "no"))
    if not report.stapled:
        rows.append(("staple", style.paint("none", "red" if report.must_staple else "yellow")))
    elif report.staple_result is not None:
        rows.append(("staple", f"{len(report.staple_der or b'')} bytes, valid"))
    else:
        size = len(report.staple_der or b"")
        rows.append(("staple", style.paint(f"{size} bytes, INVALID", "red")))
    style.table(rows)
    if report.staple_result is not None:
        style.table(result_rows(report.staple_result, style), indent="    ")
    if report.staple_error is not None:
        style.table([("staple error", style.paint(str(report.staple_error), "red"))])
    if report.must_staple_violation:
        style.line(style.paint("  Must-Staple violation: no valid staple", "red"))
    methods = ", ".join(m.value for m in report.revocation_methods) or "none"
    style.table([("revocation via", methods)])
    if report.revocation is not None:
        style.table(revocation_rows(report.revocation, style), indent="    ")
    elif report.revocation_error is not None:
        problem = " ".join(str(report.revocation_error).split())
        style.table([("revocation", style.paint(f"no answer: {problem}", "red"))], indent="    ")


def run(args: argparse.Namespace) -> int:
    """``ocspkit probe``."""
    from ..probing import probe

    target = parse_target(args.target)
    from .common import UsageError, load_cert_file

    if args.no_system_store and not args.cafile:
        raise UsageError("--no-system-store needs --cafile (the roots to trust instead)")
    roots = load_cert_file(args.cafile, "CA") if args.cafile else None
    try:
        report = probe(
            target.host,
            target.port,
            servername=args.servername,
            tls_version=args.tls_version,
            timeout=args.timeout,
            trust_roots=roots if args.no_system_store else None,
            extra_roots=None if args.no_system_store else roots,
            revocation=args.revocation,
        )
    except OCSPError as exc:
        raise CLIError(f"cannot probe {target}: {exc}") from None
    code = settle(probe_exit(report))
    if args.json:
        emit_json(envelope("probe", int(code), **probe_json(report)))
    else:
        print_probe(report, Style())
    problem = staple_problem(report)
    if code is ExitCode.NO_ANSWER and problem:
        sys.stderr.write(f"ocspkit probe: error: {problem} from {target}\n")
    return int(code)
