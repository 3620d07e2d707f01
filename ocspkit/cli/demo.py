"""``ocspkit demo``: every piece of ocspkit, on loopback, in seconds.

A throwaway CA (:class:`ocspkit.testing.CA`), a real HTTP OCSP responder
(:class:`ocspkit.testing.Responder`) and a pyOpenSSL TLS server that staples
(:class:`ocspkit.testing.StaplingTLSServer`), all on 127.0.0.1. Then: build a request, query
the responder and validate the answer, probe the server's staple, revoke the certificate,
query again, and probe again once the server refreshed its staple.

Library code never prints; this module is the command line's, and writes to the stream it is
given.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import IO, Any

from ..models import RevocationReason
from ..testing.tls import StaplingTLSServer
from .common import SubParsers, add_json_flag

__all__ = ["register", "run", "run_demo"]


def register(sub: SubParsers, summary: str) -> None:
    """Add ``demo`` to the subcommands."""
    p = sub.add_parser(
        "demo",
        help=summary,
        description="Make a throwaway CA, start a local OCSP responder and a stapling TLS "
        "server on loopback, then request, query and validate a response, revoke the "
        "certificate, query again, and probe the server's staple; then a certificate with "
        "only a CRL distribution point, checked before and after its revocation. Offline, "
        "a few seconds.",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``ocspkit demo``."""
    return run_demo(json_output=args.json)


class _Out:
    """Plain text on any stream; colour only on a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        from .output import Style

        self.style = Style(stream)

    def head(self, n: int, text: str, code: str = "") -> None:
        self.style.line()
        title = self.style.paint(f"{n}. {text}", "bold")
        self.style.line(title + (f"   {self.style.paint(code, 'cyan')}" if code else ""))

    def rows(self, rows: list[tuple[str, str]]) -> None:
        self.style.table(rows, indent="   ")


@contextlib.contextmanager
def _stapling_server(leaf: Any) -> Iterator[tuple[StaplingTLSServer, Callable[[], object]]]:
    """A TLS server stapling through :class:`ocspkit.Stapler` (its ``install``).

    Yields the server and a ``refresh()`` that runs the stapler as if half the staple's
    validity had passed (when the stapler refreshes early), so the demo need not wait.
    """
    from ..stapling import Stapler

    with Stapler() as stapler:
        stapler.add(list(leaf.chain))  # fetches and validates a staple before serving

        def refresh() -> object:
            return stapler.refresh(now=datetime.now(timezone.utc) + timedelta(minutes=31))

        with StaplingTLSServer(
            leaf.cert, leaf.key, leaf.chain[1:], configure=stapler.install
        ) as server:
            yield server, refresh


@contextlib.contextmanager
def _loopback_without_proxy() -> Iterator[None]:
    """Everything in the demo is on 127.0.0.1: keep a configured HTTP(S)_PROXY out of it
    (``NO_PROXY`` gains the loopback names for the demo's duration, then is restored)."""
    saved = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}
    current = saved["NO_PROXY"] or saved["no_proxy"] or ""
    value = ",".join(filter(None, [current, "127.0.0.1", "localhost", "::1"]))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = value
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_demo(stream: IO[str] | None = None, *, json_output: bool = False) -> int:
    """Run the demo, writing a readable account to ``stream`` (stdout); return 0 on success.

    With ``json_output``, one JSON document of the steps is written instead. The demo is
    offline: it talks only to its own servers on 127.0.0.1, bypassing any configured proxy.
    """
    with _loopback_without_proxy():
        return _run_demo(stream, json_output=json_output)


