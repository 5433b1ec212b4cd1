"""Reading Slack payloads the same way in every feature.

Slack signs whatever shape a payload has, so listeners read ids, timestamps and texts through
these functions: a field that is missing or of the wrong type reads as None (or no text), and
the listener acknowledges and ignores what it cannot use instead of failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from bot.runtime import runtime_of
from bot.slack_client import workspace_url_async
from bot.til import CommandText, SlackMessage

# Slack ids (T…, C…, U…, D…) and message timestamps ("1700000000.000100"), within the columns
# that store them (32 characters).
_SLACK_ID = re.compile(r"[A-Z0-9]{1,32}")
_SLACK_TS = re.compile(r"[0-9]{1,15}\.[0-9]{1,16}")
_RECORD_ID = re.compile(r"#?([0-9]{1,10})")
_REACTION = re.compile(r"[^\s\x00]{1,100}")
MAX_RECORD_ID = 2**31 - 1
"""The largest id an INTEGER primary key holds (PostgreSQL's integer)."""


def slack_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _SLACK_ID.fullmatch(value) else None


def slack_ts(value: Any) -> str | None:
    return value if isinstance(value, str) and _SLACK_TS.fullmatch(value) else None


def text_of(value: Any) -> str:
    """A text field as stored: no text unless it is a string, and no NUL characters (Slack never
    sends them in a message, and PostgreSQL cannot store them)."""
    return value.replace("\x00", "") if isinstance(value, str) else ""


def command_text(command: dict[str, Any]) -> str:
    """What the person typed after the command."""
    return text_of(command.get("text"))


def is_command_form(command: dict[str, Any]) -> bool:
    """Whether a slash command carries what command_of reads, as Slack always sends it."""
    return all(isinstance(command.get(key), str) for key in _COMMAND_FIELDS)


_COMMAND_FIELDS = ("channel_id", "user_id", "response_url")


def command_of(command: dict[str, Any], team_id: str, text: str) -> CommandText:
    """A slash command's text with where it came from and where to answer (Slack always sends
    these three)."""
    return CommandText(
        team_id=team_id,
        channel_id=command["channel_id"],
        user_id=command["user_id"],
        text=text,
        response_url=command["response_url"],
    )


def record_id(value: Any) -> int | None:
    """A row id typed by a person (`42`, `#42`) or carried by a button; None for anything else,
    including numbers no row can have."""
    match = _RECORD_ID.fullmatch(value) if isinstance(value, str) else None
    number = int(match[1]) if match else 0
    return number if 1 <= number <= MAX_RECORD_ID else None


def actor_id(body: dict[str, Any]) -> str | None:
    """Who clicked, submitted or chose a shortcut."""
    user = body.get("user")
    return slack_id(user.get("id")) if isinstance(user, dict) else None


def channel_of(body: dict[str, Any]) -> str | None:
    channel = body.get("channel")
    return slack_id(channel.get("id")) if isinstance(channel, dict) else None


async def workspace_of(context: AsyncBoltContext) -> str | None:
    """The workspace's URL: from Bolt's authorization when it has it (OAuth installations),
    otherwise from auth.test, once per token and process; None when Slack cannot say now.
    The runtime keeps it, so that the HTTP gate can capture the workspace's next TILs itself
    (handlers.til.capture_post)."""
    authorized = context.authorize_result
    try:
        url = authorized.url if authorized is not None and authorized.url else None
        url = url or await workspace_url_async(context.client)
    except SlackApiError:
        return None  # the TIL's confirmation asks again for its link
    if context.team_id:
        runtime_of(context).workspace_urls[context.team_id] = url
    return url


def response_url_of(body: dict[str, Any]) -> str | None:
    url = body.get("response_url")
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def message_from(team_id: str, channel_id: str, message: Any) -> SlackMessage | None:
    """A message payload (an event, an edit's new message, a shortcut's message) as LearnLoop
    needs it; None when it has no readable ts, or an author or thread of the wrong type."""
    if not isinstance(message, dict) or slack_ts(message.get("ts")) is None:
        return None
    user, thread_ts, bot_id = (message.get(key) for key in ("user", "thread_ts", "bot_id"))
    if (user is not None and slack_id(user) is None) or (
        thread_ts is not None and slack_ts(thread_ts) is None
    ):
        return None
    return SlackMessage.from_payload(
        team_id,
        channel_id,
        {
            "ts": message["ts"],
            "user": user,
            "text": text_of(message.get("text")),
            "thread_ts": thread_ts,
            "bot_id": bot_id if isinstance(bot_id, str) else None,
        },
    )


def posted_by_person(event: dict[str, Any]) -> bool:
    """A plain new message from a person: no subtype (edits, deletions), not a bot's, with the
    channel, author and ts every feature reads."""
    return (
        event.get("subtype") is None
        and not event.get("bot_id")
        and slack_id(event.get("user")) is not None
        and slack_id(event.get("channel")) is not None
        and slack_ts(event.get("ts")) is not None
    )


def thread_of_reply(event: dict[str, Any]) -> str | None:
    """The thread a message replies in; None for a message that is not a reply."""
    thread_ts = slack_ts(event.get("thread_ts"))
    return thread_ts if thread_ts and thread_ts != event.get("ts") else None


@dataclass(frozen=True)
class Reaction:
    """A person's emoji on a message (reaction_added, reaction_removed)."""

    user_id: str
    name: str
    channel_id: str
    message_ts: str


def reaction_of(event: dict[str, Any]) -> Reaction | None:
    """The reaction, or None when it is not on a message or a field is unreadable."""
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return None
    user, channel = slack_id(event.get("user")), slack_id(item.get("channel"))
    ts, name = slack_ts(item.get("ts")), event.get("reaction")
    if user is None or channel is None or ts is None or not isinstance(name, str):
        return None
    return Reaction(user, name, channel, ts) if _REACTION.fullmatch(name) else None


def input_value(view: dict[str, Any], block_id: str, action_id: str) -> str:
    """The text a person typed in a modal's input, or no text."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(action_id) if isinstance(block, dict) else None
    return text_of(element.get("value")) if isinstance(element, dict) else ""
