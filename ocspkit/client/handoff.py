"""The blocking face of a batch: an async batch on a private event loop, its outcomes handed to
the caller's thread.

What this module owns: the loop thread that runs a batch (:func:`iterate_batch`), the hand-off
of its outcomes to the thread iterating them, in chunks, with at most ``concurrency`` waiting,
and stopping the batch when the caller stops iterating. What it must never do: decide
anything about an item, drop an outcome the caller has not stopped waiting for, or wake the
caller's thread once per outcome when several are ready (each wake-up is two GIL hand-overs
and a futex call: about a tenth of a bulk check's CPU).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["COALESCE", "iterate_batch"]

OutcomeT = TypeVar("OutcomeT")

#: Seconds an outcome may wait on the loop thread for others to join its chunk.
COALESCE = 0.01


class _Handoff(Generic[OutcomeT]):
    """Chunks of outcomes from the loop thread to the caller's, and the count still waiting."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._chunks: deque[list[OutcomeT]] = deque()
        self._waiting = 0  # outcomes handed over, not yet taken by the caller
        self._ended = False
        self._error: BaseException | None = None

    def room(self) -> int:
        """How many more outcomes may be handed over now."""
        with self._cond:
            return self.limit - self._waiting

    def put(self, chunk: list[OutcomeT]) -> None:
        with self._cond:
            self._chunks.append(chunk)
            self._waiting += len(chunk)
            self._cond.notify()

    def finish(self, error: BaseException | None) -> None:
        """No more chunks: the batch ended (``error`` is what it raised, if anything)."""
        with self._cond:
            self._ended, self._error = True, error
            self._cond.notify()

    def take(self) -> list[OutcomeT] | None:
        """The next chunk (None at the end); raises what the batch raised."""
        with self._cond:
            while not self._chunks and not self._ended:
                self._cond.wait()
            if self._chunks:
                return self._chunks.popleft()
        if self._error is not None:
            raise self._error
        return None

    def taken(self) -> None:
        """The caller received one outcome."""
        with self._cond:
            self._waiting -= 1


def iterate_batch(
    make_batch: Callable[[], AsyncGenerator[OutcomeT, None]],
    concurrency: int,
    progress: Callable[[int, OutcomeT], None] | None,
) -> Generator[OutcomeT, None, None]:
    """Iterate, in this thread, the outcomes of the batch ``make_batch()`` runs on an event
    loop in a private thread (so this works where a loop already runs, as in Jupyter).

    Outcomes that complete within :data:`COALESCE` of each other cross in one chunk; at most
    ``concurrency`` wait for this thread (a slow caller makes the batch wait). ``progress`` is
    called here, once per outcome. Stopping the iteration cancels the batch.
    """
    handoff: _Handoff[OutcomeT] = _Handoff(concurrency)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        batch = make_batch()
        chunk: list[OutcomeT] = []
        timer: asyncio.TimerHandle | None = None

        def flush() -> None:
            nonlocal chunk, timer
            if timer is not None:
                timer.cancel()
                timer = None
            if chunk:
                handoff.put(chunk)
                chunk = []

        try:
            async for outcome in batch:
                # polling, not a wake-up from the caller: the caller only waits when it is
                # ahead, and then each chunk wakes it once
                while handoff.room() <= len(chunk):
                    flush()
                    await asyncio.sleep(0.005)
                chunk.append(outcome)
                if len(chunk) >= concurrency:
                    flush()
                elif timer is None:
                    timer = loop.call_later(COALESCE, flush)
        finally:
            flush()  # what completed before an error or the end is still the caller's
            await batch.aclose()

    def run() -> None:
        error: BaseException | None = None
        try:
            task = loop.create_task(main())
            state["task"] = task
            started.set()
            loop.run_until_complete(task)
        except BaseException as exc:  # handed to the caller's thread
            error = exc
        finally:
            handoff.finish(error)
            started.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    worker = threading.Thread(target=run, name="ocspkit-check-many", daemon=True)
    worker.start()
    done = 0
    try:
        while (chunk := handoff.take()) is not None:
            for outcome in chunk:
                handoff.taken()
                done += 1
                if progress is not None:
                    progress(done, outcome)
                yield outcome
    finally:
        started.wait()
        task = state.get("task")
        if worker.is_alive() and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass
        worker.join()
