"""``ocspkit uris``: the OCSP URIs of a certificate file, or of every certificate a server sends.

Owns the command's arguments, exit code and output. Must never judge the certificates it lists
(no chain or staple verdict: that is ``ocspkit probe``).
"""

from __future__ import annotations

import argparse

from cryptography import x509

from ..errors import OCSPError
from .common import (
    CLIError,
    ExitCode,
    SubParsers,
    add_json_flag,
    is_file_argument,
    load_cert_file,
    parse_target,
    seconds,
    server_name,
    settle,
)
from .output import Style, cert_json, emit_json, envelope, subject

__all__ = ["register", "run"]


def register(sub: SubParsers, summary: str) -> None:
    """Add ``uris`` to the subcommands."""
    p = sub.add_parser(
        "uris",
        help=summary,
        description="Print the AIA OCSP URIs of each certificate in CERTFILE, or of each "
        "certificate the TLS server at HOST[:PORT] presents (port 443 by default). "
        "Exit code: 0 if any certificate names an OCSP responder, 3 if none does or the "
        "server cannot be reached, 4 usage.",
    )
    p.add_argument("source", metavar="CERTFILE | HOST[:PORT]")
    p.add_argument(
        "--servername", type=server_name, metavar="NAME", help="SNI name to send (default: HOST)"
    )
    p.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="SECONDS", help="for a server (default 10)"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _from_server(args: argparse.Namespace) -> list[x509.Certificate]:
    from ..probing import probe

    target = parse_target(args.source)
    try:
        # only the served certificates are wanted: no roots, so no trust store is read
        report = probe(
            target.host,
            target.port,
            servername=args.servername,
            timeout=args.timeout,
            trust_roots=(),
        )
    except OCSPError as exc:
        raise CLIError(f"cannot get the certificates of {target}: {exc}") from None
    return list(report.chain)


def run(args: argparse.Namespace) -> int:
    """``ocspkit uris``."""
    from ..certs import ocsp_urls

    if is_file_argument(args.source) or args.source.lower().endswith((".pem", ".crt", ".der")):
        certs = load_cert_file(args.source)
    else:
        certs = _from_server(args)
    found = any(ocsp_urls(c) for c in certs)
    code = settle(ExitCode.GOOD if found else ExitCode.NO_ANSWER)
    if args.json:
        emit_json(
            envelope(
                "uris", int(code), source=args.source, certificates=[cert_json(c) for c in certs]
            )
        )
        return int(code)
    style = Style()
    for i, cert in enumerate(certs):
        style.line(f"{i} {style.paint(subject(cert), 'bold')}")
        urls = ocsp_urls(cert)
        for url in urls:
            style.line(f"  {url}")
        if not urls:
            style.line("  " + style.paint("(no OCSP URI)", "dim"))
    return int(code)
