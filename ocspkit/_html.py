"""HTML renderings for Jupyter (``_repr_html_``): compact tables, status coloured, escaped.

The renderer layer: it sits above every other module and registers its functions with
:func:`ocspkit.models.register_html` when imported (``import ocspkit`` does), so no value type
or edge imports it. Must never import an edge at run time.

Used by :class:`~ocspkit.OCSPResponse`, :class:`~ocspkit.ValidationResult` and the probe
report; :func:`outcomes_html` renders a list of bulk-check outcomes as one table. Results and
outcomes carry an inline SVG picture of each answer's validity window (:func:`validity_svg`:
thisUpdate to nextUpdate, with producedAt, the stapler's refresh time and now marked; no
plotting dependency). Pure functions of the value and of ``now`` (the clock when not given);
every text taken from a certificate or a response is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING

from cryptography import x509

from ._sigalgs import algorithm_name
from .certs import subject_text
from .models import (
    CertStatus,
    OCSPResponse,
    ResponseStatus,
    RevocationResult,
    SingleResponse,
    ValidationResult,
    register_html,
    safe_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .client.bulk import CheckOutcome
    from .client.revocation_bulk import RevocationOutcome
    from .probing.report import ProbeReport

__all__ = [
    "outcomes_html",
    "probe_html",
    "response_html",
    "result_html",
    "revocation_html",
    "validity_svg",
]

#: What the validity picture draws: an OCSP result, or a revocation answer (OCSP or CRL).
Windowed = ValidationResult | RevocationResult

_COLOURS = {
    CertStatus.GOOD: "#1a7f37",
    CertStatus.REVOKED: "#cf222e",
    CertStatus.UNKNOWN: "#9a6700",
}
_BAD = "#cf222e"
_TABLE = '<table class="ocspkit" style="border-collapse:collapse;font-size:0.9em;text-align:left">'
_TH = (
    '<th style="padding:2px 10px 2px 0;vertical-align:top;font-weight:600;width:9em;min-width:9em">'
)
_TD = '<td style="padding:2px 10px 2px 0;vertical-align:top">'


def _badge(text: str, colour: str) -> str:
    return (
        f'<span style="color:#fff;background:{colour};border-radius:3px;padding:0 6px;'
        f'font-weight:600;white-space:nowrap">{escape(text)}</span>'
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
        # the same label width as the table above, so the columns line up
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
    return _table(rows, caption="OCSP validation result") + validity_svg([("", result)])


def _revoked_at(time: datetime | None, reason: object) -> str:
    name = getattr(reason, "name", None)
    return "revoked " + _when(time) + (f" ({escape(name.lower())})" if name else "")


def revocation_html(result: RevocationResult) -> str:
    """A compact table of the one revocation answer: status, source and URL, times, and each
    source tried before it with its error; then the answer's validity window."""
    source = result.source.value if result.source is not None else "no source answered"
    rows = [
        ("status", status_badge(result.status)),
        ("source", escape(source) + (f" &mdash; {escape(result.url)}" if result.url else "")),
    ]
    if result.status is CertStatus.REVOKED:
        rows.append(("revoked", _revoked_at(result.revocation_time, result.revocation_reason)))
    rows += [("this update", _when(result.this_update)), ("next update", _when(result.next_update))]
    for a in result.attempts:
        where = f"{a.source.value} {a.url or ''}".strip()
        rows.append(("tried", escape(f"{where}: {type(a.error).__name__}: {a.error}")))
    picture = validity_svg([("", result)]) if result.this_update is not None else ""
    return _table(rows, caption="Revocation answer") + picture


def probe_html(report: ProbeReport) -> str:
    """A compact table of a probe: TLS version, chain, staple and its status, Must-Staple."""
    chain_state = "valid" if report.chain_valid else "NOT valid"
    chain = "<br>".join(
        f"{i}: {_name(c)}" + (f" &mdash; OCSP {escape(', '.join(urls))}" if urls else "")
        for i, (c, urls) in enumerate(zip(report.chain, report.ocsp_urls, strict=False))
    )
    if report.chain_error:
        chain += f"<br>{_badge('chain error', _BAD)} {escape(report.chain_error)}"
    if report.stapled and report.staple_result is None:
        staple = _badge("INVALID", _BAD)  # sent, but not a valid answer: never "no answer"
        if report.staple_error is not None:
            staple += " " + escape(f"{type(report.staple_error).__name__}: {report.staple_error}")
    elif report.stapled:
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


