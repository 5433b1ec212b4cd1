"""Reflection: leads schedule prompts, the team answers in the prompt's thread.

A schedule's row is the truth (its next run time included). The scheduler in `learnloop serve`
sweeps due schedules every 30 s; each run is first recorded under the unique key
(schedule, run time), so a run is sent once however many replicas sweep. A run missed while
the app was down is sent late if still within the grace time, else skipped and logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot import blocks, outbox
from bot.dates import TIME_OF_DAY, WEEKDAYS, end_of, wall_clock, weekday, zone
from bot.replies import post, post_dm
from bot.roles import require_lead_or_manager, require_manager
from bot.slack_client import ClientFor
from bot.text import channel_reference
from prompts.prompt_sets import PromptSet, load_prompt_sets
from storage import onboarding as onboarding_store
from storage import reflection as store
from storage.models import Frequency, ReflectionRun, ReflectionSchedule
from storage.types import utcnow

logger = logging.getLogger(__name__)

DEFAULT_PROMPT_SET = "weekly-retro"
# A DM message counts as an answer to the prompt delivered in that DM within this time.
DM_ANSWER_WINDOW = timedelta(days=7)
MAX_REMINDER_MINUTES = 7 * 24 * 60
_TICK = timedelta(seconds=1)
SET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
# The follow-up (bot.outbox) that shows a newcomer's answer to their buddy and lead.
SHARE_ONBOARDING_ANSWER = "onboarding.share_answer"


class ScheduleError(ValueError):
    """The schedule's words do not describe a schedule; the message says what is wrong."""


@dataclass(frozen=True)
class ScheduleSpec:
    frequency: Frequency
    day: int | None
    time_of_day: str
    timezone: str | None
    channel_id: str | None
    prompt_set: str
    dm: bool = False
    skip_holidays: str | None = None
    remind_after_minutes: int | None = None
    local: bool = False


