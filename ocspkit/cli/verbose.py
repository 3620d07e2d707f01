"""``-v/--verbose``: one line on stderr per connection, request, retry and failure, timed.

What this module owns: turning the stdlib logging of the HTTP stack (httpx's ``INFO`` request
lines and httpcore's ``DEBUG`` trace events, both documented by httpx, and the same lines
from ``ocspkit.http``, the async client's direct plain-HTTP exchanges) and of the
``ocspkit`` logger into short, timed lines for a person at a terminal. What it must never do:
change what the commands do, write to stdout (which ``--json`` owns), or touch an HTTP
client's internals: it only listens to loggers.

With ``-v`` each request line shows the method, the URL, the HTTP status and the time from the
start of the request (connection included) to its end; a repeated request to the same host
is labelled a retry, with the previous attempt's outcome as its reason. ``-vv`` adds every
trace event of the HTTP stack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time
from typing import IO

__all__ = ["VerboseHandler", "enable"]

_HTTPX = re.compile(r'^HTTP Request: (?P<method>\S+) (?P<url>\S+) "(?P<status>[^"]*)"')
_CONNECT = re.compile(r"^connect_tcp\.started host='?(?P<host>[^' ]+)'? port=(?P<port>\d+)")
_URL_HOST = re.compile(r"^[a-z]+://(?P<netloc>[^/?#]+)")
_OWN = "ocspkit.http"  # the async client's direct plain-HTTP exchanges


def _short(url: str, limit: int = 72) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


class VerboseHandler(logging.Handler):
    """Formats the HTTP stack's log records into timed lines on ``stream`` (stderr)."""

    def __init__(self, stream: IO[str] | None = None, level: int = 1) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream if stream is not None else sys.stderr
        self.detail = level
        self.started = time.monotonic()
        self._lock = threading.Lock()
        # per thread / asyncio task: when the current request began, and to which host
        self._begun: dict[tuple[int, int], tuple[float, str | None]] = {}
        # per host: how the last attempt ended (for the reason of a retry)
        self._last: dict[str, str] = {}

    def _key(self) -> tuple[int, int]:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        return threading.get_ident(), id(task) if task is not None else 0

    def _write(self, text: str) -> None:
        stamp = time.monotonic() - self.started
        self.stream.write(f"ocspkit: +{stamp:.3f}s {text}\n")
        self.stream.flush()

    def _begin(self, host: str | None) -> None:
        key = self._key()
        if key in self._begun:
            return
        self._begun[key] = (time.monotonic(), host)
        if host is not None and host in self._last:
            self._write(f"retry {host} (previous attempt: {self._last[host]})")

    def _elapsed(self) -> tuple[str, str | None]:
        began = self._begun.get(self._key())
        if began is None:
            return "", None
        return f" ({(time.monotonic() - began[0]) * 1000:.0f} ms)", began[1]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            with self._lock:
                self._handle(record.name, message)
        except Exception:  # a log line must never break the command
            self.handleError(record)

    def _handle(self, name: str, message: str) -> None:
        # ocspkit's own plain-HTTP exchanges log in httpx's and httpcore's formats
        request_line = message.startswith("HTTP Request: ")
        if name.startswith("httpcore") or (name == _OWN and not request_line):
            if self.detail > 1:
                self._write(f"[{name}] {_short(message, 160)}")
            connect = _CONNECT.match(message)
            if connect:
                host = f"{connect['host']}:{connect['port']}"
                self._begin(host)
                self._write(f"connecting to {host}")
            elif message.startswith("send_request_headers.started"):
                self._begin(None)
            elif ".failed" in message:
                event, _, why = message.partition(" ")
                elapsed, began_host = self._elapsed()
                what = why.removeprefix("exception=")
                self._write(f"{event.removesuffix('.failed')} failed{elapsed}: {what}")
                if began_host is not None:
                    self._last[began_host] = what
                self._begun.pop(self._key(), None)
            elif message.startswith("response_closed.complete"):
                self._begun.pop(self._key(), None)
            return
        if name == "httpx" or name == _OWN:
            match = _HTTPX.match(message)
            if match is None:
                self._write(message)
                return
            elapsed, known = self._elapsed()
            target: str | None = known
            netloc = _URL_HOST.match(match["url"])
            if target is None and netloc is not None:
                target = netloc["netloc"]
                began = self._begun.get(self._key())
                if began is not None:
                    self._begun[self._key()] = (began[0], target)
            status = match["status"].removeprefix("HTTP/1.1 ").removeprefix("HTTP/2 ")
            self._write(f"{match['method']} {_short(match['url'])} -> {status}{elapsed}")
            if target is not None:
                if status.startswith("200"):
                    self._last.pop(target, None)
                else:
                    self._last[target] = f"HTTP {status}"
            if name == _OWN:  # its request line ends the request (httpcore's response_closed)
                self._begun.pop(self._key(), None)
            return
        self._write(message)  # the ocspkit logger, as it is


def enable(level: int, stream: IO[str] | None = None) -> VerboseHandler:
    """Show the HTTP stack's and ocspkit's log lines on stderr (``level`` 1: requests,
    retries, failures and times; 2: every trace event too)."""
    handler = VerboseHandler(stream, level)
    levels = (("httpx", logging.INFO), ("httpcore", logging.DEBUG), ("ocspkit", logging.DEBUG))
    for name, lvl in levels:
        logger = logging.getLogger(name)
        logger.setLevel(lvl)
        logger.addHandler(handler)
        logger.propagate = False
    return handler
