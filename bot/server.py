"""HTTP mode: one Request URL for events, commands and interactivity, plus /healthz (liveness),
/readyz (readiness) and /metrics (Prometheus). Only /slack/events is signed by Slack.

The gate in front of Bolt answers what Bolt gets wrong: a malformed timestamp is a 401 (Bolt
raises and answers 500), an unparsable body a 400, an oversized one a 413.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.leader import LeaderLease
from bot.metrics import CONTENT_TYPE
from bot.runtime import Runtime
from storage.db import ping

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
REJECTED = "rejected"
MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 60 * 5


def create_web_app(app: AsyncApp, runtime: Runtime) -> Starlette:
    bolt = AsyncSlackRequestHandler(app)
    verifier = SignatureVerifier(runtime.settings.slack_signing_secret)
    metrics = runtime.metrics

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        kind, response = await answer(request)
        metrics.requests.labels(kind, str(response.status_code)).inc()
        metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
        return response

    async def answer(request: Request) -> tuple[str, Response]:
        """The request's kind (for metrics) and its answer: the gate's refusal, or Bolt's."""
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _refuse(413, "request body too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "request body is not UTF-8")
        if not signed_by_slack(verifier, text, request.headers, now=time.time()):
            return _refuse(401, "invalid or missing Slack signature")
        kind = request_kind(text, request.headers.get("content-type", ""))
        if kind is None:
            return _refuse(400, "malformed request body")
        if "x-slack-retry-num" in request.headers:
            reason = request.headers.get("x-slack-retry-reason", "unknown")
            metrics.slack_retries.labels(reason).inc()
        return kind, await bolt.handle(request)

    async def healthz(_request: Request) -> Response:
        """Liveness: the process serves HTTP. It does not depend on the database, so an outage
        makes replicas unready (/readyz), not restarted."""
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        """Readiness: this replica can store what it acknowledges."""
        scheduler = _scheduler_role(runtime.leader)
        if await run_in_threadpool(ping, runtime.engine):
            return JSONResponse({"status": "ready", "database": "ok", "scheduler": scheduler})
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "scheduler": scheduler},
            status_code=503,
        )

    async def metrics_page(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped taking requests and finished in-flight ones; now finish the
        # follow-up work they started, stop the scheduler (releasing the leader lease) and
        # release the database.
        await run_in_threadpool(runtime.close)

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _scheduler_role(leader: LeaderLease | None) -> str:
    if leader is None:
        return "off"
    return "leader" if leader.held else "follower"


def _refuse(status: int, message: str) -> tuple[str, Response]:
    """A refusal by the gate: logged without headers or body (they may hold anything)."""
    logger.info("refused a request to %s: %s (%s)", EVENTS_PATH, message, status)
    return REJECTED, JSONResponse({"error": message}, status_code=status)


def signed_by_slack(
    verifier: SignatureVerifier, body: str, headers: Mapping[str, str], *, now: float
) -> bool:
    """Slack's v0 signature over a timestamp at most five minutes from `now`."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not signature:
        return False
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    expected = verifier.generate_signature(timestamp=timestamp, body=body)
    return expected is not None and hmac.compare_digest(expected, signature)


def request_kind(body: str, content_type: str) -> str | None:
    """What a signed request is (event/<type>, command/<name>, interaction/<type>,
    url_verification, ssl_check), or None when Bolt could not read it (neither a JSON object
    nor a form, or a form whose `payload` is not one)."""
    try:
        if content_type.startswith("application/json"):
            envelope = json.loads(body)
            if not isinstance(envelope, dict):
                return None
            if envelope.get("type") == "event_callback":
                event = envelope.get("event")
                return f"event/{event.get('type') if isinstance(event, dict) else None}"
            return str(envelope.get("type"))
        form = parse_qs(body, keep_blank_values=True)
        if "payload" in form:
            payload = json.loads(form["payload"][0])
            return f"interaction/{payload.get('type')}" if isinstance(payload, dict) else None
        if "command" in form:
            return f"command/{form['command'][0].lstrip('/')}"
        if "ssl_check" in form:
            return "ssl_check"
        return "other" if form else None
    except ValueError:
        return None
