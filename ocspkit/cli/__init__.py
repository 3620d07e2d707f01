"""The ``ocspkit`` command (also ``python -m ocspkit``).

Subcommands: ``demo``, ``uris``, ``check``, ``probe``, ``staple-file``, ``check-many``,
``inspect``, ``crl``, ``stapler`` (the stapling daemon). Every one takes ``--json``. Exit codes
(:class:`~ocspkit.cli.common.ExitCode`): 0 good, 1 revoked, 2 unknown, 3 no valid answer,
4 usage (``staple-file``: 0 whenever a staple was written, whatever it says; ``crl``: 0 not
listed, 1 listed, 3 invalid CRL). Errors are one line on stderr, never a traceback. This
package must never print a traceback or write anything but the documented output to stdout.

Subcommands are lazy: :data:`COMMANDS` names each one's module and one-line help, and only the
module of the subcommand being run is imported (it adds its own parser and ``func`` with
``register(sub, summary)``), so ``ocspkit --help`` and ``--version`` import no subcommand, no
httpx, no asn1crypto and no pyOpenSSL, and work whatever is installed. Adding a subcommand is
one line in :data:`COMMANDS`. The executable (:func:`run`) also keeps out the packages httpx and
httpcore import only because they are installed (:data:`UNUSED_OPTIONAL_IMPORTS`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import IO, Any, NoReturn

from .._version import __version__
from .common import CLIError, ExitCode, describe_error, exit_for_error, settle, settled

__all__ = ["COMMANDS", "UNUSED_OPTIONAL_IMPORTS", "ExitCode", "build_parser", "main", "run"]

#: The subcommands, in the order ``ocspkit --help`` lists them: name -> (module of
#: ``ocspkit.cli`` that defines ``register(sub, summary)``, one-line help for the listing).
#: A module is imported only when its subcommand runs (or :func:`build_parser` is asked for
#: all of them).
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run an offline demo: throwaway CA, local responder, stapling TLS server"),
    "uris": ("uris", "list the OCSP URIs of a certificate file or of a server's certificates"),
    "check": (
        "check",
        "is a certificate revoked? OCSP, then CRLs, fully validated (like openssl ocsp "
        "and openssl verify -crl_check)",
    ),
    "probe": (
        "probe",
        "ask a TLS server for its OCSP staple and validate it (like s_client -status)",
    ),
    "staple-file": (
        "staple_file",
        "fetch, validate and atomically write a DER staple file (nginx, HAProxy)",
    ),
    "check-many": (
        "check_many",
        "check many certificates concurrently (progress bar on a terminal)",
    ),
    "inspect": (
        "inspect",
        "show a saved OCSP response, request or CRL (DER or PEM); validate it with --cert",
    ),
    "crl": ("crl", "show a CRL (file or URL), validate it with --issuer, look up --serial"),
    "stapler": (
        "stapler",
        "the stapling daemon: keep verified staples for nginx, HAProxy and Redis",
    ),
}
#: Long options of the ``ocspkit`` command itself (they may come before the subcommand).
_TOP_OPTIONS = ("--help", "--version", "--verbose")

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


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs (its first word that is not a top-level option), or None."""
    words = iter(argv)
    for word in words:
        if word == "--":
            word = next(words, "")
        elif word.startswith("-") and len(word) > 1:
            if _top_option(word):
                continue
            return None  # an unknown option: argparse reports it
        return word if word in COMMANDS else None
    return None


