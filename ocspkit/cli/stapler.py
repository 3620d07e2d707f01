"""``ocspkit stapler``: the stapling daemon (Apache's ``SSLUseStapling`` as a command).

``--config stapler.toml`` lists certificates and their outputs (nginx ``ssl_stapling_file``,
HAProxy ``.ocsp`` file and runtime socket, Redis); the daemon keeps a verified staple for each
and writes it, then runs the output's reload command. ``--once`` refreshes what is due, writes
and exits (cron); otherwise it runs until SIGTERM/SIGINT, and SIGHUP re-reads the config.
Logs go to stderr, one line per fetch, refresh, failure and write. This module owns the
command's arguments, logging set-up, signals and exit codes; it must never decide anything
about staples (:mod:`ocspkit.stapling.daemon` and the stapler do).

Exit codes: 0 every certificate has a valid staple written to all its outputs (``--once``:
whatever it says; a revocation is logged), 3 some certificate has no valid staple or an output
failed (the others were written), 4 usage (a bad config names the key).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from typing import TYPE_CHECKING

from .common import ExitCode, SubParsers, UsageError, settle

if TYPE_CHECKING:
    from ..stapling.daemon import CertificateStatus, StaplerDaemon
    from .output import JSONValue

__all__ = ["register", "run"]

_HTTPX_LINE = re.compile(r'^HTTP Request: (?P<method>\S+) (?P<url>\S+) "(?P<status>[^"]*)"')


def register(sub: SubParsers, summary: str) -> None:
    """Add ``stapler`` to the subcommands."""
    p = sub.add_parser(
        "stapler",
        help=summary,
        description="Keep a verified OCSP staple for every certificate of --config and write "
        "it to its outputs (nginx ssl_stapling_file, HAProxy .ocsp file and runtime socket, "
        "Redis), running each output's reload command after a write. Runs until SIGTERM; "
        "SIGHUP re-reads the config (a bad one is logged and the running one kept). Logs to "
        "stderr. Exit codes: 0 every certificate has a valid staple in all its outputs, 3 some "
        "has none or an output failed, 4 usage or a bad config (the key is named).",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration")
    p.add_argument(
        "--once",
        action="store_true",
        help="refresh what is due, write the outputs and exit (for cron)",
    )
    p.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        type=_host_port,
        help="serve Prometheus metrics on http://HOST:PORT/metrics (needs prometheus_client)",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="the least severe log lines shown (default info: one line per fetch, refresh, "
        "failure and write)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="with --once: print one JSON document on stdout, one object per certificate "
        "(schema in the ocspkit docs, 'Command line')",
    )
    p.set_defaults(func=run)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


class _FetchLines(logging.Filter):
    """httpx's request line ("HTTP Request: POST url "HTTP/1.1 200 OK"") as a fetch line."""

    def filter(self, record: logging.LogRecord) -> bool:
        m = _HTTPX_LINE.match(record.getMessage())
        if m is None:
            return record.levelno >= logging.WARNING
        record.msg = "fetch: %s %s: %s"
        url = m["url"] if len(m["url"]) <= 120 else m["url"][:117] + "..."
        record.args = (m["method"], url, m["status"])
        return True


_HANDLERS: list[tuple[logging.Logger, logging.Handler]] = []


