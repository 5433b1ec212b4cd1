"""Running the app: production HTTP server, Socket Mode, and an in-process server for tests,
the demo and benchmarks. All of them build the app the same way (build_web_app)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from starlette.applications import Starlette

from bot.app import create_app
from bot.jobs import start_scheduler
from bot.runtime import Runtime
from bot.server import EVENTS_PATH, create_web_app
from bot.settings import Settings
from storage.db import upgrade

logger = logging.getLogger(__name__)
GRACEFUL_SHUTDOWN_SECONDS = 10
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def build_runtime(settings: Settings) -> Runtime:
    """A Runtime over a database migrated to head (idempotent, replica-safe)."""
    runtime = Runtime(settings)
    upgrade(runtime.engine)
    return runtime


def build_web_app(settings: Settings, *, scheduled: bool = False) -> Starlette:
    """The app behind its HTTP gate; ``scheduled`` also starts the scheduler (one a process)."""
    runtime = build_runtime(settings)
    if scheduled:
        start_scheduler(runtime)
    return create_web_app(create_app(settings, runtime), runtime)


def freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, the app, SQLAlchemy's metadata: about 170,000
    objects) out of the cycle collector's full passes. Under load a full pass came about once a
    second and stopped every thread for 80 to 130 ms, the whole of the acks' p99 (bench
    serve_stack); frozen, a pass scans only what requests left behind."""
    gc.collect()
    gc.freeze()


def server_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    # uvloop + httptools: the pure-Python stack costs about three times more per request.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class GracefulServer(uvicorn.Server):
    """uvicorn, except that a SIGTERM or SIGINT it has shut down for ends the process with
    code 0, not by re-raising the signal: the shutdown was the one asked for, and finished.

    On the signal uvicorn stops accepting connections, lets in-flight requests finish (up to
    GRACEFUL_SHUTDOWN_SECONDS), then runs the lifespan shutdown, which finishes follow-ups,
    stops the scheduler and releases the leader lease. A second SIGINT forces the exit.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread (BackgroundServer)
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in SHUTDOWN_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            logger.info("%s received: finishing in-flight requests", signal.Signals(sig).name)
        self.handle_exit(sig, frame)


def run_http(settings: Settings, *, host: str) -> None:
    web = build_web_app(settings, scheduled=True)
    freeze_start_up_objects()
    logger.info("LearnLoop listening on http://%s:%s%s", host, settings.port, EVENTS_PATH)
    GracefulServer(server_config(web, host, settings.port)).run()


async def run_socket_mode(settings: Settings) -> None:
    """One instance behind a firewall: Slack pushes over a WebSocket instead of HTTP.

    Runs until SIGTERM or SIGINT, then disconnects (unacknowledged envelopes are redelivered by
    Slack) and finishes queued follow-ups before exiting.
    """
    assert settings.slack_app_token is not None
    runtime = build_runtime(settings)
    start_scheduler(runtime)
    handler = AsyncSocketModeHandler(create_app(settings, runtime), settings.slack_app_token)
    freeze_start_up_objects()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await handler.connect_async()
        logger.info("LearnLoop connected in Socket Mode")
        await stop.wait()
        logger.info("Shutting down Socket Mode")
    finally:
        await handler.close_async()
        await asyncio.to_thread(runtime.close)
        logger.info("Socket Mode shutdown complete")


class BackgroundServer:
    """The real server stack on 127.0.0.1 in a thread; port 0 picks a free port."""

    def __init__(self, app: Starlette, *, port: int = 0) -> None:
        self._server = GracefulServer(server_config(app, "127.0.0.1", port))
        self._thread = threading.Thread(target=self._server.run, name="learnloop-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def request_url(self) -> str:
        return self.url + EVENTS_PATH

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the LearnLoop HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
