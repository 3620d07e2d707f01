"""Prometheus metrics of the stapler daemon (``ocspkit stapler --metrics HOST:PORT``).

What this module owns: a ``prometheus_client`` collector that reads the daemon's per-certificate
state at each scrape (nothing is counted twice or kept here) and the HTTP server that serves it.
``prometheus_client`` is imported only when metrics are asked for (the ``daemon`` extra);
without it :class:`~ocspkit.stapling.MissingDependencyError` is raised. What it must never do:
change the stapler's state, or block a scrape on the network.

Metrics, each labelled ``certificate`` (the config's name) and ``serial`` (hex):

* ``ocspkit_staple_age_seconds``: now minus the served staple's thisUpdate;
* ``ocspkit_staple_next_update_seconds``: its nextUpdate minus now;
* ``ocspkit_staple_serve_deadline_seconds``: the time left before it stops being served;
* ``ocspkit_staple_status``: 1 for the status served (label ``status``: good, revoked, unknown,
  none), 0 for the others;
* ``ocspkit_staple_serving``: 1 while a valid staple is served;
* ``ocspkit_staple_last_fetch_ok``: 1 if the last fetch succeeded, 0 if it failed;
* ``ocspkit_staple_consecutive_failures``: failed fetches in a row;
* ``ocspkit_staple_fetch_failures_total``: failed fetches since the daemon started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError

if TYPE_CHECKING:
    from .daemon import CertificateStatus

__all__ = ["MetricsServer", "serve_metrics"]

_STATUSES = ("good", "revoked", "unknown", "none")


def _import_prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingDependencyError(
            "--metrics needs the 'prometheus_client' package: pip install 'ocspkit[daemon]'"
        ) from exc
    return prometheus_client


class _Collector:
    def __init__(
        self, statuses: Callable[[], list[CertificateStatus]], core: Any, clock: Callable[[], float]
    ) -> None:
        self._statuses = statuses
        self._core = core
        self._clock = clock

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Any]:
        gauge, counter = self._core.GaugeMetricFamily, self._core.CounterMetricFamily
        labels = ["certificate", "serial"]
        age = gauge(
            "ocspkit_staple_age_seconds",
            "Age of the served staple (now - thisUpdate)",
            labels=labels,
        )
        nxt = gauge(
            "ocspkit_staple_next_update_seconds",
            "Seconds to the staple's nextUpdate",
            labels=labels,
        )
        deadline = gauge(
            "ocspkit_staple_serve_deadline_seconds",
            "Seconds until the staple stops being served (nextUpdate minus the margin)",
            labels=labels,
        )
        status = gauge(
            "ocspkit_staple_status",
            "1 for the status of the served staple (none: no staple served)",
            labels=[*labels, "status"],
        )
        serving = gauge("ocspkit_staple_serving", "1 while a valid staple is served", labels=labels)
        last_ok = gauge(
            "ocspkit_staple_last_fetch_ok",
            "1 if the last fetch succeeded, 0 if it failed",
            labels=labels,
        )
        streak = gauge(
            "ocspkit_staple_consecutive_failures", "Failed fetches in a row", labels=labels
        )
        failures = counter(
            "ocspkit_staple_fetch_failures",
            "Failed fetches since the daemon started",
            labels=labels,
        )
        now = self._clock()
        for s in self._statuses():
            st = s.state
            lv = [s.name, format(st.cert.serial_number, "x")]
            r = st.result if st.serving else None
            if r is not None:
                age.add_metric(lv, now - r.this_update.timestamp())
                if r.next_update is not None:
                    nxt.add_metric(lv, r.next_update.timestamp() - now)
            if st.serve_until is not None and st.serving:
                deadline.add_metric(lv, st.serve_until.timestamp() - now)
            shown = r.status.value if r is not None else "none"
            for name in _STATUSES:
                status.add_metric([*lv, name], 1.0 if name == shown else 0.0)
            serving.add_metric(lv, 1.0 if st.serving else 0.0)
            fetched = st.result is not None or st.failures > 0
            if fetched:
                last_ok.add_metric(lv, 0.0 if st.failures else 1.0)
            streak.add_metric(lv, float(st.failures))
            failures.add_metric(lv, float(s.fetch_failures))
        yield from (age, nxt, deadline, status, serving, last_ok, streak, failures)


class MetricsServer:
    """The running metrics endpoint; :meth:`close` stops it."""

    def __init__(self, server: Any, thread: Any, host: str, port: int) -> None:
        self._server, self._thread = server, thread
        self.host, self.port = host, port

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(
    statuses: Callable[[], list[CertificateStatus]],
    host: str,
    port: int,
    *,
    clock: Callable[[], float] = time.time,
) -> MetricsServer:
    """Serve ``/metrics`` on ``host:port`` from ``statuses()`` (read at each scrape), in a
    daemon thread. Raises :class:`MissingDependencyError` without ``prometheus_client`` and
    :class:`OSError` if the address cannot be bound."""
    prom = _import_prometheus()
    from prometheus_client import core

    registry = prom.CollectorRegistry(auto_describe=False)
    registry.register(_Collector(statuses, core, clock))
    got = prom.start_http_server(port, addr=host, registry=registry)
    server, thread = got if isinstance(got, tuple) else (got, None)
    bound = server.server_address[1] if hasattr(server, "server_address") else port
    return MetricsServer(server, thread, host, int(bound))
