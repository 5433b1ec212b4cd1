"""/learnloop: roles, mentoring pairs (handlers.mentoring), your own data (export-me,
forget-me) and the list of every command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot import blocks, privacy, roles
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from bot.text import mentioned_users
from handlers.mentoring import MENTOR_WORD, mentor_command
from handlers.payloads import command_text
from storage.models import Role

LEARNLOOP_COMMAND = "/learnloop"
FORGET_ME_WORD = "forget-me"
EXPORT_ME_WORD = "export-me"


async def handle_learnloop_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    words = command_text(command).split()
    if words[:1] == ["role"]:
        reply = await _set_role(words[1:], command["user_id"], context)
    elif words[:1] == [MENTOR_WORD]:
        reply = await mentor_command(words[1:], command, context)
    elif words == [FORGET_ME_WORD]:
        reply = blocks.forget_me_confirmation(command["user_id"])
    elif words == [EXPORT_ME_WORD]:
        await ack()
        runtime_of(context).spawn(
            privacy.send_export,
            token=context.bot_token,
            team_id=str(context.team_id),
            user_id=command["user_id"],
            response_url=command["response_url"],
        )
        return
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


async def handle_forget_me_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Forget me / Cancel under the forget-me question: only the asker's own click counts."""
    user_id = body["user"]["id"]
    if user_id != action["value"]:
        await ack()
        reply = blocks.notice("forget_me_not_yours")
        await respond(response_type="ephemeral", text=blocks.plain_text(reply), blocks=reply)
        return
    if action["action_id"] == blocks.FORGET_ME_CANCEL:
        reply = blocks.notice("forget_me_cancelled")
    else:
        report = await runtime_of(context).call(
            privacy.forget, team_id=str(context.team_id), user_id=user_id
        )
        reply = blocks.forgotten(report.lines())
    await ack()
    await respond(replace_original=True, text=blocks.plain_text(reply), blocks=reply)


def register(app: AsyncApp) -> None:
    app.command(LEARNLOOP_COMMAND)(handle_learnloop_command)
    app.action(blocks.FORGET_ME_CONFIRM)(handle_forget_me_button)
    app.action(blocks.FORGET_ME_CANCEL)(handle_forget_me_button)
