"""The ``ocspkit`` command (also ``python -m ocspkit``).

Subcommands: ``demo``, ``uris``, ``check``, ``probe``, ``staple-file``, ``check-many``,
``inspect``, ``crl``. Every one takes ``--json``. Exit codes
(:class:`~ocspkit.cli.common.ExitCode`): 0 good, 1 revoked, 2 unknown, 3 no valid answer,
4 usage (``staple-file``: 0 whenever a staple was written, whatever it says; ``crl``: 0 not
listed, 1 listed, 3 invalid CRL). Errors are one line on stderr, never a traceback. This
package must never print a traceback or write anything but the documented output to stdout.

The library pieces each subcommand needs are imported when it runs, so ``ocspkit --help``
works whatever is installed.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from . import check, check_many, crl, demo, inspect, probe, staple_file, uris
from .common import CLIError, ExitCode, describe_error, exit_for_error

__all__ = ["ExitCode", "build_parser", "main"]

EPILOG = """\
exit codes: 0 good, 1 revoked, 2 unknown, 3 no valid answer (no OCSP URL, responder down,
invalid response, unreachable host, no staple), 4 usage (bad arguments, missing file,
not a certificate). staple-file: 0 a staple was written (good, revoked or unknown: reload
the server), 3 nothing was written, 4 usage. crl: 0 not listed, 1 listed, 3 invalid or
unusable CRL, 4 usage. Every subcommand takes --json; see
'ocspkit COMMAND --help'."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 4."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (try '{self.prog} --help')\n")
        raise SystemExit(ExitCode.USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ocspkit`` command, with every subcommand."""
    parser = _Parser(
        prog="ocspkit",
        description="OCSP and OCSP stapling: check certificates, probe servers' staples, "
        "write staple files, and run an offline demo.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ocspkit {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show each URL tried, each retry and why, and their times, on stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo.register(sub)
    uris.register(sub)
    check.register(sub)
    probe.register(sub)
    staple_file.register(sub)
    check_many.register(sub)
    inspect.register(sub)
    crl.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ocspkit`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    with warnings.catch_warnings():
        # Library warnings (e.g. about odd CA certificates in certifi's bundle) are not for
        # the command's user; python -W brings them back.
        if not sys.warnoptions:
            warnings.simplefilter("ignore")
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version (0) or a usage error (4)
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    if not getattr(args, "command", None):
        parser.print_help()
        return ExitCode.USAGE
    if getattr(args, "verbose", 0):
        from .verbose import enable

        enable(int(args.verbose))
    try:
        return int(args.func(args))
    except CLIError as exc:
        return _fail(args, exc, str(exc), exc.code)
    except KeyboardInterrupt:
        _error(args.command, "interrupted")
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return ExitCode.GOOD
    except Exception as exc:  # the CLI's promise: one line, never a traceback
        return _fail(args, exc, describe_error(exc), exit_for_error(exc))


def _fail(args: argparse.Namespace, exc: BaseException, message: str, code: int) -> int:
    """Report a failure that left nothing else to report: one line, and with ``--json`` a
    document holding only the common fields and ``error``."""
    if getattr(args, "json", False):
        from .output import emit_json, envelope, error_json

        # A CLIError raised while handling a library error names that error's class.
        cause = exc.__context__ if isinstance(exc, CLIError) else None
        shown = cause if isinstance(cause, Exception) else exc
        emit_json(envelope(args.command, int(code), error=error_json(shown, message)))
    _error(args.command, message)
    return int(code)


def _error(command: str, message: str) -> None:
    sys.stderr.write(f"ocspkit {command}: error: {message}\n")
    sys.stderr.flush()
