"""The one place Web API clients are built: base URL from settings, retries for rate limits,
connection errors and Slack-side 5xx."""

from __future__ import annotations

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
from slack_sdk.web.async_client import AsyncWebClient

MAX_RETRIES = 2
# Some calls happen before an ack that Slack wants within 3 s: two retries after about 0.2 s and
# 0.4 s (plus jitter) stay inside it; past that the event fails and Slack redelivers it.
BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.2)
TIMEOUT_SECONDS = 10


def create_web_client(token: str | None, base_url: str) -> WebClient:
    """A synchronous client for services, which run on worker threads."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            RateLimitErrorRetryHandler(MAX_RETRIES),
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
            AsyncRateLimitErrorRetryHandler(MAX_RETRIES),
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
