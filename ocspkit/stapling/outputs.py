"""Where staples go besides :meth:`Stapler.staple_for`: TLS servers of other programs.

* :func:`install_callback` — a pyOpenSSL server context (``set_ocsp_server_callback``), used by
  :meth:`Stapler.install`.
* :class:`StapleFile` — a DER file replaced atomically; :class:`NginxStapleFile` for
  ``ssl_stapling_file`` (and a reload of nginx, which reads it only at (re)load time);
  :class:`HAProxyOCSPFile` for the ``<crt>.ocsp`` file HAProxy loads at start.
* :class:`HAProxyRuntime` — ``set ssl ocsp-response <base64>`` over HAProxy's admin socket, to
  replace a running HAProxy's staple without a reload.

An output receives ``update(der)`` each time the stapler starts serving a new staple, and
``update(None)`` when the staple stops being servable (nextUpdate minus the margin reached with
no successor) — what "nothing" means differs by server, see each class.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ..errors import HAProxyAPIError, OutputError
from ..models import ResponseStatus
from ._files import atomic_write

if TYPE_CHECKING:
    from OpenSSL import SSL

__all__ = [
    "HAProxyOCSPFile",
    "HAProxyRuntime",
    "NginxStapleFile",
    "StapleFile",
    "StapleOutput",
    "install_callback",
    "try_later_response",
]


#: What HAProxy (2.4 to 2.8 at least) answers when ``set ssl ocsp-response`` succeeded; every
#: other reply (``Failed to update OCSP response.``, ``... does not match any certificate``)
#: is a refusal.
HAPROXY_UPDATED = "OCSP Response updated!"


def _remaining(deadline: float) -> float:
    return deadline - time.monotonic()


@functools.lru_cache(maxsize=1)
def try_later_response() -> bytes:
    """The DER of an OCSP response with responseStatus ``tryLater`` (5 bytes)."""
    from ..response import build_error_response

    return build_error_response(ResponseStatus.TRY_LATER).der


@runtime_checkable
class StapleOutput(Protocol):
    """Receives the staple of one certificate whenever it changes."""

    def update(self, der: bytes | None) -> None:
        """Publish ``der`` (a validated staple), or ``None``: no valid staple any more.

        May raise :class:`~ocspkit.stapling.OutputError`.
        """
        ...


Missing = Literal["empty", "trylater", "remove", "keep"]


class StapleFile:
    """A staple kept in a DER file, replaced atomically (readers never see a partial file).

    :param path: the file.
    :param missing: what the file holds when no valid staple exists: ``"empty"`` (a
        zero-length file), ``"trylater"`` (a ``tryLater`` OCSP response), ``"remove"`` (no
        file) or ``"keep"`` (leave the old staple — only if the server checks nextUpdate
        itself).
    :param after_write: called after each change (e.g. to reload the server).
    :param mode: permission bits of the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        missing: Missing = "empty",
        after_write: Callable[[], object] | None = None,
        mode: int = 0o644,
    ) -> None:
        if missing not in ("empty", "trylater", "remove", "keep"):
            raise ValueError(f"missing must be empty, trylater, remove or keep, not {missing!r}")
        self.path = Path(path)
        self.missing: Missing = missing
        self.after_write = after_write
        self.mode = mode

    def update(self, der: bytes | None) -> None:
        """Write ``der`` (or the ``missing`` content) atomically, then call ``after_write``.
        Something other than a regular file at the path (a device, FIFO, socket or directory,
        which the rename would replace) is an :class:`~ocspkit.stapling.OutputError`."""
        try:
            problem = staple_path_problem(self.path)
            if problem is not None:
                raise OutputError(f"staple file: {problem}")
            if der is not None:
                atomic_write(self.path, der, mode=self.mode)
            elif self.missing == "empty":
                atomic_write(self.path, b"", mode=self.mode)
            elif self.missing == "trylater":
                atomic_write(self.path, try_later_response(), mode=self.mode)
            elif self.missing == "remove":
                self.path.unlink(missing_ok=True)
            else:
                return
        except OSError as exc:
            raise OutputError(f"cannot write staple file {str(self.path)!r}: {exc}") from exc
        if self.after_write is not None:
            self.after_write()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


