"""The stapler daemon: a :class:`~ocspkit.Stapler` built from a :class:`~.config.DaemonConfig`,
its outputs with their reload commands, one log line per event, and a swap on reload.

What this module owns: turning configuration values into a store, a stapler and outputs
(:class:`StaplerDaemon`), logging the stapler's events (logger ``ocspkit.stapler``), running
each output's reload command (:mod:`~.reload`) after a write, ``--once`` (refresh what
is due, write, report) and the long-running loop (the stapler's own thread; SIGHUP and
SIGTERM are turned into :meth:`StaplerDaemon.request_reload` / :meth:`request_stop` by the
command line). What it must never do: schedule, fetch or validate anything itself — the
stapler's plan does that — or write a file other than atomically.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..client.storage import import_redis
from ..errors import ConfigError, MissingDependencyError, OCSPError, OutputError, StoreError
from ..models import CertStatus
from .config import CertificateConfig, DaemonConfig, OutputConfig, load_config
from .events import MustStapleMissing, StapleExpired, StapleFailed, StapleRevoked, StapleUpdated
from .outputs import (
    HAProxyOCSPFile,
    HAProxyRuntime,
    StapleFile,
    StapleOutput,
    try_later_response,
)
from .redis_store import RedisStore
from .reload import ReloadCommand, pending_marker
from .stapler import Stapler
from .state import StapleState
from .stores import DirectoryStore, MemoryStore, StapleStore

__all__ = ["CertificateStatus", "DaemonOutput", "RedisOutput", "ReloadCommand", "StaplerDaemon"]

logger = logging.getLogger("ocspkit.stapler")


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RedisOutput:
    """The staple's DER under ``key`` in Redis (deleted when no valid staple exists), for
    servers that read staples from Redis (OpenResty, custom terminators)."""

    def __init__(self, url: str, key: str, *, timeout: float = 5.0) -> None:
        redis = import_redis("a redis output")
        self.url, self.key = url, key
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self._redis: Any = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise OutputError(f"invalid Redis URL {url!r}: {exc}") from exc

    def update(self, der: bytes | None) -> None:
        """``SET key der`` (``DEL key`` for None)."""
        try:
            if der is None:
                self._redis.delete(self.key)
            else:
                self._redis.set(self.key, bytes(der))
        except self._errors as exc:
            raise OutputError(f"Redis {self.key!r}: {exc}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisOutput({self.key!r})"


class DaemonOutput:
    """One configured output: its parts (files, sockets, Redis), then its reload command.

    A file that already holds what would be written is not rewritten (a cron ``--once`` run or
    a restart with nothing new reloads no server); the reload runs only after something was
    written, or while an earlier reload of these files failed: a failed reload leaves a
    marker next to each file (``.NAME.reload-pending``), so the next run, ``--once`` in another
    process included, reloads even though the files hold the staple already, and removes the
    markers once a reload succeeds. ``ok`` says whether the last update succeeded.
    """

    def __init__(
        self, name: str, parts: Sequence[StapleOutput], reload: ReloadCommand | None
    ) -> None:
        self.name = name
        self.parts = tuple(parts)
        self.reload = reload
        self.ok: bool | None = None
        self.last_error: Exception | None = None

    def update(self, der: bytes | None) -> None:
        """Write ``der`` (or the "no staple" content) to each part, then reload."""
        wrote = []
        files = [part.path for part in self.parts if isinstance(part, StapleFile)]
        try:
            for part in self.parts:
                if isinstance(part, StapleFile) and _unchanged(part, der):
                    continue
                part.update(der)
                wrote.append(str(part.path) if isinstance(part, StapleFile) else repr(part))
            if wrote:
                what = f"{len(der)}-byte staple" if der is not None else "no-staple marker"
                logger.info("write: %s: %s to %s", self.name, what, ", ".join(wrote))
            pending = self.reload is not None and any(pending_marker(f).exists() for f in files)
            if self.reload is not None and (wrote or pending):
                if pending and not wrote:
                    logger.info("reload: %s: an earlier reload failed; again", self.name)
                try:
                    self.reload()
                except OutputError:
                    for f in files:  # the reload's error is the one to report
                        with contextlib.suppress(OSError):
                            pending_marker(f).touch()
                    raise
                for f in files:
                    pending_marker(f).unlink(missing_ok=True)
        except Exception as exc:
            self.ok, self.last_error = False, exc
            raise
        self.ok, self.last_error = True, None

    def close(self) -> None:
        """Close what the parts hold open (Redis connections)."""
        for part in self.parts:
            if isinstance(part, RedisOutput):
                part.close()

    def __repr__(self) -> str:
        return f"DaemonOutput({self.name!r})"


def _holds(path: Path, der: bytes) -> bool:
    """True if the regular file ``path`` holds ``der`` (a FIFO or a device is never read: it
    could block or never end)."""
    try:
        return path.is_file() and path.stat().st_size == len(der) and path.read_bytes() == der
    except OSError:
        return False


def _unchanged(part: StapleFile, der: bytes | None) -> bool:
    """True if writing ``der`` (None: no valid staple) would leave ``part``'s file as it is."""
    if der is not None:
        return _holds(part.path, der)
    if part.missing == "keep":
        return True
    if part.missing == "remove":
        return not part.path.exists()
    return _holds(part.path, try_later_response() if part.missing == "trylater" else b"")


