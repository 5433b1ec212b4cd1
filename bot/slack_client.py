"""The one place Web API clients are built: base URL from settings, retries for rate limits,
connection errors and Slack-side 5xx."""

from __future__ import annotations

from slack_sdk import WebClient
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
from slack_sdk.web.async_client import AsyncWebClient

MAX_RETRIES = 3
TIMEOUT_SECONDS = 10


def create_web_client(token: str | None, base_url: str) -> WebClient:
    """A synchronous client for services, which run on worker threads."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
            RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
            ServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ],
    )


def create_async_web_client(token: str | None, base_url: str) -> AsyncWebClient:
    """The client Bolt itself uses (auth.test, response_url replies)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
            AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ],
    )
