"""The one place Web API clients are built: base URL from settings, retries for rate limits,
connection errors and Slack-side 5xx, and metrics for every HTTP request to the Web API."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
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
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics

MAX_RETRIES = 2
# Some calls happen before an ack that Slack wants within 3 s: two retries after about 0.2 s and
# 0.4 s (plus jitter) stay inside it; past that the event fails and Slack redelivers it.
BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.2)
TIMEOUT_SECONDS = 10
# Requests to a file's upload URL go through the same machinery; their path is a file id.
UPLOAD = "file_upload"


def create_web_client(
    token: str | None, base_url: str, metrics: Metrics | None = None
) -> WebClient:
    """A synchronous client for services, which run on worker threads.

    Without `metrics` its calls are counted in a registry nobody reads (the CLI)."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            _CountingHandler(metrics or Metrics(), base_url),
            ConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            RateLimitErrorRetryHandler(MAX_RETRIES),
            ServerErrorRetryHandler(MAX_RETRIES, BACKOFF),
        ],
    )


def create_async_web_client(
    token: str | None, base_url: str, metrics: Metrics | None = None
) -> AsyncWebClient:
    """The client Bolt itself uses (auth.test, and the clients it makes per request, which
    copy these retry handlers)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            _CountingHandler(metrics or Metrics(), base_url),
            AsyncConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            AsyncRateLimitErrorRetryHandler(MAX_RETRIES),
            AsyncServerErrorRetryHandler(MAX_RETRIES, BACKOFF),
        ],
    )


class _CountingHandler(RetryHandler, AsyncRetryHandler):
    """Counts every answer by method and outcome, and never retries itself: slack_sdk asks each
    retry handler in turn, so the handlers after it decide as before. Synchronous and
    asynchronous clients both take it (they call can_retry and can_retry_async)."""

    def __init__(self, metrics: Metrics, base_url: str) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics
        self._base_url = base_url

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        path = request.url.split("?", 1)[0]
        method = path.removeprefix(self._base_url) if path.startswith(self._base_url) else UPLOAD
        if response is None:  # no answer: connection refused, timeout
            outcome = "connection_error"
        elif response.status_code == 429:
            outcome = "ratelimited"
            self._metrics.web_api_ratelimited.labels(method).inc()
        elif response.status_code >= 500:
            outcome = "server_error"
        elif response.status_code != 200 or (response.body or {}).get("ok") is False:
            outcome = "error"
        else:
            outcome = "ok"
        self._metrics.web_api_calls.labels(method, outcome).inc()
        return False

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return self.can_retry(state=state, request=request, response=response, error=error)