def build_output(name: str, cfg: OutputConfig) -> DaemonOutput:
    """The :class:`DaemonOutput` of one ``[[certificate.output]]``."""
    parts: list[StapleOutput] = []
    if cfg.type == "file":
        assert cfg.path is not None
        parts.append(StapleFile(cfg.path, missing=cfg.missing))
    elif cfg.type == "haproxy":
        if cfg.crt is not None:
            parts.append(HAProxyOCSPFile(cfg.crt))
        elif cfg.path is not None:
            parts.append(StapleFile(cfg.path, missing="empty"))
        if cfg.socket is not None:
            parts.append(HAProxyRuntime(cfg.socket, timeout=cfg.timeout))
    else:
        assert cfg.url is not None and cfg.key is not None
        parts.append(RedisOutput(cfg.url, cfg.key))
    reload = ReloadCommand(cfg.reload, cfg.reload_timeout) if cfg.reload else None
    return DaemonOutput(name, parts, reload)


def open_store(setting: str | None) -> StapleStore:
    """``None``: a :class:`MemoryStore`; a URL: a :class:`RedisStore`; else a
    :class:`DirectoryStore` (created if missing)."""
    if setting is None:
        return MemoryStore()
    if "://" in setting:
        try:
            return RedisStore(setting)
        except (StoreError, MissingDependencyError) as exc:
            raise ConfigError(str(exc), key="defaults.store") from exc
    try:
        Path(setting).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {setting!r}: {exc.strerror}", key="defaults.store"
        ) from exc
    return DirectoryStore(setting)


@dataclass(frozen=True)
class CertificateStatus:
    """What the daemon knows about one configured certificate (for ``--once`` and metrics).

    :ivar fetch_failures: failed fetches since the daemon started (a counter).
    :ivar outputs_ok: every output's last update succeeded (None: none was attempted).
    """

    name: str
    state: StapleState
    fetch_failures: int
    outputs_ok: bool | None
    output_error: Exception | None


class _Running:
    """One generation of the daemon: a config, its stapler and its outputs."""

    def __init__(self, config: DaemonConfig, stapler: Stapler, store: StapleStore) -> None:
        self.config = config
        self.stapler = stapler
        self.store = store
        self.keys: dict[str, str] = {}  # name -> stapler key
        self.outputs: dict[str, list[DaemonOutput]] = {}