def _top_option(word: str) -> bool:
    """``-h``, ``-v``/``-vv``..., or ``--help``/``--version``/``--verbose`` (or a prefix)."""
    if word.startswith("--"):
        return len(word) > 2 and any(o.startswith(word) for o in _TOP_OPTIONS)
    return word == "-h" or set(word[1:]) == {"v"}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``ocspkit`` command.

    With ``argv``, only the subcommand that ``argv`` runs is built in full (its module is
    imported); the others are listed by name and help. Without it, every subcommand is built.
    """
    wanted = set(COMMANDS) if argv is None else {chosen_command(argv)}
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
    for name, (module, summary) in COMMANDS.items():
        if name in wanted:
            importlib.import_module(f"{__name__}.{module}").register(sub, summary)
        else:
            sub.add_parser(name, help=summary)
    return parser


#: Packages that httpx and httpcore import only because they are installed: httpx's own
#: command line (click, rich, pygments) and httpcore's probe for trio. The ``ocspkit`` process
#: uses none of them, and on a machine that has them they cost more than half of the
#: client's import time (about 150 ms of ``ocspkit check``).
UNUSED_OPTIONAL_IMPORTS = ("click", "rich", "pygments", "trio")


def run() -> NoReturn:
    """The ``ocspkit`` executable (and ``python -m ocspkit``): :func:`main` in a process of
    its own. Before anything is imported it marks :data:`UNUSED_OPTIONAL_IMPORTS` absent for
    this process (a ``None`` entry in :data:`sys.modules`, which the import system documents
    as "raise ImportError"), unless something has imported them already. Code that calls
    :func:`main` in its own process is left as it is."""
    for name in UNUSED_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    code = main()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError:  # the output is lost (reported by main); keep the exit code Python's
        # flush at shutdown would replace with 120 and a traceback-like warning
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ocspkit`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    with warnings.catch_warnings():
        # Library warnings (e.g. about odd CA certificates in certifi's bundle) are not for
        # the command's user; python -W brings them back.
        if not sys.warnoptions:
            warnings.simplefilter("ignore")
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version (0) or a usage error (4)
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    if not getattr(args, "command", None) or not hasattr(args, "func"):
        parser.print_help()
        return ExitCode.USAGE
    if getattr(args, "verbose", 0):
        from .verbose import enable

        enable(int(args.verbose))
    settle(None)
    real = sys.stdout
    sys.stdout = _Output(real)
    try:
        try:
            code = int(args.func(args))
            sys.stdout.flush()  # a full disk or a closed reader shows here, not at exit
            return code
        except CLIError as exc:
            return _fail(args, exc, str(exc), exc.code)
    except KeyboardInterrupt:
        _error(args.command, "interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): the verdict still stands
        return _verdict_or_no_answer()
    except _OutputError as exc:
        if isinstance(exc.__cause__, BrokenPipeError):
            return _verdict_or_no_answer()
        _error(args.command, f"cannot write the output: {exc}")
        return int(ExitCode.NO_ANSWER)
    except Exception as exc:  # the CLI's promise: one line, never a traceback
        return _fail(args, exc, describe_error(exc), exit_for_error(exc))
    finally:
        sys.stdout = real


def _verdict_or_no_answer() -> int:
    code = settled()
    return int(ExitCode.NO_ANSWER if code is None else code)


class _OutputError(Exception):
    """Writing the command's output failed (the cause is the OSError)."""


class _Output:
    """``sys.stdout`` while a command runs: writes and flushes that fail raise
    :class:`_OutputError`, so a failure to deliver the output is never taken for a failure
    of the check (nor reported by writing to the same stream again); a closed stdout
    (``None``) swallows the output. Everything else is the real stream's."""

    def __init__(self, stream: IO[str] | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is None:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _OutputError(exc.strerror or str(exc)) from exc

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            raise _OutputError(exc.strerror or str(exc)) from exc

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _fail(args: argparse.Namespace, exc: BaseException, message: str, code: int) -> int:
    """Report a failure that left nothing else to report: one line, and with ``--json`` a
    document holding only the common fields and ``error`` (unless the output itself failed)."""
    if getattr(args, "json", False) and not isinstance(exc, _OutputError):
        from .output import emit_json, envelope, error_json

        # A CLIError raised while handling a library error names that error's class.
        cause = exc.__context__ if isinstance(exc, CLIError) else None
        shown = cause if isinstance(cause, Exception) else exc
        with contextlib.suppress(_OutputError):  # the line below still says what happened
            emit_json(envelope(args.command, int(code), error=error_json(shown, message)))
    _error(args.command, message)
    return int(code)


def _error(command: str, message: str) -> None:
    sys.stderr.write(f"ocspkit {command}: error: {message}\n")
    sys.stderr.flush()
