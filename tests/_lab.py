"""Real TLS servers that staple, on loopback, for tests: Apache httpd, nginx and HAProxy.

Each launcher is a context manager that writes a private configuration under a directory of the
caller's (``tmp_path``), starts the server in the foreground as a child process, waits until every
port accepts connections, yields a :class:`RunningServer`, and stops it by PID. Every listener
binds 127.0.0.1 (and ``[::1]`` with ``ipv6=True``) only, on free ports picked at start.

    with start_apache(tmp_path, [Site.from_leaf("good", leaf, tmp_path)]) as apache:
        report = ocspkit.probe("127.0.0.1", apache.port("good"), servername="localhost")

Sites are one per port (a VirtualHost / server / frontend each), so a module can start a server
once with several sites. Missing binaries skip the test (fail under OCSPKIT_REQUIRE_SERVERS=1)
through :func:`tests._servers.need_binary`. The recipe is ``shared/recipes/staplelab.sh``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._servers import need_binary

__all__ = [
    "RunningServer",
    "ServerStartError",
    "Site",
    "ThreadServer",
    "free_ports",
    "haproxy_command",
    "ipv6_loopback",
    "pyopenssl_staple_server",
    "reply_server",
    "silent_server",
    "start_apache",
    "start_haproxy",
    "start_nginx",
    "wait_for_responder",
]

_APACHE_MODULES = "/usr/lib/apache2/modules"


class ServerStartError(RuntimeError):
    """A server did not start (its log tail is in the message)."""


@dataclass(frozen=True)
class Site:
    """One TLS listener: a certificate chain and key served on a port of its own.

    :ivar name: the key of its port in :attr:`RunningServer.ports`.
    :ivar chain: PEM file, leaf first, then intermediates (what the server sends).
    :ivar key: PEM private key file.
    :ivar stapling: ask the server to staple (Apache ``SSLUseStapling on``, nginx
        ``ssl_stapling on``; HAProxy staples whenever :attr:`staple_file` is given).
    :ivar staple_file: a DER OCSP response to serve as is: HAProxy's ``<crt>.ocsp`` file, nginx's
        ``ssl_stapling_file`` (ignored by Apache, which always fetches from the AIA URL).
    :ivar trusted: CA bundle for nginx's ``ssl_stapling_verify`` (``ssl_trusted_certificate``).
    :ivar extra: more configuration lines inside this site's block (VirtualHost / server; for
        HAProxy, options appended to its ``bind`` line).
    """

    name: str
    chain: Path
    key: Path
    stapling: bool = True
    staple_file: Path | None = None
    trusted: Path | None = None
    extra: str = ""

    @classmethod
    def from_leaf(
        cls,
        name: str,
        leaf: object,
        directory: Path,
        *,
        staple: bytes | None = None,
        trusted: bytes | None = None,
        **kwargs: object,
    ) -> Site:
        """A site serving an ``ocspkit.testing.Leaf``: writes its files under ``directory``.

        ``staple`` (DER) becomes :attr:`staple_file`; ``trusted`` (PEM) becomes :attr:`trusted`.
        """
        files = leaf.write(directory, name)  # type: ignore[attr-defined]
        staple_file = trusted_file = None
        if staple is not None:
            staple_file = directory / f"{name}.ocsp.der"
            staple_file.write_bytes(staple)
        if trusted is not None:
            trusted_file = directory / f"{name}.trusted.pem"
            trusted_file.write_bytes(trusted)
        return cls(
            name,
            files.chain,
            files.key,
            staple_file=staple_file,
            trusted=trusted_file,
            **kwargs,  # type: ignore[arg-type]
        )


@dataclass
class RunningServer:
    """A started server: its process, its ports by site name, its directory and log."""

    kind: str
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    directory: Path
    log: Path
    ipv6: bool = False
    config: Path = field(default_factory=Path)

    @property
    def pid(self) -> int:
        """The PID of the server's main process."""
        return self.process.pid

    def port(self, name: str) -> int:
        """The port of the site called ``name``."""
        return self.ports[name]

    def log_text(self) -> str:
        """Everything the server logged so far (error log and stdout/stderr)."""
        return "".join(
            p.read_text(errors="replace")
            for p in sorted(self.directory.glob("*.log"))
            if p.is_file()
        )


