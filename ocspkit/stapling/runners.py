"""The thin loops around the stapler's plan: drive it, and keep a stapler refreshing.

* :func:`drive` / :func:`adrive` run a plan of :mod:`ocspkit.stapling.plan` to completion,
  performing each action with blocking I/O or with ``await``; an action's exception is thrown
  back into the plan, which decides what it means.
* :class:`StaplerThread` (a daemon thread) and :func:`run_async` (an asyncio task) sleep until
  the stapler's next due time (``next_wakeup()``, capped by ``max_sleep``), wake early when a
  certificate is added, and never die of an error: refresh failures are events; anything
  unexpected is logged (logger ``ocspkit.stapling``) and the loop goes on.

Nothing here decides anything about staples, and nothing here imports the stapler classes: a
runner drives any object with the small protocols below.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, TypeVar

from .events import logger
from .plan import Action, Lease, Load, Plan, Release, Save
from .stores import StapleStore

__all__ = ["StaplerThread", "adrive", "drive", "perform_store", "run_async"]

T = TypeVar("T")

_MIN_SLEEP = 0.1  # seconds: a runner never spins, whatever next_wakeup() says


class _Wakeable(Protocol):
    def next_wakeup(self, now: datetime | None = None) -> float | None: ...
    def add_waker(self, waker: Callable[[], None]) -> None: ...
    def remove_waker(self, waker: Callable[[], None]) -> None: ...


class Refreshing(_Wakeable, Protocol):
    """What :class:`StaplerThread` drives (a :class:`~ocspkit.Stapler`)."""

    def refresh(self, now: datetime | None = None) -> int: ...


class AsyncRefreshing(_Wakeable, Protocol):
    """What :func:`run_async` drives (an :class:`~ocspkit.stapling.AsyncStapler`)."""

    async def refresh(self, now: datetime | None = None) -> int: ...


def perform_store(store: StapleStore, action: Action) -> object:
    """Perform a store action (the same for both runners: stores are blocking objects)."""
    if isinstance(action, Load):
        return store.get(action.key)
    if isinstance(action, Save):
        store.put(action.key, action.der, ttl=action.ttl)
        return None
    if isinstance(action, Lease):
        return store.acquire(action.key, action.ttl)
    if isinstance(action, Release):
        store.release(action.key)
        return None
    raise TypeError(f"not a store action: {action!r}")


def drive(plan: Plan[T], perform: Callable[[Action], object]) -> T:
    """Run ``plan`` to completion, performing each action with blocking I/O."""
    value: object = None
    error: BaseException | None = None
    while True:
        try:
            action = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        try:
            value, error = perform(action), None
        except BaseException as exc:  # the plan decides; what it does not catch propagates
            value, error = None, exc


async def adrive(plan: Plan[T], perform: Callable[[Action], Awaitable[object]]) -> T:
    """Run ``plan`` to completion, awaiting each action (cancellation is thrown into the plan,
    so that its cleanup — giving a lease back — still runs)."""
    value: object = None
    error: BaseException | None = None
    while True:
        try:
            action = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        try:
            value, error = await perform(action), None
        except BaseException as exc:  # the plan decides; what it does not catch propagates
            value, error = None, exc


def _sleep_for(stapler: _Wakeable, max_sleep: float) -> float:
    wait = stapler.next_wakeup()
    if wait is None:
        return max_sleep
    return min(max(wait, _MIN_SLEEP), max_sleep)


class StaplerThread:
    """A daemon thread running ``stapler.refresh()`` whenever something is due.

    Use :meth:`Stapler.run_in_thread` to create and start one; :meth:`stop` (or leaving a
    ``with`` block) ends it.
    """

    def __init__(self, stapler: Refreshing, *, max_sleep: float = 60.0) -> None:
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


async def run_async(stapler: AsyncRefreshing, *, max_sleep: float = 60.0) -> None:
    """Call ``await stapler.refresh()`` whenever something is due, until cancelled."""
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
                await stapler.refresh()
            except Exception:  # never let the runner die; the error is logged
                logger.exception("stapler refresh failed unexpectedly")
            try:
                await asyncio.wait_for(event.wait(), _sleep_for(stapler, max_sleep))
            except asyncio.TimeoutError:
                pass
            event.clear()
    finally:
        stapler.remove_waker(waker)
