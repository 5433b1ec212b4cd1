"""HTTP mode: one Request URL for events, commands and interactivity, plus /healthz (liveness),
/readyz (readiness), /metrics (Prometheus) and, with OAuth, the installation pages. Only
/slack/events is signed by Slack.

The gate in front of Bolt answers what Bolt gets wrong: a malformed timestamp is a 401 (Bolt
raises and answers 500), an unparsable body a 400, an oversized one a 413, and so is a 400 a
payload whose parts Bolt routes on have the wrong type (Bolt raises on an event that is not an
object or a user id that is a number, before any listener runs).

It also answers, without running Bolt, the requests that are most of a busy workspace's traffic
(handlers.gate): the chatter no feature reads, at a third of Bolt's cost, keyword TILs, and
/til and /ask with a TIL or a question, captured as their listeners would.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import extract_team_id
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.leader import LeaderLease
from bot.metrics import CONTENT_TYPE
from bot.runtime import Runtime
from bot.settings import OAUTH_INSTALL_PATH, OAUTH_REDIRECT_PATH
from handlers import gate
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
        payload = _parse(text, request.headers.get("content-type", ""))
        if payload is None or not routable(payload):
            return _refuse(400, "malformed request body")
        if payload.get("type") == "app_rate_limited":
            return "app_rate_limited", _rate_limited(payload)
        if "x-slack-retry-num" in request.headers:
            reason = request.headers.get("x-slack-retry-reason", "unknown")
            metrics.slack_retries.labels(reason).inc()
        kind = request_kind(payload)
        ack = await gate.take(payload, runtime)
        if ack is not None:  # what Bolt would answer
            return kind, JSONResponse(ack) if ack else Response(status_code=200)
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

    async def oauth(request: Request) -> Response:
        """Bolt's OAuth flow: /slack/install sends the installer to Slack, which sends them
        back to /slack/oauth_redirect with a code and the state issued here."""
        return await bolt.handle(request)

    routes = [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    if runtime.settings.oauth is not None:
        routes += [
            Route(OAUTH_INSTALL_PATH, oauth, methods=["GET"]),
            Route(OAUTH_REDIRECT_PATH, oauth, methods=["GET"]),
        ]
    return Starlette(routes=routes, lifespan=lifespan)


def _scheduler_role(leader: LeaderLease | None) -> str:
    if leader is None:
        return "off"
    return "leader" if leader.held else "follower"


def _rate_limited(payload: dict[str, Any]) -> Response:
    """Slack's notice that it holds back a workspace's events (over 30,000 an hour). No Bolt
    listener can match it (Bolt would answer 404), so it is answered here, and logged."""
    logger.warning(
        "Slack is holding back events of workspace %s (Events API limit, since minute %s)",
        payload.get("team_id"),
        payload.get("minute_rate_limited"),
    )
    return Response(status_code=200)


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


def _parse(body: str, content_type: str) -> dict[str, Any] | None:
    """What Bolt will read: a JSON object, a form's JSON `payload`, or the form itself; None
    when the body is none of these."""
    try:
        if content_type.startswith("application/json"):
            parsed = json.loads(body)
            return parsed if isinstance(parsed, dict) else None
        form = parse_qs(body, keep_blank_values=True)
        if "payload" in form:
            parsed = json.loads(form["payload"][0])
            return parsed if isinstance(parsed, dict) else None
        return {name: values[-1] for name, values in form.items()} or None
    except ValueError:
        return None


# Bolt reads ids as a string or an object with an "id", in the payload and in these parts.
_ID_FIELDS = ("user", "team", "channel", "enterprise")
_TEAM_ID = re.compile(r"[TE][A-Z0-9]{1,31}")
_ID_HOLDERS = ("event", "message", "previous_message", "item", "assistant_thread")


def routable(payload: dict[str, Any]) -> bool:
    """Whether Bolt can route the payload without raising: Slack's types for the parts it
    matches listeners on (event, actions, view) and for the ids it puts in the context."""
    kind = payload.get("type")
    event = payload.get("event")
    if kind == "event_callback" and not (
        isinstance(event, dict) and isinstance(event.get("type"), str)
    ):
        return False
    actions = payload.get("actions")
    if (
        kind == "block_actions"
        and "actions" in payload
        and not (
            isinstance(actions, list)
            and actions
            and all(isinstance(action, dict) and "action_id" in action for action in actions)
        )
    ):
        return False
    view = payload.get("view")
    if view is not None and not isinstance(view, dict):
        return False
    if kind in ("view_submission", "view_closed") and not isinstance((view or {}).get("type"), str):
        return False
    if not all(_list_of_objects(payload.get(name)) for name in ("authorizations", "response_urls")):
        return False
    holders = [payload, *(payload.get("authorizations") or [])]
    if not all(_ids_readable(holder) for holder in holders):
        return False
    # Every row is keyed by the workspace Bolt reads from the payload: it must be an id.
    team_id = extract_team_id(payload)
    return team_id is None or (isinstance(team_id, str) and bool(_TEAM_ID.fullmatch(team_id)))


def _list_of_objects(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, dict) for v in value))


def _ids_readable(holder: dict[str, Any]) -> bool:
    """Bolt looks for ids in the payload and, recursively, in the parts that carry them."""
    return all(
        holder.get(name) is None or isinstance(holder[name], (str, dict)) for name in _ID_FIELDS
    ) and all(
        _ids_readable(holder[name]) for name in _ID_HOLDERS if isinstance(holder.get(name), dict)
    )


def request_kind(payload: dict[str, Any]) -> str:
    """What a readable request is, for the metrics: event/<type>, command/<name>,
    interaction/<type>, url_verification, app_rate_limited or ssl_check."""
    if "command" in payload:
        return f"command/{str(payload['command']).lstrip('/')}"
    if "ssl_check" in payload:
        return "ssl_check"
    kind = payload.get("type")
    if kind == "event_callback":
        return f"event/{payload['event']['type']}"  # routable() checked it is there
    if kind in ("url_verification", "app_rate_limited"):
        return str(kind)
    return f"interaction/{kind}" if kind else "other"
