"""Events several features listen to. Bolt runs only the first listener that matches an event,
so one listener per event type hands it to each feature, then acknowledges."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.text import is_til_text
from handlers import help_requests, reflection, til
from handlers.payloads import text_of, thread_of_reply


def is_idle_chatter(event: dict[str, Any]) -> bool:
    """A new message in a channel that no feature reads: no TIL, no reply in a thread, no edit
    or deletion, not in a DM. A busy workspace's events are mostly these, so the HTTP gate
    acknowledges them without running Bolt (bot.server), and handle_message skips them."""
    return (
        event.get("type") == "message"
        and "subtype" not in event
        and event.get("channel_type") != "im"
        and thread_of_reply(event) is None
        and not is_til_text(text_of(event.get("text")))
    )


async def handle_message(ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Every message event, all subtypes included (Bolt answers 404 to unhandled ones)."""
    if not is_idle_chatter(event):
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


def register(app: AsyncApp) -> None:
    app.event("message")(handle_message)
    app.event("reaction_added")(handle_reaction_added)
    app.event("reaction_removed")(handle_reaction_removed)
