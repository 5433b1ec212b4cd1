"""The composition root: every entry point (serve, demo, tests) builds the app here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.oauth import oauth_settings
from bot.runtime import RUNTIME_KEY, Runtime
from bot.settings import Settings
from bot.slack_client import create_async_web_client
from prompts import load_messages
from prompts.prompt_sets import load_prompt_sets

logger = logging.getLogger(__name__)


class AttachRuntime(AsyncMiddleware):
    """Puts the Runtime in every request's context, and tells it the workspace Bolt let in
    (see Runtime.authorized). A middleware object, not a function: Bolt builds a function
    middleware's arguments by inspecting it on every request, which cost about a tenth of a
    request's CPU."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        req.context[RUNTIME_KEY] = self.runtime
        if req.context.team_id:
            self.runtime.authorized.add(req.context.team_id)
        return await next()


class LearnLoopApp(AsyncApp):
    """Bolt, but a request no listener takes is logged at INFO, not WARNING: it means Slack
    sends something the manifest subscribes to and nobody handles (or a command from an older
    manifest), which Slack's retries would otherwise repeat as warnings."""

    def _handle_unmatched_requests(self, req: AsyncBoltRequest, resp: BoltResponse) -> BoltResponse:
        body = req.body
        what = body.get("command") or body.get("event", {}).get("type") or body.get("type")
        logger.info("no listener for a %s request; answered %s", what, resp.status)
        return resp


def create_app(
    settings: Settings, runtime: Runtime, *, client: AsyncWebClient | None = None
) -> AsyncApp:
    """An AsyncApp that persists before it acknowledges (process_before_response).

    Request signatures are checked by the HTTP gate in bot/server.py before Bolt sees a
    request (Socket Mode needs none), so Bolt's own check is off rather than done twice.
    """
    # A broken prompts/*.yaml or prompt set stops start-up, naming the file and the field.
    load_messages()
    load_prompt_sets()
    app = LearnLoopApp(
        signing_secret=settings.slack_signing_secret,
        # The client carries the bot token in single-token mode; Bolt reads it from there. With
        # OAuth it has none, and Bolt sets each request's from the workspace's installation.
        client=client
        or create_async_web_client(
            settings.slack_bot_token, settings.slack_api_url, runtime.metrics
        ),
        oauth_settings=oauth_settings(runtime),
        process_before_response=True,
        request_verification_enabled=False,
        logger=logging.getLogger("slack_bolt"),
    )

    app.use(AttachRuntime(runtime))
    handlers.register_all(app)
    return app
