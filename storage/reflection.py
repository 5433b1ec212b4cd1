"""Reflection schedules, runs and responses. Functions flush and never commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.db import insert_once
from storage.models import (
    CustomPrompt,
    ReflectionDelivery,
    ReflectionMute,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
)
from storage.types import utcnow
from storage.workspaces import served


def add_schedule(schedule: ReflectionSchedule, *, session: Session) -> None:
    session.add(schedule)
    session.flush()


def get_schedule(team_id: str, schedule_id: int, *, session: Session) -> ReflectionSchedule | None:
    """A lead's schedule (not one person's onboarding prompts), if it is the workspace's."""
    schedule = session.get(ReflectionSchedule, schedule_id)
    if schedule is None or schedule.team_id != team_id or schedule.recipient_id is not None:
        return None
    return schedule


def list_schedules(team_id: str, *, session: Session) -> list[ReflectionSchedule]:
    return list(
        session.exec(
            select(ReflectionSchedule)
            .where(
                ReflectionSchedule.team_id == team_id,
                col(ReflectionSchedule.recipient_id).is_(None),
            )
            .order_by(col(ReflectionSchedule.id))
        )
    )


def delete_schedule(schedule: ReflectionSchedule, *, session: Session) -> None:
    session.delete(schedule)
    session.flush()


def due_schedules(now: datetime, *, session: Session) -> list[ReflectionSchedule]:
    return list(
        session.exec(
            select(ReflectionSchedule)
            .where(
                col(ReflectionSchedule.paused).is_(False),
                col(ReflectionSchedule.next_run_at) <= now,
                served(ReflectionSchedule.team_id),
            )
            .order_by(col(ReflectionSchedule.next_run_at))
        )
    )


def claim_run(
    schedule: ReflectionSchedule, run_at: datetime, prompt: str, *, session: Session
) -> ReflectionRun | None:
    """Record a run; None when (schedule, run_at) was already recorded by someone else."""
    assert schedule.id is not None
    run = ReflectionRun(
        team_id=schedule.team_id,
        schedule_id=schedule.id,
        run_at=run_at,
        channel_id=schedule.channel_id,
        prompt=prompt,
    )
    return run if insert_once(run, session=session) else None


def mark_run_sent(run: ReflectionRun, message_ts: str | None, *, session: Session) -> None:
    """The run went out: posted as `message_ts`, or (None) by DM to its first recipient."""
    run.message_ts = message_ts or run.message_ts
    run.sent_at = run.sent_at or utcnow()
    session.add(run)
    session.flush()


def run_by_message(
    team_id: str, channel_id: str, message_ts: str, *, session: Session
) -> ReflectionRun | None:
    return session.exec(
        select(ReflectionRun).where(
            ReflectionRun.team_id == team_id,
            ReflectionRun.channel_id == channel_id,
            ReflectionRun.message_ts == message_ts,
        )
    ).first()


def add_response(
    run: ReflectionRun, user_id: str, channel_id: str, ts: str, text: str, *, session: Session
) -> bool:
    """Store an answer once per message; False when it was already stored."""
    assert run.id is not None
    response = ReflectionResponse(
        team_id=run.team_id,
        run_id=run.id,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=ts,
        text=text,
    )
    return insert_once(response, session=session)


def get_run(run_id: int, *, session: Session) -> ReflectionRun | None:
    return session.get(ReflectionRun, run_id)


def claim_delivery(
    run: ReflectionRun, user_id: str, *, session: Session
) -> ReflectionDelivery | None:
    """Record that a member gets a run's DM; None when they already did."""
    assert run.id is not None
    delivery = ReflectionDelivery(
        team_id=run.team_id, run_id=run.id, user_id=user_id, dm_channel_id=""
    )
    return delivery if insert_once(delivery, session=session) else None


