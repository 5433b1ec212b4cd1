"""Slack's member_joined_channel: someone joined a channel LearnLoop is in."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import membership
from bot.runtime import runtime_of
from handlers.payloads import slack_id
from storage.types import utcnow


async def handle_member_joined_channel(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Stored before the ack, so a join that fails to store is retried by Slack."""
    user_id = slack_id(event.get("user"))
    channel_id = slack_id(event.get("channel"))
    if user_id is not None and channel_id is not None and user_id != context.bot_user_id:
        runtime = runtime_of(context)
        welcome = await runtime.call(
            membership.member_joined,
            team_id=str(context.team_id),
            channel_id=channel_id,
            user_id=user_id,
            joined_at=utcnow(),
            inviter_id=slack_id(event.get("inviter")),
        )
        runtime.kick(welcome, token=context.bot_token)
    await ack()


def register(app: AsyncApp) -> None:
    app.event("member_joined_channel")(handle_member_joined_channel)
