"""/learnloop: roles and the list of every command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import blocks, roles
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from bot.text import mentioned_users
from handlers.payloads import command_text
from storage.models import Role

LEARNLOOP_COMMAND = "/learnloop"


async def handle_learnloop_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    words = command_text(command).split()
    if words[:1] == ["role"]:
        reply = await _set_role(words[1:], command["user_id"], context)
    else:
        reply = blocks.notice("learnloop_help")
    await ack(response_type="ephemeral", text=blocks.plain_text(reply), blocks=reply)


async def _set_role(
    words: list[str], actor_id: str, context: AsyncBoltContext
) -> list[blocks.Block]:
    users = mentioned_users(" ".join(words[:1]))
    role_names = {role.value for role in Role}
    if len(words) != 2 or len(users) != 1 or words[1].lower() not in role_names:
        return blocks.notice("role_usage")
    runtime = runtime_of(context)
    try:
        await runtime.call(
            roles.set_role,
            token=context.bot_token,
            team_id=str(context.team_id),
            actor_id=actor_id,
            user_id=users[0],
            role=Role(words[1].lower()),
            managers=runtime.settings.managers,
        )
    except NotAllowed as refused:
        return blocks.notice("expert_not_allowed", needed=refused.needed)
    return blocks.notice("role_set", user_id=users[0], role=words[1].lower())


def register(app: AsyncApp) -> None:
    app.command(LEARNLOOP_COMMAND)(handle_learnloop_command)
