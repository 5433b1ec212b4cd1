"""The one place Web API clients are built: base URL from settings, retries for rate limits,
connection errors and Slack-side 5xx."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

ClientFor = Callable[[str], WebClient | None]
"""A workspace's client by team id, for work that spans workspaces (the sweeps); None when
LearnLoop may not act there."""

MAX_RETRIES = 2
# The longest Retry-After a call waits out itself; a longer one fails the call as "ratelimited"
# (transient), and the outbox or the next sweep tries again later: no thread sleeps for minutes.
MAX_RETRY_AFTER_SECONDS = 5
# Some calls happen before an ack that Slack wants within 3 s: two retries after about 0.2 s and
# 0.4 s (plus jitter) stay inside it; past that the event fails and Slack redelivers it.
BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.2)
TIMEOUT_SECONDS = 10


def _brief(response: HttpResponse | None) -> bool:
    """A 429 whose Retry-After is short enough to wait out in place."""
    if response is None or response.status_code != 429:
        return False
    header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
    try:
        return int(header[0]) <= MAX_RETRY_AFTER_SECONDS
    except (ValueError, IndexError):
        return True


class BriefRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Slack's rate-limit retry, for waits of at most MAX_RETRY_AFTER_SECONDS."""

    def _can_retry(self, *, response: HttpResponse | None = None, **_: Any) -> bool:
        return _brief(response)


class AsyncBriefRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    async def _can_retry_async(self, *, response: HttpResponse | None = None, **_: Any) -> bool:
        return _brief(response)


class ChannelPacer:
    """At most one message a second per channel in the long run, with a burst of `burst` let
    through as Slack allows (the generic cell rate algorithm); a wait for one channel never
    holds up another."""

    def __init__(self, per_second: float = 1.0, burst: int = 3) -> None:
        self.interval = 1.0 / per_second
        self.slack = (burst - 1) * self.interval
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}  # when each channel's next message is due

    def wait(self, channel: str) -> None:
        with self._lock:
            now = time.monotonic()
            due = max(self._due.get(channel, now), now)
            self._due[channel] = due + self.interval
        delay = due - self.slack - now
        if delay > 0:
            time.sleep(delay)


# Process-wide: every client of this process shares Slack's per-channel allowance.
PACER = ChannelPacer()
_PACED_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})


class PacedWebClient(WebClient):
    """A WebClient whose posts wait their turn for the channel (see ChannelPacer)."""

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        if api_method in _PACED_METHODS:
            params = {**(kwargs.get("params") or {}), **(kwargs.get("data") or {})}
            params.update(kwargs.get("json") or {})
            channel = params.get("channel") or params.get("channel_id")
            if channel:
                PACER.wait(str(channel))
        return super().api_call(api_method, **kwargs)


def create_web_client(token: str | None, base_url: str) -> WebClient:
    """A synchronous client for services, which run on worker threads."""
    return PacedWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            BriefRateLimitRetryHandler(MAX_RETRIES),
            ServerErrorRetryHandler(MAX_RETRIES, BACKOFF),
        ],
    )


def create_async_web_client(token: str | None, base_url: str) -> AsyncWebClient:
    """The client Bolt itself uses (auth.test, response_url replies)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            AsyncBriefRateLimitRetryHandler(MAX_RETRIES),
            AsyncServerErrorRetryHandler(MAX_RETRIES, BACKOFF),
        ],
    )


# Answers that mean "not now" rather than "no": the work is tried again later.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def is_transient(error: SlackApiError) -> bool:
    """A rate limit or a Slack outage that outlasted the client's own retries."""
    status = error.response.status_code
    return status == 429 or status >= 500 or error.response.get("error") in TRANSIENT_ERRORS
