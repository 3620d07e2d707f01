"""``ocspkit crl FILE_OR_URL``: show a CRL, validate it against its issuer, look up a serial.

What people do with ``openssl crl -text -noout`` and ``openssl verify -crl_check``, in one
readable command. Also owns the CRL rendering (text rows and the ``crl`` JSON object) that
``inspect`` reuses for a CRL file. What this module must never do: call a certificate listed
or not on a CRL it has not validated (without ``--issuer`` the output says "not validated"
and the exit code is 0 whenever the CRL decodes), or print anything but the documented output.
"""

from __future__ import annotations

import argparse
import re
import sys

from cryptography import x509

from ..crlmodels import CRL, CRLEntry, IssuingDistributionPoint
from .common import (
    CLIError,
    ExitCode,
    SubParsers,
    UsageError,
    add_json_flag,
    add_timeout_option,
    add_verbose_flag,
    load_cert_file,
    read_file,
    settle,
)
from .output import JSONValue, Style, emit_json, envelope, error_json, iso, subject

__all__ = [
    "crl_json",
    "crl_rows",
    "describe_crl_error",
    "entry_json",
    "inspect_crl",
    "parse_serial",
    "register",
    "run",
]

#: Largest CRL file read (some CAs publish CRLs of tens of MB).
MAX_CRL_FILE = 256 * 2**20

_EXTENSION_NAMES = {
    "2.5.29.20": "CRL number",
    "2.5.29.27": "delta CRL indicator",
    "2.5.29.28": "issuing distribution point",
    "2.5.29.35": "authority key identifier",
    "2.5.29.18": "issuer alternative name",
    "2.5.29.46": "freshest CRL",
    "2.5.29.60": "expired certificates on CRL",
    "1.3.6.1.5.5.7.1.1": "authority information access",
}
_SERIAL = re.compile(r"(?:serial\s*=\s*)?(?:0x)?([0-9a-f:\s]+)", re.I)


def register(sub: SubParsers, summary: str) -> None:
    """Add ``crl`` to the subcommands."""
    p = sub.add_parser(
        "crl",
        help=summary,
        description="Print what a certificate revocation list holds (like openssl crl -text "
        "-noout, but readable). With --issuer, validate it completely (signature, cRLSign, "
        "RFC 5280 structure, critical extensions, thisUpdate/nextUpdate, and for a URL the "
        "partition it names). With --serial, say whether that serial is listed. Exit code: "
        "0 not listed (or the CRL was shown), 1 listed, 3 the CRL is invalid or unusable, "
        "4 usage. Without --issuer nothing is validated: a listed serial still exits 1 "
        "(fail closed), an unlisted one 3 (no verdict from an unvalidated CRL).",
    )
    p.add_argument("source", metavar="FILE_OR_URL", help="a CRL file (DER or PEM) or its URL")
    p.add_argument(
        "--issuer",
        metavar="FILE",
        help="the CA certificate that issued the CRL (PEM/DER); further certificates in the "
        "file are CRL signers the CA issued (a key rollover, a dedicated CRL signer)",
    )
    p.add_argument(
        "--serial",
        metavar="HEX",
        help="a certificate serial in hex, as 'openssl x509 -serial' prints it "
        "('serial=0A1B...', colons and 0x allowed)",
    )
    add_timeout_option(p, "fetching the CRL")
    add_verbose_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def parse_serial(text: str) -> int:
    """A serial number from hex: ``0A1B``, ``0a:1b``, ``0x0a1b`` or ``serial=0A1B``."""
    match = _SERIAL.fullmatch(text.strip())
    digits = re.sub(r"[:\s]", "", match.group(1)) if match else ""
    if not digits:
        raise UsageError(f"not a hexadecimal serial number: {text!r}")
    return int(digits, 16)


