"""What every subcommand shares: exit codes, one-line errors, loading inputs, HOST[:PORT].

``ocspkit --help`` and ``--version`` import this module and nothing else of the CLI, so it must
never import cryptography, the core or an I/O edge at import time (only inside the functions
that need them).
"""

from __future__ import annotations

import argparse
import enum
import math
import os
import stat
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (
    CertificateError,
    DecodeError,
    FetchError,
    IssuerNotFoundError,
    NoOCSPURLError,
    OCSPError,
    ResponderError,
    ValidationError,
)

if TYPE_CHECKING:
    from cryptography import x509

    from ..models import CertStatus
    from ..probing.report import ProbeTarget

__all__ = [
    "CLIError",
    "ExitCode",
    "SubParsers",
    "UsageError",
    "add_json_flag",
    "add_timeout_option",
    "add_verbose_flag",
    "describe_error",
    "exit_for_error",
    "exit_for_status",
    "file_problem",
    "http_url",
    "load_cert_file",
    "parse_target",
    "read_file",
    "seconds",
    "server_name",
    "settle",
    "settled",
    "shown",
]


class ExitCode(enum.IntEnum):
    """The exit codes of every ``ocspkit`` subcommand."""

    #: The certificate is good (for ``probe``: a valid staple says good).
    GOOD = 0
    #: The certificate is revoked.
    REVOKED = 1
    #: The responder does not know the certificate.
    UNKNOWN = 2
    #: No valid answer could be had: no OCSP URL, responder down or refusing, a response that
    #: fails validation, an unreachable host, no staple.
    NO_ANSWER = 3
    #: Bad usage: bad arguments, a missing or unreadable file, a file that is not a certificate.
    USAGE = 4


_SETTLED: ContextVar[ExitCode | None] = ContextVar("ocspkit_cli_settled", default=None)
_Code = TypeVar("_Code", ExitCode, None)


def settle(code: _Code) -> _Code:
    """Record ``code`` as the command's exit code once its verdict is known, before its output
    is written: if the reader of the output goes away (``ocspkit check ... | head -n1``), the
    command still exits with its verdict (1 for revoked), not 0. ``None`` forgets it (a new
    run begins). Returns ``code``."""
    _SETTLED.set(code)
    return code


def settled() -> ExitCode | None:
    """The code :func:`settle` recorded in this command run (None: no verdict yet)."""
    return _SETTLED.get()


class CLIError(Exception):
    """An error the command line reports as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.NO_ANSWER) -> None:
        self.code = code
        super().__init__(message)


class UsageError(CLIError):
    """Bad arguments or input files (exit code 4)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


#: The object ``add_subparsers`` returns, which each subcommand module registers with.
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[Any]
else:  # not subscriptable at run time
    SubParsers = argparse._SubParsersAction


