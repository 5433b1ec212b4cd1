"""bot.batching: the group commit that TIL capture, /til and finished follow-ups go through."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.batching import Batcher


class Recorder:
    """A write that records each batch it is given and answers each item doubled."""

    def __init__(self, *, hold: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold

    def __call__(self, batch: list[int]) -> list[int]:
        if self.hold is not None:
            self.hold.wait(5)
        if -1 in batch:
            raise RuntimeError("the database refused the batch")
        self.batches.append(list(batch))
        return [item * 2 for item in batch]


def test_items_that_queue_while_a_write_runs_share_the_next_write() -> None:
    hold = threading.Event()
    write = Recorder(hold=hold)
    batcher = Batcher(write, name="test-batch")
    first = batcher.submit(1)
    time.sleep(0.05)  # the writer has taken 1 and waits in its write
    rest = [batcher.submit(item) for item in (2, 3, 4)]
    hold.set()
    assert [future.result(5) for future in (first, *rest)] == [2, 4, 6, 8]
    assert write.batches == [[1], [2, 3, 4]]
    batcher.close()


def test_a_failed_write_fails_each_of_its_callers_and_the_writer_keeps_serving() -> None:
    hold = threading.Event()
    write = Recorder(hold=hold)
    batcher = Batcher(write, name="test-batch")
    batcher.submit(0)
    time.sleep(0.05)
    doomed = [batcher.submit(item) for item in (5, -1)]
    hold.set()
    for future in doomed:
        with pytest.raises(RuntimeError, match="refused"):
            future.result(5)
    assert batcher.submit(7).result(5) == 14
    batcher.close()


def test_lingering_gathers_items_that_trickle_in_into_one_write() -> None:
    write = Recorder()
    batcher = Batcher(write, name="test-linger", linger=0.5)
    futures = []
    for item in (1, 2, 3):
        futures.append(batcher.submit(item))
        time.sleep(0.02)
    assert [future.result(5) for future in futures] == [2, 4, 6]
    assert write.batches == [[1, 2, 3]]
    batcher.close()


def test_a_full_batch_is_written_without_waiting_out_the_linger() -> None:
    write = Recorder()
    batcher = Batcher(write, name="test-full", max_batch=2, linger=30)
    started = time.monotonic()
    futures = [batcher.submit(item) for item in (1, 2)]
    assert [future.result(5) for future in futures] == [2, 4]
    assert time.monotonic() - started < 5
    batcher.close()


def test_closing_writes_what_was_submitted() -> None:
    write = Recorder()
    batcher = Batcher(write, name="test-close", linger=30)
    futures = [batcher.submit(item) for item in (1, 2)]
    batcher.close()
    assert [future.result(0) for future in futures] == [2, 4]


def test_coroutines_awaiting_one_batch_each_get_their_own_result_or_its_failure() -> None:
    """What requests await (Runtime.call_batched): one batch answers every coroutine in it on
    its loop; a caller that stopped waiting is skipped, the others still get theirs."""
    hold = threading.Event()
    write = Recorder(hold=hold)
    batcher = Batcher(write, name="test-loop")

    async def scenario() -> None:
        first = batcher.submit_from_loop(1)
        await asyncio.sleep(0.05)  # the writer has taken 1 and waits in its write
        gave_up = batcher.submit_from_loop(2)
        rest = [batcher.submit_from_loop(item) for item in (3, 4)]
        gave_up.cancel()
        hold.set()
        assert await asyncio.wait_for(asyncio.gather(first, *rest), 5) == [2, 6, 8]
        assert write.batches == [[1], [2, 3, 4]]
        hold.clear()
        blocker = batcher.submit_from_loop(0)
        await asyncio.sleep(0.05)
        doomed = [batcher.submit_from_loop(item) for item in (5, -1)]
        hold.set()
        assert await asyncio.wait_for(blocker, 5) == 0
        for future in doomed:
            with pytest.raises(RuntimeError, match="refused"):
                await asyncio.wait_for(future, 5)
        assert await asyncio.wait_for(batcher.submit_from_loop(7), 5) == 14

    asyncio.run(scenario())
    batcher.close()


def test_items_a_loop_submits_pass_after_pass_share_one_write() -> None:
    """Requests' writes: their loop hands a batch over once a pass brings nothing new."""
    write = Recorder()
    batcher = Batcher(write, name="test-loop-gather")

    async def scenario() -> list[int]:
        futures = []
        for item in (1, 2, 3):
            futures.append(batcher.submit_from_loop(item))
            await asyncio.sleep(0)  # the next request, read in the next pass
        return await asyncio.wait_for(asyncio.gather(*futures), 5)

    assert asyncio.run(scenario()) == [2, 4, 6]
    assert write.batches == [[1, 2, 3]]
    batcher.close()


def test_a_loop_hands_a_full_batch_over_at_once_and_gathers_the_rest_anew() -> None:
    write = Recorder()
    batcher = Batcher(write, name="test-loop-full", max_batch=2)

    async def scenario() -> list[int]:
        futures = [batcher.submit_from_loop(item) for item in (1, 2, 3)]
        return await asyncio.wait_for(asyncio.gather(*futures), 5)

    assert asyncio.run(scenario()) == [2, 4, 6]
    assert write.batches == [[1, 2], [3]]
    batcher.close()
