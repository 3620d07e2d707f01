"""OpenSSL interop for tests: read an ``index.txt`` database, run ``openssl ocsp`` as a responder.

``openssl ocsp -port N`` binds every address (it cannot bind 127.0.0.1 only); talk to it on
127.0.0.1. With ``-multi N`` the parent respawns children, so :meth:`OpenSSLResponder.stop`
signals the whole process group it started (parent *and* children). A responder never
stopped is stopped when it is garbage-collected or the interpreter exits: left running, its
``-multi`` children spin at full CPU once the temporary directory (its ``index.txt``) is gone.

This module owns reading ``index.txt`` (:func:`parse_index`, :class:`IndexFile`) and running
``openssl ocsp`` (:class:`OpenSSLResponder`). It must never signal processes it did not start,
write outside its own temporary directory, or import the CA at import time (only for typing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ..errors import OpenSSLError
from ..models import CertStatus, RevocationReason

if TYPE_CHECKING:
    from .ca import CA

__all__ = ["IndexFile", "OpenSSLError", "OpenSSLResponder", "parse_index"]

_REASONS: dict[str, RevocationReason] = {
    "unspecified": RevocationReason.UNSPECIFIED,
    "keycompromise": RevocationReason.KEY_COMPROMISE,
    "cacompromise": RevocationReason.CA_COMPROMISE,
    "affiliationchanged": RevocationReason.AFFILIATION_CHANGED,
    "superseded": RevocationReason.SUPERSEDED,
    "cessationofoperation": RevocationReason.CESSATION_OF_OPERATION,
    "certificatehold": RevocationReason.CERTIFICATE_HOLD,
    "removefromcrl": RevocationReason.REMOVE_FROM_CRL,
    # OpenSSL's pseudo reasons for holds and key-compromise times
    "holdinstruction": RevocationReason.CERTIFICATE_HOLD,
    "keytime": RevocationReason.KEY_COMPROMISE,
    "cakeytime": RevocationReason.CA_COMPROMISE,
}

Status = tuple[CertStatus, "datetime | None", "RevocationReason | None"]


def _parse_time(text: str) -> datetime:
    fmt = "%y%m%d%H%M%SZ" if len(text) == 13 else "%Y%m%d%H%M%SZ"
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise OpenSSLError(f"bad time {text!r} in index.txt") from None


def parse_index(text: str) -> dict[int, Status]:
    """Parse an OpenSSL ``index.txt``: serial -> (status, revocation time, reason).

    ``V`` (valid) and ``E`` (expired) lines are good, ``R`` lines revoked; a reason is
    optional. Raises :class:`OpenSSLError` on a malformed line.
    """
    table: dict[int, Status] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 4 or fields[0] not in ("V", "R", "E"):
            raise OpenSSLError(f"index.txt line {lineno}: not an OpenSSL CA database line")
        try:
            serial = int(fields[3], 16)
        except ValueError:
            raise OpenSSLError(f"index.txt line {lineno}: bad serial {fields[3]!r}") from None
        if fields[0] != "R":
            table[serial] = (CertStatus.GOOD, None, None)
            continue
        parts = fields[2].split(",")
        when = _parse_time(parts[0])
        reason = None
        if len(parts) > 1 and parts[1]:
            try:
                reason = _REASONS[parts[1].lower()]
            except KeyError:
                msg = f"index.txt line {lineno}: unknown reason {parts[1]!r}"
                raise OpenSSLError(msg) from None
        table[serial] = (CertStatus.REVOKED, when, reason)
    return table


class IndexFile:
    """A live view of an OpenSSL ``index.txt``, re-read whenever the file changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._table: dict[int, Status] = {}

    def table(self) -> dict[int, Status]:
        """The current serial -> status table (re-read if the file changed)."""
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._table = parse_index(self.path.read_text())
                self._stamp = stamp
            return self._table

    def status_of(self, serial: int) -> Status:
        """(status, revocation time, reason) of ``serial``; UNKNOWN if it is not listed."""
        return self.table().get(serial, (CertStatus.UNKNOWN, None, None))


def _listening_ports() -> set[int]:
    ports: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":  # TCP_LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    if os.path.exists("/proc/net/tcp"):
        return port in _listening_ports()
    try:  # pragma: no cover - non-Linux
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _own_process_group() -> dict[str, Any]:
    # A new process group (not a new session: `openssl ocsp -multi` calls setpgid() itself,
    # which fails for a session leader), so that stop() can signal parent and children at once.
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}  # pragma: no cover - Python 3.10


