"""``ocspkit inspect FILE``: show a saved OCSP response, request or CRL; validate it on request.

Like ``openssl ocsp -respin FILE -resp_text`` (and ``-reqin FILE -req_text``, ``openssl crl
-text``), DER or PEM. With ``--cert`` (and ``--issuer``) a response or CRL is validated for
that certificate and the exit code is that of ``check`` (the CRL side is
:func:`ocspkit.cli.crl.inspect_crl`). What this module must never do: call a verdict on a
response it has not validated (without ``--cert`` the output says "not validated" and exits
0), or touch the network.
"""

from __future__ import annotations

import argparse
import sys

from ..crlmodels import CRL
from ..models import CertID, Extension, OCSPRequest, OCSPResponse, ResponseStatus
from .common import (
    ExitCode,
    SubParsers,
    UsageError,
    add_json_flag,
    add_verbose_flag,
    describe_error,
    exit_for_error,
    exit_for_status,
    read_file,
    settle,
)
from .output import (
    JSONValue,
    Style,
    cert_json,
    emit_json,
    envelope,
    error_json,
    iso,
    result_json,
    result_rows,
    subject,
)

__all__ = ["register", "request_json", "response_json", "run"]

#: Largest file read (an OCSP response is a few KiB; the client accepts 64 KiB).
MAX_FILE = 4 * 2**20

_NAMES = {
    "1.3.6.1.5.5.7.48.1.2": "nonce",
    "1.3.6.1.5.5.7.48.1.3": "CRL references",
    "1.3.6.1.5.5.7.48.1.4": "acceptable responses",
    "1.3.6.1.5.5.7.48.1.5": "no check",
    "1.3.6.1.5.5.7.48.1.6": "archive cutoff",
    "1.3.6.1.5.5.7.48.1.7": "service locator",
    "1.3.6.1.5.5.7.48.1.9": "extended revoke",
}


def register(sub: SubParsers, summary: str) -> None:
    """Add ``inspect`` to the subcommands."""
    p = sub.add_parser(
        "inspect",
        help=summary,
        description="Print what an OCSP response, request or CRL file holds (like openssl "
        "ocsp -respin FILE -resp_text, openssl crl -text). With --cert (and --issuer, unless "
        "--cert holds the chain) validate the response or CRL for that certificate, now. "
        "Exit code without --cert: 0 the file decodes, 4 it does not; with --cert as "
        "'check': 0 good, 1 revoked, 2 unknown, 3 the response or CRL does not validate (or "
        "is unsuccessful, or does not cover the certificate), 4 usage.",
    )
    p.add_argument("file", metavar="FILE", help="an OCSP response or request or a CRL, DER or PEM")
    p.add_argument("--cert", metavar="FILE", help="validate the response for this certificate")
    p.add_argument(
        "--issuer", metavar="FILE", help="the certificate's issuer (default: after it in --cert)"
    )
    add_verbose_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def _decode(data: bytes, path: str) -> OCSPResponse | OCSPRequest | CRL:
    from ..crl import parse_crl
    from ..errors import DecodeError
    from ..request import parse_request
    from ..response import parse_response

    head = data.lstrip()[:40]
    try:
        if head.startswith(b"-----BEGIN X509 CRL"):
            return parse_crl(data)
        if head.startswith(b"-----BEGIN OCSP REQUEST"):
            return parse_request(data)
        try:
            return parse_response(data)
        except DecodeError:
            if head.startswith(b"-----BEGIN OCSP RESPONSE"):
                raise
            try:
                return parse_request(data)
            except DecodeError:
                return parse_crl(data)
    except DecodeError as exc:
        raise UsageError(
            f"neither an OCSP response, an OCSP request nor a CRL: {path} ({exc})"
        ) from None


def _cert_id_json(cid: CertID) -> dict[str, JSONValue]:
    return {
        "hash_algorithm": cid.hash_algorithm,
        "issuer_name_hash": cid.issuer_name_hash.hex(),
        "issuer_key_hash": cid.issuer_key_hash.hex(),
        "serial": format(cid.serial_number, "x"),
    }