def ipv6_loopback() -> bool:
    """True if ``[::1]`` can be bound on this machine."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_ports(count: int, *, ipv6: bool = False) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 (and on ::1 with ``ipv6``) right now."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if ipv6:
                s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                held.append(s6)
                try:
                    s6.bind(("::1", port))
                except OSError:
                    continue
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _site_ports(sites: Sequence[Site], ipv6: bool) -> dict[str, int]:
    names = [s.name for s in sites]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"site names must be unique and at least one: {names}")
    return dict(zip(names, free_ports(len(names), ipv6=ipv6), strict=True))


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(x) for x in fh.read().split()]
    return kids


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's main process (it stops its workers); SIGKILL it and its children
    if it has not exited within 10 s."""
    if proc.poll() is not None:
        return
    kids = _children(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *kids]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5  # workers exit after the main process
    while kids and time.monotonic() < deadline:
        kids = [k for k in kids if os.path.exists(f"/proc/{k}")]
        time.sleep(0.05)


def _tail(paths: Sequence[Path], limit: int = 3000) -> str:
    text = ""
    for p in paths:
        with contextlib.suppress(OSError):
            text += f"--- {p.name}\n" + p.read_text(errors="replace")
    return text[-limit:]


@contextlib.contextmanager
def _run(
    kind: str,
    argv: list[str],
    directory: Path,
    ports: dict[str, int],
    *,
    ipv6: bool,
    config: Path,
    check: list[str] | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[RunningServer]:
    out = directory / f"{kind}_stdout.log"
    if check is not None:
        res = subprocess.run(check, capture_output=True, timeout=30, check=False)
        if res.returncode != 0:
            raise ServerStartError(
                f"{kind} config test failed:\n{(res.stdout + res.stderr).decode(errors='replace')}"
            )
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = RunningServer(kind, proc, dict(ports), directory, out, ipv6, config)
    try:
        deadline = time.monotonic() + startup_timeout
        waiting = set(ports.values())
        while waiting:
            if proc.poll() is not None:
                raise ServerStartError(
                    f"{kind} exited with {proc.returncode}:\n{_tail(list(directory.glob('*.log')))}"
                )
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{kind} did not listen on {sorted(waiting)} within {startup_timeout}s:\n"
                    + _tail(list(directory.glob("*.log")))
                )
            waiting = {p for p in waiting if not _listening(p)}
            if waiting:
                time.sleep(0.05)
        yield server
    finally:
        _stop(proc)


def _workdir(base: Path, kind: str) -> Path:
    d = Path(base) / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


# -- Apache httpd ---------------------------------------------------------------------------------


