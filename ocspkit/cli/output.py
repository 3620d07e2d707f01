"""Rendering for the command line: readable text (colour on a terminal only) and ``--json``.

The JSON shapes are documented in ``docs/cli.rst`` and are stable: fields are only ever added.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .._sigalgs import algorithm_name
from .._version import __version__
from ..certs import crl_urls, is_must_staple, ocsp_urls, subject_text
from ..models import CertStatus, RevocationResult, ValidationResult

__all__ = [
    "JSONValue",
    "Style",
    "attempts_json",
    "cert_json",
    "emit_json",
    "envelope",
    "error_json",
    "iso",
    "result_json",
    "revocation_json",
    "revocation_rows",
    "subject",
]

JSONValue = Any
"""A value :func:`json.dumps` accepts."""


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (``None`` stays ``None``)."""
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def subject(cert: x509.Certificate) -> str:
    """The subject of ``cert`` as an RFC 4514 string (``"(empty subject)"`` if it has none)."""
    return subject_text(cert) or "(empty subject)"


def cert_json(cert: x509.Certificate) -> dict[str, JSONValue]:
    """The ``certificate`` object of the JSON schema."""
    return {
        "subject": subject(cert),
        "issuer": subject_text(cert, issuer=True),
        "serial": format(cert.serial_number, "x"),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        "ocsp_urls": list(ocsp_urls(cert)),
        "crl_urls": list(crl_urls(cert)),
        "must_staple": is_must_staple(cert),
    }


def result_json(result: ValidationResult) -> dict[str, JSONValue]:
    """The ``result`` object of the JSON schema: :meth:`ValidationResult.to_dict
    <ocspkit.ValidationResult.to_dict>`, plus ``revocation_reason`` (the same as ``reason``,
    kept for earlier readers) and ``signature_algorithm``."""
    row: dict[str, JSONValue] = dict(result.to_dict())
    row["revocation_reason"] = row["reason"]
    row["signer"] = subject(result.signer)
    row["signature_algorithm"] = algorithm_name(result.response.signature_algorithm_oid)
    return row


def revocation_json(result: RevocationResult) -> dict[str, JSONValue]:
    """The ``result`` object of ``check``: :meth:`RevocationResult.to_dict
    <ocspkit.RevocationResult.to_dict>`; for an OCSP answer (sources ``ocsp`` and ``staple``)
    also the keys of :func:`result_json`, so that earlier readers find theirs; for a CRL
    answer ``crl_number``."""
    row: dict[str, JSONValue] = {}
    if result.ocsp is not None:
        row.update(result_json(result.ocsp))
    row.update(result.to_dict())
    row["revocation_reason"] = row["reason"]
    if result.crl is not None:
        row["crl_number"] = result.crl.crl_number
    return row


def attempts_json(result_or_error: object) -> list[dict[str, JSONValue]]:
    """The ``attempts`` list: each source tried before the answer, with its error."""
    attempts = getattr(result_or_error, "attempts", ()) or ()
    return [
        {
            "source": a.source.value,
            "url": a.url,
            "error": error_json(a.error, " ".join(str(a.error).split())),
        }
        for a in attempts
    ]


def error_json(exc: BaseException, message: str) -> dict[str, JSONValue]:
    """The ``error`` object of the JSON schema: the exception's class name and one line."""
    return {"type": type(exc).__name__, "message": message}


def envelope(command: str, exit_code: int, **fields: JSONValue) -> dict[str, JSONValue]:
    """The top-level object every ``--json`` output shares."""
    return {"ocspkit": __version__, "command": command, "exit_code": exit_code, **fields}


def emit_json(doc: Mapping[str, JSONValue], stream: IO[str] | None = None) -> None:
    """Write one JSON document (indented, sorted keys kept in schema order) and a newline."""
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    out.flush()


_COLOURS = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}
_STATUS_COLOUR = {CertStatus.GOOD: "green", CertStatus.REVOKED: "red", CertStatus.UNKNOWN: "yellow"}


class Style:
    """Text styling: ANSI colours on a terminal (unless ``NO_COLOR`` is set), plain otherwise."""

    def __init__(self, stream: IO[str] | None = None, colour: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if colour is None:
            isatty = getattr(self.stream, "isatty", None)
            colour = bool(isatty and isatty()) and "NO_COLOR" not in os.environ
            colour = colour and os.environ.get("TERM") != "dumb"
        self.colour = colour

    def paint(self, text: str, colour: str) -> str:
        """``text`` in ``colour`` (a name: green, red, yellow, bold, dim, cyan)."""
        if not self.colour:
            return text
        return f"\033[{_COLOURS[colour]}m{text}\033[0m"

    def status(self, status: CertStatus | None, text: str | None = None) -> str:
        """A certificate status, coloured by its meaning (upper case)."""
        label = text if text is not None else (status.value.upper() if status else "NO ANSWER")
        return self.paint(label, _STATUS_COLOUR.get(status, "red") if status else "red")

    def line(self, text: str = "") -> None:
        """Write one line."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def table(self, rows: Sequence[tuple[str, str]], indent: str = "  ") -> None:
        """Aligned ``label  value`` lines."""
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            self.line(f"{indent}{key.ljust(width)}  {value}")


def revocation_rows(result: RevocationResult, style: Style) -> list[tuple[str, str]]:
    """The text rows describing the one answer: its source and, by source, its evidence."""
    source = result.source.value if result.source is not None else "(none)"
    where = f" {result.url}" if result.url else ""
    rows = [("source", f"{source}{where}")]
    if result.ocsp is not None:
        rows += result_rows(result.ocsp, style)
    else:
        rows += _answer_rows(result, style)
        if result.crl is not None and result.crl.crl_number is not None:
            rows.append(("crl number", str(result.crl.crl_number)))
    for attempt in result.attempts:
        label = f"{attempt.source.value} {attempt.url or ''}".strip()
        rows.append(("tried", f"{label}: " + " ".join(str(attempt.error).split())))
    return rows


def _answer_rows(
    result: ValidationResult | RevocationResult, style: Style
) -> list[tuple[str, str]]:
    """Status, revocation time and reason, thisUpdate and nextUpdate of either answer."""
    rows = [("status", style.status(result.status))]
    if result.revocation_time is not None:
        reason = result.revocation_reason
        rows.append(
            (
                "revoked at",
                f"{iso(result.revocation_time)}"
                + (f" ({reason.name.lower()})" if reason is not None else ""),
            )
        )
    rows += [
        ("this update", iso(result.this_update) or "-"),
        ("next update", iso(result.next_update) or "(none)"),
    ]
    return rows


def result_rows(result: ValidationResult, style: Style) -> list[tuple[str, str]]:
    """The text rows describing a validated answer."""
    rows = _answer_rows(result, style)
    rows += [
        ("produced at", iso(result.produced_at) or "-"),
        (
            "signed by",
            subject(result.signer) + (" (delegated responder)" if result.delegated else ""),
        ),
    ]
    return rows
