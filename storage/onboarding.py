"""Onboarding: channels that welcome newcomers, buddy volunteers, enrolments. Flushes, never
commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.db import insert_once
from storage.models import (
    HelpRequest,
    HelpRequestTag,
    OnboardingBuddy,
    OnboardingChannel,
    OnboardingEnrolment,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    Til,
    TilTag,
)
from storage.workspaces import served


def get_channel(team_id: str, channel_id: str, *, session: Session) -> OnboardingChannel | None:
    return session.exec(
        select(OnboardingChannel).where(
            OnboardingChannel.team_id == team_id, OnboardingChannel.channel_id == channel_id
        )
    ).one_or_none()


def list_channels(team_id: str, *, session: Session) -> list[OnboardingChannel]:
    return list(
        session.exec(
            select(OnboardingChannel)
            .where(OnboardingChannel.team_id == team_id)
            .order_by(col(OnboardingChannel.id))
        )
    )


def turn_on(
    team_id: str, channel_id: str, lead_id: str, about: str | None, *, session: Session
) -> OnboardingChannel:
    """Turn onboarding on (again: the lead becomes whoever turned it on last); `about` None
    keeps the text there was."""
    row = get_channel(team_id, channel_id, session=session) or OnboardingChannel(
        team_id=team_id, channel_id=channel_id, enabled_by=lead_id
    )
    row.enabled_by = lead_id
    if about is not None:
        row.about = about
    session.add(row)
    session.flush()
    return row


def turn_off(team_id: str, channel_id: str, *, session: Session) -> bool:
    """False when onboarding was not on in the channel."""
    row = get_channel(team_id, channel_id, session=session)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _buddy(team_id: str, user_id: str, *, session: Session) -> OnboardingBuddy | None:
    return session.exec(
        select(OnboardingBuddy).where(
            OnboardingBuddy.team_id == team_id, OnboardingBuddy.user_id == user_id
        )
    ).one_or_none()


def set_volunteering(team_id: str, user_id: str, volunteering: bool, *, session: Session) -> None:
    row = _buddy(team_id, user_id, session=session) or OnboardingBuddy(
        team_id=team_id, user_id=user_id
    )
    row.volunteering = volunteering
    session.add(row)
    session.flush()


def volunteers(team_id: str, *, session: Session) -> dict[str, datetime | None]:
    """Who volunteers now, with when each was last chosen (None: never)."""
    rows = session.exec(
        select(OnboardingBuddy.user_id, OnboardingBuddy.last_assigned_at).where(
            OnboardingBuddy.team_id == team_id, col(OnboardingBuddy.volunteering).is_(True)
        )
    )
    return dict(rows.all())


def mark_assigned(team_id: str, user_id: str, when: datetime, *, session: Session) -> None:
    row = _buddy(team_id, user_id, session=session)
    assert row is not None, "only volunteers are assigned"
    row.last_assigned_at = when
    session.add(row)
    session.flush()


def add_enrolment(enrolment: OnboardingEnrolment, *, session: Session) -> bool:
    """False when the newcomer was already enrolled in the channel (a replayed welcome)."""
    return insert_once(enrolment, session=session)


def get_enrolment(
    team_id: str, channel_id: str, user_id: str, *, session: Session
) -> OnboardingEnrolment | None:
    return session.exec(
        select(OnboardingEnrolment).where(
            OnboardingEnrolment.team_id == team_id,
            OnboardingEnrolment.channel_id == channel_id,
            OnboardingEnrolment.user_id == user_id,
        )
    ).one_or_none()


def enrolment_of_schedule(schedule_id: int, *, session: Session) -> OnboardingEnrolment | None:
    """The enrolment whose week-1 prompts a reflection schedule sends, if it is one."""
    return session.exec(
        select(OnboardingEnrolment).where(OnboardingEnrolment.schedule_id == schedule_id)
    ).one_or_none()


def due_enrolments(now: datetime, *, session: Session) -> list[OnboardingEnrolment]:
    return list(
        session.exec(
            select(OnboardingEnrolment)
            .where(
                col(OnboardingEnrolment.next_prompt_at) <= now,
                served(OnboardingEnrolment.team_id),
            )
            .order_by(col(OnboardingEnrolment.next_prompt_at))
        )
    )


def channel_tags(team_id: str, channel_id: str, *, session: Session) -> set[str]:
    """The tags of the channel's TILs and questions."""
    til_tags = (
        select(TilTag.tag)
        .join(Til, col(Til.id) == col(TilTag.til_id))
        .where(Til.team_id == team_id, Til.channel_id == channel_id)
    )
    question_tags = (
        select(HelpRequestTag.tag)
        .join(HelpRequest, col(HelpRequest.id) == col(HelpRequestTag.help_request_id))
        .where(HelpRequest.team_id == team_id, HelpRequest.channel_id == channel_id)
    )
    return set(session.exec(til_tags).all()) | set(session.exec(question_tags).all())


def most_useful_tils(
    team_id: str, channel_id: str, since: datetime, limit: int, *, session: Session
) -> list[Til]:
    """The channel's TILs since `since`: most reactions first, then newest."""
    return list(
        session.exec(
            select(Til)
            .where(
                Til.team_id == team_id,
                Til.channel_id == channel_id,
                col(Til.created_at) >= since,
            )
            .order_by(
                col(Til.reaction_count).desc(), col(Til.created_at).desc(), col(Til.id).desc()
            )
            .limit(limit)
        )
    )


def schedule_of(enrolment: OnboardingEnrolment, *, session: Session) -> ReflectionSchedule | None:
    return session.get(ReflectionSchedule, enrolment.schedule_id)


def onboarding_answer(
    team_id: str, channel_id: str, message_ts: str, *, session: Session
) -> tuple[str, str, OnboardingEnrolment] | None:
    """A newcomer's answer to a week-1 prompt: (answer, prompt, enrolment), by its message."""
    row = session.exec(
        select(ReflectionResponse.text, ReflectionRun.prompt, OnboardingEnrolment)
        .join(ReflectionRun, col(ReflectionRun.id) == col(ReflectionResponse.run_id))
        .join(
            OnboardingEnrolment,
            col(OnboardingEnrolment.schedule_id) == col(ReflectionRun.schedule_id),
        )
        .where(
            ReflectionResponse.team_id == team_id,
            ReflectionResponse.channel_id == channel_id,
            ReflectionResponse.message_ts == message_ts,
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])