def start_apache(
    base: Path,
    sites: Sequence[Site],
    *,
    ipv6: bool = False,
    global_extra: str = "",
    startup_timeout: float = 20.0,
) -> contextlib.AbstractContextManager[RunningServer]:
    """Apache httpd (mpm_event, mod_ssl, mod_socache_shmcb) with one VirtualHost per site.

    Stapling per site is ``SSLUseStapling on|off``; server-wide ``SSLStaplingCache`` (shmcb),
    ``SSLStaplingResponderTimeout 3``, ``SSLStaplingReturnResponderErrors on``. Apache fetches
    the staple from the leaf's AIA OCSP URL on the first handshake that asks for one.
    ``global_extra`` adds server-wide lines (e.g. ``SSLStaplingStandardCacheTimeout 10``).
    """
    binary = need_binary("apache2", "httpd")
    d = _workdir(base, "apache")
    (d / "run").mkdir(exist_ok=True)
    (d / "htdocs").mkdir(exist_ok=True)
    (d / "htdocs" / "index.html").write_text("ok\n")
    ports = _site_ports(sites, ipv6)
    listen, vhosts = [], []
    for site in sites:
        port = ports[site.name]
        addrs = [f"127.0.0.1:{port}"] + ([f"[::1]:{port}"] if ipv6 else [])
        listen += [f"Listen {a}" for a in addrs]
        vhosts.append(
            f"""<VirtualHost {" ".join(addrs)}>
  ServerName localhost
  SSLEngine on
  SSLCertificateFile    {site.chain}
  SSLCertificateKeyFile {site.key}
  SSLUseStapling {"on" if site.stapling else "off"}
  {site.extra}
</VirtualHost>"""
        )
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    m = _APACHE_MODULES
    conf = d / "httpd.conf"
    conf.write_text(
        f"""ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{d}/run/httpd.pid"
Mutex file:{d}/run default
LoadModule mpm_event_module     {m}/mod_mpm_event.so
LoadModule authz_core_module    {m}/mod_authz_core.so
LoadModule socache_shmcb_module {m}/mod_socache_shmcb.so
LoadModule ssl_module           {m}/mod_ssl.so
{user}ServerName localhost
StartServers 1
ThreadsPerChild 8
MaxRequestWorkers 16
ErrorLog "{d}/error.log"
LogLevel warn ssl:info
DocumentRoot "{d}/htdocs"
<Directory "{d}/htdocs">
  Require all granted
</Directory>
{chr(10).join(listen)}
SSLStaplingCache "shmcb:{d}/run/ssl_stapling(131072)"
SSLStaplingResponderTimeout 3
SSLStaplingReturnResponderErrors on
{global_extra}
{chr(10).join(vhosts)}
"""
    )
    return _run(
        "apache",
        [binary, "-f", str(conf), "-DFOREGROUND"],
        d,
        ports,
        ipv6=ipv6,
        config=conf,
        check=[binary, "-t", "-f", str(conf)],
        startup_timeout=startup_timeout,
    )


# -- nginx ----------------------------------------------------------------------------------------