# -- lists of outcomes and the validity-window picture ---------------------------------------


def outcomes_html(
    outcomes: Iterable[CheckOutcome] | Iterable[RevocationOutcome], *, now: datetime | None = None
) -> str:
    """One table for a list of :class:`~ocspkit.CheckOutcome` or
    :class:`~ocspkit.RevocationOutcome` (one row per certificate: subject, serial, status,
    times, and the source or the error), then the validity windows.

    In Jupyter: ``IPython.display.HTML(outcomes_html(list(check_many(items))))``.
    """
    items: list[CheckOutcome | RevocationOutcome] = sorted(outcomes, key=lambda o: o.index)
    revocation = any(isinstance(o.result, RevocationResult) for o in items)
    head = "".join(
        f"{_TH.replace('width:9em;min-width:9em', '')}{h}</th>"
        for h in ("#", "certificate", "serial", "status", "this update", "next update", "detail")
    )
    body = []
    for o in items:
        name = _name(o.cert) if o.cert is not None else "&mdash;"
        serial = escape(format(o.cert.serial_number, "x")[:16]) if o.cert is not None else ""
        r = o.result
        if r is not None:
            detail = ""
            if r.revocation_time is not None:
                detail = _revoked_at(r.revocation_time, r.revocation_reason)
            if isinstance(r, RevocationResult):
                via = r.source.value if r.source is not None else "no source answered"
                detail = escape(f"{via} {r.url or ''}".strip()) + (f"; {detail}" if detail else "")
            cells = [status_badge(r.status), _when(r.this_update), _when(r.next_update), detail]
        else:
            error = o.error
            why = escape(f"{type(error).__name__}: {error}") if error is not None else ""
            cells = [status_badge(None), "&mdash;", "&mdash;", why]
        row = [escape(str(o.index)), name, serial, *cells]
        nowrap = _TD.replace('top"', 'top;white-space:nowrap"')
        tds = [f"{nowrap if 2 <= i <= 5 else _TD}{c}</td>" for i, c in enumerate(row)]
        body.append("<tr>" + "".join(tds) + "</tr>")
    caption = (
        '<caption style="text-align:left;font-weight:600;padding-bottom:4px">'
        f"{'Revocation' if revocation else 'OCSP'} checks: {len(items)}</caption>"
    )
    table = f"{_TABLE}{caption}<tr>{head}</tr>{''.join(body)}</table>"
    windows: list[tuple[str, Windowed]] = [
        (_short_label(o.cert) if o.cert is not None else str(o.index), o.result)
        for o in items
        if o.result is not None and o.result.this_update is not None
    ]
    return table + (validity_svg(windows, now=now) if windows else "")