def set_delivery_message(
    delivery: ReflectionDelivery, dm_channel_id: str, ts: str, *, session: Session
) -> None:
    delivery.dm_channel_id = dm_channel_id
    delivery.message_ts = ts
    session.add(delivery)
    session.flush()


def latest_delivery(
    team_id: str, dm_channel_id: str, user_id: str, *, session: Session
) -> ReflectionDelivery | None:
    return session.exec(
        select(ReflectionDelivery)
        .where(
            ReflectionDelivery.team_id == team_id,
            ReflectionDelivery.dm_channel_id == dm_channel_id,
            ReflectionDelivery.user_id == user_id,
        )
        .order_by(col(ReflectionDelivery.sent_at).desc())
    ).first()


def muted_users(team_id: str, now: datetime, *, session: Session) -> set[str]:
    return set(
        session.exec(
            select(ReflectionMute.user_id).where(
                ReflectionMute.team_id == team_id, ReflectionMute.until > now
            )
        )
    )


def set_mute(team_id: str, user_id: str, until: datetime, *, session: Session) -> None:
    row = session.exec(
        select(ReflectionMute).where(
            ReflectionMute.team_id == team_id, ReflectionMute.user_id == user_id
        )
    ).one_or_none() or ReflectionMute(team_id=team_id, user_id=user_id, until=until)
    row.until = until
    session.add(row)
    session.flush()


def clear_mute(team_id: str, user_id: str, *, session: Session) -> None:
    row = session.exec(
        select(ReflectionMute).where(
            ReflectionMute.team_id == team_id, ReflectionMute.user_id == user_id
        )
    ).one_or_none()
    if row is not None:
        session.delete(row)
        session.flush()


def add_custom_prompt(
    team_id: str, set_name: str, text: str, added_by: str, *, session: Session
) -> bool:
    """False when the set already has that prompt."""
    prompt = CustomPrompt(team_id=team_id, set_name=set_name, text=text, added_by=added_by)
    return insert_once(prompt, session=session)


def custom_prompts(team_id: str, *, session: Session) -> dict[str, list[str]]:
    """The workspace's added prompts by set, oldest first."""
    prompts: dict[str, list[str]] = {}
    rows = session.exec(
        select(CustomPrompt).where(CustomPrompt.team_id == team_id).order_by(col(CustomPrompt.id))
    )
    for row in rows:
        prompts.setdefault(row.set_name, []).append(row.text)
    return prompts


def deliveries_to_remind(now: datetime, *, session: Session) -> list[ReflectionDelivery]:
    """DM deliveries whose schedule reminds, past the delay, not reminded, not answered."""
    answered = select(ReflectionResponse.id).where(
        ReflectionResponse.run_id == ReflectionDelivery.run_id,
        ReflectionResponse.user_id == ReflectionDelivery.user_id,
    )
    rows = session.exec(
        select(ReflectionDelivery, ReflectionSchedule.remind_after_minutes)
        .join(ReflectionRun, col(ReflectionRun.id) == col(ReflectionDelivery.run_id))
        .join(ReflectionSchedule, col(ReflectionSchedule.id) == col(ReflectionRun.schedule_id))
        .where(
            col(ReflectionSchedule.remind_after_minutes).is_not(None),
            col(ReflectionDelivery.reminded_at).is_(None),
            col(ReflectionDelivery.message_ts).is_not(None),
            ~answered.exists(),
            served(ReflectionDelivery.team_id),
        )
    )
    return [
        delivery
        for delivery, minutes in rows
        if minutes is not None and delivery.sent_at + timedelta(minutes=minutes) <= now
    ]


def claim_reminder(delivery_id: int, now: datetime, *, session: Session) -> bool:
    """Mark a delivery reminded; False when another sweep already did."""
    result = session.execute(
        update(ReflectionDelivery)
        .where(
            col(ReflectionDelivery.id) == delivery_id, col(ReflectionDelivery.reminded_at).is_(None)
        )
        .values(reminded_at=now)
    )
    return getattr(result, "rowcount", 0) == 1