def start_nginx(
    base: Path,
    sites: Sequence[Site],
    *,
    ipv6: bool = False,
    startup_timeout: float = 20.0,
) -> contextlib.AbstractContextManager[RunningServer]:
    """nginx (one worker, ``daemon off``) with one ``server`` per site, TLS 1.2 and 1.3.

    A site with :attr:`Site.stapling` gets ``ssl_stapling on`` (plus ``ssl_stapling_verify on``
    and ``ssl_trusted_certificate`` when :attr:`Site.trusted` is set, and
    ``ssl_stapling_file`` when :attr:`Site.staple_file` is). nginx fetches from the AIA URL
    only *after* the first handshake asking for a staple, which it answers without one.
    """
    binary = need_binary("nginx")
    d = _workdir(base, "nginx")
    (d / "tmp").mkdir(exist_ok=True)
    (d / "logs").mkdir(exist_ok=True)  # nginx opens prefix/logs/error.log before reading -e
    ports = _site_ports(sites, ipv6)
    servers = []
    for site in sites:
        port = ports[site.name]
        listen = f"    listen 127.0.0.1:{port} ssl;\n" + (
            f"    listen [::1]:{port} ssl;\n" if ipv6 else ""
        )
        stapling = ""
        if site.stapling:
            stapling = "    ssl_stapling on;\n"
            if site.staple_file is not None:
                stapling += f"    ssl_stapling_file {site.staple_file};\n"
            if site.trusted is not None:
                stapling += (
                    f"    ssl_stapling_verify on;\n    ssl_trusted_certificate {site.trusted};\n"
                )
        servers.append(
            f"""  server {{
{listen}    server_name localhost;
    ssl_certificate     {site.chain};
    ssl_certificate_key {site.key};
    ssl_protocols TLSv1.2 TLSv1.3;
{stapling}    {site.extra}
    location / {{ return 200 "ok\\n"; }}
  }}"""
        )
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    conf = d / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process on;
worker_processes 1;
{user}pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path       {d}/tmp/proxy;
  fastcgi_temp_path     {d}/tmp/fastcgi;
  uwsgi_temp_path       {d}/tmp/uwsgi;
  scgi_temp_path        {d}/tmp/scgi;
{chr(10).join(servers)}
}}
"""
    )
    common = ["-p", str(d), "-c", str(conf), "-e", str(d / "error.log")]
    return _run(
        "nginx",
        [binary, *common],
        d,
        ports,
        ipv6=ipv6,
        config=conf,
        check=[binary, "-t", "-q", *common],
        startup_timeout=startup_timeout,
    )


# -- HAProxy --------------------------------------------------------------------------------------


def start_haproxy(
    base: Path,
    sites: Sequence[Site],
    *,
    ipv6: bool = False,
    startup_timeout: float = 20.0,
) -> contextlib.AbstractContextManager[RunningServer]:
    """HAProxy (``-db``, one thread) with one ``frontend`` per site.

    HAProxy never fetches staples itself (2.6): it serves the DER response in ``<crt>.ocsp``,
    which is :attr:`Site.staple_file` copied beside the combined PEM. No staple file: no staple.
    The admin socket is ``RunningServer.directory / "admin.sock"``.
    """
    binary = need_binary("haproxy")
    d = _workdir(base, "haproxy")
    ports = _site_ports(sites, ipv6)
    frontends = []
    for site in sites:
        port = ports[site.name]
        crt = d / f"{site.name}.pem"
        crt.write_bytes(site.chain.read_bytes() + site.key.read_bytes())
        os.chmod(crt, 0o600)
        if site.staple_file is not None and site.stapling:
            (d / f"{site.name}.pem.ocsp").write_bytes(site.staple_file.read_bytes())
        binds = f"  bind 127.0.0.1:{port} ssl crt {crt} {site.extra}\n"
        if ipv6:
            binds += f"  bind [::1]:{port} ssl crt {crt} {site.extra}\n"
        frontends.append(
            f"frontend fe_{site.name}\n{binds}"
            "  http-request return status 200 content-type text/plain string ok\n"
        )
    conf = d / "haproxy.cfg"
    conf.write_text(
        f"""global
  log stderr format raw local0 info
  stats socket {d}/admin.sock mode 600 level admin
  nbthread 1
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 10s
  timeout server 10s
{"".join(frontends)}"""
    )
    return _run(
        "haproxy",
        [binary, "-db", "-f", str(conf)],
        d,
        ports,
        ipv6=ipv6,
        config=conf,
        check=[binary, "-c", "-q", "-f", str(conf)],
        startup_timeout=startup_timeout,
    )


def haproxy_command(server: RunningServer, command: str, timeout: float = 5.0) -> str:
    """Send one command to a running HAProxy's admin socket and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(server.directory / "admin.sock"))
        s.sendall(command.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def which_openssl() -> str:
    """The ``openssl`` binary (skips/fails through need_binary if missing)."""
    return need_binary("openssl")


def _ocsp_post(url: str, der: bytes, timeout: float) -> bytes:
    """POST an OCSP request over HTTP/1.0 (``openssl ocsp`` keeps HTTP/1.1 connections open,
    and serves one connection at a time) and return the body of the answer."""
    parts = urllib.parse.urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/ocsp-request\r\nContent-Length: {len(der)}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as s:
        s.sendall(head.encode() + der)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).partition(b"\r\n\r\n")[2]


