"""Events several features listen to. Bolt runs only the first listener that matches an event,
so one listener per event type hands it to each feature, then acknowledges."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from handlers import help_requests, reflection, til

logger = logging.getLogger(__name__)


async def handle_message(ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Every message event, all subtypes included (Bolt answers 404 to unhandled ones)."""
    await til.on_message(event, context)
    await help_requests.on_message(event, context)
    await reflection.on_message(event, context)
    await ack()


async def handle_reaction_added(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    await til.on_reaction_added(event, context)
    await help_requests.on_reaction_added(event, context)
    await ack()


async def handle_reaction_removed(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    await til.on_reaction_removed(event, context)
    await ack()


async def note_app_rate_limited(
    body: dict[str, Any], next_: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse:
    """Slack's notice that it is holding back a workspace's events (over 30,000 an hour): no
    listener can match it, so answer it here, before Bolt's 404, and say so in the log."""
    if body.get("type") == "app_rate_limited":
        logger.warning(
            "Slack is holding back events of workspace %s (Events API limit, since minute %s)",
            body.get("team_id"),
            body.get("minute_rate_limited"),
        )
        return BoltResponse(status=200, body="")
    return await next_()


def register(app: AsyncApp) -> None:
    app.middleware(note_app_rate_limited)
    app.event("message")(handle_message)
    app.event("reaction_added")(handle_reaction_added)
    app.event("reaction_removed")(handle_reaction_removed)
