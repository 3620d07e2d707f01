"""HTML renderings for Jupyter (``_repr_html_``): compact tables, status coloured, escaped.

The renderer layer: it sits above every other module and registers its functions with
:func:`ocspkit.models.register_html` when imported (``import ocspkit`` does), so no value type
or edge imports it. Must never import an edge at run time.

Used by :class:`~ocspkit.OCSPResponse`, :class:`~ocspkit.ValidationResult` and the probe
report. Pure functions of the value; every text taken from a certificate or a response is
HTML-escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from cryptography import x509

from ._sigalgs import algorithm_name
from .certs import subject_text
from .models import (
    CertStatus,
    OCSPResponse,
    ResponseStatus,
    SingleResponse,
    ValidationResult,
    register_html,
    safe_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .probing.report import ProbeReport

__all__ = ["probe_html", "response_html", "result_html"]

_COLOURS = {
    CertStatus.GOOD: "#1a7f37",
    CertStatus.REVOKED: "#cf222e",
    CertStatus.UNKNOWN: "#9a6700",
}
_BAD = "#cf222e"
_TABLE = '<table class="ocspkit" style="border-collapse:collapse;font-size:0.9em;text-align:left">'
_TH = '<th style="padding:2px 10px 2px 0;vertical-align:top;font-weight:600">'
_TD = '<td style="padding:2px 10px 2px 0;vertical-align:top">'


def _badge(text: str, colour: str) -> str:
    return (
        f'<span style="color:#fff;background:{colour};border-radius:3px;padding:0 6px;'
        f'font-weight:600">{escape(text)}</span>'
    )


def status_badge(status: CertStatus | None) -> str:
    """A coloured label for a certificate status (``None``: no answer)."""
    if status is None:
        return _badge("NO ANSWER", _BAD)
    return _badge(status.value.upper(), _COLOURS[status])


def _when(value: datetime | None) -> str:
    return escape(value.strftime("%Y-%m-%d %H:%M:%S UTC")) if value is not None else "&mdash;"


def _name(cert: x509.Certificate) -> str:
    return escape(subject_text(cert) or "(empty subject)")


def _table(rows: Iterable[tuple[str, str]], caption: str | None = None) -> str:
    """A two-column table; ``rows`` values are HTML already (escape before)."""
    head = (
        f'<caption style="text-align:left;font-weight:600;padding-bottom:4px">'
        f"{escape(caption)}</caption>"
        if caption
        else ""
    )
    body = "".join(f"<tr>{_TH}{escape(k)}</th>{_TD}{v}</td></tr>" for k, v in rows)
    return f"{_TABLE}{head}{body}</table>"


def _single_rows(single: SingleResponse) -> list[tuple[str, str]]:
    rows = [
        ("serial", escape(format(single.cert_id.serial_number, "x"))),
        ("status", status_badge(single.status)),
    ]
    if single.status is CertStatus.REVOKED:
        reason = single.revocation_reason
        rows.append(
            (
                "revoked at",
                _when(single.revocation_time)
                + (f" ({escape(reason.name.lower())})" if reason is not None else ""),
            )
        )
    rows += [("this update", _when(single.this_update)), ("next update", _when(single.next_update))]
    return rows


def response_html(response: OCSPResponse) -> str:
    """A compact table of a response: status, producedAt, responder, each SingleResponse."""
    if response.status is not ResponseStatus.SUCCESSFUL:
        return _table(
            [("response status", _badge(response.status.name.lower(), _BAD))],
            caption="OCSP response",
        )
    rid = response.responder_id
    if rid is not None and rid.name is not None:
        responder = escape(safe_name(rid.name))
    elif rid is not None and rid.key_hash is not None:
        responder = "key hash " + escape(rid.key_hash.hex())
    else:
        responder = "&mdash;"
    rows: list[tuple[str, str]] = [
        ("response status", _badge("successful", _COLOURS[CertStatus.GOOD])),
        ("produced at", _when(response.produced_at)),
        ("responder", responder),
        ("signature", escape(algorithm_name(response.signature_algorithm_oid) or "?")),
        ("nonce", escape(response.nonce.hex()) if response.nonce is not None else "&mdash;"),
        ("certificates", escape(", ".join(_plain_name(c) for c in response.certificates) or "-")),
    ]
    html = _table(rows, caption="OCSP response (not validated)")
    for i, single in enumerate(response.responses):
        html += _table(_single_rows(single), caption=f"SingleResponse {i + 1}")
    return html


def _plain_name(cert: x509.Certificate) -> str:
    return subject_text(cert) or "(empty subject)"


def result_html(result: ValidationResult) -> str:
    """A compact table of a validated result: status, times, signer."""
    rows = [("status", status_badge(result.status))]
    if result.status is CertStatus.REVOKED:
        reason = result.revocation_reason
        rows.append(
            (
                "revoked at",
                _when(result.revocation_time)
                + (f" ({escape(reason.name.lower())})" if reason is not None else ""),
            )
        )
    rows += [
        ("serial", escape(format(result.cert_id.serial_number, "x"))),
        ("this update", _when(result.this_update)),
        ("next update", _when(result.next_update)),
        ("produced at", _when(result.produced_at)),
        ("signed by", _name(result.signer) + (" (delegated)" if result.delegated else "")),
        ("CertID hash", escape(result.cert_id.hash_algorithm)),
    ]
    return _table(rows, caption="OCSP validation result")


def probe_html(report: ProbeReport) -> str:
    """A compact table of a probe: TLS version, chain, staple and its status, Must-Staple."""
    chain_state = "valid" if report.chain_valid else "NOT valid"
    chain = "<br>".join(
        f"{i}: {_name(c)}" + (f" &mdash; OCSP {escape(', '.join(urls))}" if urls else "")
        for i, (c, urls) in enumerate(zip(report.chain, report.ocsp_urls, strict=False))
    )
    if report.chain_error:
        chain += f"<br>{_badge('chain error', _BAD)} {escape(report.chain_error)}"
    if report.stapled:
        staple = status_badge(report.staple_status)
        if report.staple_result is not None:
            staple += (
                f" this update {_when(report.staple_result.this_update)},"
                f" next update {_when(report.staple_result.next_update)}"
            )
        if report.staple_error is not None:
            staple += " " + escape(f"{type(report.staple_error).__name__}: {report.staple_error}")
    else:
        staple = _badge("no staple", _BAD if report.must_staple else "#6e7781")
    where = f"[{report.host}]" if ":" in report.host else report.host
    rows = [
        ("server", escape(f"{where}:{report.port} ({report.address})")),
        ("SNI", escape(report.servername or "(none)")),
        ("TLS", escape(f"{report.tls_version} {report.cipher or ''}".strip())),
        (f"chain ({chain_state})", chain or "&mdash;"),
        ("staple", staple),
        ("Must-Staple", "yes" if report.must_staple else "no"),
    ]
    if report.must_staple_violation:
        rows.append(("violation", _badge("Must-Staple certificate without a valid staple", _BAD)))
    return _table(rows, caption="Stapling probe")


register_html("ocspkit.models.OCSPResponse", response_html)
register_html("ocspkit.models.ValidationResult", result_html)
register_html("ocspkit.probing.report.ProbeReport", probe_html)