def seconds(text: str) -> float:
    """argparse type for timeouts: a finite number of seconds, > 0 and at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"a timeout must be > 0 and <= 86400 seconds, not {text}")
    return value


def http_url(text: str) -> str:
    """argparse type for ``--url``: a URL the client would send to (its own rules: http or
    https, a host, a valid port, no spaces or control characters), and not to port 0."""
    from urllib.parse import urlsplit

    from ..client.transfer import check_scheme

    try:
        check_scheme(text)  # parses the URL and its port: urlsplit below cannot fail
        port = urlsplit(text).port
    except OCSPError as exc:
        raise argparse.ArgumentTypeError(f"not a usable http(s) URL: {text!r} ({exc})") from None
    if port == 0:
        raise argparse.ArgumentTypeError(f"not a usable http(s) URL: {text!r} (port 0)")
    return text


def server_name(text: str) -> str:
    """argparse type for ``--servername``: a name TLS can send as SNI (IDNA, labels of 1 to 63
    characters, 253 at most)."""
    try:
        encoded = text.encode("idna")
    except UnicodeError as exc:
        raise argparse.ArgumentTypeError(f"not a server name: {text!r} ({exc})") from None
    if not text or len(encoded) > 253:
        raise argparse.ArgumentTypeError(f"not a server name: {text!r}")
    return text


def add_timeout_option(parser: argparse.ArgumentParser, what: str = "the command") -> None:
    """``--timeout SECONDS``: the deadline of all the network work of ``what``."""
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help=f"deadline for all the network work of {what}: name lookups, connects, TLS, "
        "sending, receiving, retries and the issuer fetch (default 10)",
    )


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` on a subcommand (also accepted before the subcommand)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="show each URL tried, each retry and why, and the time each took, on stderr "
        "(-vv: every HTTP trace event too)",
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--json`` option every subcommand has."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (schema in the ocspkit docs, 'Command line')",
    )


def exit_for_status(status: CertStatus) -> ExitCode:
    """0 good, 1 revoked, 2 unknown."""
    return ExitCode[status.name]


def exit_for_error(exc: BaseException) -> ExitCode:
    """4 for bad input (unusable certificate or file), 3 for everything else."""
    if isinstance(exc, (CertificateError, UsageError)):
        return ExitCode.USAGE
    if isinstance(exc, CLIError):
        return exc.code
    return ExitCode.NO_ANSWER


def describe_error(exc: BaseException) -> str:
    """One readable line for an error: what kind of failure, then the library's message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CLIError):
        return text
    if isinstance(exc, ResponderError):
        return f"responder refused: {text}"
    if isinstance(exc, ValidationError):
        return f"invalid response ({type(exc).__name__}): {text}"
    if isinstance(exc, FetchError):
        return f"could not reach the responder: {text}"
    if isinstance(exc, (NoOCSPURLError, IssuerNotFoundError, CertificateError, DecodeError)):
        return text
    if isinstance(exc, OCSPError):
        return f"{type(exc).__name__}: {text}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or text}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {text}"


#: Largest certificate file the CLI reads (a bundle of thousands of certificates fits).
MAX_CERT_FILE = 16 * 2**20


def read_file(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``), or a :class:`UsageError`
    naming the file."""
    problem = file_problem(path, "")
    if problem is not None:
        raise UsageError(problem)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {shown(path)}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{shown(path)} is larger than {limit // 2**20} MiB")
    return data


def shown(path: str, limit: int = 200) -> str:
    """``path`` for a message: cut to ``limit`` characters (a line of junk read as a file name
    must not flood the terminal)."""
    return path if len(path) <= limit else path[:limit] + "..."


def file_problem(path: str, what: str) -> str | None:
    """Why ``path`` is no regular file to read (``what``: "certificate " and the like, for the
    message), or None; a name too long or unreadable is a problem, not an exception."""
    if not path:
        return f"no {what}file name given (an empty argument)"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{what}file not found: {shown(path)}"
    except (OSError, ValueError) as exc:  # too long, a loop of links, a NUL in the name...
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        return f"cannot read {what}file {shown(path)}: {reason}"
    if stat.S_ISDIR(mode):
        return f"{what}file is a directory: {shown(path)}"
    if not stat.S_ISREG(mode):
        return f"{what}file is not a regular file: {shown(path)}"
    return None


def load_cert_file(path: str, what: str = "certificate") -> list[x509.Certificate]:
    """The certificates in a PEM/DER file, or a :class:`UsageError` naming the file."""
    from ..certs import load_certificates

    problem = file_problem(path, f"{what} ")
    if problem is not None:
        raise UsageError(problem)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CERT_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {shown(path)}: {exc.strerror}") from None
    if len(data) > MAX_CERT_FILE:
        raise UsageError(f"{what} file is larger than {MAX_CERT_FILE // 2**20} MiB: {shown(path)}")
    try:
        certs = load_certificates(data)
    except (CertificateError, DecodeError, ValueError):
        raise UsageError(f"not a certificate (neither PEM nor DER X.509): {shown(path)}") from None
    if not certs:
        raise UsageError(f"no certificate in {shown(path)}")
    return certs


def parse_target(text: str, default_port: int = 443) -> ProbeTarget:
    """``host``, ``host:port``, ``[v6]:port`` or an ``https://`` URL, or a :class:`UsageError`."""
    from ..probing.report import ProbeTarget

    try:
        return ProbeTarget.parse(text, default_port)
    except ValueError as exc:
        raise UsageError(f"not a HOST[:PORT]: {exc}") from None


def is_file_argument(text: str) -> bool:
    """True when ``text`` names an existing path (``uris`` takes a file or a HOST[:PORT])."""
    return os.path.exists(text)
