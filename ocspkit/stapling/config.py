"""The stapler daemon's configuration file (``ocspkit stapler --config stapler.toml``): TOML in,
frozen values out.

What this module owns: reading the TOML file, checking every key and value, and turning them
into :class:`DaemonConfig` (a :class:`~ocspkit.stapling.StaplerOptions`, the store setting and
one :class:`CertificateConfig` per ``[[certificate]]``, each with its outputs). An unknown key
or a bad value raises :class:`~ocspkit.ConfigError` naming the key as a path
(``certificate[0].output[1].type``). Relative paths are relative to the file's directory.

What it must never do: open a network connection, a store or an output, or start anything:
the daemon (:mod:`ocspkit.stapling.daemon`) builds those from the values. The keys map to
Apache's ``SSLStapling*`` directives one to one (``docs/howto-daemon.rst``).
"""

from __future__ import annotations

import importlib
import math
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509

from ..errors import ConfigError, OCSPError
from ..policy import ValidationPolicy
from ..refresh import RefreshSchedule
from .options import StaplerOptions
from .outputs import staple_path_problem

__all__ = [
    "CertificateConfig",
    "DaemonConfig",
    "OutputConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]

OutputType = Literal["file", "haproxy", "redis"]
Missing = Literal["empty", "trylater", "remove", "keep"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_MAX_SECONDS = 366 * 86400.0

_DEFAULT_KEYS = {
    "max_age",
    "responder_timeout",
    "store",
    "force_url",
    "clock_skew",
    "refresh_interval",
    "refresh_fraction",
    "margin",
    "min_interval",
    "retry_initial",
    "retry_max",
    "return_responder_errors",
    "nonce",
}
_CERT_KEYS = {"chain", "issuer", "name", "force_url", "output"}
_OUTPUT_KEYS: dict[str, set[str]] = {
    "file": {"type", "path", "missing", "reload", "reload_timeout"},
    "haproxy": {"type", "path", "crt", "socket", "timeout", "reload", "reload_timeout"},
    "redis": {"type", "url", "key", "reload", "reload_timeout"},
}


@dataclass(frozen=True)
class OutputConfig:
    """One ``[[certificate.output]]``: where a certificate's staple is written.

    :ivar type: ``"file"`` (a DER file: nginx's ``ssl_stapling_file``), ``"haproxy"`` (the
        ``.ocsp`` file beside HAProxy's ``crt`` and/or a push over its runtime socket) or
        ``"redis"`` (the DER under ``key`` in a Redis database).
    :ivar path: the file (``file``; for ``haproxy`` the ``.ocsp`` file itself).
    :ivar crt: ``haproxy``: the ``crt`` PEM file; the staple goes to ``<crt>.ocsp``.
    :ivar socket: ``haproxy``: the admin socket, a path or ``(host, port)``.
    :ivar missing: ``file``: what the file holds when no valid staple exists (default
        ``"trylater"``, what nginx needs; see :class:`~ocspkit.stapling.StapleFile`).
    :ivar url: ``redis``: the Redis URL (default: the ``store`` when it is one).
    :ivar key: ``redis``: the key the DER is stored under.
    :ivar reload: the command run after each write (an argv, never a shell), or None.
    :ivar reload_timeout: seconds the reload command may take.
    :ivar timeout: ``haproxy``: seconds for one runtime-socket exchange.
    """

    type: OutputType
    path: Path | None = None
    crt: Path | None = None
    socket: str | tuple[str, int] | None = None
    missing: Missing = "trylater"
    url: str | None = None
    key: str | None = None
    reload: tuple[str, ...] | None = None
    reload_timeout: float = 30.0
    timeout: float = 5.0


@dataclass(frozen=True)
class CertificateConfig:
    """One ``[[certificate]]``: a chain to staple and its outputs.

    :ivar name: the certificate's name in logs and metrics (default: the chain file's stem).
    :ivar chain: the PEM chain file, leaf first, then its issuer.
    :ivar certificates: the certificates read from ``chain`` (checked when the file is read).
    :ivar issuer: the issuer certificate if it is not in the chain.
    :ivar force_url: this certificate's responder (Apache ``SSLStaplingForceURL``).
    :ivar outputs: where its staple goes.
    """

    name: str
    chain: Path
    certificates: tuple[x509.Certificate, ...]
    issuer: x509.Certificate | None
    force_url: str | None
    outputs: tuple[OutputConfig, ...]


@dataclass(frozen=True)
class DaemonConfig:
    """The whole configuration file.

    :ivar store: ``None`` (in memory), a directory, or a ``redis://`` / ``rediss://`` /
        ``unix://`` URL (Apache ``SSLStaplingCache``).
    :ivar options: the stapler's options (schedule, validation policy, timeouts).
    :ivar certificates: one entry per ``[[certificate]]``.
    :ivar path: the file read.
    """

    store: str | None
    options: StaplerOptions
    certificates: tuple[CertificateConfig, ...]
    path: Path | None = None


def parse_duration(value: object, key: str) -> timedelta:
    """``"15m"``, ``"10s"``, ``"1h30m"``, ``"500ms"``, ``"2d"`` or a number of seconds, as a
    :class:`~datetime.timedelta`; anything else (negative, not finite, over a year) raises
    :class:`~ocspkit.ConfigError` naming ``key``."""
    seconds: float
    if isinstance(value, bool):
        raise ConfigError(f'expected a duration such as "15m", not {value!r}', key=key)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _DURATION.sub("", text):
            raise ConfigError(
                f'not a duration: {value!r} (use a number and ms, s, m, h or d: "15m")', key=key
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
    else:
        raise ConfigError(f'expected a duration such as "15m", not {value!r}', key=key)
    if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_SECONDS:
        raise ConfigError(f"a duration must be between 0 and 366 days, not {value!r}", key=key)
    return timedelta(seconds=seconds)


def load_config(path: str | Path) -> DaemonConfig:
    """Read and check the TOML file at ``path``; raise :class:`~ocspkit.ConfigError`."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {str(file)!r}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{str(file)!r} is not UTF-8 text: {exc}") from exc
    return parse_config(text, base=file.parent, path=file)


def _toml_loads(text: str) -> dict[str, Any]:
    # tomllib from Python 3.11, its backport tomli before (setup.cfg installs it there)
    toml: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from exc
    return doc


def parse_config(text: str, *, base: Path | None = None, path: Path | None = None) -> DaemonConfig:
    """Check the TOML ``text`` (paths relative to ``base``, default the working directory)."""
    doc = _toml_loads(text)
    root = base if base is not None else Path.cwd()
    _no_unknown(doc, {"defaults", "certificate"}, "")
    defaults = _table(doc.get("defaults", {}), "defaults")
    _no_unknown(defaults, _DEFAULT_KEYS, "defaults.")
    store = _store(defaults.get("store"), root)
    options = _options(defaults)
    certs_raw = doc.get("certificate")
    if certs_raw is None:
        raise ConfigError("at least one [[certificate]] is needed", key="certificate")
    if not isinstance(certs_raw, list) or not certs_raw:
        raise ConfigError("must be an array of tables ([[certificate]])", key="certificate")
    certificates = tuple(
        _certificate(raw, f"certificate[{i}]", root, store, options.force_url)
        for i, raw in enumerate(certs_raw)
    )
    names = [c.name for c in certificates]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"the name {name!r} is used twice", key=f"certificate[{i}].name")
    return DaemonConfig(store=store, options=options, certificates=certificates, path=path)


# -- pieces ------------------------------------------------------------------------------------


def _table(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("must be a table", key=key)
    return value


def _no_unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(
                f"unknown key (known: {', '.join(sorted(known))})", key=f"{prefix}{name}"
            )


def _string(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected a non-empty string, not {value!r}", key=key)
    return value


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, not {value!r}", key=key)
    return value


def _path(value: object, key: str, root: Path) -> Path:
    p = Path(_string(value, key)).expanduser()
    return p if p.is_absolute() else root / p


def _url(value: object, key: str) -> str:
    text = _string(value, key)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError(f"not a URL: {text!r} ({exc})", key=key) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not an http:// or https:// URL: {text!r}", key=key)
    return text


def _seconds(value: object, key: str, *, positive: bool = True) -> float:
    seconds = parse_duration(value, key).total_seconds()
    if positive and seconds <= 0:
        raise ConfigError(f"must be more than 0, not {value!r}", key=key)
    return seconds


def _store(value: object, root: Path) -> str | None:
    if value is None:
        return None
    text = _string(value, "defaults.store")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"a directory or a redis://, rediss:// or unix:// URL, not {text!r}",
                key="defaults.store",
            )
        return text
    return str(_path(text, "defaults.store", root))


def _options(d: dict[str, Any]) -> StaplerOptions:
    sched: dict[str, Any] = {}
    for name, field in (
        ("margin", "margin"),
        ("min_interval", "min_interval"),
        ("retry_initial", "retry_initial"),
        ("retry_max", "retry_max"),
        ("refresh_interval", "max_interval"),
    ):
        if name in d:
            sched[field] = parse_duration(d[name], f"defaults.{name}")
    if "refresh_interval" in d and sched["max_interval"] <= timedelta(0):
        raise ConfigError("must be more than 0", key="defaults.refresh_interval")
    if "refresh_fraction" in d:
        f = d["refresh_fraction"]
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise ConfigError(f"a number in (0, 1], not {f!r}", key="defaults.refresh_fraction")
        sched["fraction"] = float(f)
    if "retry_initial" in sched and "retry_max" not in sched:
        sched["retry_max"] = max(sched["retry_initial"], RefreshSchedule().retry_max)
    pol: dict[str, Any] = {}
    if "max_age" in d:
        pol["max_age"] = parse_duration(d["max_age"], "defaults.max_age")
    if "clock_skew" in d:
        pol["clock_skew"] = parse_duration(d["clock_skew"], "defaults.clock_skew")
    opts: dict[str, Any] = {}
    if "responder_timeout" in d:
        opts["responder_timeout"] = _seconds(d["responder_timeout"], "defaults.responder_timeout")
    if "force_url" in d:
        opts["force_url"] = _url(d["force_url"], "defaults.force_url")
    for name in ("return_responder_errors", "nonce"):
        if name in d:
            opts[name] = _bool(d[name], f"defaults.{name}")
    try:
        schedule = RefreshSchedule(**sched)
    except ValueError as exc:
        raise ConfigError(str(exc), key="defaults." + _culprit(str(exc), sched)) from None
    try:
        policy = ValidationPolicy(**pol)
        return StaplerOptions(schedule=schedule, policy=policy, **opts)
    except ValueError as exc:
        culprit = _culprit(str(exc), {**sched, **pol, **opts})
        raise ConfigError(str(exc), key="defaults." + culprit) from None


_FIELD_KEY = {"max_interval": "refresh_interval", "fraction": "refresh_fraction"}


def _culprit(message: str, given: dict[str, Any]) -> str:
    """The config key a library ValueError is about (its message names the field)."""
    for field in given:
        if field in message:
            return _FIELD_KEY.get(field, field)
    return next(iter(given), "")


def _certificate(
    raw: object, key: str, root: Path, store: str | None, default_url: str | None
) -> CertificateConfig:
    from ..certs import load_certificates, ocsp_urls
    from ..issuers import find_issuer

    table = _table(raw, key)
    _no_unknown(table, _CERT_KEYS, f"{key}.")
    if "chain" not in table:
        raise ConfigError(
            "is required (the PEM chain: leaf first, then its issuer)", key=f"{key}.chain"
        )
    chain = _path(table["chain"], f"{key}.chain", root)
    try:
        certs = tuple(load_certificates(chain))
    except (OCSPError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot load {str(chain)!r}: {exc}", key=f"{key}.chain") from None
    issuer: x509.Certificate | None = None
    if "issuer" in table:
        ipath = _path(table["issuer"], f"{key}.issuer", root)
        try:
            issuer = load_certificates(ipath)[0]
        except (OCSPError, OSError, ValueError) as exc:
            raise ConfigError(f"cannot load {str(ipath)!r}: {exc}", key=f"{key}.issuer") from None
    else:
        try:
            find_issuer(certs[0], certs[1:])
        except (OCSPError, ValueError) as exc:
            raise ConfigError(
                f"no issuer of the leaf in {str(chain)!r} (add it after the leaf, or set "
                f"issuer): {exc}",
                key=f"{key}.chain",
            ) from None
    name = _string(table["name"], f"{key}.name") if "name" in table else _stem(chain)
    force_url = _url(table["force_url"], f"{key}.force_url") if "force_url" in table else None
    if force_url is None and default_url is None and not ocsp_urls(certs[0]):
        raise ConfigError("the leaf names no OCSP responder: set force_url", key=f"{key}.force_url")
    outputs_raw = table.get("output", [])
    if not isinstance(outputs_raw, list):
        raise ConfigError(
            "must be an array of tables ([[certificate.output]])", key=f"{key}.output"
        )
    inputs = (chain, ipath) if "issuer" in table else (chain,)
    outputs = tuple(
        _output(o, f"{key}.output[{j}]", root, store, inputs) for j, o in enumerate(outputs_raw)
    )
    return CertificateConfig(name, chain, certs, issuer, force_url, outputs)


def _stem(chain: Path) -> str:
    """``site.chain.pem``, ``site-fullchain.pem``, ``site.crt``: ``site``."""
    return re.sub(r"([._-]?(full)?chain)?\.(pem|crt|cer)$", "", chain.name) or chain.name


def _staple_path(value: object, key: str, root: Path, inputs: Sequence[Path]) -> Path:
    """A staple file's path: new, or a regular file that is none of the certificate's files."""
    path = _path(value, key, root)
    problem = staple_path_problem(path, inputs)
    if problem is not None:
        raise ConfigError(problem, key=key)
    return path


def _output(
    raw: object, key: str, root: Path, store: str | None, inputs: Sequence[Path] = ()
) -> OutputConfig:
    table = _table(raw, key)
    kind = table.get("type")
    if kind not in _OUTPUT_KEYS:
        raise ConfigError(f"must be file, haproxy or redis, not {kind!r}", key=f"{key}.type")
    _no_unknown(table, _OUTPUT_KEYS[kind], f"{key}.")
    reload = _reload(table["reload"], f"{key}.reload") if "reload" in table else None
    reload_timeout = (
        _seconds(table["reload_timeout"], f"{key}.reload_timeout")
        if "reload_timeout" in table
        else 30.0
    )
    common: dict[str, Any] = {"reload": reload, "reload_timeout": reload_timeout}
    if kind == "file":
        if "path" not in table:
            raise ConfigError("is required for a file output", key=f"{key}.path")
        missing = table.get("missing", "trylater")
        if missing not in ("empty", "trylater", "remove", "keep"):
            raise ConfigError(
                f"must be empty, trylater, remove or keep, not {missing!r}", key=f"{key}.missing"
            )
        file = _staple_path(table["path"], f"{key}.path", root, inputs)
        return OutputConfig("file", path=file, missing=missing, **common)
    if kind == "haproxy":
        path = _staple_path(table["path"], f"{key}.path", root, inputs) if "path" in table else None
        crt = _path(table["crt"], f"{key}.crt", root) if "crt" in table else None
        if path is not None and crt is not None:
            raise ConfigError("set path (the .ocsp file) or crt, not both", key=f"{key}.crt")
        sock = _socket(table["socket"], f"{key}.socket", root) if "socket" in table else None
        if path is None and crt is None and sock is None:
            raise ConfigError(
                "a haproxy output needs crt (or path) and/or socket", key=f"{key}.type"
            )
        timeout = _seconds(table["timeout"], f"{key}.timeout") if "timeout" in table else 5.0
        return OutputConfig("haproxy", path=path, crt=crt, socket=sock, timeout=timeout, **common)
    url = table.get("url", store if store is not None and "://" in store else None)
    if url is None:
        raise ConfigError("is required (or set defaults.store to a Redis URL)", key=f"{key}.url")
    url = _string(url, f"{key}.url")
    if url.split("://", 1)[0].lower() not in ("redis", "rediss", "unix"):
        raise ConfigError(f"a redis://, rediss:// or unix:// URL, not {url!r}", key=f"{key}.url")
    if "key" not in table:
        raise ConfigError("is required for a redis output", key=f"{key}.key")
    return OutputConfig("redis", url=url, key=_string(table["key"], f"{key}.key"), **common)


def _reload(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, list) and value and all(isinstance(a, str) and a for a in value):
        return tuple(value)
    text = _string(value, key)
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"cannot split {text!r} into arguments: {exc}", key=key) from None
    if not argv:
        raise ConfigError("an empty command", key=key)
    return tuple(argv)


def _socket(value: object, key: str, root: Path) -> str | tuple[str, int]:
    text = _string(value, key)
    m = re.fullmatch(r"(?:tcp@)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})", text)
    if m is not None and not text.startswith(("/", ".")):
        port = int(m.group(2))
        if not 0 < port < 65536:
            raise ConfigError(f"bad port in {text!r}", key=key)
        return m.group(1).strip("[]"), port
    return str(_path(text, key, root))