def describe_crl_error(exc: BaseException) -> str:
    """One line for a CRL that failed: its kind, then the library's message."""
    from ..errors import CRLValidationError, DecodeError, SignatureError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, DecodeError):
        return f"not a usable CRL: {text}"
    if isinstance(exc, (CRLValidationError, SignatureError)):
        return f"invalid CRL ({type(exc).__name__}): {text}"
    return f"{type(exc).__name__}: {text}"


def _reasons(codes: frozenset[int] | None) -> list[str] | None:
    from ..models import RevocationReason

    if codes is None:
        return None
    return [RevocationReason(c).name.lower() for c in sorted(codes)]


def _reason_name(entry: CRLEntry) -> str | None:
    reason = entry.reason
    return getattr(reason, "name", str(reason)).lower() if reason is not None else None


def _idp_json(idp: IssuingDistributionPoint | None) -> dict[str, JSONValue] | None:
    if idp is None:
        return None
    return {
        "full_names": list(idp.full_names),
        "relative_name": idp.relative_name,
        "only_contains_user_certs": idp.only_contains_user_certs,
        "only_contains_ca_certs": idp.only_contains_ca_certs,
        "only_contains_attribute_certs": idp.only_contains_attribute_certs,
        "only_some_reasons": _reasons(idp.only_some_reasons),
        "indirect_crl": idp.indirect_crl,
    }


def _issuer_text(crl: CRL) -> str:
    from ..models import safe_name

    return safe_name(crl.issuer)


def crl_json(crl: CRL) -> dict[str, JSONValue]:
    """The ``crl`` object of ``crl --json`` (and of ``inspect --json`` for a CRL)."""
    from .._sigalgs import algorithm_name

    return {
        "issuer": _issuer_text(crl),
        "version": crl.version,
        "this_update": iso(crl.this_update),
        "next_update": iso(crl.next_update),
        "crl_number": crl.crl_number,
        "delta": crl.is_delta,
        "base_crl_number": crl.base_crl_number,
        "issuing_distribution_point": _idp_json(crl.issuing_distribution_point),
        "entries": len(crl),
        "extensions": [
            {"oid": e.oid, "name": _EXTENSION_NAMES.get(e.oid), "critical": e.critical}
            for e in crl.extensions
        ],
        "signature_algorithm": algorithm_name(crl.signature_algorithm_oid),
        "bytes": len(crl.der),
    }


def entry_json(entry: CRLEntry) -> dict[str, JSONValue]:
    """The ``entry`` object: one revokedCertificates entry."""
    return {
        "serial": format(entry.serial_number, "x"),
        "revocation_time": iso(entry.revocation_time),
        "reason": _reason_name(entry),
        "invalidity_date": iso(entry.invalidity_date),
    }


def crl_rows(crl: CRL) -> list[tuple[str, str]]:
    """The text rows describing a CRL."""
    from .._sigalgs import algorithm_name

    kind = f"delta (on base CRL number {crl.base_crl_number})" if crl.is_delta else "complete"
    rows = [
        ("issuer", _issuer_text(crl)),
        ("kind", f"{kind}, v{crl.version}"),
        ("this update", iso(crl.this_update) or "-"),
        ("next update", iso(crl.next_update) or "(none)"),
        ("CRL number", str(crl.crl_number) if crl.crl_number is not None else "(none)"),
        ("entries", f"{len(crl):,}"),
    ]
    idp = crl.issuing_distribution_point
    if idp is None:
        rows.append(("scope", "everything the issuer issued (no issuing distribution point)"))
    else:
        names = ", ".join(idp.full_names) or (
            "a name relative to the issuer" if idp.relative_name else ""
        )
        if idp.other_names:
            names = ", ".join(n for n in (names, "names that are not URLs") if n)
        flags = [
            label
            for label, on in (
                ("user certificates only", idp.only_contains_user_certs),
                ("CA certificates only", idp.only_contains_ca_certs),
                ("attribute certificates only", idp.only_contains_attribute_certs),
                ("indirect", idp.indirect_crl),
            )
            if on
        ]
        reasons = _reasons(idp.only_some_reasons)
        if reasons is not None:
            flags.append("reasons: " + ", ".join(reasons))
        rows.append(("partition", names or "(no distribution point name)"))
        if flags:
            rows.append(("scope", "; ".join(flags)))
    for ext in crl.extensions:
        if ext.oid not in ("2.5.29.20", "2.5.29.27", "2.5.29.28"):
            crit = " (critical)" if ext.critical else ""
            rows.append(("extension", f"{_EXTENSION_NAMES.get(ext.oid, ext.oid)}{crit}"))
    rows.append(("signature", algorithm_name(crl.signature_algorithm_oid) or "-"))
    return rows


