"""HTTP mode: one Request URL for events, commands and interactivity, plus /healthz, and
with OAuth the installation pages.

The gate in front of Bolt answers what Bolt gets wrong: a malformed timestamp is a 401 (Bolt
raises and answers 500), an unparsable body a 400, an oversized one a 413.
"""

from __future__ import annotations

import hmac
import json
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

from bot.runtime import Runtime
from bot.settings import OAUTH_INSTALL_PATH, OAUTH_REDIRECT_PATH
from storage.db import ping

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 60 * 5


def create_web_app(app: AsyncApp, runtime: Runtime) -> Starlette:
    bolt = AsyncSlackRequestHandler(app)
    verifier = SignatureVerifier(runtime.settings.slack_signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "request body too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "request body is not UTF-8")
        if not signed_by_slack(verifier, text, request.headers, now=time.time()):
            return _error(401, "invalid or missing Slack signature")
        if not _parses(text, request.headers.get("content-type", "")):
            return _error(400, "malformed request body")
        return await bolt.handle(request)

    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(ping, runtime.engine):
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped taking requests and finished in-flight ones; now finish the
        # follow-up work they started and release the database.
        await run_in_threadpool(runtime.close)

    async def oauth(request: Request) -> Response:
        """Bolt's OAuth flow: /slack/install sends the installer to Slack, which sends them
        back to /slack/oauth_redirect with a code and the state issued here."""
        return await bolt.handle(request)

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if runtime.settings.oauth is not None:
        routes += [
            Route(OAUTH_INSTALL_PATH, oauth, methods=["GET"]),
            Route(OAUTH_REDIRECT_PATH, oauth, methods=["GET"]),
        ]
    return Starlette(routes=routes, lifespan=lifespan)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


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


def _parses(body: str, content_type: str) -> bool:
    """Whether Bolt will be able to read the body: JSON, or a form with JSON in `payload`."""
    try:
        if content_type.startswith("application/json"):
            return isinstance(json.loads(body), dict)
        form = parse_qs(body, keep_blank_values=True)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return bool(form)
    except ValueError:
        return False
