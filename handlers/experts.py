"""/expert: the expert directory. Each subcommand parses its words and calls one service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import blocks, experts
from bot.dates import parse_until
from bot.roles import NotAllowed
from bot.runtime import Runtime, runtime_of
from bot.text import command_tags, mentioned_users
from handlers.payloads import command_text

EXPERT_COMMAND = "/expert"


@dataclass(frozen=True)
class ExpertCommand:
    """The typed words of one /expert invocation."""

    runtime: Runtime
    token: str | None
    team_id: str
    user_id: str
    rest: str

    @property
    def tags(self) -> list[str]:
        return list(command_tags(self.rest))


Subcommand = Callable[[ExpertCommand], Awaitable[list[blocks.Block]]]


async def _change_experts(command: ExpertCommand, *, add: bool) -> list[blocks.Block]:
    if not command.tags:
        return blocks.notice("expert_no_tags")
    result = await command.runtime.call(
        experts.add_experts if add else experts.remove_experts,
        token=command.token,
        team_id=command.team_id,
        actor_id=command.user_id,
        user_ids=mentioned_users(command.rest),
        tags=command.tags,
        managers=command.runtime.settings.managers,
    )
    return blocks.directory_change(result.changed, result.unchanged, added=add)


async def _add(command: ExpertCommand) -> list[blocks.Block]:
    return await _change_experts(command, add=True)


async def _remove(command: ExpertCommand) -> list[blocks.Block]:
    return await _change_experts(command, add=False)


async def _list(command: ExpertCommand) -> list[blocks.Block]:
    tag = command.tags[0] if command.tags else None
    found = await command.runtime.call(
        experts.directory, team_id=command.team_id, tag=tag, now=datetime.now(UTC)
    )
    return blocks.directory(found.declared, found.tag, found.learned)


async def _away(command: ExpertCommand) -> list[blocks.Block]:
    try:
        until = parse_until(command.rest, datetime.now(UTC).date())
    except ValueError:
        return blocks.notice("expert_usage")
    await command.runtime.call(
        experts.set_away, team_id=command.team_id, user_id=command.user_id, until=until
    )
    when = f"until {until.isoformat()} (included)" if until else "until you're back"
    return blocks.notice("expert_away", until=when)


async def _back(command: ExpertCommand) -> list[blocks.Block]:
    await command.runtime.call(experts.set_back, team_id=command.team_id, user_id=command.user_id)
    return blocks.notice("expert_back")


async def _change_follows(command: ExpertCommand, *, follow: bool) -> list[blocks.Block]:
    if not command.tags:
        return blocks.notice("expert_usage")
    await command.runtime.call(
        experts.follow if follow else experts.unfollow,
        team_id=command.team_id,
        user_id=command.user_id,
        tags=command.tags,
    )
    tags = ", ".join(f"`#{tag}`" for tag in command.tags)
    return blocks.notice("expert_following" if follow else "expert_unfollowed", tags=tags)


async def _follow(command: ExpertCommand) -> list[blocks.Block]:
    return await _change_follows(command, follow=True)


async def _unfollow(command: ExpertCommand) -> list[blocks.Block]:
    return await _change_follows(command, follow=False)


async def _alias(command: ExpertCommand) -> list[blocks.Block]:
    if len(command.tags) != 2:
        return blocks.notice("expert_alias_usage")
    alias, tag = command.tags
    await command.runtime.call(
        experts.add_alias,
        token=command.token,
        team_id=command.team_id,
        actor_id=command.user_id,
        alias=alias,
        tag=tag,
        managers=command.runtime.settings.managers,
    )
    return blocks.notice("expert_alias_added", alias=alias, tag=tag)


SUBCOMMANDS: dict[str, Subcommand] = {
    "add": _add,
    "remove": _remove,
    "list": _list,
    "away": _away,
    "back": _back,
    "follow": _follow,
    "unfollow": _unfollow,
    "alias": _alias,
}


async def handle_expert_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    word, _, rest = command_text(command).strip().partition(" ")
    subcommand = SUBCOMMANDS.get(word.lower())
    if subcommand is None:
        reply = blocks.notice("expert_usage")
    else:
        parsed = ExpertCommand(
            runtime=runtime_of(context),
            token=context.bot_token,
            team_id=str(context.team_id),
            user_id=command["user_id"],
            rest=rest.strip(),
        )
        try:
            reply = await subcommand(parsed)
        except NotAllowed as refused:
            reply = blocks.notice("expert_not_allowed", needed=refused.needed)
    await ack(**blocks.ephemeral(reply))


def register(app: AsyncApp) -> None:
    app.command(EXPERT_COMMAND)(handle_expert_command)