def _ext_json(ext: Extension) -> dict[str, JSONValue]:
    return {
        "oid": ext.oid,
        "name": _NAMES.get(ext.oid),
        "critical": ext.critical,
        "value": ext.value.hex(),
    }


def response_json(resp: OCSPResponse) -> dict[str, JSONValue]:
    """The ``response`` object of ``inspect --json``."""
    from .._sigalgs import algorithm_name
    from ..models import safe_name

    rid = resp.responder_id
    responder: dict[str, JSONValue] | None = None
    if rid is not None:
        responder = (
            {"key_hash": rid.key_hash.hex()}
            if rid.key_hash is not None
            else {"name": safe_name(rid.name)}
        )
    return {
        "response_status": resp.status.name.lower(),
        "version": resp.version,
        "responder_id": responder,
        "produced_at": iso(resp.produced_at),
        "responses": [
            {
                "cert_id": _cert_id_json(s.cert_id),
                "status": s.status.value,
                "this_update": iso(s.this_update),
                "next_update": iso(s.next_update),
                "revocation_time": iso(s.revocation_time),
                "reason": s.revocation_reason.name.lower() if s.revocation_reason else None,
                "extensions": [_ext_json(e) for e in s.extensions],
            }
            for s in resp.responses
        ],
        "extensions": [_ext_json(e) for e in resp.extensions],
        "nonce": resp.nonce.hex() if resp.nonce is not None else None,
        "signature_algorithm": algorithm_name(resp.signature_algorithm_oid),
        "certificates": [cert_json(c) for c in resp.certificates],
        "bytes": len(resp.der),
    }


def request_json(req: OCSPRequest) -> dict[str, JSONValue]:
    """The ``request`` object of ``inspect --json``."""
    return {
        "cert_ids": [_cert_id_json(c) for c in req.cert_ids],
        "nonce": req.nonce.hex() if req.nonce is not None else None,
        "extensions": [_ext_json(e) for e in req.extensions],
        "signed": req.signed,
        "requestor_name": req.requestor_name,
        "certificates": [cert_json(c) for c in req.certificates],
        "bytes": len(req.der),
    }


def _cert_id_lines(cid: CertID, indent: str) -> list[str]:
    return [
        f"{indent}Certificate ID:",
        f"{indent}  Hash Algorithm: {cid.hash_algorithm}",
        f"{indent}  Issuer Name Hash: {cid.issuer_name_hash.hex().upper()}",
        f"{indent}  Issuer Key Hash: {cid.issuer_key_hash.hex().upper()}",
        f"{indent}  Serial Number: {format(cid.serial_number, 'X')}",
    ]


def _ext_lines(exts: tuple[Extension, ...], title: str, indent: str) -> list[str]:
    if not exts:
        return []
    lines = [f"{indent}{title}:"]
    for e in exts:
        crit = " (critical)" if e.critical else ""
        lines.append(f"{indent}  {_NAMES.get(e.oid, e.oid)}{crit}: {e.value.hex().upper()}")
    return lines


