"""The one error handler: log with the traceback, tell the user, keep events retryable."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot import blocks

logger = logging.getLogger(__name__)

# Slack retries events that fail, so they keep their 5xx; it never retries a command or an
# interaction, so those get a useful ephemeral message instead of Slack's "dispatch_failed".
_ANSWERED_TYPES = {"block_actions", "message_action", "shortcut", "view_submission"}


async def handle_listener_error(
    error: Exception, body: dict[str, Any], response: BoltResponse | None
) -> None:
    logger.error("listener failed: %s", type(error).__name__, exc_info=error)
    if response is None or not _answered_to_user(body):
        return
    reply = blocks.notice("til_error")
    response.status = 200
    response.body = json.dumps(
        {"response_type": "ephemeral", "text": blocks.plain_text(reply), "blocks": reply}
    )
    response.headers["content-type"] = ["application/json;charset=utf-8"]


def _answered_to_user(body: dict[str, Any]) -> bool:
    return "command" in body or body.get("type") in _ANSWERED_TYPES


def register(app: AsyncApp) -> None:
    app.error(handle_listener_error)