def staple_path_problem(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = ()
) -> str | None:
    """Why a staple must not be renamed over ``path`` (None: nothing is there, or a regular
    file that is none of ``inputs``): a directory, device, FIFO or socket there would be
    replaced, and so would an input (the certificate chain). A symbolic link is followed."""
    shown = repr(os.fspath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"cannot use {shown}: {exc.strerror if isinstance(exc, OSError) else exc}"
    if stat.S_ISDIR(mode):
        return f"{shown} is a directory"
    if not stat.S_ISREG(mode):
        return f"{shown} is not a regular file (a device, FIFO or socket would be replaced)"
    for given in inputs:
        with contextlib.suppress(OSError, ValueError):
            if given and os.path.samefile(given, path):
                return f"{shown} is the same file as the input {os.fspath(given)!r}"
    return None


def _process_name_matches(pid: int, name: str) -> bool | None:
    """True if process ``pid`` is ``name`` (its ``comm`` or command line says so), False if it
    is another program, None if there is no such process."""
    proc = Path("/proc") / str(pid)
    if Path("/proc/self").exists():
        try:
            comm = (proc / "comm").read_text(errors="replace").strip()
            cmdline = (proc / "cmdline").read_bytes()[:4096].decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError:
            return False
        argv0 = cmdline.split("\0", 1)[0]
        return name in comm or name in os.path.basename(argv0) or cmdline.startswith(name)
    try:  # no /proc (BSD, macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "comm=", "-p", str(pid)],
            capture_output=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    text = out.stdout.decode("utf-8", "replace").strip()
    if out.returncode != 0 and not text:
        return None
    return name in os.path.basename(text)


def _signal_pid_file(pid_file: Path, signum: int, expect: str | None = None) -> None:
    """Signal the process named by ``pid_file``; nothing to do if the server is not running
    (no pid file, or no such process): it reads the new file when it starts.

    With ``expect``, the process must be that program (``/proc/<pid>/comm`` or its command
    line names it): a stale pid file whose pid now belongs to another process raises
    :class:`OutputError` instead of signalling it. Where ``os.pidfd_open`` exists the process
    is pinned before the check, so a pid reused in between is not signalled either.
    """
    try:
        text = pid_file.read_text()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot read pid from {str(pid_file)!r}: {exc}") from exc
    try:
        pid = int(text.split()[0])
    except (ValueError, IndexError):
        raise OutputError(f"no pid in {str(pid_file)!r}") from None
    if pid <= 1:
        raise OutputError(f"refusing to signal pid {pid} from {str(pid_file)!r}")
    pidfd: int | None = None
    pidfd_open = getattr(os, "pidfd_open", None)
    send = getattr(signal, "pidfd_send_signal", None)
    if pidfd_open is not None and send is not None:
        try:
            pidfd = pidfd_open(pid)
        except ProcessLookupError:
            return
        except OSError:
            pidfd = None  # kernel without pidfds: plain kill() below
    try:
        if expect is not None:
            matches = _process_name_matches(pid, expect)
            if matches is None:
                return
            if not matches:
                raise OutputError(
                    f"pid {pid} from {str(pid_file)!r} is not {expect}: not signalled "
                    "(stale pid file?)"
                )
        try:
            if pidfd is not None and send is not None:
                send(pidfd, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            return
        except OSError as exc:
            raise OutputError(f"cannot signal pid {pid} from {str(pid_file)!r}: {exc}") from exc
    finally:
        if pidfd is not None:
            os.close(pidfd)


class NginxStapleFile(StapleFile):
    """The file of nginx's ``ssl_stapling_file`` directive.

    nginx reads that file only when it (re)loads its configuration, and staples whatever it
    holds forever, even long expired. So after each change this output reloads nginx
    (``SIGHUP`` to the master whose pid is in ``pid_file``, or your ``reload`` callable), and
    when no valid staple exists it writes a ``tryLater`` response: nginx refuses to load a file
    that is not an OCSP response, and a ``tryLater`` staple tells clients there is no answer
    (as Apache's ``SSLStaplingFakeTryLater`` does).

    :param path: the ``ssl_stapling_file`` path.
    :param pid_file: nginx's ``pid`` file; the master gets ``SIGHUP`` after each change (no
        pid file: nginx is not running, and reads the file when it starts). The process is
        checked to be nginx first: a pid naming another program raises
        :class:`~ocspkit.stapling.OutputError` and is not signalled.
    :param reload: called after each change instead (e.g. ``systemctl reload nginx``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pid_file: str | os.PathLike[str] | None = None,
        reload: Callable[[], object] | None = None,
        mode: int = 0o644,
    ) -> None:
        after: Callable[[], object] | None = reload
        if pid_file is not None and reload is None:
            pid_path = Path(pid_file)
            after = functools.partial(_signal_pid_file, pid_path, signal.SIGHUP, "nginx")
        super().__init__(path, missing="trylater", after_write=after, mode=mode)


class HAProxyOCSPFile(StapleFile):
    """The ``<crt>.ocsp`` file HAProxy loads next to a ``crt`` PEM file at start.

    HAProxy (2.6) reads it only at start or reload, and enables runtime updates only for
    certificates loaded with such a file (even an empty one), so write it before HAProxy
    starts and pair it with :class:`HAProxyRuntime` for live updates. HAProxy itself stops
    stapling a response 5 minutes before its nextUpdate; without a valid staple the file is
    emptied (HAProxy then staples nothing after a reload).

    :param crt_path: the PEM file named by ``bind ... crt``; the staple goes to
        ``<crt_path>.ocsp``.
    """

    def __init__(
        self,
        crt_path: str | os.PathLike[str],
        *,
        after_write: Callable[[], object] | None = None,
        mode: int = 0o644,
    ) -> None:
        super().__init__(
            f"{os.fspath(crt_path)}.ocsp", missing="empty", after_write=after_write, mode=mode
        )


class HAProxyRuntime:
    """Push staples to a running HAProxy over its runtime API (``stats socket ... level
    admin``): ``set ssl ocsp-response <base64 DER>``.

    HAProxy matches the response to the loaded certificate by its CertID, so one output serves
    every certificate; it accepts a push only for certificates loaded with a ``.ocsp`` file
    (see :class:`HAProxyOCSPFile`). ``update(None)`` does nothing: HAProxy 2.6 has no command
    to drop a staple, and stops serving one 5 minutes before nextUpdate by itself.

    :param address: the admin socket: a UNIX socket path, or ``(host, port)`` for a TCP one.
    :param timeout: seconds for connecting and for the whole exchange.
    :param max_reply: the longest reply accepted, in bytes.
    """

    def __init__(
        self,
        address: str | os.PathLike[str] | tuple[str, int],
        *,
        timeout: float = 5.0,
        max_reply: int = 64 * 1024,
    ) -> None:
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number, not {timeout!r}")
        if not isinstance(max_reply, int) or max_reply <= 0:
            raise ValueError(f"max_reply must be a positive integer, not {max_reply!r}")
        self.address = address
        self.timeout = float(timeout)
        self.max_reply = max_reply

    def _connect(self) -> socket.socket:
        if isinstance(self.address, tuple):
            return socket.create_connection(self.address, timeout=self.timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(os.fspath(self.address))
        except OSError:
            sock.close()
            raise
        return sock

    def command(self, line: str) -> str:
        """Send one runtime API command, return HAProxy's reply (read to EOF).

        The whole exchange (connect, send, read) must end within ``timeout`` seconds and the
        reply must fit in ``max_reply`` bytes; otherwise :class:`HAProxyAPIError` is raised (a
        socket that trickles bytes forever cannot hold the stapler).
        """
        deadline = time.monotonic() + self.timeout
        try:
            sock = self._connect()
        except OSError as exc:
            raise OutputError(
                f"cannot connect to HAProxy admin socket {self.address!r}: {exc}"
            ) from exc
        chunks: list[bytes] = []
        size = 0
        try:
            with sock:
                sock.settimeout(_remaining(deadline))
                sock.sendall(line.encode("ascii") + b"\n")
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                while True:
                    left = _remaining(deadline)
                    if left <= 0:
                        raise TimeoutError("timed out")
                    sock.settimeout(left)
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    size += len(data)
                    if size > self.max_reply:
                        raise HAProxyAPIError(
                            f"HAProxy admin socket {self.address!r}: reply larger than "
                            f"{self.max_reply} bytes"
                        )
        except TimeoutError as exc:
            raise HAProxyAPIError(
                f"HAProxy admin socket {self.address!r}: no complete reply within {self.timeout} s"
            ) from exc
        except OSError as exc:
            raise OutputError(f"HAProxy admin socket {self.address!r}: {exc}") from exc
        return b"".join(chunks).decode("utf-8", "replace").strip()

    def update(self, der: bytes | None) -> None:
        """``set ssl ocsp-response`` with ``der``; raise :class:`HAProxyAPIError` unless HAProxy
        answers with its success line (``OCSP Response updated!``)."""
        if der is None:
            return
        reply = self.command("set ssl ocsp-response " + base64.b64encode(der).decode("ascii"))
        if not any(ln.strip() == HAPROXY_UPDATED for ln in reply.splitlines()):
            raise HAProxyAPIError("HAProxy did not accept the OCSP response", reply=reply)

    def __repr__(self) -> str:
        return f"HAProxyRuntime({self.address!r})"


def install_callback(
    context: SSL.Context,
    staple: Callable[[SSL.Connection], bytes | None],
    *,
    fake_try_later: bool = False,
) -> None:
    """Install ``staple(conn)`` as the OCSP status callback of a pyOpenSSL ``SSL.Context``.

    The callback runs inside each handshake whose client asked for a staple; it must be fast
    and must not do I/O. When ``staple`` returns None the handshake goes on without a staple
    (or with a ``tryLater`` response if ``fake_try_later``).
    """
    set_cb = getattr(context, "set_ocsp_server_callback", None)
    if set_cb is None:
        raise TypeError(f"install() needs a pyOpenSSL SSL.Context, not {type(context).__name__}")
    fallback = try_later_response() if fake_try_later else b""

    def ocsp_server_callback(conn: SSL.Connection, data: object) -> bytes:
        der = staple(conn)
        return der if der is not None else fallback

    set_cb(ocsp_server_callback)
