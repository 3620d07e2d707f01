"""HTTP/1.1 on the wire for the async client's plain-HTTP path: requests out, responses in.

What this module owns: the bytes of one request (:func:`request_bytes`, which refuses any
name or value that could split or smuggle a header) and :class:`ResponseReader`, the strict,
incremental reader of the answers on one connection (RFC 9112: status line, header fields,
a body framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end of the
connection), which also says whether the connection may carry another request.

It accepts what h11 (httpcore's HTTP/1.1 parser, which this replaces on the direct path: h11
spent ~180 µs per exchange, this ~28 µs) accepts, and refuses what h11 refuses: conflicting
``Content-Length`` values, a transfer coding other than ``chunked``, header names outside the
token grammar, control characters in values, a continuation line at the start of the header
section, a status line that is not ``HTTP/x.y NNN``. It is stricter in two places: only
HTTP/1.0 and 1.1 status lines, and ``max_head`` (httpcore's 100 KiB) counts the whole head,
where h11 checks only what is still incomplete after a read. Line ends may be CRLF or LF (as
in h11); obsolete line folding is unfolded into one space (RFC 9112 §5.2).

What it must never do: I/O, decode a content coding, guess the length of a body, or parse
bytes that arrived after the end of an answer as the next one (they make the connection
unusable). Errors are httpcore's ``RemoteProtocolError`` (malformed answers) and
``LocalProtocolError`` (a request that cannot be sent safely), which the transport maps as it
maps httpcore's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from httpcore import LocalProtocolError, RemoteProtocolError

__all__ = ["END", "NEED_DATA", "Head", "ResponseReader", "request_bytes"]

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_FIELD = re.compile(rb"(" + _TOKEN + rb"):[ \t]*([^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?[ \t]*")
_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_NAME = re.compile(_TOKEN)
_TARGET = re.compile(rb"[\x21-\x7e]+")
_STATUS = re.compile(rb"HTTP/(1\.[01]) ([0-9]{3})(?: ([^\x00\n\r\x0b\x0c]*))?")
_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\r\n]*)?[ \t]*")
_BLANK = re.compile(rb"\n\r?\n")
_DIGITS = re.compile(rb"[0-9]{1,20}")

#: The longest head (or trailer section, or chunk-size line) accepted: httpcore's limit for h11.
MAX_HEAD = 100 * 1024


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: :meth:`ResponseReader.next_event`: feed more bytes (or the end of the connection) first.
NEED_DATA = _Marker("NEED_DATA")
#: :meth:`ResponseReader.next_event`: the answer's body is complete.
END = _Marker("END")


@dataclass(frozen=True, slots=True)
class Head:
    """The status line and header fields of one answer (names lower-cased, in order)."""

    status_code: int
    reason: bytes
    http_version: bytes
    headers: tuple[tuple[bytes, bytes], ...]


def request_bytes(
    method: str | bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes | None,
) -> bytes:
    """One HTTP/1.1 request, ready to send. The caller supplies ``Host`` and, for a body,
    ``Content-Length`` (a body without one is refused: it would need chunked encoding).
    Raises httpcore's ``LocalProtocolError`` for a method, target, name or value that is
    not allowed on the wire (a CR or LF in a value would start a header of its own)."""
    verb = method.encode("ascii") if isinstance(method, str) else method
    if _NAME.fullmatch(verb) is None:
        raise LocalProtocolError(f"illegal method {verb!r}")
    if _TARGET.fullmatch(target) is None:
        raise LocalProtocolError(f"illegal request target {target!r}")
    parts = [verb, b" ", target, b" HTTP/1.1\r\n"]
    length = False
    for name, value in headers:
        if _NAME.fullmatch(name) is None:
            raise LocalProtocolError(f"illegal header name {name!r}")
        if _VALUE.fullmatch(value) is None:
            raise LocalProtocolError(f"illegal header value {value!r}")
        length = length or name.lower() == b"content-length"
        parts += (name, b": ", value, b"\r\n")
    if body and not length:
        raise LocalProtocolError("a request body needs a Content-Length")
    parts.append(b"\r\n")
    if body:
        parts.append(body)
    return b"".join(parts)


def _fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Header (or trailer) lines, CR already removed, as (lower-case name, value) pairs."""
    fields: list[tuple[bytes, bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # obs-fold: a continuation of the previous value
            if not fields:
                raise RemoteProtocolError("continuation line at the start of the headers")
            name, value = fields[-1]
            more = line.strip(b" \t")
            if _VALUE.fullmatch(more) is None:
                raise RemoteProtocolError("illegal header value")
            fields[-1] = (name, value + b" " + more if value and more else value or more)
            continue
        found = _FIELD.fullmatch(line)
        if found is None:
            raise RemoteProtocolError(f"illegal header line {line[:80]!r}")
        fields.append((found[1].lower(), found[2] or b""))
    return fields


def _lines(block: bytes) -> list[bytes]:
    return [line[:-1] if line.endswith(b"\r") else line for line in block.split(b"\n")]


def _framing(head: Head, method: bytes) -> tuple[str, int]:
    """How the body of ``head`` is read: ("end", 0) for none, ("length", n), ("size", 0)
    for chunked (a chunk-size line first) or ("close", 0); raises for framing h11 refuses."""
    length: bytes | None = None
    chunked = False
    for name, value in head.headers:
        if name == b"content-length":
            values = {v.strip() for v in value.split(b",")}
            if len(values) != 1:
                raise RemoteProtocolError("conflicting Content-Length headers")
            found = values.pop()
            if _DIGITS.fullmatch(found) is None:
                raise RemoteProtocolError("bad Content-Length")
            if length is not None and length != found:
                raise RemoteProtocolError("conflicting Content-Length headers")
            length = found
        elif name == b"transfer-encoding":
            if chunked:
                raise RemoteProtocolError("multiple Transfer-Encoding headers")
            if value.lower() != b"chunked":
                raise RemoteProtocolError("only Transfer-Encoding: chunked is supported")
            chunked = True
    if method == b"HEAD" or head.status_code in (204, 304):
        return "end", 0
    if chunked:
        return "size", 0
    if length is not None:
        return "length", int(length)
    return "close", 0


def _keep_alive(head: Head) -> bool:
    if head.http_version != b"1.1":
        return False
    for name, value in head.headers:
        if name == b"connection" and b"close" in (v.strip().lower() for v in value.split(b",")):
            return False
    return True


class ResponseReader:
    """Reads the answers to the requests sent on one connection, one at a time.

    Call :meth:`start` when a request has been sent, :meth:`feed` with what arrives (``b""``
    when the server closed), and :meth:`next_event` until it returns :data:`END`: first a
    :class:`Head` (informational 1xx heads come first, if any; the caller skips them), then
    the body as ``bytes`` chunks. :data:`NEED_DATA` asks for more. Raises httpcore's
    ``RemoteProtocolError`` for a malformed or incomplete answer.

    :param max_head: the longest head, trailer section or chunk-size line accepted.
    """

    __slots__ = ("_buf", "_eof", "_keep", "_left", "_max", "_method", "_state")

    def __init__(self, max_head: int = MAX_HEAD) -> None:
        self._buf = bytearray()
        self._eof = False
        self._max = max_head
        self._method = b"GET"
        self._state = "idle"  # then head, a body state (length, close, size, data, crlf,
        self._left = 0  # trailers), end, done; _left: the bytes left of a body or a chunk
        self._keep = False

    def start(self, method: str | bytes) -> None:
        """A request (``method``) was sent; read its answer next. Only on a fresh connection
        or after :attr:`reusable` said yes."""
        if self._state not in ("idle", "done") or self._buf or self._eof:
            raise LocalProtocolError("the connection is not ready for another request")
        self._method = method.encode("ascii") if isinstance(method, str) else method
        self._state = "head"

    def feed(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` means it closed the connection."""
        if data:
            self._buf += data
        else:
            self._eof = True

    @property
    def reusable(self) -> bool:
        """The answer was read to its end, both sides may go on (HTTP/1.1, no
        ``Connection: close``, a framed body), and the server sent nothing more."""
        return self._state == "done" and self._keep and not self._buf and not self._eof

    def next_event(self) -> Head | bytes | _Marker:
        """The next piece of the answer: a :class:`Head`, body bytes, :data:`END` or
        :data:`NEED_DATA`."""
        read = self._READERS.get(self._state)
        if read is None:
            raise LocalProtocolError("no answer is awaited (no request sent, or read to its end)")
        return read(self)

    # -- the head ---------------------------------------------------------------------------

    def _block(self, what: str) -> bytes | None:
        """A header block ended by an empty line, taken from the buffer; None if incomplete."""
        buf = self._buf
        if buf[:2] == b"\r\n" or buf[:1] == b"\n":  # an empty block (trailers only)
            cut = 2 if buf[:1] == b"\r" else 1
            del buf[:cut]
            return b""
        found = _BLANK.search(buf)
        if found is None:
            if len(buf) > self._max:
                raise RemoteProtocolError(f"{what} too long")
            if self._eof:
                raise RemoteProtocolError(
                    "server disconnected without sending a response"
                    if not buf and what == "head"
                    else f"server disconnected mid-{what}"
                )
            return None
        if found.start() > self._max:
            raise RemoteProtocolError(f"{what} too long")
        block = bytes(buf[: found.start()])
        del buf[: found.end()]
        return block

    def _head(self) -> Head | _Marker:
        block = self._block("head")
        if block is None:
            return NEED_DATA
        lines = _lines(block)
        status = _STATUS.fullmatch(lines[0])
        if status is None:
            raise RemoteProtocolError(f"illegal status line {lines[0][:80]!r}")
        head = Head(int(status[2]), status[3] or b"", status[1], tuple(_fields(lines[1:])))
        if head.status_code < 100:  # as h11: no status class below 1xx
            raise RemoteProtocolError(f"illegal status code {head.status_code:03d}")
        if head.status_code < 200:
            if head.status_code == 101:
                raise RemoteProtocolError("unexpected 101 Switching Protocols")
            return head  # informational: the real head follows
        self._state, self._left = _framing(head, self._method)
        self._keep = self._state != "close" and _keep_alive(head)
        return head

    def _end(self) -> _Marker:
        self._state = "done"
        return END

    # -- the body ---------------------------------------------------------------------------

    def _until_close(self) -> bytes | _Marker:
        buf = self._buf
        if buf:
            data = bytes(buf)
            buf.clear()
            return data
        return self._end() if self._eof else NEED_DATA

    def _length(self) -> bytes | _Marker:
        return self._take() if self._left else self._end()

    def _take(self) -> bytes | _Marker:
        """Up to ``_left`` (> 0) bytes of body from the buffer."""
        buf = self._buf
        if not buf:
            if self._eof:
                raise RemoteProtocolError("server disconnected mid-response")
            return NEED_DATA
        left = self._left
        data = bytes(buf[:left])
        del buf[:left]
        self._left = left - len(data)
        return data

    def _chunk_size(self) -> bytes | _Marker:
        buf = self._buf
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > self._max:
                raise RemoteProtocolError("chunk-size line too long")
            if self._eof:
                raise RemoteProtocolError("server disconnected mid-response")
            return NEED_DATA
        found = _CHUNK.fullmatch(buf, 0, end)
        if found is None:
            raise RemoteProtocolError("illegal chunk-size line")
        self._left = int(found[1], 16)
        del buf[: end + 2]
        if self._left:
            self._state = "data"
            return self._chunk_data()
        self._state = "trailers"
        return self._trailers()

    def _chunk_data(self) -> bytes | _Marker:
        data = self._take()
        if not self._left:
            self._state = "crlf"
        return data

    def _chunk_end(self) -> bytes | _Marker:
        buf = self._buf
        if len(buf) < 2:
            if self._eof:
                raise RemoteProtocolError("server disconnected mid-response")
            return NEED_DATA
        if buf[:2] != b"\r\n":
            raise RemoteProtocolError("a chunk's data is not followed by CRLF")
        del buf[:2]
        self._state = "size"
        return self._chunk_size()

    def _trailers(self) -> _Marker:
        block = self._block("trailers")
        if block is None:
            return NEED_DATA
        if block:
            _fields(_lines(block))  # validated, not used
        return self._end()

    _READERS: ClassVar[dict[str, Callable[[ResponseReader], Head | bytes | _Marker]]] = {
        "head": _head,
        "length": _length,
        "close": _until_close,
        "size": _chunk_size,
        "data": _chunk_data,
        "crlf": _chunk_end,
        "trailers": _trailers,
        "end": _end,
    }