def wait_for_responder(
    url: str, cert: Any, issuer: Any, expected: Any, *, timeout: float = 15.0
) -> None:
    """Query ``url`` about ``cert`` until it answers ``expected`` (a CertStatus).

    ``openssl ocsp`` re-reads its ``index.txt`` only at the top of its accept loop, so the first
    answer after a change can still come from the old index. Raises AssertionError on timeout.
    """
    import ocspkit

    deadline = time.monotonic() + timeout
    request = ocspkit.build_request(cert, issuer, nonce=False)
    seen: object = None
    while time.monotonic() < deadline:
        try:
            body = _ocsp_post(url, request.der, timeout=2.0)
            result = ocspkit.validate_response(body, cert, issuer)
            seen = result.status
            if result.status is expected:
                return
        except (OSError, ocspkit.OCSPError) as exc:
            seen = exc
        time.sleep(0.05)
    raise AssertionError(f"responder {url} did not answer {expected} within {timeout}s: {seen}")


# -- in-process servers (threads): a pyOpenSSL stapling server and misbehaving TCP servers ------


class ThreadServer:
    """A TCP server on 127.0.0.1 (or ::1) run in a daemon thread; ``handle(sock)`` per client.

    Use as a context manager; :attr:`port` is the bound port, :attr:`handled` counts clients.
    """

    def __init__(self, handle: Callable[[socket.socket], None], *, host: str = "127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self.handled = 0
        self.errors: list[BaseException] = []
        self._handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"lab-{self.port}")

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                continue
            try:
                self._handle(conn)
            except Exception as exc:  # recorded for the test to inspect
                self.errors.append(exc)
            finally:
                self.handled += 1
                conn.close()

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()


def pyopenssl_staple_server(
    chain: Sequence[Any],
    key: Any,
    staple: bytes | Callable[[], bytes] | None,
    *,
    host: str = "127.0.0.1",
    tls_versions: tuple[str, str] = ("1.2", "1.3"),
) -> ThreadServer:
    """A pyOpenSSL TLS server (``tls_versions``: min and max) that staples ``staple`` (DER
    bytes, or a callable returning them per handshake; ``None`` or ``b""``: no staple).

    ``chain`` holds ``cryptography`` certificates, leaf first; ``key`` is the leaf's key.
    Uses ``Context.set_ocsp_server_callback``, as a stapling server embedding ocspkit would.
    """
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    versions = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}
    ctx.set_min_proto_version(versions[tls_versions[0]])
    ctx.set_max_proto_version(versions[tls_versions[1]])
    ctx.use_certificate(chain[0])  # pyOpenSSL >= 24.3 takes cryptography objects
    for extra in chain[1:]:
        ctx.add_extra_chain_cert(extra)
    ctx.use_privatekey(key)

    def on_status(_conn: Any, _data: Any) -> bytes:
        value = staple() if callable(staple) else staple
        return value or b""

    ctx.set_ocsp_server_callback(on_status)

    def handle(sock: socket.socket) -> None:
        # pyOpenSSL wants a blocking socket: bound each read/write with kernel timeouts
        sock.settimeout(None)
        tv = struct.pack("ll", 5, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        conn = SSL.Connection(ctx, sock)
        conn.set_accept_state()
        try:
            conn.do_handshake()
            with contextlib.suppress(SSL.Error, OSError):
                conn.shutdown()
        except (SSL.Error, OSError):
            pass  # clients that give up mid-handshake are part of the tests

    return ThreadServer(handle, host=host)


def silent_server(hold: float = 30.0) -> ThreadServer:
    """Accepts connections and never answers (until ``hold`` seconds or shutdown)."""
    stop = threading.Event()

    def handle(sock: socket.socket) -> None:
        sock.settimeout(hold)
        with contextlib.suppress(OSError):
            while not stop.is_set() and sock.recv(4096):
                pass

    server = ThreadServer(handle)
    original_exit = server.__exit__

    def _exit(*exc: object) -> None:
        stop.set()
        original_exit(*exc)

    server.__exit__ = _exit  # type: ignore[method-assign]
    return server


def reply_server(reply: bytes) -> ThreadServer:
    """Reads what the client sends first, answers ``reply`` and closes (e.g. plain HTTP)."""

    def handle(sock: socket.socket) -> None:
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            sock.recv(65536)
            sock.sendall(reply)

    return ThreadServer(handle)
