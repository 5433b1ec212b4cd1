"""/ask, the expert and question buttons, and the thread and reaction signals of a question."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from bot import blocks, help_policy, help_requests
from bot.help_policy import for_workspace
from bot.roles import NotAllowed
from bot.runtime import Runtime, runtime_of
from bot.text import channel_reference, command_tags
from handlers.payloads import (
    actor_id,
    command_of,
    command_text,
    input_value,
    posted_by_person,
    reaction_of,
    record_id,
    response_url_of,
    slack_ts,
    text_of,
    thread_of_reply,
)

logger = logging.getLogger(__name__)

ASK_COMMAND = "/ask"
RESOLVED_EMOJI = "white_check_mark"
UNROUTED_WORD = "unrouted"
SETTINGS_WORD = "settings"
# Slack's answers to a trigger_id it does not know, that expired or was used already.
_TRIGGER_GONE = {"invalid_trigger_id", "expired_trigger_id", "exchanged_trigger_id"}
_SETTING_NAMES = {"experts": "experts_per_question", "escalation": "escalation_minutes"}


async def handle_ask_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    runtime = runtime_of(context)
    text = command_text(command).strip()
    word = _ask_word(text)
    if word == "question":
        reply = await _ask(command, str(context.team_id), text, runtime, token=context.bot_token)
    elif word == SETTINGS_WORD:
        reply = await _settings(text.partition(" ")[2], command["user_id"], context)
    elif word == UNROUTED_WORD:
        try:
            questions = await runtime.call(
                help_requests.unrouted_questions,
                token=context.bot_token,
                team_id=str(context.team_id),
                actor_id=command["user_id"],
                managers=runtime.settings.managers,
            )
            reply = blocks.unrouted(questions)
        except NotAllowed as refused:
            reply = blocks.notice("expert_not_allowed", needed=refused.needed)
    else:
        reply = blocks.notice("ask_usage")
    await ack(**blocks.ephemeral(reply))


def _ask_word(text: str) -> str:
    """What /ask's text asks for: "help", the settings, the unrouted list, or a "question"."""
    lowered = text.lower()
    if lowered in ("", "help"):
        return "help"
    if lowered.split(" ", 1)[0] == SETTINGS_WORD:
        return SETTINGS_WORD
    return UNROUTED_WORD if lowered == UNROUTED_WORD else "question"


async def take_command(
    command: dict[str, Any], team_id: str, text: str, runtime: Runtime
) -> blocks.Reply | None:
    """/ask with a question, answered by the HTTP gate without Bolt (handlers.gate) as
    handle_ask_command would; None, for Bolt to take it, for anything else."""
    if _ask_word(text) != "question":
        return None
    return blocks.ephemeral(await _ask(command, team_id, text, runtime, token=None))


async def _ask(
    command: dict[str, Any], team_id: str, text: str, runtime: Runtime, *, token: str | None
) -> list[blocks.Block]:
    follow_up = await runtime.call_batched(
        help_requests.ask_questions, command_of(command, team_id, text)
    )
    runtime.kick(follow_up, token=token)
    return blocks.ask_received(command_tags(text))


def _parse_settings(words: list[str]) -> dict[str, int | str] | None:
    """ "experts 3 escalation 30 channel <#C…>" as changes; None when anything is off."""
    if len(words) % 2:
        return None
    changes: dict[str, int | str] = {}
    for name, value in zip(words[::2], words[1::2], strict=True):
        if name.lower() in _SETTING_NAMES and (number := record_id(value)) is not None:
            changes[_SETTING_NAMES[name.lower()]] = number
        elif name.lower() == "channel" and (channel := channel_reference(value)):
            changes["help_channel"] = channel
        else:
            return None
    return changes


async def _settings(rest: str, user_id: str, context: AsyncBoltContext) -> list[blocks.Block]:
    runtime = runtime_of(context)
    team_id = str(context.team_id)
    defaults = runtime.settings.help_policy
    changes = _parse_settings(rest.split())
    if changes is None:
        return blocks.notice("help_settings_usage")
    if not changes:
        policy = await runtime.call(for_workspace, team_id=team_id, defaults=defaults)
        return blocks.help_policy(policy)
    try:
        policy = await runtime.call(
            help_policy.update,
            token=context.bot_token,
            team_id=team_id,
            actor_id=user_id,
            changes=changes,
            defaults=defaults,
            managers=runtime.settings.managers,
        )
    except NotAllowed as refused:
        return blocks.notice("expert_not_allowed", needed=refused.needed)
    except ValueError as invalid:
        return blocks.notice("help_settings_invalid", problem=str(invalid))
    return blocks.help_policy(policy)


