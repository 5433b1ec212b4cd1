"""Every Block Kit message LearnLoop sends is built here, so they look alike and test alike."""

from __future__ import annotations

from typing import Any

from prompts import render
from storage.models import Til

Block = dict[str, Any]

SAVE_TIL_SHORTCUT = "save_til"
# Slack rejects section text over 3,000 characters.
MAX_SECTION_TEXT = 3000
SEARCH_SNIPPET_LENGTH = 280

_FAILURE_REASONS = {
    "not_in_channel": "I'm not a member of this channel",
    "channel_not_found": "I can't post in this conversation",
    "is_archived": "this channel is archived",
    "restricted_action": "posting here is restricted",
}


def escape_mrkdwn(text: str) -> str:
    """Escape text that did not come from Slack (Slack already escapes what it sends us)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tags_note(tags: list[str] | tuple[str, ...]) -> str:
    return " · " + " ".join(f"`#{tag}`" for tag in tags) if tags else ""


def usage(capture_emoji: str) -> list[Block]:
    return [_section(render("til_usage", capture_emoji=capture_emoji))]


def til_post_fallback(author_id: str, text: str) -> str:
    return f"{render('til_posted', author_id=author_id)}: {_clip(text, MAX_SECTION_TEXT)}"


def til_post(author_id: str, text: str, tags: tuple[str, ...]) -> list[Block]:
    """The channel message for a TIL shared with /til, attributed to its author."""
    blocks = [_context(render("til_posted", author_id=author_id)), _section(text)]
    if tags:
        blocks.append(_context(_tags_note(tags).removeprefix(" · ")))
    return blocks


def saved(tags: list[str] | tuple[str, ...]) -> list[Block]:
    return [_section(render("til_saved", tags_note=_tags_note(tags)))]


def saved_not_posted(tags: tuple[str, ...], reason: str) -> list[Block]:
    explained = _FAILURE_REASONS.get(reason, f"Slack answered `{reason}`")
    return [_section(render("til_saved_not_posted", tags_note=_tags_note(tags), reason=explained))]


def notice(name: str) -> list[Block]:
    """A one-line message from prompts/ with no placeholders (already saved, errors, ...)."""
    return [_section(render(name))]


def search_results(query: str, hits: list[tuple[Til, list[str]]]) -> list[Block]:
    """Results shown only to the searcher: a snippet, author, channel, date, tags, link."""
    if not hits:
        return [_section(render("til_search_no_results", query=query))]
    blocks: list[Block] = [_section(render("til_search_header", query=query))]
    for til, tags in hits:
        snippet = _clip(til.text, SEARCH_SNIPPET_LENGTH)
        link = f" <{til.permalink}|view>" if til.permalink else ""
        blocks.append({"type": "divider"})
        blocks.append(_section(f"{snippet}{link}"))
        blocks.append(
            _context(
                render(
                    "til_search_result_context",
                    author_id=til.author_id,
                    channel_id=til.channel_id,
                    date=til.created_at.strftime("%Y-%m-%d"),
                    tags_note=_tags_note(tags),
                )
            )
        )
    return blocks


def plain_text(blocks: list[Block]) -> str:
    """The notification fallback for a message: its section and context texts."""
    parts: list[str] = []
    for block in blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(element["text"] for element in block["elements"])
    return "\n".join(parts)
