"""Slack telling LearnLoop it was removed from a workspace: nothing more is sent there."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import workspaces
from bot.runtime import runtime_of


async def handle_app_uninstalled(ack: AsyncAck, context: AsyncBoltContext) -> None:
    await _uninstalled(context)
    await ack()


async def handle_tokens_revoked(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Only the bot's token matters: LearnLoop asks for no user tokens."""
    if event.get("tokens", {}).get("bot"):
        await _uninstalled(context)
    await ack()


async def _uninstalled(context: AsyncBoltContext) -> None:
    runtime, team_id = runtime_of(context), str(context.team_id)
    runtime.forget_workspace(team_id)
    await runtime.call(workspaces.uninstalled, team_id=team_id, tokens=runtime.tokens)


def register(app: AsyncApp) -> None:
    app.event("app_uninstalled")(handle_app_uninstalled)
    app.event("tokens_revoked")(handle_tokens_revoked)
