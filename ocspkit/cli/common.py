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
from typing import TYPE_CHECKING, Any

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
    "http_url",
    "load_cert_file",
    "parse_target",
    "read_file",
    "seconds",
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
    """argparse type for ``--url``: an absolute http:// or https:// URL with a host."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text!r}")
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
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"not a regular file: {path}" if p.exists() else f"file not found: {path}")
    try:
        with p.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{path} is larger than {limit // 2**20} MiB")
    return data


def load_cert_file(path: str, what: str = "certificate") -> list[x509.Certificate]:
    """The certificates in a PEM/DER file, or a :class:`UsageError` naming the file."""
    from pathlib import Path

    from ..certs import load_certificates

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} file not found: {path}")
    if p.is_dir():
        raise UsageError(f"{what} file is a directory: {path}")
    if not p.is_file():
        raise UsageError(f"{what} file is not a regular file: {path}")
    try:
        with p.open("rb") as f:
            data = f.read(MAX_CERT_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror}") from None
    if len(data) > MAX_CERT_FILE:
        raise UsageError(f"{what} file is larger than {MAX_CERT_FILE // 2**20} MiB: {path}")
    try:
        certs = load_certificates(data)
    except (CertificateError, DecodeError, ValueError):
        raise UsageError(f"not a certificate (neither PEM nor DER X.509): {path}") from None
    if not certs:
        raise UsageError(f"no certificate in {path}")
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
