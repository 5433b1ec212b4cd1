"""Reading Slack message text: #tags, mentions, channel links and the TIL keyword."""

from __future__ import annotations

import re

# A #tag not inside Slack markup such as <#C123|channel> or an &#...; entity.
_HASHTAG = re.compile(r"(?<![<\w&/#])#([^\W_][\w\-.+]*)", re.UNICODE)
_TIL_KEYWORD = re.compile(
    r"^[\s*_~>]*(?:til\b|today\s+i\s+(?:learned|learnt)\b)", re.IGNORECASE | re.UNICODE
)
MAX_TAG_LENGTH = 80


def normalise_tag(raw: str) -> str:
    """The canonical form of a tag: no leading '#', lower case, no trailing punctuation."""
    return raw.lstrip("#").rstrip(".-+").lower()[:MAX_TAG_LENGTH]


def extract_tags(text: str) -> tuple[str, ...]:
    """Distinct normalised #tags in order of first appearance."""
    tags = (normalise_tag(match) for match in _HASHTAG.findall(text))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


# With should_escape, Slack turns "#name" into a channel link when a channel has that name.
# Ids are at most 32 characters, the columns that keep them; a longer one is not a reference.
_CHANNEL_LINK = re.compile(r"<#[CG][A-Z0-9]{1,31}\|([^>]+)>")
_CHANNEL_REFERENCE = re.compile(r"^<#([CG][A-Z0-9]{1,31})(?:\|[^>]*)?>$")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{1,31})(?:\|[^>]*)?>")


def command_tags(text: str) -> tuple[str, ...]:
    """#tags in the text of an escaped slash command, including those Slack made channel links."""
    return extract_tags(_CHANNEL_LINK.sub(lambda match: "#" + match[1], text))


def mentioned_users(text: str) -> list[str]:
    """User ids of <@U…> mentions, in order, each once."""
    return list(dict.fromkeys(_USER_MENTION.findall(text)))


def channel_reference(word: str) -> str | None:
    """The channel id of a word that is exactly a channel link (`<#C123|name>`), else None."""
    match = _CHANNEL_REFERENCE.match(word)
    return match[1] if match else None


def is_til_text(text: str) -> bool:
    """Whether a message announces itself as a TIL ("TIL", "TIL:", "til -", "Today I learned")."""
    return bool(_TIL_KEYWORD.match(text))


_MARKUP = re.compile(r"<([@#!]?)([^>|]+)(?:\|([^>]*))?>")


def without_markup(text: str) -> str:
    """Slack message text made plain enough to quote inside a link: mentions, channel links and
    URLs become their labels; entities (&lt;) stay, as Slack expects them."""

    def label(match: re.Match[str]) -> str:
        sigil, target, shown = match[1], match[2], match[3]
        if sigil == "@":
            return "@" + (shown or target)
        if sigil == "#":
            return "#" + (shown or target)
        if sigil == "!":
            return "@" + (shown or target.split("^")[0])
        return shown or target

    return " ".join(_MARKUP.sub(label, text).split())
