"""TIL listeners: the keyword, /til, the save_til shortcut, the capture emoji, edits, deletes."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot import blocks, til
from bot.runtime import Runtime, runtime_of
from bot.text import extract_tags
from bot.til import CaptureOutcome
from handlers.payloads import (
    actor_id,
    channel_of,
    command_of,
    command_text,
    message_from,
    reaction_of,
    response_url_of,
    slack_id,
    slack_ts,
    workspace_of,
)
from storage.models import TilSource

TIL_COMMAND = "/til"
SEARCH_WORD = "search"
HELP_WORDS = {"", "help"}

_SHORTCUT_NOTICES = {
    CaptureOutcome.ALREADY_SAVED: "til_already_saved",
    CaptureOutcome.BOT_MESSAGE: "til_bot_message",
    CaptureOutcome.EMPTY: "til_empty_message",
}


async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Keyword TILs, and edits and deletions of kept messages (called by handlers.events)."""
    runtime = runtime_of(context)
    team_id = str(context.team_id)
    subtype = event.get("subtype")
    channel_id = slack_id(event.get("channel"))
    capture: til.Capture | None = None
    if event.get("channel_type") == "im" or channel_id is None:
        return  # a DM with the bot is private (reflections), never team knowledge
    if subtype is None:
        message = message_from(team_id, channel_id, event)
        if message is not None and til.announces_til(message):
            capture = await _capture_keyword(runtime, message, await workspace_of(context))
    elif subtype == "message_changed":
        message = message_from(team_id, channel_id, event.get("message"))
        if message is not None:
            capture = await runtime.call(
                til.sync_edited_message, message=message, workspace=await workspace_of(context)
            )
    elif subtype == "message_deleted" and (deleted_ts := slack_ts(event.get("deleted_ts"))):
        await runtime.call(
            til.forget_deleted_message,
            team_id=team_id,
            channel_id=channel_id,
            message_ts=deleted_ts,
        )
    _confirm_after_ack(context, capture)


async def capture_post(team_id: str, event: dict[str, Any], runtime: Runtime) -> bool:
    """A channel post taken by the HTTP gate without Bolt (handlers.events.take_channel_post):
    captured and confirmed like on_message's. False, for Bolt to take it, until a listener has
    learned the workspace's address (the TIL's link is built from it)."""
    workspace = runtime.workspace_urls.get(team_id)
    if workspace is None:
        return False
    channel_id = slack_id(event.get("channel"))
    message = None if channel_id is None else message_from(team_id, channel_id, event)
    if message is not None and til.announces_til(message):
        capture = await _capture_keyword(runtime, message, workspace)
        runtime.kick(capture.follow_up if capture else None)
    return True


async def _capture_keyword(
    runtime: Runtime, message: til.SlackMessage, workspace: str | None
) -> til.Capture | None:
    return await runtime.call_batched(til.capture_keyword_messages, (message, workspace))


async def on_reaction_removed(event: dict[str, Any], context: AsyncBoltContext) -> None:
    await _count_reaction(event, context, added=False)


async def _count_reaction(event: dict[str, Any], context: AsyncBoltContext, *, added: bool) -> None:
    """People's reactions to TILs, not the bot's own :books:."""
    reaction = reaction_of(event)
    if reaction is None or reaction.user_id == context.bot_user_id:
        return
    await runtime_of(context).call(
        til.record_reaction,
        team_id=str(context.team_id),
        channel_id=reaction.channel_id,
        message_ts=reaction.message_ts,
        user_id=reaction.user_id,
        reaction=reaction.name,
        added=added,
    )


async def on_reaction_added(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """The capture emoji saves the message (called by handlers.events)."""
    runtime = runtime_of(context)
    reaction = reaction_of(event)
    capture = None
    if reaction is not None and reaction.name == runtime.settings.capture_emoji:
        capture = await runtime.call(
            til.capture_reacted_message,
            token=context.bot_token,
            team_id=str(context.team_id),
            channel_id=reaction.channel_id,
            message_ts=reaction.message_ts,
            reactor_id=reaction.user_id,
        )
    _confirm_after_ack(context, capture)
    await _count_reaction(event, context, added=True)


async def handle_til_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    runtime = runtime_of(context)
    text = command_text(command).strip()
    word = _til_word(text)
    if word == "til":
        reply = await _save(command, str(context.team_id), text, runtime, token=context.bot_token)
    elif word == SEARCH_WORD:
        query = text.partition(" ")[2].strip()
        if not query:
            reply = blocks.notice("til_search_empty_query")
        else:
            hits = await runtime.call(til.search, team_id=str(context.team_id), query=query)
            reply = blocks.search_results(query, hits)
    else:
        reply = blocks.usage(runtime.settings.capture_emoji)
    await ack(**blocks.ephemeral(reply))


def _til_word(text: str) -> str:
    """What /til's text asks for: "help", a search, or to keep a "til"."""
    first_word = text.partition(" ")[0].lower()
    if first_word in HELP_WORDS:
        return "help"
    return SEARCH_WORD if first_word == SEARCH_WORD else "til"


async def take_command(
    command: dict[str, Any], team_id: str, text: str, runtime: Runtime
) -> blocks.Reply | None:
    """/til with a TIL, answered by the HTTP gate without Bolt (handlers.gate) as
    handle_til_command would; None, for Bolt to take it, for anything else."""
    if _til_word(text) != "til":
        return None
    return blocks.ephemeral(await _save(command, team_id, text, runtime, token=None))


async def _save(
    command: dict[str, Any], team_id: str, text: str, runtime: Runtime, *, token: str | None
) -> list[blocks.Block]:
    follow_up = await runtime.call_batched(
        til.save_command_tils, command_of(command, team_id, text)
    )
    runtime.kick(follow_up, token=token)
    return blocks.saved(extract_tags(text))


async def handle_save_til_shortcut(
    ack: AsyncAck, shortcut: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    runtime = runtime_of(context)
    channel_id, captured_by = channel_of(shortcut), actor_id(shortcut)
    message = message_from(str(context.team_id), channel_id or "", shortcut.get("message"))
    unreadable = channel_id is None or response_url_of(shortcut) is None
    if message is None or captured_by is None or unreadable:
        await ack()  # nothing readable to keep; Slack never retries a shortcut
        return
    capture = await runtime.call(
        til.capture_message,
        message=message,
        source=TilSource.SHORTCUT,
        captured_by=captured_by,
        workspace=await workspace_of(context),
    )
    await ack()
    _confirm_after_ack(context, capture)
    reply = (
        blocks.saved(extract_tags(message.text))
        if capture.outcome is CaptureOutcome.SAVED
        else blocks.notice(_SHORTCUT_NOTICES[capture.outcome])
    )
    await respond(**blocks.ephemeral(reply))


def _confirm_after_ack(context: AsyncBoltContext, capture: til.Capture | None) -> None:
    """Run the stored confirmation on its own pool; it never delays the ack."""
    if capture is not None:
        runtime_of(context).kick(capture.follow_up, token=context.bot_token)


def register(app: AsyncApp) -> None:
    app.command(TIL_COMMAND)(handle_til_command)
    app.shortcut(blocks.SAVE_TIL_SHORTCUT)(handle_save_til_shortcut)