def _short_label(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        text = str(cns[0].value) if cns else _plain_name(cert)
    except Exception:  # an odd subject: the serial will do
        text = format(cert.serial_number, "x")
    return text if len(text) <= 22 else text[:21] + "\u2026"


_SVG_W, _LABEL_W, _ROW_H, _TOP, _AXIS_H = 640, 150, 22, 18, 34
_MARKS = (("producedAt", "#24292f", ""), ("refresh", "#0969da", "4,3"), ("now", "#cf222e", ""))


def _produced(r: Windowed) -> datetime | None:
    """producedAt of the OCSP response behind ``r`` (a CRL has none: its thisUpdate)."""
    ocsp = r.ocsp if isinstance(r, RevocationResult) else r
    return ocsp.response.produced_at if ocsp is not None else None


def validity_svg(windows: Sequence[tuple[str, Windowed]], *, now: datetime | None = None) -> str:
    """An inline SVG of each result's validity window on one time axis: a bar from
    thisUpdate to nextUpdate (coloured by status; faded to the edge without nextUpdate), a tick
    at producedAt, a dashed tick at the time a stapler would refresh it
    (:func:`ocspkit.refresh.staple_times` with the default schedule) and a line at ``now``.

    ``windows`` pairs a label (shown left of the bar, escaped) with a result (a
    :class:`~ocspkit.RevocationResult` too: an OCSP or CRL answer, with a thisUpdate).
    """
    from .refresh import RefreshSchedule, staple_times

    now = now or datetime.now(timezone.utc)
    if not windows:
        return ""
    rows = []
    for label, r in windows:
        if r.this_update is None:  # an UNKNOWN from no source has no window
            continue
        produced = _produced(r) or r.this_update
        times = staple_times(r.this_update, r.next_update, now=produced, schedule=RefreshSchedule())
        rows.append((label, r, r.this_update, produced, times.refresh_at))
    if not rows:
        return ""
    points = [now] + [t for _, _, this, p, f in rows for t in (this, p, f)]
    points += [r.next_update for _, r, _, _, _ in rows if r.next_update is not None]
    start, end = min(points), max(points)
    span = max((end - start).total_seconds(), 60.0)
    pad = span * 0.04
    plot_w = _SVG_W - _LABEL_W - 20

    def x(t: datetime) -> float:
        return _LABEL_W + plot_w * ((t - start).total_seconds() + pad) / (span + 2 * pad)

    height = _TOP + _ROW_H * len(rows) + _AXIS_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ocspkit-validity" width="{_SVG_W}" '
        f'height="{height}" viewBox="0 0 {_SVG_W} {height}" role="img" '
        'font-family="sans-serif" font-size="11">',
        "<title>OCSP validity windows: thisUpdate to nextUpdate</title>",
        '<defs><linearGradient id="ocspkit-fade"><stop offset="0" stop-color="#8c959f"/>'
        '<stop offset="1" stop-color="#8c959f" stop-opacity="0"/></linearGradient></defs>',
        '<text x="0" y="12" font-weight="600">validity window</text>',
    ]
    for i, (label, r, this, produced, refresh) in enumerate(rows):
        y = _TOP + i * _ROW_H
        colour = _COLOURS[r.status]
        x0 = x(this)
        if r.next_update is not None:
            x1, fill = x(r.next_update), colour
        else:
            x1, fill = _SVG_W - 20.0, "url(#ocspkit-fade)"
        parts.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 2):.1f}" height="13" rx="2" '
            f'fill="{fill}" fill-opacity="0.75"><title>{escape(r.status.value)}: '
            f"{_when(this)} to {_when(r.next_update)}</title></rect>"
        )
        for (name, stroke, dash), t in zip(_MARKS[:2], (produced, refresh), strict=True):
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y + 1}" y2="{y + 20}" '
                f'stroke="{stroke}" stroke-width="2"{dashed}><title>{name} {_when(t)}</title>'
                "</line>"
            )
    bottom = _TOP + _ROW_H * len(rows)
    xn = x(now)
    parts.append(
        f'<line x1="{xn:.1f}" x2="{xn:.1f}" y1="{_TOP - 2}" y2="{bottom + 2}" stroke="#cf222e" '
        f'stroke-width="1.5"><title>now {_when(now)}</title></line>'
        f'<line x1="{_LABEL_W}" x2="{_SVG_W - 20}" y1="{bottom + 3}" y2="{bottom + 3}" '
        'stroke="#8c959f"/>'
        f'<text x="{x(start):.1f}" y="{bottom + 15}">{_when(start)}</text>'
        f'<text x="{x(end):.1f}" y="{bottom + 15}" text-anchor="end">{_when(end)}</text>'
    )
    legend_x = float(_LABEL_W)
    for name, stroke, dash in _MARKS:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{legend_x:.0f}" x2="{legend_x:.0f}" y1="{bottom + 20}" '
            f'y2="{bottom + 31}" stroke="{stroke}" stroke-width="2"{dashed}/>'
            f'<text x="{legend_x + 5:.0f}" y="{bottom + 30}">{name}</text>'
        )
        legend_x += 90
    parts.append("</svg>")
    return "<div>" + "".join(parts) + "</div>"


register_html("ocspkit.models.OCSPResponse", response_html)
register_html("ocspkit.models.ValidationResult", result_html)
register_html("ocspkit.probing.report.ProbeReport", probe_html)
register_html("ocspkit.models.RevocationResult", revocation_html)