class StaplerDaemon:
    """Keeps the staples of every ``[[certificate]]`` of a config and writes their outputs.

    Building one adds every certificate (each fetched now, or loaded from the store), so the
    outputs are written before :meth:`run` starts. :meth:`reload` builds a new generation
    from the file and swaps it in (a bad file leaves the running one untouched); the
    in-memory store is carried over, so nothing already stapled is fetched again.
    """

    def __init__(self, config: DaemonConfig) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._names: dict[str, str] = {}  # stapler key -> name
        self._wake = threading.Event()
        self._stop = False
        self._hup = False
        self._gen = self._build(config, None)

    # -- building --------------------------------------------------------------------------

    def _build(self, config: DaemonConfig, previous: _Running | None) -> _Running:
        if previous is not None and previous.config.store == config.store:
            store = previous.store
        else:
            store = open_store(config.store)
        stapler = Stapler(
            store=store,
            options=config.options,
            on_update=self._on_update,
            on_error=self._on_error,
            on_revoked=self._on_revoked,
            on_expired=self._on_expired,
            on_must_staple_missing=self._on_missing,
        )
        gen = _Running(config, stapler, store)
        try:
            for i, cert in enumerate(config.certificates):
                self._add(gen, i, cert)
        except BaseException:
            self._close(gen, keep_store=previous is not None and store is previous.store)
            raise
        return gen

    def _add(self, gen: _Running, index: int, cert: CertificateConfig) -> None:
        outputs = []
        for j, o in enumerate(cert.outputs):
            name = cert.name if len(cert.outputs) == 1 else f"{cert.name} output[{j}]"
            try:
                outputs.append(build_output(name, o))
            except (OutputError, MissingDependencyError, ValueError) as exc:
                raise ConfigError(str(exc), key=f"certificate[{index}].output[{j}]") from exc
        key = gen.stapler.key_for(cert.certificates[0])
        with self._lock:
            self._names[key] = cert.name
        gen.outputs[cert.name] = outputs
        gen.keys[cert.name] = key
        try:
            gen.stapler.add(
                list(cert.certificates), issuer=cert.issuer, outputs=outputs, url=cert.force_url
            )
        except (OCSPError, ValueError) as exc:
            raise ConfigError(str(exc), key=f"certificate[{index}].chain") from exc

    def _close(self, gen: _Running, *, keep_store: bool = False) -> None:
        gen.stapler.close()
        for outs in gen.outputs.values():
            for out in outs:
                out.close()
        if not keep_store and isinstance(gen.store, RedisStore):
            try:
                gen.store.close()
            except StoreError:
                pass

    # -- events -> log lines -----------------------------------------------------------------

    def _name(self, key: str) -> str:
        with self._lock:
            return self._names.get(key, key[:16])

    def _on_update(self, ev: StapleUpdated) -> None:
        r = ev.result
        verb = "refresh" if ev.source == "fetched" else "loaded from the store"
        logger.info(
            "%s: %s: %s (thisUpdate %s, nextUpdate %s), served until %s, next refresh %s",
            verb,
            self._name(ev.key),
            r.status.value.upper(),
            _when(r.this_update),
            _when(r.next_update),
            _when(ev.serve_until),
            _when(ev.refresh_at),
        )

    def _on_error(self, ev: StapleFailed) -> None:
        name = self._name(ev.key)
        err = ev.error
        if isinstance(err, (OutputError, StoreError)):
            logger.error("failure: %s: %s: %s", name, type(err).__name__, err)
            return
        with self._lock:
            self._failures[ev.key] = self._failures.get(ev.key, 0) + 1
        logger.warning(
            "failure: %s: fetch failed (%d in a row): %s: %s; retry at %s; %s",
            name,
            ev.failures,
            type(err).__name__,
            err,
            _when(ev.retry_at),
            "still serving the last good staple" if ev.serving else "no staple to serve",
        )

    def _on_revoked(self, ev: StapleRevoked) -> None:
        r = ev.result
        reason = f" ({r.revocation_reason.name.lower()})" if r.revocation_reason else ""
        logger.warning(
            "revoked: %s was revoked at %s%s: the REVOKED staple is served; replace it",
            self._name(ev.key),
            _when(r.revocation_time),
            reason,
        )

    def _on_expired(self, ev: StapleExpired) -> None:
        logger.error(
            "expired: %s: the staple reached its serving limit %s with no successor",
            self._name(ev.key),
            _when(ev.serve_until),
        )

    def _on_missing(self, ev: MustStapleMissing) -> None:
        logger.error(
            "must-staple: %s has no valid staple (%s): clients will refuse it",
            self._name(ev.key),
            ev.reason,
        )

    # -- what it knows ---------------------------------------------------------------------

    @property
    def config(self) -> DaemonConfig:
        """The configuration in force."""
        return self._gen.config

    @property
    def stapler(self) -> Stapler:
        """The stapler in force."""
        return self._gen.stapler

    def statuses(self) -> list[CertificateStatus]:
        """One :class:`CertificateStatus` per configured certificate, in config order."""
        gen = self._gen
        out = []
        for cert in gen.config.certificates:
            key = gen.keys[cert.name]
            outs = gen.outputs[cert.name]
            ok: bool | None = None if all(o.ok is None for o in outs) else all(o.ok for o in outs)
            error = next((o.last_error for o in outs if o.last_error is not None), None)
            with self._lock:
                failures = self._failures.get(key, 0)
            state = gen.stapler.state(key)
            out.append(CertificateStatus(cert.name, state, failures, ok, error))
        return out

    # -- running ---------------------------------------------------------------------------

    def once(self) -> list[CertificateStatus]:
        """Refresh what is due now (adding did most of it) and return the statuses."""
        self._gen.stapler.refresh()
        return self.statuses()

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (safe from a signal handler)."""
        self._stop = True
        self._wake.set()

    def request_reload(self) -> None:
        """Ask :meth:`run` to re-read the configuration file (safe from a signal handler)."""
        self._hup = True
        self._wake.set()

    def reload(self) -> bool:
        """Re-read the file and swap in a new generation; False (logged) if the file is bad:
        the running configuration goes on. (Under :meth:`run`, use :meth:`request_reload`.)"""
        old = self._swap()
        if old is None:
            return False
        self._close(old, keep_store=self._gen.store is old.store)
        return True

    def _swap(self) -> _Running | None:
        old = self._gen
        path = old.config.path
        if path is None:
            logger.error("reload: no configuration file to re-read")
            return None
        try:
            config = load_config(path)
            self._gen = self._build(config, old)
        except ConfigError as exc:
            logger.error("reload: %s; keeping the running configuration", exc)
            return None
        logger.info("reload: %s: %d certificate(s)", path, len(config.certificates))
        return old

    def run(self, *, max_sleep: float = 60.0) -> None:
        """Staple until :meth:`request_stop`; :meth:`request_reload` swaps the config."""
        logger.info(
            "started: %d certificate(s), store %s",
            len(self._gen.config.certificates),
            self._gen.config.store or "in memory",
        )
        thread = self._gen.stapler.run_in_thread(max_sleep=max_sleep)
        try:
            while not self._stop:
                self._wake.wait(1.0)
                self._wake.clear()
                if self._hup and not self._stop:
                    self._hup = False
                    old = self._swap()
                    if old is not None:
                        thread.stop(old.config.options.responder_timeout + 5)
                        self._close(old, keep_store=self._gen.store is old.store)
                        thread = self._gen.stapler.run_in_thread(max_sleep=max_sleep)
        finally:
            # a fetch in flight ends within the client's deadline; files are replaced
            # atomically, so whatever is on disk is complete
            thread.stop(self._gen.config.options.responder_timeout + 5)
            self.close()
            logger.info("stopped")

    def close(self) -> None:
        """Close the stapler, its outputs and its store."""
        self._close(self._gen)

    def is_ok(self, status: CertificateStatus) -> bool:
        """A valid staple is served and every output holds it."""
        return status.state.serving and status.outputs_ok is not False

    @staticmethod
    def status_value(status: CertificateStatus) -> CertStatus | None:
        """The status of the staple being served (None: none)."""
        r = status.state.result
        return r.status if r is not None and status.state.serving else None