def _configure_logging(level: str) -> None:
    """One line per event on stderr (journald adds the time); replaces what an earlier call
    in this process set up."""
    for log, old in _HANDLERS:
        log.removeHandler(old)
    _HANDLERS.clear()
    formatter = logging.Formatter("ocspkit-stapler %(levelname)s %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    for name in ("ocspkit.stapler", "ocspkit.stapling"):
        log = logging.getLogger(name)
        log.setLevel(getattr(logging, level.upper()))
        log.addHandler(handler)
        log.propagate = False
        _HANDLERS.append((log, handler))
    fetches = logging.StreamHandler(sys.stderr)
    fetches.setFormatter(formatter)
    fetches.addFilter(_FetchLines())
    # httpx's request lines, and the same lines of the async client's direct exchanges
    for name in ("httpx", "ocspkit.http"):
        log = logging.getLogger(name)
        log.setLevel(logging.INFO if level in ("debug", "info") else logging.WARNING)
        log.addHandler(fetches)
        log.propagate = False
        _HANDLERS.append((log, fetches))


def _status_json(daemon: StaplerDaemon, s: CertificateStatus) -> dict[str, JSONValue]:
    st = s.state
    r = st.result if st.serving else None
    return {
        "name": s.name,
        "serial": format(st.cert.serial_number, "x"),
        "status": r.status.value if r is not None else None,
        "serving": st.serving,
        "this_update": r.this_update.isoformat() if r is not None else None,
        "next_update": r.next_update.isoformat() if r is not None and r.next_update else None,
        "serve_until": st.serve_until.isoformat() if st.serve_until and st.serving else None,
        "outputs_ok": s.outputs_ok,
        "ok": daemon.is_ok(s),
        "error": str(st.last_error or s.output_error or "") or None,
    }


def run(args: argparse.Namespace) -> int:
    """Run the daemon (or one pass of it with ``--once``); the exit code."""
    from ..errors import ConfigError, MissingDependencyError
    from ..stapling.config import load_config
    from ..stapling.daemon import StaplerDaemon

    _configure_logging(args.log_level)
    log = logging.getLogger("ocspkit.stapler")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    metrics = None
    if args.metrics is not None:
        from ..stapling.metrics import _import_prometheus

        try:
            _import_prometheus()
        except MissingDependencyError as exc:
            raise UsageError(str(exc)) from exc
    signals = _Signals() if not args.once else None  # a SIGHUP while adding must not kill it
    try:
        daemon = StaplerDaemon(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    try:
        if args.metrics is not None:
            from ..stapling.metrics import serve_metrics

            host, port = args.metrics
            try:
                metrics = serve_metrics(daemon.statuses, host, port)
            except OSError as exc:
                raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
            log.info("metrics: http://%s:%d/metrics", host, metrics.port)
        if args.once:
            return _once(daemon, args)
        assert signals is not None
        signals.attach(daemon)
        daemon.run()
        return int(ExitCode.GOOD)
    finally:
        if metrics is not None:
            metrics.close()
        if args.once:
            daemon.close()


class _Signals:
    """SIGTERM/SIGINT stop the daemon, SIGHUP reloads it; a signal that arrives while the
    certificates are first added is kept until the daemon exists."""

    def __init__(self) -> None:
        self.daemon: StaplerDaemon | None = None
        self.stop = self.hup = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)

    def _stop(self, *_: object) -> None:
        self.stop = True
        if self.daemon is not None:
            self.daemon.request_stop()

    def _hup(self, *_: object) -> None:
        self.hup = True
        if self.daemon is not None:
            self.daemon.request_reload()

    def attach(self, daemon: StaplerDaemon) -> None:
        self.daemon = daemon
        if self.stop:
            daemon.request_stop()
        if self.hup:
            daemon.request_reload()


def _once(daemon: StaplerDaemon, args: argparse.Namespace) -> int:
    statuses = daemon.once()
    bad = [s for s in statuses if not daemon.is_ok(s)]
    code = settle(ExitCode.NO_ANSWER if bad else ExitCode.GOOD)
    log = logging.getLogger("ocspkit.stapler")
    for s in bad:
        why = s.output_error or s.state.last_error or "no valid staple"
        log.error("not ok: %s: %s", s.name, why)
    log.info("once: %d of %d certificate(s) ok", len(statuses) - len(bad), len(statuses))
    if args.json:
        from .output import emit_json, envelope

        emit_json(
            envelope("stapler", int(code), certificates=[_status_json(daemon, s) for s in statuses])
        )
    return int(code)
