"""Events several features listen to. Bolt runs only the first listener that matches an event,
so one listener per event type hands it to each feature, then acknowledges."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.internals import extract_team_id

from bot.runtime import Runtime
from bot.text import is_til_text
from handlers import help_requests, reflection, til
from handlers.payloads import text_of, thread_of_reply


def is_channel_post(event: dict[str, Any]) -> bool:
    """A new message in a channel, not in a thread: no edit or deletion, not in a DM. Of all
    features only the TIL keyword reads these, and only those that start with it."""
    return (
        event.get("type") == "message"
        and "subtype" not in event
        and event.get("channel_type") != "im"
        and thread_of_reply(event) is None
    )


def is_idle_chatter(event: dict[str, Any]) -> bool:
    """A channel post that is no TIL: a busy workspace's events are mostly these."""
    return is_channel_post(event) and not is_til_text(text_of(event.get("text")))


async def take_channel_post(payload: dict[str, Any], runtime: Runtime) -> bool:
    """The HTTP gate's way past Bolt (bot.server), which costs more than all LearnLoop does
    with a channel post: chatter is acknowledged as it is, a keyword TIL is captured as
    handle_message would. False when Bolt must take the request (not a channel post, or a TIL
    from a workspace whose address this process has not learned yet)."""
    event = payload["event"]
    if not is_channel_post(event):
        return False
    if not is_til_text(text_of(event.get("text"))):
        return True
    team_id = extract_team_id(payload)
    return team_id is not None and await til.capture_post(team_id, event, runtime)


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