def _entry_rows(entry: CRLEntry, style: Style) -> list[tuple[str, str]]:
    reason = _reason_name(entry)
    rows = [
        ("serial", format(entry.serial_number, "X")),
        ("status", style.paint("LISTED", "red")),
        ("revoked at", (iso(entry.revocation_time) or "-") + (f" ({reason})" if reason else "")),
    ]
    if entry.invalidity_date is not None:
        rows.append(("invalid since", iso(entry.invalidity_date) or "-"))
    return rows


def _load(args: argparse.Namespace) -> tuple[CRL, str | None]:
    from ..crl import parse_crl

    source: str = args.source
    if re.match(r"(?i)https?://", source):
        return _fetch(source, args.timeout), source
    data = read_file(source, MAX_CRL_FILE)
    try:
        return parse_crl(data), None
    except Exception as exc:  # DecodeError: the file is no usable CRL (exit 3)
        raise CLIError(describe_crl_error(exc)) from exc


def _fetch(url: str, timeout: float) -> CRL:
    """GET the CRL with :meth:`ocspkit.Client.fetch_crl` (its deadline, size cap, redirect
    and address rules); only parsed here: :func:`run` validates it against ``url``."""
    from ..client import Client, ClientConfig
    from ..errors import DecodeError, FetchError

    try:
        with Client(ClientConfig(timeout=timeout, deadline=timeout)) as client:
            return client.fetch_crl(url)
    except DecodeError as exc:
        raise CLIError(describe_crl_error(exc)) from exc
    except FetchError as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CLIError(f"could not fetch the CRL ({type(exc).__name__}): {text}") from exc


def _issuer(path: str | None) -> tuple[x509.Certificate | None, tuple[x509.Certificate, ...]]:
    if path is None:
        return None, ()
    certs = load_cert_file(path, "issuer")
    return certs[0], tuple(certs[1:])


def run(args: argparse.Namespace) -> int:
    """``ocspkit crl``."""
    from ..crl_validate import validate_crl
    from ..models import RevocationReason

    serial = parse_serial(args.serial) if args.serial is not None else None
    issuer, signers = _issuer(args.issuer)
    crl, url = _load(args)
    error: BaseException | None = None
    if issuer is not None:
        try:
            crl = validate_crl(crl, issuer, url=url, extra_certs=signers)
        except Exception as exc:  # the CRL does not hold: exit 3, one line
            error = exc
    validated = issuer is not None and error is None
    entry = crl.lookup(serial) if serial is not None else None
    removed = entry is not None and entry.reason == RevocationReason.REMOVE_FROM_CRL
    listed = entry is not None and not removed
    code = ExitCode.GOOD
    if error is not None:
        code = ExitCode.NO_ANSWER
    elif listed:  # without --issuer too: a listing fails closed, never a 0
        code = ExitCode.REVOKED
    elif serial is not None and not validated:  # "not listed" needs a validated CRL
        code = ExitCode.NO_ANSWER
    settle(code)
    message = describe_crl_error(error) if error is not None else None
    if args.json:
        emit_json(
            envelope(
                "crl",
                int(code),
                source=args.source,
                url=url,
                crl=crl_json(crl),
                validated=validated,
                issuer=subject(issuer) if issuer is not None else None,
                serial=format(serial, "x") if serial is not None else None,
                listed=listed if serial is not None else None,
                removed_from_crl=removed if serial is not None else None,
                entry=entry_json(entry) if entry is not None else None,
                error=error_json(error, message or "") if error is not None else None,
            )
        )
    else:
        _print(args, crl, issuer, validated, serial, entry, removed)
    if message is not None:
        sys.stderr.write(f"ocspkit crl: error: {message}\n")
    return int(code)