def _response_text(resp: OCSPResponse, style: Style) -> list[str]:
    from .._sigalgs import algorithm_name
    from ..models import safe_name

    lines = ["OCSP Response Data:", f"  OCSP Response Status: {resp.status.name.lower()}"]
    if resp.status is not ResponseStatus.SUCCESSFUL:
        return lines
    rid = resp.responder_id
    if rid is not None and rid.key_hash is not None:
        who = f"key hash {rid.key_hash.hex().upper()}"
    else:
        who = safe_name(rid.name) if rid is not None else "-"
    lines += [
        f"  Version: {resp.version} (0x{resp.version - 1:x})",
        f"  Responder Id: {who}",
        f"  Produced At: {iso(resp.produced_at)}",
        "  Responses:",
    ]
    for single in resp.responses:
        lines += _cert_id_lines(single.cert_id, "    ")
        lines.append(f"    Cert Status: {style.status(single.status, single.status.value)}")
        if single.revocation_time is not None:
            lines.append(f"    Revocation Time: {iso(single.revocation_time)}")
        if single.revocation_reason is not None:
            lines.append(f"    Revocation Reason: {single.revocation_reason.name.lower()}")
        lines.append(f"    This Update: {iso(single.this_update)}")
        lines.append(f"    Next Update: {iso(single.next_update) or '(none)'}")
        lines += _ext_lines(single.extensions, "Single Extensions", "    ")
    lines += _ext_lines(resp.extensions, "Response Extensions", "  ")
    lines.append(f"  Signature Algorithm: {algorithm_name(resp.signature_algorithm_oid)}")
    for i, cert in enumerate(resp.certificates):
        lines.append(f"  Certificate {i}: {subject(cert)} (serial {cert.serial_number:x})")
    return lines


def _request_text(req: OCSPRequest) -> list[str]:
    lines = ["OCSP Request Data:", "  Version: 1 (0x0)"]
    if req.requestor_name:
        lines.append(f"  Requestor Name: {req.requestor_name}")
    lines.append("  Requestor List:")
    for cid in req.cert_ids:
        lines += _cert_id_lines(cid, "    ")
    lines += _ext_lines(req.extensions, "Request Extensions", "  ")
    lines.append(f"  Signed: {'yes' if req.signed else 'no'}")
    for i, cert in enumerate(req.certificates):
        lines.append(f"  Certificate {i}: {subject(cert)}")
    return lines


def run(args: argparse.Namespace) -> int:
    """``ocspkit inspect``."""
    from ..models import ValidationResult
    from .check import inputs, issuer_bundle, no_issuer

    value = _decode(read_file(args.file, MAX_FILE), args.file)
    if isinstance(value, CRL):
        from .crl import inspect_crl

        return inspect_crl(args, value)
    is_response = isinstance(value, OCSPResponse)
    if args.issuer and not args.cert:
        raise UsageError("--issuer needs --cert")
    if args.cert and not is_response:
        raise UsageError(f"{args.file} is an OCSP request: only a response can be validated")
    result: ValidationResult | None = None
    error: BaseException | None = None
    code = ExitCode.GOOD
    item = None
    if args.cert and isinstance(value, OCSPResponse):
        from ..validate import validate_response

        item = inputs(args.cert, issuer_bundle(args))
        if item.issuer is None:
            raise no_issuer(args.issuer, args.cert, item.cert)
        try:
            result = validate_response(value, item.cert, item.issuer)
            code = exit_for_status(result.status)
        except Exception as exc:  # the response does not hold: exit 3, one line
            error = exc
            code = exit_for_error(exc)
    settle(code)
    message = describe_error(error) if error is not None else None
    if args.json:
        fields: dict[str, JSONValue] = {
            "file": args.file,
            "kind": "response" if is_response else "request",
            "response": response_json(value) if isinstance(value, OCSPResponse) else None,
            "request": request_json(value) if isinstance(value, OCSPRequest) else None,
            "validated": result is not None,
            "certificate": cert_json(item.cert) if item is not None else None,
            "status": result.status.value if result is not None else None,
            "result": result_json(result) if result is not None else None,
            "error": error_json(error, message or "") if error is not None else None,
        }
        emit_json(envelope("inspect", int(code), **fields))
    else:
        style = Style()
        lines = (
            _response_text(value, style)
            if isinstance(value, OCSPResponse)
            else _request_text(value)
        )
        for line in lines:
            style.line(line)
        if result is not None and item is not None:
            style.line(f"Validated for {subject(item.cert)}:")
            style.table(result_rows(result, style))
        elif is_response and not args.cert:
            style.line("(not validated: pass --cert, and --issuer, to validate it)")
    if message is not None:
        sys.stderr.write(f"ocspkit inspect: error: {message}\n")
    return int(code)
