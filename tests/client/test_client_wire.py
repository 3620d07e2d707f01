"""The async client's own HTTP/1.1 reader against real loopback servers that frame answers in
every legal way and in hostile ones, side by side with the blocking client (httpcore's pool,
whose parser is h11): both must accept the same answers and refuse the same ones, and a refusal
is a typed FetchError, never a traceback or a "good". Then the reader itself, property-based:
any split of the bytes reads the same, any mutation is read or refused, nothing else."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import httpcore
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocspkit import CertStatus, FetchError, OCSPRequest, build_request
from ocspkit.client import AsyncClient, Client, ClientConfig
from ocspkit.client.wire import END, NEED_DATA, Head, ResponseReader, request_bytes
from ocspkit.testing import CA, Leaf, Responder

pytestmark = pytest.mark.timeout(60)

CT = b"Content-Type: application/ocsp-response\r\n"


class RawServer:
    """Loopback TCP: reads one whole request (head and Content-Length body), answers with
    ``reply(der)`` and closes."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(20)
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(self.reply)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)  # the client closes first: no RST over unread bytes
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def pki() -> Iterator[tuple[CA, Leaf, bytes]]:
    ca = CA("ecdsa")
    leaf = ca.issue("wire.test")
    with Responder(ca) as responder:
        with Client(ClientConfig(retries=0)) as client:
            der = client.query(_request(ca, leaf), responder.url).der
    yield ca, leaf, der


def _request(ca: CA, leaf: Leaf) -> OCSPRequest:
    return build_request(leaf.cert, ca.issuer, nonce=False)