class OpenSSLResponder:
    """``openssl ocsp -index ... -port N`` serving a test :class:`~ocspkit.testing.CA`.

    On :meth:`start` it writes the CA's ``index.txt`` and PEM files to a private temporary
    directory, picks a free port, starts OpenSSL and waits until it listens. Call
    :meth:`refresh` after revoking to rewrite ``index.txt`` (OpenSSL 3 re-reads it when it
    changes). :meth:`stop` kills the process group (parent and ``-multi`` children).

    :param signer: ``"ca"`` (the intermediate signs) or ``"delegated"`` (the CA's delegated
        responder signs; OpenSSL embeds it).
    :param ndays: ``-ndays`` (nextUpdate = thisUpdate + ndays); ``None`` omits nextUpdate.
    :param multi: ``-multi`` worker processes (None: a single process).
    :param openssl: the binary (default: ``openssl`` on PATH).
    :param extra_args: more arguments for ``openssl ocsp``.
    :param startup_timeout: seconds to wait for the port to listen.
    """

    def __init__(
        self,
        ca: CA,
        *,
        signer: Literal["ca", "delegated"] = "ca",
        ndays: int | None = 1,
        multi: int | None = None,
        openssl: str | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.ca = ca
        self.signer = signer
        self.ndays = ndays
        self.multi = multi
        self.openssl = openssl or shutil.which("openssl") or "openssl"
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.directory: Path | None = None
        self._reaper: weakref.finalize[Any, Any] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def index_path(self) -> Path:
        """Where the CA's ``index.txt`` is written."""
        if self.directory is None:
            raise RuntimeError("OpenSSLResponder is not started")
        return self.directory / "index.txt"

    def refresh(self, *, restart: bool = True) -> None:
        """Rewrite ``index.txt`` from the CA's current status table.

        OpenSSL checks whether the index changed only *before* it waits for the next
        connection, so it answers one more request (one per ``-multi`` worker) from the old
        file. With ``restart=True`` (the default) the responder is restarted on the same port,
        so that the very next answer is current.
        """
        self.ca.write_index(self.index_path)
        proc = self.process
        if not restart or proc is None:
            return
        self._adopt(None)
        self._kill(proc)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            fresh = self._spawn(self.port)
            if fresh is not None:
                self._adopt(fresh)
                return
            time.sleep(0.1)
        raise OpenSSLError(f"openssl ocsp did not restart on port {self.port}")

    def command(self) -> list[str]:
        """The ``openssl ocsp`` command line (after :meth:`start` wrote the files)."""
        d = self.directory
        if d is None:
            raise RuntimeError("OpenSSLResponder is not started")
        cmd = [
            self.openssl, "ocsp",
            "-index", str(d / "index.txt"),
            "-port", str(self.port),
            "-CA", str(d / "issuer.pem"),
            "-rsigner", str(d / "rsigner.pem"),
            "-rkey", str(d / "rkey.pem"),
        ]  # fmt: skip
        if self.ndays is not None:
            cmd += ["-ndays", str(self.ndays)]
        if self.multi:
            cmd += ["-multi", str(self.multi)]
        return [*cmd, *self.extra_args]

    def _write_files(self) -> None:
        d = self.directory
        assert d is not None
        (d / "issuer.pem").write_bytes(self.ca.issuer_pem)
        if self.signer == "ca":
            (d / "rsigner.pem").write_bytes(self.ca.issuer_pem)
            (d / "rkey.pem").write_bytes(self.ca.issuer_key_pem)
        else:
            (d / "rsigner.pem").write_bytes(self.ca.delegated.cert_pem)
            (d / "rkey.pem").write_bytes(self.ca.delegated.key_pem)
        self.refresh()

    def start(self) -> OpenSSLResponder:
        """Write the files, start ``openssl ocsp`` and wait until it listens."""
        if self.process is not None:
            raise RuntimeError("OpenSSLResponder already started")
        if shutil.which(self.openssl) is None:
            raise OpenSSLError(f"{self.openssl} not found")
        self._tmp = tempfile.TemporaryDirectory(prefix="ocspkit-openssl-")
        self.directory = Path(self._tmp.name)
        self._write_files()
        for _ in range(5):  # the free port may be taken between probe and bind
            proc = self._spawn(_free_port())
            if proc is not None:
                self._adopt(proc)
                return self
        error = self.log[-500:].strip()
        self._cleanup()
        raise OpenSSLError(f"openssl ocsp did not start: {error}")

    def _adopt(self, proc: subprocess.Popen[bytes] | None) -> None:
        """Make ``proc`` the running responder, killed with its group when this object is
        garbage-collected or the interpreter exits if :meth:`stop` was not called first."""
        if self._reaper is not None:
            self._reaper.detach()
        self.process = proc
        # made after the temporary directory's own finalizer, so at exit it runs first: the
        # group is killed before its index.txt is removed
        self._reaper = weakref.finalize(self, self._kill, proc) if proc is not None else None

    def _spawn(self, port: int) -> subprocess.Popen[bytes] | None:
        """Start OpenSSL on ``port``; the process once it listens, None if it did not."""
        assert self.directory is not None
        self.port = port
        log = (self.directory / "openssl.log").open("ab")
        try:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **_own_process_group(),
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _port_open(port):
                time.sleep(0.05)  # with -multi the parent listens, then forks workers
                if proc.poll() is None:
                    return proc
                break
            time.sleep(0.02)
        self._kill(proc)
        return None

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)  # the group we created: parent and -multi children
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # children of a killed parent may still be exiting; make sure the group is gone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.directory = None

    def stop(self) -> None:
        """Kill ``openssl ocsp`` and its children, and remove the temporary files."""
        proc = self.process
        self._adopt(None)
        if proc is not None:
            self._kill(proc)
        self._cleanup()

    @property
    def log(self) -> str:
        """What OpenSSL printed so far."""
        if self.directory is None:
            return ""
        return (self.directory / "openssl.log").read_text(errors="replace")

    def __enter__(self) -> OpenSSLResponder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