async def handle_route_answer(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    """An expert's "I'll take it" / "Not my area" / "Already answered" in their DM."""
    request_id, expert_id = record_id(action.get("value")), actor_id(body)
    trigger_id = body.get("trigger_id")
    if request_id is None or expert_id is None or not isinstance(trigger_id, str):
        await ack()
        return
    if action["action_id"] == blocks.HELP_ALREADY_ANSWERED:
        await ack()
        # The trigger expires 3 s after the click: open the form before anything else.
        try:
            await context.client.views_open(
                trigger_id=trigger_id, view=blocks.answer_link_modal(request_id)
            )
        except SlackApiError as error:
            if error.response.get("error") not in _TRIGGER_GONE:
                raise
            logger.info("answer-link form not opened: %s", error.response.get("error"))
            return  # nothing recorded: the expert can click again
    await runtime_of(context).promise(
        "help.answer_route",
        team_id=str(context.team_id),
        token=context.bot_token,
        request_id=request_id,
        expert_id=expert_id,
        answer=blocks.ROUTE_ANSWERS[action["action_id"]].value,
    )
    await ack()  # a second ack (after "Already answered") is ignored by Bolt


async def handle_answer_link(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    """The "Already answered" form: a valid link goes to the question's thread."""
    url = input_value(view, blocks.ANSWER_LINK_BLOCK, blocks.ANSWER_LINK_INPUT).strip()
    if not re.match(r"^https?://\S+$", url):
        await ack(
            response_action="errors",
            errors={
                blocks.ANSWER_LINK_BLOCK: blocks.plain_text(blocks.notice("answer_link_invalid"))
            },
        )
        return
    request_id, expert_id = record_id(view.get("private_metadata")), actor_id(body)
    if request_id is None or expert_id is None:
        await ack()
        return  # not a form LearnLoop opened
    await runtime_of(context).promise(
        "help.point_to_answer",
        team_id=str(context.team_id),
        token=context.bot_token,
        request_id=request_id,
        expert_id=expert_id,
        url=url,
    )
    await ack()


async def handle_resolve_button(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    request_id, user_id = record_id(action.get("value")), actor_id(body)
    if request_id is None or user_id is None:
        await ack()
        return
    await runtime_of(context).promise(
        "help.resolve_by_button",
        team_id=str(context.team_id),
        token=context.bot_token,
        request_id=request_id,
        user_id=user_id,
    )
    await ack()


async def handle_app_mention(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """A message mentioning the bot with a question is asked like /ask; it is the question.
    Bots (this one included) never ask."""
    if not posted_by_person(event):
        await ack()  # a bot's mention, or one whose channel, author or ts is unreadable
        return
    runtime = runtime_of(context)
    mention = rf"<@{context.bot_user_id}(\|[^>]*)?>"
    text = re.sub(mention, "", text_of(event.get("text"))).strip()
    if not text:
        await ack()
        usage = blocks.notice("mention_usage")
        await context.client.chat_postEphemeral(
            channel=event["channel"],
            user=event["user"],
            text=blocks.plain_text(usage),
            blocks=usage,
        )
        return
    follow_up = await runtime.call(
        help_requests.ask_by_mention,
        team_id=str(context.team_id),
        channel_id=event["channel"],
        asker_id=event["user"],
        text=text,
        message_ts=event["ts"],
    )
    await ack()
    runtime.kick(follow_up, token=context.bot_token)


async def handle_save_answer(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
) -> None:
    container = body.get("container")
    offer_ts = slack_ts(container.get("message_ts")) if isinstance(container, dict) else None
    request_id, user_id = record_id(action.get("value")), actor_id(body)
    response_url = response_url_of(body)
    if request_id is None or user_id is None or offer_ts is None or response_url is None:
        await ack()
        return
    await runtime_of(context).promise(
        "help.save_answer",
        team_id=str(context.team_id),
        token=context.bot_token,
        request_id=request_id,
        user_id=user_id,
        offer_ts=offer_ts,
        response_url=response_url,
    )
    await ack()


async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """A reply in a question's thread by someone else is its first answer."""
    thread_ts = thread_of_reply(event)
    if not posted_by_person(event) or thread_ts is None:
        return
    await runtime_of(context).call(
        help_requests.record_thread_reply,
        team_id=str(context.team_id),
        channel_id=event["channel"],
        thread_ts=thread_ts,
        reply_ts=event["ts"],
        user_id=event["user"],
    )


async def on_reaction_added(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """The asker's :white_check_mark: on their question resolves it."""
    reaction = reaction_of(event)
    if reaction is None or reaction.name != RESOLVED_EMOJI:
        return
    await runtime_of(context).promise(
        "help.resolve_by_reaction",
        team_id=str(context.team_id),
        token=context.bot_token,
        channel_id=reaction.channel_id,
        message_ts=reaction.message_ts,
        user_id=reaction.user_id,
    )


def register(app: AsyncApp) -> None:
    app.command(ASK_COMMAND)(handle_ask_command)
    app.event("app_mention")(handle_app_mention)
    for action_id in blocks.ROUTE_ANSWERS:
        app.action(action_id)(handle_route_answer)
    app.action(blocks.HELP_RESOLVE)(handle_resolve_button)
    app.action(blocks.HELP_SAVE_ANSWER)(handle_save_answer)
    app.view(blocks.ANSWER_LINK_VIEW)(handle_answer_link)
