"""Runners that keep a :class:`~ocspkit.Stapler` refreshing: a thread, or an asyncio task.

Both sleep until the stapler's next due time (:meth:`Stapler.next_wakeup`, capped by
``max_sleep``), wake early when a certificate is added, and never die of an error: refresh
failures are events; anything unexpected is logged (logger ``ocspkit.stapling``) and the loop
goes on.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from .events import logger

if TYPE_CHECKING:
    from .stapler import Stapler

__all__ = ["StaplerThread", "run_async"]

_MIN_SLEEP = 0.1  # seconds: a runner never spins, whatever next_wakeup() says


def _sleep_for(stapler: Stapler, max_sleep: float) -> float:
    wait = stapler.next_wakeup()
    if wait is None:
        return max_sleep
    return min(max(wait, _MIN_SLEEP), max_sleep)


class StaplerThread:
    """A daemon thread running ``stapler.refresh()`` whenever something is due.

    Use :meth:`Stapler.run_in_thread` to create and start one; :meth:`stop` (or leaving a
    ``with`` block) ends it.
    """

    def __init__(self, stapler: Stapler, *, max_sleep: float = 60.0) -> None:
        if max_sleep <= 0:
            raise ValueError("max_sleep must be positive")
        self.stapler = stapler
        self.max_sleep = max_sleep
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ocspkit-stapler", daemon=True)

    def start(self) -> StaplerThread:
        """Start the thread (once)."""
        self.stapler.add_waker(self._event.set)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it (a fetch in flight
        is bounded by the client's deadline)."""
        self._stopping.set()
        self._event.set()
        self.stapler.remove_waker(self._event.set)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (it ends only after :meth:`stop`; without a timeout this
        blocks for as long as the stapler runs, like a server's main loop)."""
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.stapler.refresh()
            except Exception:  # never let the runner die; the error is logged
                logger.exception("stapler refresh failed unexpectedly")
            if self._stopping.is_set():
                break
            self._event.wait(_sleep_for(self.stapler, self.max_sleep))
            self._event.clear()

    def __enter__(self) -> StaplerThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def run_async(stapler: Stapler, *, max_sleep: float = 60.0) -> None:
    """Call ``await stapler.arefresh()`` whenever something is due, until cancelled."""
    if max_sleep <= 0:
        raise ValueError("max_sleep must be positive")
    loop = asyncio.get_running_loop()
    event = asyncio.Event()

    def waker() -> None:
        loop.call_soon_threadsafe(event.set)

    stapler.add_waker(waker)
    try:
        while True:
            try:
                await stapler.arefresh()
            except Exception:  # never let the runner die; the error is logged
                logger.exception("stapler refresh failed unexpectedly")
            try:
                await asyncio.wait_for(event.wait(), _sleep_for(stapler, max_sleep))
            except asyncio.TimeoutError:
                pass
            event.clear()
    finally:
        stapler.remove_waker(waker)
