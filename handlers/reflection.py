"""/reflect, and answers in a prompt's thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import blocks, reflection
from bot.dates import parse_until
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from handlers.payloads import command_text, posted_by_person, record_id, text_of, thread_of_reply
from storage.models import ReflectionSchedule

REFLECT_COMMAND = "/reflect"
CHANGES = {"pause": "paused", "resume": "resumed", "delete": "deleted"}


async def handle_reflect_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    words = command_text(command).split()
    action = words[0].lower() if words else "help"
    try:
        reply = await _reflect(action, words[1:], command, context)
    except NotAllowed as refused:
        reply = blocks.notice("expert_not_allowed", needed=refused.needed)
    except reflection.ScheduleError as problem:
        reply = blocks.notice("reflect_bad_schedule", problem=str(problem))
    await ack(**blocks.ephemeral(reply))


async def _reflect(
    action: str, words: list[str], command: dict[str, Any], context: AsyncBoltContext
) -> list[blocks.Block]:
    runtime = runtime_of(context)
    team_id, user_id = str(context.team_id), command["user_id"]
    managers = runtime.settings.managers
    editing = record_id(words[0]) if action == "edit" and words else None
    if action == "schedule" or editing is not None:
        if editing is not None:
            words.pop(0)
        saved: tuple[ReflectionSchedule, list[datetime]] | None
        try:
            spec = reflection.parse_schedule(words)
        except reflection.ScheduleError as problem:
            return blocks.notice("reflect_bad_schedule", problem=str(problem))
        if editing is None:
            saved = await runtime.call(
                reflection.create_schedule,
                token=context.bot_token,
                team_id=team_id,
                actor_id=user_id,
                channel_id=command["channel_id"],
                spec=spec,
                managers=managers,
            )
        else:
            saved = await runtime.call(
                reflection.edit_schedule,
                token=context.bot_token,
                team_id=team_id,
                actor_id=user_id,
                schedule_id=editing,
                spec=spec,
                managers=managers,
            )
            if saved is None:
                return blocks.notice("reflect_unknown", schedule_id=str(editing))
        schedule, upcoming = saved
        runs = ", ".join(reflection.local(run, schedule) for run in upcoming)
        return blocks.notice(
            "reflect_scheduled", description=reflection.describe(schedule), next_runs=runs
        )
    if action == "prompts":
        return await _prompts(words, team_id, user_id, context)
    if action in ("mute", "unmute"):
        return await _mute(action, words, team_id, user_id, context)
    if action == "list":
        found = await runtime.call(reflection.list_schedules, team_id=team_id)
        return blocks.schedules(
            [reflection.describe(s) + (" (paused)" if s.paused else "") for s in found]
        )
    if action == "now" and not words:
        # Without an id: this channel's schedule, when it has exactly one.
        found = await runtime.call(reflection.list_schedules, team_id=team_id)
        here = [s for s in found if s.channel_id == command["channel_id"]]
        if len(here) != 1:
            return blocks.notice("reflect_now_which", count=str(len(here)))
        words = [str(here[0].id)]
    schedule_id = record_id(words[0]) if len(words) == 1 else None
    if action in (*CHANGES, "now") and schedule_id is not None:
        if action == "now":
            run = await runtime.call(
                reflection.send_now,
                token=context.bot_token,
                team_id=team_id,
                actor_id=user_id,
                schedule_id=schedule_id,
                managers=managers,
            )
            found_one = run is not None
            reply = blocks.notice("reflect_sent", schedule_id=str(schedule_id))
        else:
            changed = await runtime.call(
                reflection.change_schedule,
                token=context.bot_token,
                team_id=team_id,
                actor_id=user_id,
                schedule_id=schedule_id,
                action=action,
                managers=managers,
            )
            found_one = changed is not None
            reply = blocks.notice(
                "reflect_changed", schedule_id=str(schedule_id), action=CHANGES[action]
            )
        return (
            reply if found_one else blocks.notice("reflect_unknown", schedule_id=str(schedule_id))
        )
    return blocks.notice("reflect_usage")


async def _prompts(
    words: list[str], team_id: str, user_id: str, context: AsyncBoltContext
) -> list[blocks.Block]:
    """`/reflect prompts` lists the sets; `/reflect prompts add <set> <text>` (managers)."""
    runtime = runtime_of(context)
    if not words:
        sets = await runtime.call(reflection.prompt_sets, team_id=team_id)
        lines = [f"`{s.name}`: {s.title} ({len(s.prompts)} prompts)" for s in sets.values()]
        return blocks.notice("reflect_sets", sets="\n".join(lines))
    if len(words) < 3 or words[0].lower() != "add":
        return blocks.notice("reflect_prompts_usage")
    set_name, text = words[1].lower(), " ".join(words[2:])
    size = await runtime.call(
        reflection.add_prompt,
        token=context.bot_token,
        team_id=team_id,
        actor_id=user_id,
        set_name=set_name,
        text=text,
        managers=runtime.settings.managers,
    )
    return blocks.notice("reflect_prompt_added", set_name=set_name, size=str(size))


async def _mute(
    action: str, words: list[str], team_id: str, user_id: str, context: AsyncBoltContext
) -> list[blocks.Block]:
    runtime = runtime_of(context)
    if action == "unmute":
        await runtime.call(reflection.unmute, team_id=team_id, user_id=user_id)
        return blocks.notice("reflect_unmuted")
    try:
        until = parse_until(" ".join(words), datetime.now(UTC).date())
    except ValueError:
        return blocks.notice("reflect_mute_usage")
    await runtime.call(reflection.mute, team_id=team_id, user_id=user_id, until=until)
    when = f"until {until.isoformat()} (included)" if until else "until you unmute"
    return blocks.notice("reflect_muted", until=when)


async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """A reply in a prompt's thread, or a message in a DM that carried a prompt, is a
    reflection."""
    if not posted_by_person(event):
        return
    thread_ts = thread_of_reply(event)
    if event.get("channel_type") == "im" and not event.get("thread_ts"):
        runtime = runtime_of(context)
        sharing = await runtime.call(
            reflection.record_dm_response,
            team_id=str(context.team_id),
            dm_channel_id=event["channel"],
            ts=event["ts"],
            user_id=event["user"],
            text=text_of(event.get("text")),
        )
        runtime.kick(sharing, token=context.bot_token)
        return
    if thread_ts is None:
        return
    await runtime_of(context).call(
        reflection.record_response,
        team_id=str(context.team_id),
        channel_id=event["channel"],
        thread_ts=thread_ts,
        ts=event["ts"],
        user_id=event["user"],
        text=event.get("text", ""),
    )


def register(app: AsyncApp) -> None:
    app.command(REFLECT_COMMAND)(handle_reflect_command)
