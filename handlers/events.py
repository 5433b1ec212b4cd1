"""Events several features listen to. Bolt runs only the first listener that matches an event,
so one listener per event type hands it to each feature, then acknowledges."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from handlers import help_requests, reflection, til


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


def register(app: AsyncApp) -> None:
    app.event("message")(handle_message)
    app.event("reaction_added")(handle_reaction_added)
    app.event("reaction_removed")(handle_reaction_removed)
