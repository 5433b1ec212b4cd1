"""What listeners need at run time: the database, Web API clients and worker threads.

Services are synchronous (the scheduler and the CLI call them too); listeners are async and
run them on a bounded thread pool so the event loop never waits on the database or Slack.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache, partial
from typing import Any, TypeVar, cast

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot import outbox
from bot.batching import Batcher
from bot.leader import LeaderLease
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack_client import ClientFor, create_web_client
from bot.workspaces import BotTokens, bot_tokens
from storage.db import SessionFactory, create_db_engine, create_session_factory, session_scope

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Deleting done follow-ups waits on nobody: the writer waits this long for more to share one
# transaction. Requests' writes wait for no timer: their loop hands a batch over once it has
# nothing more to add (bot.batching).
FINISH_LINGER = 0.2


class Runtime:
    """Owns the engine, the session factory, one Web API client per token, two worker pools and
    the metrics.

    Requests and follow-ups have separate pools: a backlog of follow-ups waiting on a slow or
    rate-limited Slack never delays the work an acknowledgement waits for.
    """

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(
            settings.database_url, pool_size=settings.worker_threads
        )
        self.sessions: SessionFactory = create_session_factory(
            self.engine, info={outbox.RUN_HERE: not settings.follow_ups_by_workers}
        )
        self.metrics = Metrics()
        # Set by the scheduler when one runs in this process (`learnloop serve`).
        self.leader: LeaderLease | None = None
        self.tokens: BotTokens = bot_tokens(settings, self.engine)
        self._requests = ThreadPoolExecutor(
            max_workers=settings.worker_threads, thread_name_prefix="learnloop-request"
        )
        self._follow_ups = ThreadPoolExecutor(
            max_workers=settings.worker_threads, thread_name_prefix="learnloop-follow-up"
        )
        self._batchers: dict[Callable[..., Any], Batcher[Any, Any]] = {}
        self._clients: dict[str, WebClient] = {}
        self._lock = threading.Lock()  # clients and batchers are each made once
        self._before_close: list[Callable[[], object]] = []
        # Set when close() begins: long loops (a sweep's replays) stop between items.
        self.closing = threading.Event()
        # What the HTTP gate needs to take a workspace's requests without Bolt (handlers.gate):
        # that Bolt let the workspace in since start-up (bot.app.AttachRuntime), and for TILs
        # its address, as listeners learned it (handlers.payloads.workspace_of).
        self.authorized: set[str] = set()
        self.workspace_urls: dict[str, str] = {}

    def forget_workspace(self, team_id: str) -> None:
        """It uninstalled: Bolt, which refuses it from now on, takes all its requests."""
        self.authorized.discard(team_id)
        self.workspace_urls.pop(team_id, None)

    def client_for(self, token: str) -> WebClient:
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                client = create_web_client(token, self.settings.slack_api_url, self.metrics)
                self._clients[token] = client
            return client

    def call_sync(
        self, service: Callable[..., T], /, *, token: str | None = None, **kwargs: Any
    ) -> T:
        """Run a service with a fresh session, on this thread.

        With a token the service also gets that workspace's Web API client; services that only
        touch the database are called without one.
        """
        if token is not None:
            kwargs["client"] = self.client_for(token)
        with session_scope(self.sessions) as session:
            return service(session=session, **kwargs)

    def sweep(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        """Run work that spans workspaces (a scheduler sweep step) with a fresh session and
        each workspace's own client (`clients`), looked up once per step."""
        with session_scope(self.sessions) as session:

            @cache
            def client(team_id: str) -> WebClient | None:
                token = self.bot_token(team_id, session=session)
                return None if token is None else self.client_for(token)

            clients: ClientFor = client
            return service(session=session, clients=clients, **kwargs)

    def bot_token(self, team_id: str, *, session: Session) -> str | None:
        """The workspace's bot token for due work; None (logged) when it has none."""
        token = self.tokens.bot_token(team_id, session=session)
        if token is None:
            logger.warning("no bot token for workspace %s: its due work waits", team_id)
        return token

    async def call(
        self, service: Callable[..., T], /, *, token: str | None = None, **kwargs: Any
    ) -> T:
        """Run a service on a worker thread and wait for it (the request waits: persist first)."""
        return await self.run(partial(self.call_sync, service, token=token, **kwargs))

    async def call_batched(self, service: Callable[..., list[T]], item: Any) -> T:
        """Run a batch service (`service(batch=[...], session=...)`, one transaction) on this
        item together with the items other requests submitted meanwhile (bot.batching)."""
        return await self._batcher(service, linger=0.0).submit_from_loop(item)

    def _batcher(self, service: Callable[..., list[T]], *, linger: float) -> Batcher[Any, T]:
        with self._lock:
            if service not in self._batchers:
                self._batchers[service] = Batcher(
                    partial(self._write_batch, service),
                    name=f"learnloop-{service.__name__}",
                    linger=linger,
                )
            return self._batchers[service]

    def _write_batch(self, service: Callable[..., list[T]], batch: list[Any]) -> list[T]:
        return self.call_sync(service, batch=batch)

    async def run(self, work: Callable[..., T], /, *args: Any) -> T:
        """Blocking work without a session (Bolt's OAuth stores) on a request worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._requests, work, *args)

    def spawn(
        self, service: Callable[..., Any], /, *, token: str | None = None, **kwargs: Any
    ) -> None:
        """Run follow-up work (confirmations, permalinks) after the ack, logging any failure."""
        future = self._follow_ups.submit(self.call_sync, service, token=token, **kwargs)
        future.add_done_callback(_log_failure)

    def kick(self, promised: outbox.Promised | None, *, token: str | None = None) -> None:
        """Run a stored follow-up this process holds now, after the ack, on its own pool; if
        this fails or the process dies, the sweep replays it. One left to the workers
        (LEARNLOOP_FOLLOW_UPS=worker) is theirs alone (bot.outbox)."""
        if promised is not None and promised.held:
            self.run_follow_up(promised, token=token)

    def run_follow_up(self, promised: outbox.Promised, *, token: str | None) -> Future[bool]:
        """Run a follow-up this process claimed on the follow-up pool, with `token` or else its
        workspace's own, logging any failure; done ones are deleted in batches."""
        future = self._follow_ups.submit(self._run_promised, promised, token)
        future.add_done_callback(_log_failure)
        return future

    def _run_promised(self, promised: outbox.Promised, token: str | None) -> bool:
        with session_scope(self.sessions) as session:
            if token is None:
                token = self.bot_token(promised.team_id, session=session)
                session.commit()  # hold no transaction while Slack answers
            if token is None:
                return False  # claimed still: tried again when the claim runs out
            return outbox.run_promised(
                promised,
                session=session,
                client=self.client_for(token),
                settings=self.settings,
                finish=self._batcher(outbox.finish_all, linger=FINISH_LINGER).submit,
            )

    async def promise(self, task: str, /, *, team_id: str, token: str | None, **args: Any) -> None:
        """Store a follow-up before the ack, then run it after (a click, a reaction), or leave
        it to the workers."""
        promised = await self.call(outbox.promise, team_id=team_id, task=task, **args)
        self.kick(promised, token=token)

    def before_close(self, stop: Callable[[], object]) -> None:
        """Stop something that uses this runtime (the scheduler) before the runtime closes."""
        self._before_close.append(stop)

    def close(self) -> None:
        """Finish in-flight work, then release threads and connections. Follow-ups not yet
        started are dropped from the queue, not lost: they are in the outbox, and the leader's
        sweep (or a worker) replays them once their claim runs out."""
        self.closing.set()
        for stop in self._before_close:
            stop()
        self._requests.shutdown(wait=True)
        self._follow_ups.shutdown(wait=True, cancel_futures=True)
        for batcher in self._batchers.values():
            batcher.close()
        self.engine.dispose()


def _log_failure(future: Future[Any]) -> None:
    if future.cancelled():  # never started: still in the outbox
        return
    error = future.exception()
    if error is not None:
        logger.error("follow-up work failed", exc_info=error)


RUNTIME_KEY = "learnloop_runtime"


def runtime_of(context: Mapping[str, Any]) -> Runtime:
    """The Runtime that create_app put in every request's Bolt context."""
    return cast(Runtime, context[RUNTIME_KEY])