def _is_number(word: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²", which int() refuses."""
    return word.isascii() and word.isdigit()


def parse_schedule(words: list[str]) -> ScheduleSpec:
    """`<daily|weekly|biweekly|monthly> [day] <HH:MM> [Area/City] [#channel] [set:<name>] [dm]`."""
    if not words or words[0].lower() not in {f.value for f in Frequency}:
        raise ScheduleError("start with daily, weekly, biweekly or monthly")
    frequency = Frequency(words[0].lower())
    rest = words[1:]
    day: int | None = None
    if frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
        try:
            day = weekday(rest.pop(0)) if rest else None
        except ValueError:
            day = None
        if day is None:
            raise ScheduleError("say which day, e.g. `weekly fri 16:00`")
    elif frequency is Frequency.MONTHLY:
        if not rest or not _is_number(rest[0]) or not 1 <= int(rest[0]) <= 28:
            raise ScheduleError("say which day of the month, 1 to 28, e.g. `monthly 1 09:30`")
        day = int(rest.pop(0))
    if not rest or not TIME_OF_DAY.match(rest[0]):
        raise ScheduleError("give the time as HH:MM, e.g. 09:30")
    hours, minutes = rest.pop(0).split(":")
    spec = {"timezone": None, "channel_id": None, "prompt_set": DEFAULT_PROMPT_SET}
    dm = False
    skip_holidays: str | None = None
    remind: int | None = None
    local = False
    for word in rest:
        if word.lower() == "dm":
            dm = True
        elif word.lower() == "local":
            local = True
        elif word.lower().startswith("remind:"):
            delay = word.split(":", 1)[1].lower().removesuffix("m")
            if not _is_number(delay) or not 1 <= int(delay) <= MAX_REMINDER_MINUTES:
                raise ScheduleError("give reminders in minutes, e.g. remind:120")
            remind = int(delay)
        elif word.lower().startswith("skip-holidays:"):
            skip_holidays = word.split(":", 1)[1].upper()
            _holidays(skip_holidays)
        elif (channel := channel_reference(word)) is not None:
            spec["channel_id"] = channel
        elif word.lower().startswith("set:"):
            spec["prompt_set"] = word[4:].lower()
        elif "/" in word:
            spec["timezone"] = word
        else:
            raise ScheduleError(f"I don't understand {word!r}")
    if not SET_NAME.match(str(spec["prompt_set"])):
        raise ScheduleError("a set's name is lower-case words joined by '-', e.g. set:weekly-retro")
    if spec["timezone"] is not None:
        _zone(spec["timezone"])
    if remind is not None and not dm:
        raise ScheduleError("reminders go by DM: add `dm` to remind those who have not answered")
    if local and not dm:
        raise ScheduleError("`local` times are for DMs: add `dm` too")
    return ScheduleSpec(
        frequency=frequency,
        day=day,
        time_of_day=f"{int(hours):02d}:{minutes}",
        timezone=spec["timezone"],
        channel_id=spec["channel_id"],
        prompt_set=str(spec["prompt_set"]),
        dm=dm,
        skip_holidays=skip_holidays,
        remind_after_minutes=remind,
        local=local,
    )


def prompt_sets(team_id: str, *, session: Session) -> dict[str, PromptSet]:
    """The built-in sets with the workspace's added prompts, and the workspace's own sets."""
    sets = dict(load_prompt_sets())
    for name, added in store.custom_prompts(team_id, session=session).items():
        base = sets.get(name)
        if base is None:
            sets[name] = PromptSet(name, name.replace("-", " ").capitalize(), "", tuple(added))
        else:
            sets[name] = replace(base, prompts=base.prompts + tuple(added))
    return sets


def _require_set(team_id: str, name: str, *, session: Session) -> None:
    sets = prompt_sets(team_id, session=session)
    if name not in sets:
        names = ", ".join(sorted(sets))
        raise ScheduleError(f"there is no prompt set {name!r}; try one of {names}")


def add_prompt(
    team_id: str,
    actor_id: str,
    set_name: str,
    text: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> int:
    """Managers add a prompt to a set (a new one, or a built-in); returns the set's size."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    if not SET_NAME.match(set_name):
        raise ScheduleError("a set's name is lower-case words joined by '-', e.g. onboarding")
    store.add_custom_prompt(team_id, set_name, text, actor_id, session=session)
    session.commit()
    return len(prompt_sets(team_id, session=session)[set_name].prompts)


def _holidays(region: str) -> holidays.HolidayBase:
    """A country's public holidays ("DE"), or a subdivision's ("US-CA")."""
    country, _, subdivision = region.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        raise ScheduleError(
            f"I don't know the holidays of {region!r}; use a country code such as DE or US-CA"
        ) from None


def _zone(name: str) -> ZoneInfo:
    try:
        return zone(name)
    except ValueError as error:
        raise ScheduleError(str(error)) from None


def next_runs(
    schedule: ReflectionSchedule, after: datetime, count: int, *, zone_name: str | None = None
) -> list[datetime]:
    """The next `count` run times after `after`, in UTC; the wall clock holds across DST.

    `zone_name` reads the schedule's wall-clock time in another zone (a member's, for `local`).
    """
    hour, minute = (int(part) for part in schedule.time_of_day.split(":"))
    zone = _zone(zone_name or schedule.timezone)
    fields: dict[str, object] = {"hour": hour, "minute": minute, "timezone": zone}
    if schedule.frequency is Frequency.DAILY:
        fields["day_of_week"] = "mon-fri"
    elif schedule.frequency is Frequency.MONTHLY:
        fields["day"] = schedule.day
    else:
        fields["day_of_week"] = WEEKDAYS[schedule.day or 0]
    trigger = CronTrigger(**fields)
    days_off = _holidays(schedule.skip_holidays) if schedule.skip_holidays else {}
    runs: list[datetime] = []
    cursor = after
    while len(runs) < count:
        fire = trigger.get_next_fire_time(None, cursor + timedelta(microseconds=1))
        cursor = fire
        if (
            schedule.frequency is Frequency.BIWEEKLY
            and _week(fire) % 2 != _week(schedule.anchor) % 2
        ):
            continue
        if fire.date() in days_off:  # the local date: `fire` is in the schedule's zone
            continue
        runs.append(fire.astimezone(ZoneInfo("UTC")))
    return runs


def next_run(schedule: ReflectionSchedule, after: datetime) -> datetime:
    """The schedule's next run: for `local`, the earliest of its members' zones."""
    return min(next_runs(schedule, after, 1, zone_name=zone) for zone in _zones(schedule))[0]


def _zones(schedule: ReflectionSchedule) -> list[str]:
    known = (schedule.local_zones or "").split(",") if schedule.local else []
    return sorted({schedule.timezone, *filter(None, known)})


def occurrence_index(schedule: ReflectionSchedule, day: date) -> int:
    """How many of the schedule's occurrences come before `day` (counted from its anchor), so
    members in every zone get the same prompt on the same local date."""
    start = schedule.anchor.astimezone(_zone(schedule.timezone)).date()
    days = (day - start).days
    if schedule.frequency is Frequency.DAILY:
        weeks, rest = divmod(days, 7)
        return weeks * 5 + sum((start.weekday() + i) % 7 < 5 for i in range(rest))
    if schedule.frequency is Frequency.WEEKLY:
        return days // 7
    if schedule.frequency is Frequency.BIWEEKLY:
        return days // 14
    return (day.year - start.year) * 12 + day.month - start.month


def _week(moment: datetime) -> int:
    return (moment.date() - datetime(2000, 1, 3).date()).days // 7  # weeks since a Monday


def create_schedule(
    team_id: str,
    actor_id: str,
    channel_id: str,
    spec: ScheduleSpec,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> tuple[ReflectionSchedule, list[datetime]]:
    """Leads and managers create schedules; the zone defaults to the lead's own."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    _require_set(team_id, spec.prompt_set, session=session)
    timezone = spec.timezone or client.users_info(user=actor_id)["user"].get("tz") or "UTC"
    schedule = ReflectionSchedule(
        team_id=team_id,
        channel_id=spec.channel_id or channel_id,
        created_by=actor_id,
        frequency=spec.frequency,
        day=spec.day,
        time_of_day=spec.time_of_day,
        timezone=timezone,
        prompt_set=spec.prompt_set,
        dm=spec.dm,
        skip_holidays=spec.skip_holidays,
        remind_after_minutes=spec.remind_after_minutes,
        local=spec.local,
    )
    upcoming = next_runs(schedule, utcnow(), 3)
    if schedule.local:
        schedule.local_zones = _member_zones(client, schedule.channel_id)
    schedule.next_run_at = next_run(schedule, utcnow())
    store.add_schedule(schedule, session=session)
    session.commit()
    return schedule, upcoming


def _leads_schedule(
    team_id: str,
    actor_id: str,
    schedule_id: int,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> ReflectionSchedule | None:
    """A schedule a lead or manager is changing; None when it is not this workspace's."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    return store.get_schedule(team_id, schedule_id, session=session)


def edit_schedule(
    team_id: str,
    actor_id: str,
    schedule_id: int,
    spec: ScheduleSpec,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> tuple[ReflectionSchedule, list[datetime]] | None:
    """Replace a schedule's rhythm, place and set; its history (runs, answers) stays."""
    schedule = _leads_schedule(team_id, actor_id, schedule_id, session, client, managers)
    if schedule is None:
        return None
    _require_set(team_id, spec.prompt_set, session=session)
    if spec.prompt_set != schedule.prompt_set:
        schedule.prompts_sent = 0
    schedule.frequency, schedule.day, schedule.time_of_day = (
        spec.frequency,
        spec.day,
        spec.time_of_day,
    )
    schedule.timezone = spec.timezone or schedule.timezone
    schedule.channel_id = spec.channel_id or schedule.channel_id
    schedule.prompt_set, schedule.dm = spec.prompt_set, spec.dm
    schedule.skip_holidays = spec.skip_holidays
    schedule.remind_after_minutes = spec.remind_after_minutes
    schedule.local = spec.local
    schedule.local_zones = _member_zones(client, schedule.channel_id) if spec.local else None
    upcoming = next_runs(schedule, utcnow(), 3)
    schedule.next_run_at = next_run(schedule, utcnow())
    session.add(schedule)
    session.commit()
    return schedule, upcoming


def list_schedules(team_id: str, *, session: Session) -> list[ReflectionSchedule]:
    return store.list_schedules(team_id, session=session)


def change_schedule(
    team_id: str,
    actor_id: str,
    schedule_id: int,
    action: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> ReflectionSchedule | None:
    """pause, resume or delete; None when the schedule is not this workspace's."""
    schedule = _leads_schedule(team_id, actor_id, schedule_id, session, client, managers)
    if schedule is None:
        return None
    if action == "delete":
        store.delete_schedule(schedule, session=session)
    else:
        schedule.paused = action == "pause"
        if not schedule.paused:
            schedule.next_run_at = next_run(schedule, utcnow())
        session.add(schedule)
    session.commit()
    return schedule


def send_now(
    team_id: str,
    actor_id: str,
    schedule_id: int,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> ReflectionRun | None:
    """`/reflect now <id>`: one prompt immediately, outside the schedule's rhythm."""
    schedule = _leads_schedule(team_id, actor_id, schedule_id, session, client, managers)
    if schedule is None:
        return None
    return _run(schedule, utcnow(), session=session, client=client)


def fire_due(now: datetime, grace: timedelta, *, session: Session, clients: ClientFor) -> list[int]:
    """Send every due run once; skip (and log) runs missed by more than the grace time."""
    sent = []
    for schedule in store.due_schedules(now, session=session):
        assert schedule.id is not None and schedule.next_run_at is not None
        client = clients(schedule.team_id)
        if client is None:
            continue
        run_at = schedule.next_run_at
        # For `local`, the run is for the members whose own clock shows the time now.
        zones = (
            {
                z
                for z in _zones(schedule)
                if next_runs(schedule, run_at - _TICK, 1, zone_name=z)[0] == run_at
            }
            if schedule.local
            else None
        )
        schedule.next_run_at = next_run(schedule, max(now, run_at))
        session.add(schedule)
        if now - run_at > grace:
            session.commit()
            logger.warning("reflection schedule %s missed its %s run; skipped", schedule.id, run_at)
            continue
        run = _run(schedule, run_at, session=session, client=client, zones=zones)
        if run is not None:
            sent.append(schedule.id)
    return sent


def _run(
    schedule: ReflectionSchedule,
    run_at: datetime,
    *,
    session: Session,
    client: WebClient,
    zones: set[str] | None = None,
) -> ReflectionRun | None:
    """Record the run under its unique key, then post it; None when it was already sent.

    With `zones` (a `local` schedule's run), only members in those zones get it, and the prompt
    is chosen by the local date, so every zone gets the same prompt that day.
    """
    prompt_set = prompt_sets(schedule.team_id, session=session)[schedule.prompt_set]
    index = schedule.prompts_sent
    if zones:
        index = occurrence_index(schedule, run_at.astimezone(_zone(min(zones))).date())
    prompt = prompt_set.prompts[index % len(prompt_set.prompts)]
    run = store.claim_run(schedule, run_at, prompt, session=session)
    if run is None:
        session.rollback()
        return None
    schedule.prompts_sent += 1
    session.add(schedule)
    session.commit()
    message = blocks.reflection_prompt(prompt, prompt_set.title)
    if schedule.dm:
        seen = _deliver_by_dm(
            run, schedule.channel_id, message, zones, session=session, client=client
        )
        if schedule.local and seen != schedule.local_zones:
            # Members joined, left or moved: the next run follows today's zones.
            schedule.local_zones = seen
            schedule.next_run_at = next_run(schedule, run_at)
            session.add(schedule)
            session.commit()
        return run
    try:
        ts = post(client, schedule.channel_id, message)
    except SlackApiError as error:
        logger.warning(
            "reflection schedule %s could not post in %s: %s",
            schedule.id,
            schedule.channel_id,
            error.response.get("error"),
        )
        return run
    store.mark_run_sent(run, ts, session=session)
    session.commit()
    return run


def _deliver_by_dm(
    run: ReflectionRun,
    channel_id: str,
    message: list[blocks.Block],
    zones: set[str] | None,
    *,
    session: Session,
    client: WebClient,
) -> str:
    """The prompt to each member of the channel by DM (only those in `zones`, if given): not
    bots, not the deactivated, not the muted; each member once per run, whatever retries
    happen. Returns the members' zones, comma-separated."""
    muted = store.muted_users(run.team_id, utcnow(), session=session)
    seen: set[str] = set()
    for user_id in channel_members(client, channel_id):
        user = client.users_info(user=user_id)["user"]
        if user.get("is_bot") or user.get("deleted"):
            continue
        zone = str(user.get("tz") or "UTC")
        seen.add(zone)
        if user_id in muted or (zones is not None and zone not in zones):
            continue
        deliver_dm(run, user_id, message, session=session, client=client)
    return ",".join(sorted(seen))


def deliver_dm(
    run: ReflectionRun,
    user_id: str,
    message: list[blocks.Block],
    *,
    session: Session,
    client: WebClient,
) -> bool:
    """A run's prompt to one person by DM, once whatever retries happen (their next messages
    in that DM answer it); False when they already got it. Commits."""
    delivery = store.claim_delivery(run, user_id, session=session)
    if delivery is None:
        return False
    session.commit()
    dm, ts = post_dm(client, user_id, message)
    store.set_delivery_message(delivery, dm, ts, session=session)
    store.mark_run_sent(run, None, session=session)  # summaries count runs by when sent
    session.commit()
    return True


def _member_zones(client: WebClient, channel_id: str) -> str:
    """The time zones of the channel's people (not bots), comma-separated."""
    zones = set()
    for user_id in channel_members(client, channel_id):
        user = client.users_info(user=user_id)["user"]
        if not user.get("is_bot") and not user.get("deleted"):
            zones.add(str(user.get("tz") or "UTC"))
    return ",".join(sorted(zones))


def channel_members(client: WebClient, channel_id: str) -> list[str]:
    """Every member id, following Slack's pagination."""
    members: list[str] = []
    cursor = None
    while True:
        page = client.conversations_members(channel=channel_id, cursor=cursor, limit=200)
        members.extend(page.get("members", []))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return members


def remind_due(now: datetime, *, session: Session, clients: ClientFor) -> list[int]:
    """One reminder per run to each member who has not answered a DM prompt in time."""
    muted: dict[str, set[str]] = {}
    reminded = []
    for delivery in store.deliveries_to_remind(now, session=session):
        assert delivery.id is not None and delivery.message_ts is not None
        if delivery.team_id not in muted:
            muted[delivery.team_id] = store.muted_users(delivery.team_id, now, session=session)
        client = clients(delivery.team_id)
        if client is None or delivery.user_id in muted[delivery.team_id]:
            continue
        if not store.claim_reminder(delivery.id, now, session=session):
            continue
        session.commit()
        post(
            client,
            delivery.dm_channel_id,
            blocks.notice("reflection_reminder"),
            thread_ts=delivery.message_ts,
        )
        reminded.append(delivery.id)
    return reminded


def record_dm_response(
    team_id: str, dm_channel_id: str, ts: str, user_id: str, text: str, *, session: Session
) -> outbox.Promised | None:
    """A message in a DM where a prompt was delivered lately answers the latest prompt. An
    answer to a newcomer's onboarding prompt is shared with their buddy and lead: returns the
    follow-up that does it, stored with the answer."""
    delivery = store.latest_delivery(team_id, dm_channel_id, user_id, session=session)
    if delivery is None or utcnow() - delivery.sent_at > DM_ANSWER_WINDOW:
        return None
    run = store.get_run(delivery.run_id, session=session)
    assert run is not None
    stored = store.add_response(run, user_id, dm_channel_id, ts, text, session=session)
    follow_up = None
    if stored and onboarding_store.enrolment_of_schedule(run.schedule_id, session=session):
        follow_up = outbox.enqueue(
            team_id, SHARE_ONBOARDING_ANSWER, session=session, channel_id=dm_channel_id, ts=ts
        )
    session.commit()
    return follow_up


def mute(team_id: str, user_id: str, until: date | None, *, session: Session) -> None:
    """No reflection DMs through `until` (UTC), or until /reflect unmute."""
    store.set_mute(team_id, user_id, end_of(until), session=session)
    session.commit()


def unmute(team_id: str, user_id: str, *, session: Session) -> None:
    store.clear_mute(team_id, user_id, session=session)
    session.commit()


def record_response(
    team_id: str,
    channel_id: str,
    thread_ts: str,
    ts: str,
    user_id: str,
    text: str,
    *,
    session: Session,
) -> bool:
    """A reply in a prompt's thread is a reflection; True when it was one (stored once)."""
    run = store.run_by_message(team_id, channel_id, thread_ts, session=session)
    if run is None:
        return False
    stored = store.add_response(run, user_id, channel_id, ts, text, session=session)
    session.commit()
    return stored


def describe(schedule: ReflectionSchedule) -> str:
    """The schedule in plain words."""
    at = (
        f"at {schedule.time_of_day} in each member's own time zone"
        if schedule.local
        else f"at {schedule.time_of_day} ({schedule.timezone})"
    )
    if schedule.frequency is Frequency.DAILY:
        when = f"every weekday {at}"
    elif schedule.frequency is Frequency.MONTHLY:
        when = f"on day {schedule.day} of every month {at}"
    else:
        every = "every" if schedule.frequency is Frequency.WEEKLY else "every other"
        day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[
            schedule.day or 0
        ]
        when = f"{every} {day} {at}"
    where = (
        f"by DM to the members of <#{schedule.channel_id}>"
        if schedule.dm
        else f"in <#{schedule.channel_id}>"
    )
    rest = f", not on public holidays in {schedule.skip_holidays}" if schedule.skip_holidays else ""
    if schedule.remind_after_minutes:
        rest += f", reminding after {schedule.remind_after_minutes} minutes"
    return f"#{schedule.id}: *{schedule.prompt_set}* {where}, {when}{rest}"


def local(moment: datetime, schedule: ReflectionSchedule) -> str:
    return wall_clock(moment, schedule.timezone)
