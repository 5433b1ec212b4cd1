"""`learnloop worker`: runs the follow-ups that serving processes only store
(LEARNLOOP_FOLLOW_UPS=worker), so Slack's Web API, slow or not, never competes for CPU or
threads with the acks Slack wants within 3 s.

Any number of workers share one database. Each poll claims a batch of due rows in one statement
(bot.outbox.claim_due), each row for one worker, and runs them on the Runtime's follow-up pool
with each workspace's own token, exactly as a serving process runs its own
(bot.outbox.run_promised: failures postponed with growing delays, refusals logged and dropped,
busy channels deferred). Postponed and deferred rows come due again at their run_after; the
claims of a worker that died run out after bot.outbox.LEASE, and another worker takes them.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import Future
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from bot import outbox
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import session_scope
from storage.types import utcnow

logger = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# After a failed poll (the database unreachable), wait at least this long before the next one.
OUTAGE_PAUSE = 1.0


class Worker:
    """Claims due follow-ups and runs them until stopped. At most one batch (a thread's worth
    each) runs and one more waits claimed behind it, so no claim waits long enough to lapse."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._batch = runtime.settings.worker_threads
        self._poll_seconds = runtime.settings.worker_poll_seconds
        self._pending: dict[Future[bool], int] = {}  # claimed, not finished: its row's id
        self._changed = threading.Condition()

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set, again at once after a full batch; then hand back what was
        claimed but not started. The caller closes the Runtime, which finishes what runs."""
        try:
            while self._wait_for_room(stop):
                room = 2 * self._batch - len(self._pending)
                try:
                    claimed = self.poll(room)
                except SQLAlchemyError:
                    logger.warning("could not claim follow-ups; trying again", exc_info=True)
                    stop.wait(max(self._poll_seconds, OUTAGE_PAUSE))
                    continue
                if claimed < room:
                    stop.wait(self._poll_seconds)
        finally:
            self._hand_back()

    def poll(self, limit: int) -> int:
        """Claim up to `limit` due follow-ups and start them; how many were claimed. One of a
        workspace without a token stays claimed (logged), to be tried once the claim lapses."""
        with session_scope(self._runtime.sessions) as session:
            claimed = outbox.claim_due(utcnow(), limit, session=session)
            tokens = {
                team_id: self._runtime.bot_token(team_id, session=session)
                for team_id in {promised.team_id for promised in claimed}
            }
        for promised in claimed:
            token = tokens[promised.team_id]
            if token is not None:
                self._start(promised, token)
        return len(claimed)

    def _start(self, promised: outbox.Promised, token: str) -> None:
        future = self._runtime.run_follow_up(promised, token=token)
        with self._changed:
            self._pending[future] = promised.id
        future.add_done_callback(self._finished)  # at once if it is done already

    def _finished(self, future: Future[bool]) -> None:
        with self._changed:
            del self._pending[future]
            self._changed.notify_all()

    def _wait_for_room(self, stop: threading.Event) -> bool:
        """Until a batch more fits, or `stop` is set (False)."""
        with self._changed:
            while len(self._pending) > self._batch and not stop.is_set():
                self._changed.wait(self._poll_seconds)
        return not stop.is_set()

    def _hand_back(self) -> None:
        """Release the follow-ups claimed but not started, so another worker takes them now
        rather than when the claim runs out."""
        with self._changed:
            pending = list(self._pending.items())
        waiting = [follow_up_id for future, follow_up_id in pending if future.cancel()]
        if not waiting:
            return
        with session_scope(self._runtime.sessions) as session:
            outbox.release(waiting, session=session)
        logger.info("handed back %s follow-ups not started", len(waiting))


def run_worker(settings: Settings) -> None:
    """`learnloop worker` until SIGTERM or SIGINT: then it stops claiming, finishes the
    follow-ups running, hands back the rest and returns."""
    from bot.serve import build_runtime

    runtime = build_runtime(settings)
    stop = threading.Event()

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            logger.info("%s received: finishing the follow-ups running", signal.Signals(sig).name)
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    logger.info(
        "LearnLoop worker: %s database, %s threads, polling every %ss",
        runtime.engine.dialect.name,
        settings.worker_threads,
        settings.worker_poll_seconds,
    )
    if not settings.follow_ups_by_workers:
        logger.warning(
            "LEARNLOOP_FOLLOW_UPS is 'serve': serving processes run their own follow-ups, and "
            "this worker takes only those left for a replay"
        )
    try:
        Worker(runtime).run(stop)
    finally:
        runtime.close()
    logger.info("LearnLoop worker stopped")