def _chunked(der: bytes) -> bytes:
    a, b = der[:100], der[100:]
    return (
        b"%x;name=value\r\n" % len(a) + a + b"\r\n" + b"%X \r\n" % len(b) + b + b"\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )


# (name, answer for the response DER): answers both parsers must read as the response
GOOD: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("content-length", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("http/1.0 until close", lambda d: b"HTTP/1.0 200 OK\r\n" + CT + b"\r\n" + d),
    ("http/1.1 until close", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Connection: close\r\n\r\n" + d),
    ("chunked, extension, trailer", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: Chunked\r\n\r\n" + _chunked(d)),
    ("LF line ends", lambda d: b"HTTP/1.1 200 OK\n" + CT.replace(b"\r", b"") + b"Content-Length: %d\n\n" % len(d) + d),
    ("no reason phrase", lambda d: b"HTTP/1.1 200\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("obsolete line folding", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"X-Long: one\r\n two\r\nContent-Length: %d\r\n\r\n" % len(d) + d),
    ("repeated equal lengths", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d, %d\r\nContent-Length: %d\r\n\r\n" % (len(d), len(d), len(d)) + d),
    ("100 Continue first", lambda d: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("chunked wins over a length", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(d)),
]  # fmt: skip

# answers both must refuse
BAD: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("conflicting lengths", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d\r\nContent-Length: 7\r\n\r\n" % len(d) + d),
    ("length list that disagrees", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d, 7\r\n\r\n" % len(d) + d),
    ("signed length", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: +%d\r\n\r\n" % len(d) + d),
    ("gzip transfer coding", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + _chunked(d)),
    ("two transfer-encodings", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(d)),
    ("garbage status line", lambda d: b"HTPT/1.1 200 OK\r\n" + CT + b"\r\n" + d),
    ("two-digit status", lambda d: b"HTTP/1.1 20 OK\r\n" + CT + b"\r\n" + d),
    ("space in a header name", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Bad Name: x\r\nContent-Length: %d\r\n\r\n" % len(d) + d),
    ("NUL in a value", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"X-A: a\x00b\r\nContent-Length: %d\r\n\r\n" % len(d) + d),
    ("continuation first", lambda d: b"HTTP/1.1 200 OK\r\n folded\r\n" + CT + b"\r\n" + d),
    ("body shorter than its length", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d\r\n\r\n" % (len(d) + 10) + d),
    ("chunked cut short", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(d)[:120]),
    ("chunk not followed by CRLF", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(d) + d + b"XX0\r\n\r\n"),
    ("bad chunk size", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + d),
    ("101 unasked", lambda d: b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + d),
    ("status 099 before the answer", lambda d: b"HTTP/1.1 099 Odd\r\n\r\nHTTP/1.1 200 OK\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("status 000", lambda d: b"HTTP/1.1 000 Zero\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("closed before any answer", lambda d: b""),
    ("closed mid-head", lambda d: b"HTTP/1.1 200 OK\r\n" + CT),
]  # fmt: skip


def _sync(url: str, ca: CA, leaf: Leaf) -> str:
    with Client(ClientConfig(retries=0, timeout=5, deadline=10)) as client:
        try:
            result = client.check(leaf.cert, ca.issuer, url=url, nonce=False)
        except FetchError as exc:
            return f"refused ({type(exc).__name__})"
    return result.status.name


def _async(url: str, ca: CA, leaf: Leaf) -> str:
    async def go() -> str:
        async with AsyncClient(ClientConfig(retries=0, timeout=5, deadline=10)) as client:
            try:
                result = await client.check(leaf.cert, ca.issuer, url=url, nonce=False)
            except FetchError as exc:
                return f"refused ({type(exc).__name__})"
        return result.status.name

    return asyncio.run(go())


@pytest.mark.parametrize(("name", "answer"), GOOD, ids=[n for n, _ in GOOD])
def test_every_legal_framing_is_read(
    pki: tuple[CA, Leaf, bytes], name: str, answer: Callable[[bytes], bytes]
) -> None:
    ca, leaf, der = pki
    server = RawServer(answer(der))
    try:
        assert _async(server.url, ca, leaf) == CertStatus.GOOD.name
        assert _sync(server.url, ca, leaf) == CertStatus.GOOD.name  # h11 agrees
    finally:
        server.close()


@pytest.mark.parametrize(("name", "answer"), BAD, ids=[n for n, _ in BAD])
def test_every_hostile_framing_is_a_fetch_error(
    pki: tuple[CA, Leaf, bytes], name: str, answer: Callable[[bytes], bytes]
) -> None:
    ca, leaf, der = pki
    server = RawServer(answer(der))
    try:
        seen = _async(server.url, ca, leaf)
        assert seen.startswith("refused"), seen
        assert _sync(server.url, ca, leaf).startswith("refused")  # h11 refuses it too
    finally:
        server.close()


STRICTER: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("HTTP/2.0 status line", lambda d: b"HTTP/2.0 200 OK\r\n" + CT + b"Content-Length: %d\r\n\r\n" % len(d) + d),
    ("head over 100 KiB", lambda d: b"HTTP/1.1 200 OK\r\n" + CT + b"X-Pad: " + b"a" * 110_000 + b"\r\n\r\n" + d),
]  # fmt: skip


@pytest.mark.parametrize(("name", "answer"), STRICTER, ids=[n for n, _ in STRICTER])
def test_stricter_than_h11(
    pki: tuple[CA, Leaf, bytes], name: str, answer: Callable[[bytes], bytes]
) -> None:
    """h11 reads any d.d version, and applies its 100 KiB head limit only to what is still
    incomplete after a read (a long head that arrives in one or two reads passes): the
    reader takes HTTP/1.x only, and counts the whole head."""
    ca, leaf, der = pki
    server = RawServer(answer(der))
    try:
        assert _async(server.url, ca, leaf).startswith("refused")
    finally:
        server.close()


# -- the reader itself ------------------------------------------------------------------------

ANSWER = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nX-Two: a\r\nX-Two: b\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n"
)


def _read(pieces: list[bytes], method: str = "GET") -> tuple[list[Head], bytes, bool]:
    reader = ResponseReader()
    reader.start(method)
    heads: list[Head] = []
    body = b""
    feed = iter([*pieces, b""])
    while True:
        event = reader.next_event()
        if event is NEED_DATA:
            reader.feed(next(feed))
        elif event is END:
            return heads, body, reader.reusable
        elif isinstance(event, Head):
            heads.append(event)
        else:
            assert isinstance(event, bytes)
            body += event


def test_reader_reads_heads_fields_and_chunks() -> None:
    heads, body, reusable = _read([ANSWER])
    assert [h.status_code for h in heads] == [100, 200]
    assert heads[1].headers[1:3] == ((b"x-two", b"a"), (b"x-two", b"b"))
    assert body == b"hello world"
    assert reusable  # framed, read to its end, nothing after it


def test_reader_keeps_alive_only_a_clean_http11_answer() -> None:
    def after(raw: bytes, extra: bytes = b"") -> bool:
        reader = ResponseReader()
        reader.start("GET")
        reader.feed(raw + extra)
        while reader.next_event() is not END:
            pass
        return reader.reusable

    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert after(ok)
    assert not after(ok, b"HTTP/1.1 200 OK\r\n")  # stray bytes: never parsed as the next answer
    assert not after(ok.replace(b"HTTP/1.1", b"HTTP/1.0"))
    assert not after(ok.replace(b"\r\n\r\n", b"\r\nConnection: keep-alive, Close\r\n\r\n"))


def test_head_answer_and_204_have_no_body() -> None:
    assert _read([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"], "HEAD")[1] == b""
    assert _read([b"HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n"])[1] == b""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(ANSWER)), max_size=12))
def test_any_split_reads_the_same(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [ANSWER[a:b] for a, b in zip([0, *points], [*points, len(ANSWER)], strict=True)]
    assert _read([p for p in pieces if p]) == _read([ANSWER])


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=len(ANSWER) - 1), st.integers(min_value=0, max_value=255),
       st.booleans())  # fmt: skip
def test_any_mutation_is_read_or_refused(at: int, byte: int, cut: bool) -> None:
    raw = ANSWER[:at] if cut else ANSWER[:at] + bytes([byte]) + ANSWER[at + 1 :]
    try:
        heads, body, _ = _read([raw])
    except httpcore.RemoteProtocolError:
        return
    assert not heads or heads[-1].status_code >= 200
    assert len(body) <= len(raw)


@pytest.mark.parametrize(
    ("name", "value"),
    [(b"X-A", b"a\r\nInjected: 1"), (b"X-A", b"a\nb"), (b"X-A", b"a\x00"), (b"Bad Name", b"v"),
     (b"", b"v")],
)  # fmt: skip
def test_request_bytes_refuses_what_would_split_a_header(name: bytes, value: bytes) -> None:
    with pytest.raises(httpcore.LocalProtocolError):
        request_bytes("GET", b"/", [(b"Host", b"h"), (name, value)], None)


def test_request_bytes_refuses_a_bad_target_and_an_unframed_body() -> None:
    with pytest.raises(httpcore.LocalProtocolError):
        request_bytes("GET", b"/a b", [(b"Host", b"h")], None)
    with pytest.raises(httpcore.LocalProtocolError):
        request_bytes("POST", b"/", [(b"Host", b"h")], b"body")
    assert request_bytes("POST", b"/", [(b"Host", b"h"), (b"Content-Length", b"4")], b"body") == (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
    )
