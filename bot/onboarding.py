"""Social onboarding: a newcomer to a channel where onboarding is on is welcomed by DM (what
the channel is about, its experts, its most useful TILs, a buddy), and gets the onboarding-week-1
prompts by DM over their first two weeks, answers shared with their buddy and lead.

Rules (README "Onboarding"): the buddy is a volunteer who is a member of the channel, not the
newcomer, not away, not a bot or deactivated; those whose working day (09:00-17:00 local)
overlaps the newcomer's by at least 3 hours first, then whoever was chosen least recently
(never first), then by user id. The week-1 prompts are a reflection schedule of the newcomer's
own: each prompt is a reflection run recorded under its unique (schedule, run time) key before
it is sent, so the sweep sends it once across restarts and replicas; answers in the DM are
reflection responses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any, TypeGuard

from slack_sdk import WebClient
from sqlmodel import Session

from bot import blocks, outbox
from bot.help_requests import in_working_hours
from bot.reflection import (
    SHARE_ONBOARDING_ANSWER,
    channel_members,
    deliver_dm,
    next_runs,
    prompt_sets,
)
from bot.replies import post_dm
from bot.roles import require_lead_or_manager
from bot.slack_client import ClientFor
from storage import experts as expert_store
from storage import onboarding as store
from storage import reflection as reflection_store
from storage.models import (
    Frequency,
    OnboardingChannel,
    OnboardingEnrolment,
    ReflectionSchedule,
)
from storage.privacy import FORGOTTEN_USER
from storage.types import utcnow

logger = logging.getLogger(__name__)

WELCOME = "onboarding.welcome"
SHARE_ANSWER = SHARE_ONBOARDING_ANSWER
WEEK_ONE_SET = "onboarding-week-1"
WEEK_ONE_PROMPTS = 10  # one each working day of the first two weeks
PROMPT_TIME = "10:00"  # in the newcomer's own zone
BUDDY_DAY_END_HOUR = 17
MIN_OVERLAP = timedelta(hours=3)
TOP_TILS = 5
TIL_HORIZON = timedelta(days=180)
_SLOT = timedelta(minutes=15)
_NEVER = datetime.min.replace(tzinfo=UTC)


# -- what leads and volunteers set ----------------------------------------------------------


def turn_on(
    team_id: str,
    actor_id: str,
    channel_id: str,
    about: str | None,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> OnboardingChannel:
    """Leads and managers; the one who turns it on hears about newcomers without a buddy and
    sees their week-1 answers. `about` None keeps the text there was."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    row = store.turn_on(team_id, channel_id, actor_id, about, session=session)
    session.commit()
    return row


