"""TIL rules: what gets captured, from which path, and how it is confirmed.

Every capture function commits before returning, so the listener can ack a stored post. They
are idempotent: the same Slack message arriving twice (retry, or two capture paths) is stored
once and confirmed once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot import blocks, outbox
from bot.replies import tell_privately
from bot.slack_client import is_transient, message_permalink, workspace_url
from bot.text import extract_tags, is_til_text
from storage import til as til_store
from storage.models import Til, TilSource

logger = logging.getLogger(__name__)

CONFIRM_EMOJI = "books"
# Web API errors meaning a message cannot be fetched, now or on a retry.
_UNREACHABLE = {"channel_not_found", "not_in_channel", "thread_not_found", "message_not_found"}
MAX_TEXT_LENGTH = 40_000


@dataclass(frozen=True)
class SlackMessage:
    """A message as LearnLoop needs it, whichever payload it came from."""

    team_id: str
    channel_id: str
    ts: str
    user_id: str | None
    text: str
    thread_ts: str | None = None
    bot_id: str | None = None

    @property
    def from_bot(self) -> bool:
        return self.bot_id is not None or self.user_id is None

    @classmethod
    def from_payload(cls, team_id: str, channel_id: str, message: dict[str, Any]) -> SlackMessage:
        thread_ts = message.get("thread_ts")
        return cls(
            team_id=team_id,
            channel_id=channel_id,
            ts=str(message["ts"]),
            user_id=message.get("user"),
            text=str(message.get("text") or ""),
            thread_ts=thread_ts if thread_ts != message.get("ts") else None,
            bot_id=message.get("bot_id"),
        )


class CaptureOutcome(StrEnum):
    SAVED = "saved"
    ALREADY_SAVED = "already_saved"
    BOT_MESSAGE = "bot_message"
    EMPTY = "empty"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Capture:
    outcome: CaptureOutcome
    # The stored confirmation (:books:) to run after the ack.
    follow_up: outbox.Promised | None = None


@dataclass(frozen=True)
class _Candidate:
    """A message some capture path wants kept, with who captured it and how."""

    message: SlackMessage
    source: TilSource
    captured_by: str
    # The workspace's URL (auth.test's, as Bolt's authorization holds it), for the permalink.
    workspace: str | None


def capture_message(
    message: SlackMessage,
    *,
    session: Session,
    source: TilSource,
    captured_by: str,
    workspace: str | None,
) -> Capture:
    """Store a message as a TIL unless it is a bot's, empty, or already stored.

    The permalink is built from `workspace` and stored with the TIL; without it, the
    confirmation asks Slack for it."""
    [capture] = _keep([_Candidate(message, source, captured_by, workspace)], session=session)
    session.commit()
    return capture


def _keep(candidates: list[_Candidate], *, session: Session) -> list[Capture]:
    """capture_message for many messages at once, in the caller's transaction: one statement
    per table, whatever their number (the ingestion hot path)."""
    captures = [
        None if (refusal := _refusal(c.message)) is None else Capture(refusal) for c in candidates
    ]
    kept = [index for index, capture in enumerate(captures) if capture is None]
    ids = til_store.add_tils([_new_til(candidates[index]) for index in kept], session=session)
    saved = [(index, til_id) for index, til_id in zip(kept, ids, strict=True) if til_id]
    confirmations = outbox.enqueue_all(
        [_confirmation(candidates[index], til_id) for index, til_id in saved], session=session
    )
    for (index, til_id), follow_up in zip(saved, confirmations, strict=True):
        captures[index] = Capture(CaptureOutcome.SAVED, follow_up)
        message = candidates[index].message
        logger.info(
            "captured TIL %s from %s in %s/%s",
            til_id,
            candidates[index].source,
            message.team_id,
            message.channel_id,
        )
    return [capture or Capture(CaptureOutcome.ALREADY_SAVED) for capture in captures]


def _confirmation(candidate: _Candidate, til_id: int) -> tuple[str, str, dict[str, Any]]:
    """The :books: follow-up of a kept message (bot.outbox's team, task, args)."""
    message = candidate.message
    return (
        message.team_id,
        "til.confirm",
        {
            "til_id": til_id,
            "channel_id": message.channel_id,
            "message_ts": message.ts,
            "thread_ts": message.thread_ts,
            "linked": candidate.workspace is not None,
        },
    )


def _refusal(message: SlackMessage) -> CaptureOutcome | None:
    """Why a message cannot be a TIL, if it cannot."""
    if message.from_bot:
        return CaptureOutcome.BOT_MESSAGE
    if not message.text.strip():
        return CaptureOutcome.EMPTY
    return None


def _new_til(candidate: _Candidate) -> til_store.NewTil:
    message, workspace = candidate.message, candidate.workspace
    assert message.user_id is not None  # _refusal: not a bot's
    return til_store.NewTil(
        team_id=message.team_id,
        channel_id=message.channel_id,
        message_ts=message.ts,
        thread_ts=message.thread_ts,
        author_id=message.user_id,
        captured_by=candidate.captured_by,
        source=candidate.source,
        text=message.text[:MAX_TEXT_LENGTH],
        tags=extract_tags(message.text),
        permalink=(
            message_permalink(workspace, message.channel_id, message.ts, message.thread_ts)
            if workspace
            else None
        ),
    )


def announces_til(message: SlackMessage) -> bool:
    """Cheap test, no I/O: listeners use it to let ordinary chatter go without touching storage."""
    return not message.from_bot and is_til_text(message.text)


def capture_keyword_messages(
    batch: list[tuple[SlackMessage, str | None]], *, session: Session
) -> list[Capture | None]:
    """Keyword TILs of many (message, workspace URL) pairs, in one transaction: the hot path of
    ingestion, fed by a Batcher (see bot.batching). None for messages that are no TIL."""
    wanted = [
        _Candidate(message, TilSource.KEYWORD, message.user_id, workspace)
        if announces_til(message) and message.user_id is not None
        else None
        for message, workspace in batch
    ]
    captures = iter(_keep([c for c in wanted if c is not None], session=session))
    session.commit()
    return [None if c is None else next(captures) for c in wanted]


def capture_keyword_message(
    message: SlackMessage, *, workspace: str | None, session: Session
) -> Capture | None:
    """A channel message that starts with "TIL" is kept; None for any other message."""
    [capture] = capture_keyword_messages([(message, workspace)], session=session)
    return capture


def capture_reacted_message(
    team_id: str,
    channel_id: str,
    message_ts: str,
    *,
    reactor_id: str,
    session: Session,
    client: WebClient,
) -> Capture:
    """Fetch the message someone reacted to with the capture emoji and keep it."""
    if til_store.get_til_by_message(team_id, channel_id, message_ts, session=session):
        return Capture(CaptureOutcome.ALREADY_SAVED)
    session.rollback()  # hold no connection (nor SQLite's write lock) while Slack answers
    payload = fetch_message(client, channel_id, message_ts)
    if payload is None:
        return Capture(CaptureOutcome.NOT_FOUND)
    message = SlackMessage.from_payload(team_id, channel_id, payload)
    return capture_message(
        message,
        session=session,
        source=TilSource.REACTION,
        captured_by=reactor_id,
        workspace=workspace_url(client),
    )


def record_reaction(
    team_id: str,
    channel_id: str,
    message_ts: str,
    user_id: str,
    reaction: str,
    *,
    added: bool,
    session: Session,
) -> bool:
    """Reactions to TILs are what summaries highlight; retried events count once."""
    changed = til_store.record_reaction(
        team_id, channel_id, message_ts, user_id, reaction, added=added, session=session
    )
    session.commit()
    return changed


def fetch_message(client: WebClient, channel_id: str, ts: str) -> dict[str, Any] | None:
    """One message by ts: top-level messages from history, thread replies from replies.

    None when Slack says it is gone or out of reach; other errors (rate limits once the client's
    retries are spent, Slack outages) propagate so the event is retried.
    """
    try:
        history = client.conversations_history(
            channel=channel_id, latest=ts, inclusive=True, limit=1
        )
        found = _with_ts(history.get("messages", []), ts)
        if found is not None:
            return found
        replies = client.conversations_replies(
            channel=channel_id, ts=ts, oldest=ts, latest=ts, inclusive=True
        )
    except SlackApiError as error:
        if error.response.get("error") in _UNREACHABLE:
            return None
        raise
    return _with_ts(replies.get("messages", []), ts)


def _with_ts(messages: list[dict[str, Any]], ts: str) -> dict[str, Any] | None:
    return next((dict(message) for message in messages if message.get("ts") == ts), None)


def confirm_capture(
    til_id: int,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None,
    linked: bool,
    *,
    session: Session,
    client: WebClient,
) -> None:
    """After the ack (a follow-up, safe to run twice): mark the message with :books:, and store
    the TIL's permalink if the capture could not build it (a TIL deleted meanwhile is left
    alone: the update finds no row)."""
    try:
        client.reactions_add(channel=channel_id, timestamp=message_ts, name=CONFIRM_EMOJI)
    except SlackApiError as error:
        if error.response.get("error") != "already_reacted":
            raise
    if not linked:
        link = message_permalink(workspace_url(client), channel_id, message_ts, thread_ts)
        til_store.set_til_message(til_id, message_ts, link, session=session)
        session.commit()


def sync_edited_message(
    message: SlackMessage, *, workspace: str | None, session: Session
) -> Capture | None:
    """Keep a stored TIL in step with its edited message; an edit that adds "TIL" captures it.

    Returns the capture when the edit made a new TIL, None otherwise.
    """
    if message.from_bot:
        return None
    til = til_store.get_til_by_message(
        message.team_id, message.channel_id, message.ts, session=session
    )
    if til is None:
        return capture_keyword_message(message, workspace=workspace, session=session)
    text = message.text[:MAX_TEXT_LENGTH]
    if til.text != text:
        til_store.update_til_text(til, text, extract_tags(text), session=session)
        session.commit()
    return None


def forget_deleted_message(
    team_id: str, channel_id: str, message_ts: str, *, session: Session
) -> bool:
    """Remove the TIL of a deleted message; True when there was one."""
    til = til_store.get_til_by_message(team_id, channel_id, message_ts, session=session)
    if til is None:
        return False
    til_store.delete_til(til, session=session)
    session.commit()
    return True


@dataclass(frozen=True)
class CommandText:
    """A `/til <text>` or `/ask <text>` as the command delivered it: what a batch service stores
    before the ack, with the response_url its follow-up answers the user through."""

    team_id: str
    channel_id: str
    user_id: str
    text: str
    response_url: str


def save_command_tils(batch: list[CommandText], *, session: Session) -> list[outbox.Promised]:
    """`/til <text>`s that arrived together (bot.batching), stored in one transaction, each
    with the follow-up that shares it in the channel after the ack; returns those follow-ups."""
    ids = til_store.add_tils(
        [
            til_store.NewTil(
                team_id=command.team_id,
                channel_id=command.channel_id,
                message_ts=None,
                author_id=command.user_id,
                captured_by=command.user_id,
                source=TilSource.COMMAND,
                text=command.text[:MAX_TEXT_LENGTH],
                tags=extract_tags(command.text[:MAX_TEXT_LENGTH]),
            )
            for command in batch
        ],
        session=session,
    )
    promised = outbox.enqueue_all(
        [
            (command.team_id, "til.share", {"til_id": til_id, "response_url": command.response_url})
            for command, til_id in zip(batch, ids, strict=True)
        ],
        session=session,
    )
    session.commit()
    return promised


def share_command_til(
    til_id: int, response_url: str, *, session: Session, client: WebClient
) -> None:
    """Post a /til in its channel, attributed to its author, and link the TIL to that message
    (a follow-up: a TIL already shared or deleted is left alone).

    When Slack refuses (bot not in the channel, a DM it can't see), the TIL stays stored and
    the author is told why, privately, through the command's response_url; a Slack outage is
    raised, so the follow-up is tried again.
    """
    til = til_store.get_til(til_id, session=session)
    session.commit()
    if til is None or til.message_ts is not None:
        return
    tags = extract_tags(til.text)
    try:
        posted = client.chat_postMessage(
            channel=til.channel_id,
            text=blocks.til_post_fallback(til.author_id, til.text),
            blocks=blocks.til_post(til.author_id, til.text, tags),
            unfurl_links=False,
        )
        message_ts = str(posted["ts"])
        permalink = message_permalink(workspace_url(client), til.channel_id, message_ts)
    except SlackApiError as error:
        if is_transient(error):
            raise
        reason = str(error.response.get("error", "unknown_error"))
        logger.warning("TIL %s stored but not shared in %s: %s", til.id, til.channel_id, reason)
        tell_privately(response_url, blocks.saved_not_posted(tags, reason))
        return
    til_store.set_til_message(til_id, message_ts, permalink, session=session)
    session.commit()


def search(team_id: str, query: str, *, session: Session) -> list[tuple[Til, list[str]]]:
    """The workspace's best-matching TILs, each with its tags."""
    return [
        (til, til_store.list_tags(til.id, session=session))  # type: ignore[arg-type]
        for til in til_store.search_tils(team_id, query, session=session)
    ]
