"""The one place Web API clients are built: base URL from settings, retries for rate limits,
connection errors and Slack-side 5xx, pacing per channel, and metrics for every HTTP request
to the Web API."""

from __future__ import annotations

import http.client
import io
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
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
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.metrics import Metrics

ClientFor = Callable[[str], WebClient | None]
"""A workspace's client by team id, for work that spans workspaces (the sweeps); None when
LearnLoop may not act there."""

# slack_sdk logs whole responses at DEBUG, the bot token oauth.v2.access hands over included:
# its records never go below INFO, whatever level the application logs at.
logging.getLogger("slack_sdk").setLevel(logging.INFO)

MAX_RETRIES = 2
# The longest Retry-After a call waits out itself; a longer one fails the call as "ratelimited"
# (transient), and the outbox or the next sweep tries again later: no thread sleeps for minutes.
MAX_RETRY_AFTER_SECONDS = 5
# Some calls happen before an ack that Slack wants within 3 s: two retries after about 0.2 s and
# 0.4 s (plus jitter) stay inside it; past that the event fails and Slack redelivers it.
BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.2)
TIMEOUT_SECONDS = 10
# Requests to a file's upload URL go through the same machinery; their path is a file id.
UPLOAD = "file_upload"


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

    def wait(self, channel: str, longest: float | None = None) -> None:
        """Wait for the channel's turn; ChannelBusy instead when that is more than `longest`
        seconds away (the turn is then not taken)."""
        with self._lock:
            now = time.monotonic()
            due = max(self._due.get(channel, now), now)
            delay = due - self.slack - now
            if longest is not None and delay > longest:
                raise ChannelBusy(channel, delay)
            self._due[channel] = due + self.interval
        if delay > 0:
            time.sleep(delay)


class ChannelBusy(SlackClientError):
    """A channel's allowance is spoken for: post later rather than tie up a thread waiting."""

    def __init__(self, channel: str, seconds: float) -> None:
        super().__init__(f"{channel} is busy for {seconds:.1f} s more")
        self.seconds = seconds


# Process-wide: every client of this process shares Slack's per-channel allowance.
PACER = ChannelPacer()
_PACED_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})
# How long a post may wait for its channel on this thread; None: as long as it takes. Follow-up
# work sets a limit (see bot.outbox), so a busy channel never ties up the follow-up pool.
longest_wait: ContextVar[float | None] = ContextVar("longest_wait", default=None)


class KeptConnections:
    """One persistent HTTP connection per thread and host, for the Web API.

    slack_sdk's WebClient opens a connection (and builds a urllib opener) for every call; a
    TIL's confirmation is one call, so connecting cost more than the rest of the capture.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def send(self, url: str, request: Request, *, timeout: int, context: Any) -> dict[str, Any]:
        """What urllib's urlopen would give WebClient: the answer as a dict, HTTPError for
        non-2xx answers, URLError when no connection could be made."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "pool", {}
        )
        key = (parts.scheme, parts.netloc)
        while True:
            reused = key in pool
            connection = pool.pop(key, None) or _connect(
                parts.scheme, parts.netloc, timeout, context
            )
            try:
                connection.request(
                    request.get_method(), target, request.data, dict(request.header_items())
                )
                response = connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused:
                    continue  # the server closed an idle connection: once more on a new one
                raise
            except (TimeoutError, http.client.HTTPException):
                connection.close()
                raise
            except OSError as error:
                connection.close()
                raise URLError(error) from error
            if not response.will_close:
                pool[key] = connection
            if not 200 <= response.status < 300:
                raise HTTPError(
                    url, response.status, response.reason, response.msg, io.BytesIO(body)
                )
            if response.msg.get_content_type() == "application/gzip":
                return {"status": response.status, "headers": response.msg, "body": body}
            charset = response.msg.get_content_charset() or "utf-8"
            return {
                "status": response.status,
                "headers": response.msg,
                "body": body.decode(charset),
            }


def _connect(scheme: str, netloc: str, timeout: int, context: Any) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(netloc, timeout=timeout, context=context)
    if scheme == "http":
        return http.client.HTTPConnection(netloc, timeout=timeout)
    raise URLError(f"not a Web API URL scheme: {scheme}")


# Process-wide, like the pacer: every client of a thread shares its connections.
KEPT_CONNECTIONS = KeptConnections()


class PacedWebClient(WebClient):
    """A WebClient whose posts wait their turn for the channel (see ChannelPacer), over
    connections kept open between calls (see KeptConnections)."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        return KEPT_CONNECTIONS.send(url, req, timeout=self.timeout, context=self.ssl)

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        if api_method in _PACED_METHODS:
            params = {**(kwargs.get("params") or {}), **(kwargs.get("data") or {})}
            params.update(kwargs.get("json") or {})
            channel = params.get("channel") or params.get("channel_id")
            if channel:
                PACER.wait(str(channel), longest_wait.get())
        return super().api_call(api_method, **kwargs)


class KeptWebhookClient(WebhookClient):
    """A response_url client over the same kept connections: a follow-up that answers
    privately (suggestions for /ask, a refusal) connects no more than a Web API call does."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        answer = KEPT_CONNECTIONS.send(url, req, timeout=self.timeout, context=self.ssl)
        return WebhookResponse(
            url=url,
            status_code=int(answer["status"]),
            body=str(answer["body"]),
            headers=dict(answer["headers"].items()),
        )


# Each token's workspace address (auth.test's "url"), asked once per process.
_WORKSPACE_URLS: dict[tuple[str, str | None], str] = {}


def workspace_url(client: WebClient) -> str:
    """The workspace's https://<name>.slack.com/ address."""
    key = (client.base_url, client.token)
    if key not in _WORKSPACE_URLS:
        _WORKSPACE_URLS[key] = str(client.auth_test()["url"])
    return _WORKSPACE_URLS[key]


async def workspace_url_async(client: AsyncWebClient) -> str:
    """workspace_url for listeners, with Bolt's client (the same cache)."""
    key = (client.base_url, client.token)
    if key not in _WORKSPACE_URLS:
        _WORKSPACE_URLS[key] = str((await client.auth_test())["url"])
    return _WORKSPACE_URLS[key]


def message_permalink(
    workspace: str, channel_id: str, message_ts: str, thread_ts: str | None = None
) -> str:
    """A message's link, built the way Slack builds it (chat.getPermalink answers the same),
    so keeping a TIL costs no Web API call for its link."""
    link = f"{workspace.rstrip('/')}/archives/{channel_id}/p{message_ts.replace('.', '')}"
    if thread_ts and thread_ts != message_ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def create_web_client(
    token: str | None, base_url: str, metrics: Metrics | None = None
) -> WebClient:
    """A synchronous client for services, which run on worker threads.

    Without `metrics` its calls are counted in a registry nobody reads (the CLI)."""
    return PacedWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            _CountingHandler(metrics or Metrics(), base_url),
            ConnectionErrorRetryHandler(MAX_RETRIES, BACKOFF),
            BriefRateLimitRetryHandler(MAX_RETRIES),
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
