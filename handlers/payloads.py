"""Reading message events the same way in every feature."""

from __future__ import annotations

from typing import Any


def posted_by_person(event: dict[str, Any]) -> bool:
    """A plain new message from a person: no subtype (edits, deletions), not a bot's."""
    return event.get("subtype") is None and not event.get("bot_id") and bool(event.get("user"))


def thread_of_reply(event: dict[str, Any]) -> str | None:
    """The thread a message replies in; None for a message that is not a reply."""
    thread_ts = event.get("thread_ts")
    return thread_ts if thread_ts and thread_ts != event.get("ts") else None
