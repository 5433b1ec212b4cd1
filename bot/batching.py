"""Group commit: many small writes that arrive together are stored in one transaction.

Each transaction has a fixed cost on top of its rows (on SQLite: the COMMIT's WAL frames and
one FTS5 segment per transaction; on PostgreSQL: a round trip and a WAL flush), and under load
that cost, not the rows, decided how many TILs a process could take in. One thread runs the
writes: whatever queued while it committed the last batch becomes the next batch, so a quiet
workspace waits for nobody and a busy one pays one commit for many messages.
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
        """`linger`: seconds to wait for more items once one arrived, for writes nobody waits
        on (bookkeeping), so that they share one transaction even when they trickle in."""
        self._write = write
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[_Entry[Item, Result] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Future[Result]:
        """From any thread: a future to wait on there."""
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future

    def submit_from_loop(self, item: Item) -> asyncio.Future[Result]:
        """From a coroutine: an awaitable on its loop. A batch wakes its loop once for all the
        loop's callers in it, instead of once per caller (one thread hand-off per TIL cost
        about as much as a TIL's share of the commit)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put((item, future))
        return future

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
            batch = [first]
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                try:
                    following = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.append(following)
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