def _print(
    args: argparse.Namespace,
    crl: CRL,
    issuer: x509.Certificate | None,
    validated: bool,
    serial: int | None,
    entry: CRLEntry | None,
    removed: bool,
) -> None:
    style = Style()
    style.line(f"CRL {args.source}:")
    style.table(crl_rows(crl))
    if validated and issuer is not None:
        style.line(f"Valid: signed for {subject(issuer)}, and current.")
    elif issuer is None:
        style.line("(not validated: pass --issuer to validate it)")
    else:
        style.line(style.paint("NOT VALID", "red") + " (why: on standard error)")
    if serial is None:
        return
    if entry is None:
        style.line(f"Serial {serial:X}: not listed" + _caveat(crl))
    elif removed:
        style.line(f"Serial {serial:X}: removed from the CRL (removeFromCRL in this delta)")
    else:
        style.line(f"Serial {serial:X}:")
        style.table(_entry_rows(entry, style))


def _caveat(crl: CRL) -> str:
    idp = crl.issuing_distribution_point
    if crl.is_delta:
        return " on this delta (the complete CRL decides)"
    if idp is not None and idp.only_some_reasons is not None:
        return " (this CRL covers only some reasons)"
    if idp is not None and idp.has_distribution_point:
        return " on this partition"
    return ""


def inspect_crl(args: argparse.Namespace, crl: CRL) -> int:
    """``ocspkit inspect FILE`` for a CRL: show it; with ``--cert`` (and ``--issuer``), the
    certificate's answer from it (:func:`ocspkit.crl_status`), with ``check``'s exit code."""
    from ..crl_check import crl_status
    from ..models import RevocationResult
    from .check import inputs, issuer_bundle, no_issuer
    from .common import exit_for_error, exit_for_status
    from .output import cert_json

    if args.issuer and not args.cert:
        raise UsageError("--issuer needs --cert")
    result: RevocationResult | None = None
    error: BaseException | None = None
    code = ExitCode.GOOD
    item = inputs(args.cert, issuer_bundle(args)) if args.cert else None
    if item is not None:
        if item.issuer is None:
            raise no_issuer(args.issuer, args.cert, item.cert)
        try:
            result = crl_status(item.cert, item.issuer, crl)
            code = exit_for_status(result.status)
        except Exception as exc:  # the CRL does not answer for it: exit 3, one line
            error = exc
            code = exit_for_error(exc)
    settle(code)
    message = describe_crl_error(error) if error is not None else None
    if args.json:
        emit_json(
            envelope(
                "inspect",
                int(code),
                file=args.file,
                kind="crl",
                response=None,
                request=None,
                crl=crl_json(crl),
                validated=result is not None,
                certificate=cert_json(item.cert) if item is not None else None,
                status=result.status.value if result is not None else None,
                result=dict(result.to_dict()) if result is not None else None,
                error=error_json(error, message or "") if error is not None else None,
            )
        )
    else:
        style = Style()
        style.line("Certificate Revocation List:")
        style.table(crl_rows(crl))
        if result is not None and item is not None:
            style.line(f"Checked for {subject(item.cert)}:")
            rows = [("status", style.status(result.status))]
            if result.revocation_time is not None:
                reason = result.revocation_reason
                named = f" ({reason.name.lower()})" if reason is not None else ""
                rows.append(("revoked at", (iso(result.revocation_time) or "-") + named))
            style.table(rows)
        elif item is None:
            style.line("(not validated: pass --cert, and --issuer, to check a certificate)")
    if message is not None:
        sys.stderr.write(f"ocspkit inspect: error: {message}\n")
    return int(code)