def _run_demo(stream: IO[str] | None, *, json_output: bool) -> int:
    from .. import build_request, validate_response
    from ..client import Client, ClientConfig, check
    from ..probing import probe
    from ..testing import CA, Responder
    from .output import cert_json, emit_json, envelope, result_json, result_rows, subject

    out_stream = stream if stream is not None else sys.stdout
    out = _Out(out_stream if not json_output else io.StringIO())
    steps: list[dict[str, Any]] = []
    started = time.monotonic()
    style = out.style

    out.style.line(style.paint("ocspkit demo", "bold") + " - offline, everything on 127.0.0.1")
    ca = CA("ecdsa", name="ocspkit demo")
    out.head(1, "A throwaway CA", "ocspkit.testing.CA()")
    out.rows([("root", subject(ca.root)), ("issuer", subject(ca.issuer))])
    steps.append({"step": "ca", "root": cert_json(ca.root), "issuer": cert_json(ca.issuer)})

    with Responder(ca) as responder:
        out.head(2, "A local OCSP responder", "ocspkit.testing.Responder(ca)")
        out.rows([("URL", responder.url)])
        steps.append({"step": "responder", "url": responder.url})

        leaf = ca.issue("localhost", must_staple=True)
        from ..certs import ocsp_urls

        out.head(3, "A certificate for localhost, Must-Staple", 'ca.issue("localhost")')
        out.rows(
            [
                ("subject", subject(leaf.cert)),
                ("serial", format(leaf.cert.serial_number, "x")),
                ("OCSP URL", ", ".join(ocsp_urls(leaf.cert)) + "  (from its AIA extension)"),
            ]
        )
        steps.append({"step": "issue", "certificate": cert_json(leaf.cert)})

        request = build_request(leaf.cert, ca.issuer)
        cert_id = request.cert_ids[0]
        out.head(4, "The OCSP request", "ocspkit.build_request(cert, issuer)")
        out.rows(
            [
                ("CertID", f"{cert_id.hash_algorithm}, serial {cert_id.serial_number:x}"),
                ("nonce", f"{len(request.nonce or b'')} random bytes"),
                ("size", f"{len(request.der)} bytes DER"),
                ("GET URL", request.get_url(responder.url)),
            ]
        )
        steps.append(
            {"step": "request", "size": len(request.der), "get_url": request.get_url(responder.url)}
        )

        with Client(ClientConfig(timeout=5, deadline=10)) as client:
            response = client.query(request, responder.url)
        out.head(5, "Query the responder", "client.query(request, url)")
        out.rows(
            [
                ("answer", f"{response.status.name.lower()}, {len(response.der)} bytes"),
                ("nonce", "echoed" if response.nonce == request.nonce else "not echoed"),
            ]
        )
        steps.append({"step": "query", "size": len(response.der), "status": response.status.name})

        result = validate_response(response, leaf.cert, ca.issuer, request=request)
        out.head(6, "Validate the answer", "ocspkit.validate_response(response, cert, issuer, ...)")
        out.rows(
            [
                *result_rows(result, style),
                ("checked", "CertID, signature, signer, freshness, nonce: all passed"),
            ]
        )
        steps.append({"step": "validate", "result": result_json(result)})

        with _stapling_server(leaf) as (server, refresh):
            report = probe(
                server.host, server.port, servername="localhost", trust_roots=[ca.root], timeout=5
            )
            where = f"{server.host}:{server.port}"
            out.head(
                7,
                f"A TLS server on {where} staples it",
                f'ocspkit.probe("{server.host}", {server.port})',
            )
            _probe_rows(out, report)
            steps.append({"step": "probe", **_probe_json(report)})

            ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
            revoked = check(leaf.cert, ca.issuer, config=ClientConfig(timeout=5, deadline=10))
            out.head(8, "Revoke the certificate and check again", "ocspkit.check(cert, issuer)")
            out.rows(result_rows(revoked, style))
            steps.append({"step": "revoke-and-check", "result": result_json(revoked)})

            refresh()
            report2 = probe(
                server.host, server.port, servername="localhost", trust_roots=[ca.root], timeout=5
            )
            out.head(
                9,
                "The stapler refreshes early (half the validity window); probe again",
                "stapler.refresh()",
            )
            _probe_rows(out, report2)
            steps.append({"step": "probe-after-revoke", **_probe_json(report2)})

    crl_good, crl_revoked = _crl_steps(out, ca, steps)
    took = time.monotonic() - started
    ok = (
        crl_good.good
        and crl_revoked.revoked
        and result.good
        and revoked.revoked
        and report.staple_result is not None
        and report.staple_result.good
        and report2.staple_result is not None
        and report2.staple_result.revoked
    )
    out.style.line()
    out.style.line(
        (style.paint("Done", "green") if ok else style.paint("Unexpected results", "red"))
        + f" in {took:.1f} s. Next: 'ocspkit check --help', 'ocspkit probe --help'."
    )
    if json_output:
        emit_json(envelope("demo", 0 if ok else 3, seconds=round(took, 3), steps=steps), out_stream)
    return 0 if ok else 3


def _crl_steps(out: _Out, ca: Any, steps: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Steps 10-11: a certificate with a CRL distribution point and no OCSP URL (the shape
    of Let's Encrypt's since 2025), answered by check_revocation from the CRL."""
    from ..client import ClientConfig, check_revocation
    from ..testing import CRLServer
    from .output import revocation_json, revocation_rows

    config = ClientConfig(timeout=5, deadline=10)
    with CRLServer(ca) as crls:
        url = crls.url_for("/ca.crl")
        leaf = ca.issue("crl.localhost", ocsp_url="", crl_url=url)
        good = check_revocation(leaf.cert, ca.issuer, config=config)
        out.head(
            10,
            "A certificate with only a CRL distribution point (no OCSP URL)",
            "ocspkit.check_revocation(cert, issuer)",
        )
        out.rows([("CRL URL", url), *revocation_rows(good, out.style)])
        steps.append({"step": "crl-check", "result": revocation_json(good)})
        ca.revoke(leaf.cert, RevocationReason.KEY_COMPROMISE)
        revoked = check_revocation(leaf.cert, ca.issuer, config=config)
        out.head(11, "Revoke it: the next CRL lists it", "ocspkit.check_revocation(cert, issuer)")
        out.rows(revocation_rows(revoked, out.style))
        steps.append({"step": "crl-revoke-and-check", "result": revocation_json(revoked)})
    return good, revoked


def _probe_rows(out: _Out, report: Any) -> None:
    from .output import result_rows

    style = out.style
    result = report.staple_result
    rows = [
        ("TLS", f"{report.tls_version}, chain {'valid' if report.chain_valid else 'NOT valid'}"),
        ("staple", f"{len(report.staple_der or b'')} bytes, " + ("valid" if result else "INVALID")),
    ]
    if report.must_staple:
        rows.append(
            ("Must-Staple", "VIOLATED" if report.must_staple_violation else "required, satisfied")
        )
    if result is not None:
        rows += result_rows(result, style)
    elif report.staple_error is not None:
        rows.append(("error", str(report.staple_error)))
    out.rows(rows)


def _probe_json(report: Any) -> dict[str, Any]:
    from .probe import probe_json

    return probe_json(report)