def turn_off(
    team_id: str,
    actor_id: str,
    channel_id: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> bool:
    """False when it was not on; newcomers already enrolled keep their buddy and prompts."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    turned_off = store.turn_off(team_id, channel_id, session=session)
    session.commit()
    return turned_off


def set_about(
    team_id: str,
    actor_id: str,
    channel_id: str,
    about: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> bool:
    """False (nothing changed) when onboarding is not on in the channel."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    channel = store.get_channel(team_id, channel_id, session=session)
    if channel is None:
        return False
    channel.about = about
    session.add(channel)
    session.commit()
    return True


def list_channels(team_id: str, *, session: Session) -> list[OnboardingChannel]:
    return store.list_channels(team_id, session=session)


def volunteer(team_id: str, user_id: str, volunteering: bool, *, session: Session) -> None:
    """`/learnloop buddy on|off`: anyone may offer to be a newcomer's buddy, or stop."""
    store.set_volunteering(team_id, user_id, volunteering, session=session)
    session.commit()


# -- the welcome ----------------------------------------------------------------------------


def promise_welcome(
    team_id: str, channel_id: str, user_id: str, *, session: Session
) -> outbox.Promised | None:
    """In the join's transaction: the welcome's follow-up when onboarding is on there."""
    if store.get_channel(team_id, channel_id, session=session) is None:
        return None
    return outbox.enqueue(team_id, WELCOME, session=session, channel_id=channel_id, user_id=user_id)


def _people(client: WebClient) -> Callable[[str], dict[str, Any] | None]:
    """users.info once per person: their profile, or None for bots and the deactivated."""

    @cache
    def person(user_id: str) -> dict[str, Any] | None:
        user: dict[str, Any] = client.users_info(user=user_id)["user"]
        return None if user.get("is_bot") or user.get("deleted") else user

    return person


def welcome(
    team_id: str, channel_id: str, user_id: str, *, session: Session, client: WebClient
) -> None:
    """The follow-up of a first join: enrol the newcomer (buddy, prompts), then DM them and
    their buddy. A replay sends only the DMs not yet sent."""
    person = _people(client)
    enrolment = store.get_enrolment(team_id, channel_id, user_id, session=session)
    channel = store.get_channel(team_id, channel_id, session=session)
    if enrolment is None:
        newcomer = person(user_id)
        if channel is None or newcomer is None:
            return  # onboarding was turned off meanwhile, or the newcomer is a bot
        zone = str(newcomer.get("tz") or "UTC")
        enrolment = _enrol(channel, user_id, zone, person, session=session, client=client)
        session.commit()
    now = utcnow()
    if enrolment.welcomed_at is None:
        content = _welcome_content(enrolment, channel, person, now, session=session)
        post_dm(client, user_id, content)
        lead = enrolment.lead_id
        if enrolment.buddy_id is None and _reachable(lead) and lead != user_id:
            post_dm(client, lead, blocks.onboarding_no_buddy(user_id, channel_id))
        enrolment.welcomed_at = now
        session.add(enrolment)
        session.commit()
    if enrolment.buddy_id is not None and enrolment.buddy_told_at is None:
        post_dm(client, enrolment.buddy_id, blocks.onboarding_buddy(user_id, channel_id))
        enrolment.buddy_told_at = now
        session.add(enrolment)
        session.commit()


def _enrol(
    channel: OnboardingChannel,
    user_id: str,
    zone: str,
    person: Callable[[str], dict[str, Any] | None],
    *,
    session: Session,
    client: WebClient,
) -> OnboardingEnrolment:
    now = utcnow()
    buddy = choose_buddy(
        channel.team_id,
        channel.channel_id,
        user_id,
        zone,
        now,
        person,
        session=session,
        client=client,
    )
    schedule = ReflectionSchedule(
        team_id=channel.team_id,
        channel_id=channel.channel_id,
        created_by=channel.enabled_by,
        frequency=Frequency.DAILY,
        time_of_day=PROMPT_TIME,
        timezone=zone,
        prompt_set=WEEK_ONE_SET,
        dm=True,
        recipient_id=user_id,
    )
    reflection_store.add_schedule(schedule, session=session)
    assert schedule.id is not None
    enrolment = OnboardingEnrolment(
        team_id=channel.team_id,
        channel_id=channel.channel_id,
        user_id=user_id,
        buddy_id=buddy,
        lead_id=channel.enabled_by,
        schedule_id=schedule.id,
        next_prompt_at=next_runs(schedule, now, 1)[0],
    )
    if not store.add_enrolment(enrolment, session=session):
        raise RuntimeError(f"{user_id} was enrolled in {channel.channel_id} meanwhile")
    if buddy is not None:
        store.mark_assigned(channel.team_id, buddy, now, session=session)
    return enrolment


def choose_buddy(
    team_id: str,
    channel_id: str,
    newcomer_id: str,
    newcomer_zone: str,
    now: datetime,
    person: Callable[[str], dict[str, Any] | None],
    *,
    session: Session,
    client: WebClient,
) -> str | None:
    """The volunteer the module docstring's rules pick, or None when nobody may be chosen."""
    volunteers = store.volunteers(team_id, session=session)
    volunteers.pop(newcomer_id, None)
    if not volunteers:
        return None
    members = set(channel_members(client, channel_id))
    statuses = expert_store.statuses(team_id, volunteers, session=session)
    ranked = []
    for user_id, last_assigned in volunteers.items():
        status = statuses.get(user_id)
        away = status is not None and status.away_until is not None and status.away_until > now
        profile = person(user_id) if user_id in members and not away else None
        if profile is None:
            continue
        overlap = working_overlap(newcomer_zone, profile.get("tz"), now)
        rank = (overlap < MIN_OVERLAP, last_assigned is not None, last_assigned or _NEVER, user_id)
        ranked.append(rank)
    return min(ranked)[3] if ranked else None


def working_overlap(zone: str | None, other_zone: str | None, around: datetime) -> timedelta:
    """How long two people's working days (09:00-17:00 in their own zones) overlap, counted over
    the Wednesday (UTC) of `around`'s week: every zone's whole working day falls in it, split
    at midnight for some."""
    day = around.date() + timedelta(days=2 - around.weekday())
    start = datetime.combine(day, time(), tzinfo=UTC)
    slots = (start + _SLOT * i for i in range(int(timedelta(days=1) / _SLOT)))
    shared = sum(
        in_working_hours(zone, slot, end_hour=BUDDY_DAY_END_HOUR)
        and in_working_hours(other_zone, slot, end_hour=BUDDY_DAY_END_HOUR)
        for slot in slots
    )
    return _SLOT * shared


def _welcome_content(
    enrolment: OnboardingEnrolment,
    channel: OnboardingChannel | None,
    person: Callable[[str], dict[str, Any] | None],
    now: datetime,
    *,
    session: Session,
) -> list[blocks.Block]:
    """The welcome DM: the about text, experts by tag, the most useful TILs, the buddy."""
    team_id, channel_id = enrolment.team_id, enrolment.channel_id
    tags = store.channel_tags(team_id, channel_id, session=session)
    rows = [
        (tag, user_id)
        for tag, user_id, _ in expert_store.list_experts(team_id, session=session)
        if (not tags or tag in tags) and user_id != enrolment.user_id
    ]
    statuses = expert_store.statuses(team_id, {user for _, user in rows}, session=session)
    experts: dict[str, list[str]] = {}
    for tag, user_id in rows:
        status = statuses.get(user_id)
        if status is not None and status.away_until is not None and status.away_until > now:
            continue
        if person(user_id) is not None:
            experts.setdefault(tag, []).append(user_id)
    tils = store.most_useful_tils(team_id, channel_id, now - TIL_HORIZON, TOP_TILS, session=session)
    return blocks.onboarding_welcome(
        blocks.Welcome(
            user_id=enrolment.user_id,
            channel_id=channel_id,
            about=channel.about if channel is not None else "",
            experts=experts,
            tils=tils,
            buddy_id=enrolment.buddy_id,
            lead_id=enrolment.lead_id,
        )
    )


def _reachable(user_id: str | None) -> TypeGuard[str]:
    """Someone to DM: not nobody, not a person who asked to be forgotten."""
    return user_id is not None and user_id != FORGOTTEN_USER


# -- the week-1 prompts ---------------------------------------------------------------------


def send_due_prompts(
    now: datetime, grace: timedelta, *, session: Session, clients: ClientFor
) -> list[int]:
    """Each due week-1 prompt to its newcomer by DM, once; a prompt missed by more than the
    grace time, or due while the newcomer muted reflection DMs, is skipped. Returns the
    enrolments a prompt went to."""
    sent = []
    for enrolment in store.due_enrolments(now, session=session):
        assert enrolment.id is not None and enrolment.next_prompt_at is not None
        client = clients(enrolment.team_id)
        schedule = store.schedule_of(enrolment, session=session)
        if client is None or schedule is None:
            continue
        run_at, number = enrolment.next_prompt_at, enrolment.prompts_sent
        enrolment.prompts_sent += 1
        enrolment.next_prompt_at = (
            next_runs(schedule, run_at, 1)[0] if enrolment.prompts_sent < WEEK_ONE_PROMPTS else None
        )
        session.add(enrolment)
        muted = reflection_store.muted_users(enrolment.team_id, now, session=session)
        if now - run_at > grace or enrolment.user_id in muted:
            session.commit()
            logger.info("onboarding prompt %s of enrolment %s skipped", number + 1, enrolment.id)
            continue
        prompt_set = prompt_sets(enrolment.team_id, session=session)[WEEK_ONE_SET]
        prompt = prompt_set.prompts[number % len(prompt_set.prompts)]
        run = reflection_store.claim_run(schedule, run_at, prompt, session=session)
        if run is None:
            session.rollback()  # another sweep sent it
            continue
        session.commit()
        message = blocks.onboarding_prompt(
            prompt,
            prompt_set.title,
            number + 1,
            WEEK_ONE_PROMPTS,
            shared_with=[p for p in (enrolment.buddy_id, enrolment.lead_id) if _reachable(p)],
        )
        deliver_dm(run, enrolment.user_id, message, session=session, client=client)
        sent.append(enrolment.id)
    return sent


def share_answer(
    team_id: str, channel_id: str, ts: str, *, session: Session, client: WebClient
) -> None:
    """A newcomer's answer to a week-1 prompt, by DM to their buddy and to the lead."""
    found = store.onboarding_answer(team_id, channel_id, ts, session=session)
    if found is None:
        return  # forgotten meanwhile
    answer, prompt, enrolment = found
    message = blocks.onboarding_answer(enrolment.user_id, enrolment.channel_id, prompt, answer)
    for reader in dict.fromkeys((enrolment.buddy_id, enrolment.lead_id)):
        if _reachable(reader) and reader != enrolment.user_id:
            post_dm(client, reader, message)
