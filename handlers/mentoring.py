"""`/learnloop mentor …` and the Skip / End buttons on a mentoring pair's intro."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot import blocks, mentoring
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from bot.text import command_tags
from handlers.payloads import actor_id, record_id, response_url_of
from storage.models import MentorSide, PairStatus

MENTOR_WORD = "mentor"
_SIDES = {side.value: side for side in MentorSide}
_SWITCH = {"on": True, "off": False}
_BUTTONS = {blocks.MENTOR_SKIP: PairStatus.SKIPPED, blocks.MENTOR_END: PairStatus.ENDED}


async def mentor_command(
    words: list[str], command: dict[str, Any], context: AsyncBoltContext
) -> list[blocks.Block]:
    """The reply to `/learnloop mentor <words>`; usage help for anything it cannot read."""
    runtime = runtime_of(context)
    team_id, user_id = str(context.team_id), command["user_id"]
    verb, rest = (words[0].lower(), words[1:]) if words else ("", [])
    tags = list(command_tags(" ".join(rest)))
    if not words:
        shown = await runtime.call(mentoring.overview, team_id=team_id, user_id=user_id)
        return blocks.mentor_overview(user_id, shown)
    if verb in _SIDES and rest and len(tags) == len(rest):
        recorded, shown = await runtime.call(
            mentoring.sign_up,
            team_id=team_id,
            user_id=user_id,
            side=_SIDES[verb],
            tags=tags,
            channel_id=command["channel_id"],
        )
        return blocks.mentor_signed_up(verb, recorded, shown)
    if verb == "stop" and (not rest or (len(rest) == 1 and rest[0].lower() in _SIDES)):
        side = rest[0].lower() if rest else "both"
        sides = [_SIDES[side]] if rest else list(MentorSide)
        removed = await runtime.call(
            mentoring.withdraw, team_id=team_id, user_id=user_id, sides=sides
        )
        return blocks.notice(f"mentor_stopped_{side}" if removed else "mentor_nothing_to_stop")
    if verb == "end" and not rest:
        return await _end_pairs(team_id, user_id, context)
    settings = _rhythm_change(verb, rest)
    if settings is None:
        return blocks.notice("mentor_usage")
    try:
        shown = await runtime.call(
            mentoring.set_rhythm,
            token=context.bot_token,
            team_id=team_id,
            actor_id=user_id,
            managers=runtime.settings.managers,
            **settings,
        )
    except NotAllowed as refused:
        return blocks.notice("expert_not_allowed", needed=refused.needed)
    return blocks.mentor_rhythm_set(shown)


def _rhythm_change(verb: str, rest: list[str]) -> dict[str, Any] | None:
    """`every <N> weeks` or `cross-team on|off` as set_rhythm's arguments; None otherwise."""
    words = [word.lower() for word in rest]
    if verb == "every" and len(words) == 2 and words[1] in ("week", "weeks"):
        weeks = int(words[0]) if words[0].isdigit() else 0
        return {"every_weeks": weeks} if 1 <= weeks <= mentoring.MAX_EVERY_WEEKS else None
    if verb == "cross-team" and len(words) == 1 and words[0] in _SWITCH:
        return {"cross_team": _SWITCH[words[0]]}
    return None


async def _end_pairs(team_id: str, user_id: str, context: AsyncBoltContext) -> list[blocks.Block]:
    runtime = runtime_of(context)
    ended = await runtime.call(mentoring.end_pairs, team_id=team_id, user_id=user_id)
    for closed in ended:
        runtime.kick(closed.follow_up, token=context.bot_token)
    if not ended:
        return blocks.notice("mentor_nothing_to_end")
    others = [
        closed.pair.seeker_id if closed.pair.mentor_id == user_id else closed.pair.mentor_id
        for closed in ended
        if closed.pair is not None
    ]
    return blocks.notice("mentor_ended", people=", ".join(f"<@{other}>" for other in others))


async def handle_pair_button(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    """Skip this round / End pairing: only the two people in the pair may."""
    pair_id, user_id = record_id(action.get("value")), actor_id(body)
    status = _BUTTONS.get(str(action.get("action_id")))
    if pair_id is None or user_id is None or status is None:
        await ack()
        return
    runtime = runtime_of(context)
    closed = await runtime.call(
        mentoring.close_pair,
        team_id=str(context.team_id),
        pair_id=pair_id,
        user_id=user_id,
        status=status,
    )
    await ack()
    if closed.outcome is mentoring.Closing.DONE:
        runtime.kick(closed.follow_up, token=context.bot_token)
        return
    if response_url_of(body) is None:
        return  # nowhere to answer privately
    if closed.outcome is mentoring.Closing.NOT_THEIRS and closed.pair is not None:
        people = {"mentor_id": closed.pair.mentor_id, "seeker_id": closed.pair.seeker_id}
        reply = blocks.notice("mentor_not_your_pair", **people)
    else:
        reply = blocks.notice("mentor_pair_closed")
    await respond(**blocks.ephemeral(reply))


def register(app: AsyncApp) -> None:
    for action_id in _BUTTONS:
        app.action(action_id)(handle_pair_button)
