"""Group commit: many small writes that arrive together are stored in one transaction.

Each transaction has a fixed cost on top of its rows (on SQLite: the COMMIT's WAL frames and
one FTS5 segment per transaction; on PostgreSQL: a round trip and a WAL flush), and under load
that cost, not the rows, decided how many TILs a process could take in. One thread runs the
writes: whatever queued while it committed the last batch becomes the next batch, so a quiet
workspace waits for nobody and a busy one pays one commit for many messages.

Requests submit from the event loop, and the loop itself says when their batch is complete:
when a whole pass of the loop, its wait for I/O included, brought no new item. A timer instead
(wait a millisecond for more) left the server's core idle whenever every request in flight
already waited in the batch, a fifth of the time under load on SQLite (bench/serve_stack.py),
and kept a lone request waiting for nothing (on PostgreSQL a lone TIL was acknowledged in 3.1
to 3.3 ms with it, 1.7 to 1.9 ms without).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, cast

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 64
# Loop passes in a row without a new item before a batch is handed to the writer. A request read
# in a pass's wait for I/O starts only in the next pass, after the check already queued for it,
# so the first quiet check cannot tell; the second can.
QUIET_PASSES = 2


class Batcher(Generic[Item, Result]):
    """Runs `write` on batches of submitted items on one thread; each caller's future gets its
    own item's result, or the batch's exception (the whole batch was rolled back)."""

    def __init__(
        self,
        write: Callable[[list[Item]], Sequence[Result]],
        *,
        name: str,
        max_batch: int = MAX_BATCH,
        linger: float = 0.0,
    ) -> None:
        """`linger`: seconds the writer waits for more once it was given items, for writes
        nobody waits on (bookkeeping), so that they share one transaction even when they
        trickle in."""
        self._write = write
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[list[_Entry[Item, Result]] | None] = queue.SimpleQueue()
        self._gathering: dict[asyncio.AbstractEventLoop, _Gathering[Item, Result]] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Future[Result]:
        """From any thread: a future to wait on there."""
        future: Future[Result] = Future()
        self._queue.put([(item, future)])
        return future

    def submit_from_loop(self, item: Item) -> asyncio.Future[Result]:
        """From a coroutine: an awaitable on its loop. A batch wakes its loop once for all the
        loop's callers in it, instead of once per caller (one thread hand-off per TIL cost
        about as much as a TIL's share of the commit). The batch is handed to the writer once
        the loop has nothing more to add to it (see the module's docstring) or it is full."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = _Gathering()
            loop.call_soon(self._hand_over_when_quiet, loop, gathering)
        gathering.entries.append((item, future))
        if len(gathering.entries) >= self._max_batch:
            self._hand_over(loop)
        return future

    def _hand_over_when_quiet(
        self, loop: asyncio.AbstractEventLoop, gathering: _Gathering[Item, Result]
    ) -> None:
        """Once a loop pass: hand the batch over after QUIET_PASSES passes without a new item."""
        if self._gathering.get(loop) is not gathering:
            return  # handed over already, full
        if gathering.quiet_for() >= QUIET_PASSES:
            self._hand_over(loop)
        else:
            loop.call_soon(self._hand_over_when_quiet, loop, gathering)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue.put(self._gathering.pop(loop).entries)

    def close(self) -> None:
        """Write what was submitted, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = first
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                try:
                    following = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch += following
            self._write_batch(batch)

    def _write_batch(self, batch: list[_Entry[Item, Result]]) -> None:
        failure: BaseException | None = None
        try:
            results: Sequence[Result | None] = self._write([item for item, _ in batch])
        except BaseException as error:  # every caller hears of it; the thread keeps serving
            failure, results = error, [None] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome[Result]]] = {}
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(future, asyncio.Future):
                by_loop.setdefault(future.get_loop(), []).append((future, result, failure))
            elif failure is not None:
                future.set_exception(failure)
            else:
                future.set_result(cast(Result, result))
        for loop, outcomes in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits now
                loop.call_soon_threadsafe(_settle, outcomes)


class _Gathering(Generic[Item, Result]):
    """A batch of one loop's items, until the loop hands it to the writer."""

    def __init__(self) -> None:
        self.entries: list[_Entry[Item, Result]] = []
        self._seen = 0
        self._quiet_passes = 0

    def quiet_for(self) -> int:
        """Called once a loop pass: how many passes in a row brought no new item."""
        if len(self.entries) == self._seen:
            self._quiet_passes += 1
        else:
            self._seen, self._quiet_passes = len(self.entries), 0
        return self._quiet_passes


# A submitted item and its caller's future: a thread's, or a coroutine's on its loop.
_Entry = tuple[Item, "Future[Result] | asyncio.Future[Result]"]
_Outcome = tuple["asyncio.Future[Result]", "Result | None", "BaseException | None"]


def _settle(outcomes: list[_Outcome[Any]]) -> None:
    """On the loop: each awaiting caller's result, unless it stopped waiting (cancelled)."""
    for future, result, failure in outcomes:
        if future.done():
            continue
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(result)
