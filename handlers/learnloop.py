"""/learnloop: roles, mentoring pairs (handlers.mentoring), your own data (export-me,
forget-me) and the list of every command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot import blocks, onboarding, privacy, roles
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from bot.text import channel_reference, mentioned_users
from handlers.mentoring import MENTOR_WORD, mentor_command
from handlers.payloads import command_text
from storage.models import Role

LEARNLOOP_COMMAND = "/learnloop"
FORGET_ME_WORD = "forget-me"
EXPORT_ME_WORD = "export-me"
ONBOARDING_ACTIONS: dict[str, Callable[..., object]] = {
    "on": onboarding.turn_on,
    "off": onboarding.turn_off,
    "about": onboarding.set_about,
}


async def handle_learnloop_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    words = command_text(command).split()
    if words[:1] == ["role"]:
        reply = await _set_role(words[1:], command["user_id"], context)
    elif words[:1] == ["onboarding"]:
        reply = await _onboarding(command_text(command), command["user_id"], context)
    elif words[:1] == ["buddy"]:
        reply = await _buddy(words[1:], command["user_id"], context)
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
    await ack(**blocks.ephemeral(reply))


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


async def _onboarding(text: str, actor_id: str, context: AsyncBoltContext) -> list[blocks.Block]:
    """`onboarding [on|off|about #channel [text]]`: a refusal or usage help changes nothing."""
    runtime = runtime_of(context)
    team_id = str(context.team_id)
    words = text.split(maxsplit=3)[1:]
    if not words:
        found = await runtime.call(onboarding.list_channels, team_id=team_id)
        return blocks.onboarding_channels([(c.channel_id, c.enabled_by) for c in found])
    action = words[0].lower()
    channel_id = channel_reference(words[1]) if len(words) > 1 else None
    about = words[2].strip() if len(words) > 2 else None
    valid = action == "on" or (action == "off" and about is None) or (action == "about" and about)
    if channel_id is None or not valid:
        return blocks.notice("onboarding_usage")
    service = ONBOARDING_ACTIONS[action]
    extra = {} if action == "off" else {"about": about}
    try:
        done: object = await runtime.call(
            service,
            token=context.bot_token,
            team_id=team_id,
            actor_id=actor_id,
            channel_id=channel_id,
            managers=runtime.settings.managers,
            **extra,
        )
    except NotAllowed as refused:
        return blocks.notice("expert_not_allowed", needed=refused.needed)
    if action == "on":
        return blocks.notice("onboarding_on", channel_id=channel_id)
    if not done:
        return blocks.notice("onboarding_was_off", channel_id=channel_id)
    if action == "off":
        return blocks.notice("onboarding_off", channel_id=channel_id)
    return blocks.notice(
        "onboarding_about_set", channel_id=channel_id, about=blocks.escape_mrkdwn(str(about))
    )


async def _buddy(words: list[str], user_id: str, context: AsyncBoltContext) -> list[blocks.Block]:
    if [word.lower() for word in words] not in (["on"], ["off"]):
        return blocks.notice("buddy_usage")
    volunteering = words[0].lower() == "on"
    await runtime_of(context).call(
        onboarding.volunteer,
        team_id=str(context.team_id),
        user_id=user_id,
        volunteering=volunteering,
    )
    return blocks.notice("buddy_on" if volunteering else "buddy_off")


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
        await respond(**blocks.ephemeral(reply))
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
