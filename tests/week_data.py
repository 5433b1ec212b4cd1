"""A week of learning with known figures (see tests/test_summary_figures.py): TILs, questions
and reflections around the edges of ISO week 2026-W47 in New York, some in a private channel."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.emulator import ALICE, BOB, CAROL, DAVE, ENGINEERING, GENERAL, LEADS, RANDOM
from bot.summary import Week
from storage.models import (
    Frequency,
    HelpRequest,
    HelpRequestTag,
    HelpStatus,
    ReflectionDelivery,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    Til,
    TilSource,
    TilTag,
)

ZONE = "America/New_York"  # UTC-5 in November: local midnight is 05:00 UTC
WEEK = Week(2026, 47)  # Mon 16 Nov to Sun 22 Nov 2026, local


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def seed(engine: Engine, team_id: str) -> dict[str, int]:
    """The week described in each test's expectations; returns row ids by name."""
    ids: dict[str, int] = {}
    with Session(engine) as session:

        def til(
            name: str, author: str, channel: str, at: datetime, reactions: int, *tags: str
        ) -> None:
            row = Til(
                team_id=team_id,
                channel_id=channel,
                message_ts=f"{at.timestamp():.6f}",
                author_id=author,
                captured_by=author,
                source=TilSource.KEYWORD,
                text=f"TIL {name} <@{BOB}> &lt;b&gt;",
                permalink=f"https://example.slack.com/archives/{channel}/p{name}",
                reaction_count=reactions,
                created_at=at,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[name] = row.id
            session.add_all(TilTag(team_id=team_id, til_id=row.id, tag=tag) for tag in tags)

        til("t1", ALICE, GENERAL, utc(16, 5), 5, "python", "sql")  # Monday 00:00 local: in
        til("t2", BOB, GENERAL, utc(23, 4, 59), 2, "python")  # Sunday 23:59 local: in
        til("t3", CAROL, ENGINEERING, utc(16, 4, 59), 0, "python")  # the week before
        til("t4", ALICE, LEADS, utc(18, 12), 9, "secret")  # private channel
        til("t5", ALICE, ENGINEERING, utc(20, 12), 0, "sql")  # no reactions: no highlight
        til("t6", DAVE, RANDOM, utc(23, 5), 7, "python")  # the week after

        def question(
            name: str,
            asker: str,
            channel: str,
            at: datetime,
            tag: str,
            answered: tuple[str, datetime] | None = None,
            resolved: datetime | None = None,
        ) -> None:
            row = HelpRequest(
                team_id=team_id,
                channel_id=channel,
                asker_id=asker,
                text=f"How do I {name}?",
                permalink=f"https://example.slack.com/archives/{channel}/q{name}",
                status=HelpStatus.RESOLVED
                if resolved
                else HelpStatus.ANSWERED
                if answered
                else HelpStatus.OPEN,
                first_answerer_id=answered[0] if answered else None,
                first_answer_at=answered[1] if answered else None,
                resolved_at=resolved,
                created_at=at,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[name] = row.id
            session.add(HelpRequestTag(team_id=team_id, help_request_id=row.id, tag=tag))

        question("q1", BOB, GENERAL, utc(17, 10), "python", (ALICE, utc(17, 10, 30)), utc(18, 10))
        question("q2", CAROL, ENGINEERING, utc(18, 10), "sql", (ALICE, utc(18, 12)))
        question("q3", DAVE, GENERAL, utc(19, 10), "kubernetes")
        question("q4", BOB, GENERAL, utc(10, 10), "kubernetes", (CAROL, utc(16, 6)))
        question("q5", ALICE, LEADS, utc(5, 10), "secret")

        def schedule(channel: str, dm: bool) -> ReflectionSchedule:
            row = ReflectionSchedule(
                team_id=team_id,
                channel_id=channel,
                created_by=ALICE,
                frequency=Frequency.WEEKLY,
                day=4,
                time_of_day="09:00",
                timezone=ZONE,
                prompt_set="weekly-retro",
                dm=dm,
            )
            session.add(row)
            session.flush()
            return row

        def run(on: ReflectionSchedule, at: datetime) -> ReflectionRun:
            assert on.id is not None
            row = ReflectionRun(
                team_id=team_id,
                schedule_id=on.id,
                run_at=at,
                channel_id=on.channel_id,
                prompt="What did you learn?",
                sent_at=at,
            )
            session.add(row)
            session.flush()
            return row

        def answer(to: ReflectionRun, user: str, channel: str, at: datetime) -> None:
            assert to.id is not None
            session.add(
                ReflectionResponse(
                    team_id=team_id,
                    run_id=to.id,
                    user_id=user,
                    channel_id=channel,
                    message_ts=f"{at.timestamp():.6f}",
                    text="I learned to ask.",
                    created_at=at,
                )
            )

        in_channel = run(schedule(GENERAL, dm=False), utc(20, 14))
        answer(in_channel, BOB, GENERAL, utc(20, 15))
        answer(in_channel, CAROL, GENERAL, utc(20, 16))
        answer(in_channel, BOB, GENERAL, utc(21, 9))  # a second answer from the same person
        by_dm = run(schedule(ENGINEERING, dm=True), utc(19, 14))
        for user in (ALICE, BOB, CAROL):
            assert by_dm.id is not None
            session.add(
                ReflectionDelivery(
                    team_id=team_id, run_id=by_dm.id, user_id=user, dm_channel_id=f"D{user}"
                )
            )
        answer(by_dm, ALICE, "DALICE", utc(19, 15))
        earlier = run(schedule(RANDOM, dm=False), utc(12, 14))  # the week before
        answer(earlier, BOB, RANDOM, utc(12, 15))
        session.commit()
    return ids
