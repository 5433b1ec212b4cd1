"""Two scenarios with known community-health figures (see tests/test_health_figures.py), in
the 8 weeks to 2026-W47 in New York (2026-W40, from Mon 28 Sep, to 2026-W47, to Sun 22 Nov).

`seed_participation` fills 2026-W44 (150 people) and 2026-W45 (21 people) and nothing else;
`seed_flow` (questions, experts, routes, joins) adds nothing to those two weeks, so both can
live in one database."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from sqlalchemy import Engine
from sqlmodel import Session

from bot.emulator import ENGINEERING, GENERAL, LEADS, RANDOM
from storage.models import (
    Expert,
    Frequency,
    HelpRequest,
    HelpRequestTag,
    HelpRoute,
    HelpStatus,
    MemberJoin,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    TagAlias,
    Til,
    TilSource,
)

# Knowledge flow: askers, declared experts (X: python and friends, Y: a private tag), a
# colleague with only learned expertise (L1), and newcomers.
A1, A2, A3, A4, A5, O5 = "U0A1", "U0A2", "U0A3", "U0A4", "U0A5", "U0O5"
X1, X2, X3, X4, X5, L1 = "U0X1", "U0X2", "U0X3", "U0X4", "U0X5", "U0L1"
Y1, Y2, Y3 = "U0Y1", "U0Y2", "U0Y3"
N1, N2, N3, N4, N5, N6, N7, N8 = (f"U0N{n}" for n in range(1, 9))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def person(prefix: str, number: int, digits: int) -> str:
    return f"U0{prefix}{number:0{digits}d}"


class Seeder:
    """Rows added directly, as the features would have stored them."""

    def __init__(self, session: Session, team_id: str) -> None:
        self.session = session
        self.team_id = team_id
        self.stamps = count(1)

    def til(self, author: str, channel: str, when: datetime) -> None:
        self.session.add(
            Til(
                team_id=self.team_id,
                channel_id=channel,
                message_ts=f"{when.timestamp():.0f}.{next(self.stamps):06d}",
                author_id=author,
                captured_by=author,
                source=TilSource.KEYWORD,
                text=f"TIL something, says {author}",
                created_at=when,
            )
        )

    def question(
        self,
        asker: str,
        channel: str,
        when: datetime,
        tags: tuple[str, ...] = (),
        answered: tuple[str, datetime] | None = None,
    ) -> int:
        row = HelpRequest(
            team_id=self.team_id,
            channel_id=channel,
            asker_id=asker,
            text=f"A question from {asker}",
            message_ts=f"{when.timestamp():.0f}.{next(self.stamps):06d}",
            status=HelpStatus.ANSWERED if answered else HelpStatus.OPEN,
            first_answerer_id=answered[0] if answered else None,
            first_answer_at=answered[1] if answered else None,
            created_at=when,
        )
        self.session.add(row)
        self.session.flush()
        assert row.id is not None
        self.session.add_all(
            HelpRequestTag(team_id=self.team_id, help_request_id=row.id, tag=tag) for tag in tags
        )
        return row.id

    def route(self, question_id: int, expert: str, when: datetime) -> None:
        self.session.add(
            HelpRoute(
                team_id=self.team_id, help_request_id=question_id, expert_id=expert, routed_at=when
            )
        )

    def expert(self, user: str, tag: str) -> None:
        self.session.add(Expert(team_id=self.team_id, user_id=user, tag=tag, added_by=user))

    def alias(self, alias: str, tag: str) -> None:
        self.session.add(TagAlias(team_id=self.team_id, alias=alias, tag=tag, added_by=A1))

    def join(self, user: str, channel: str, when: datetime) -> None:
        self.session.add(
            MemberJoin(team_id=self.team_id, channel_id=channel, user_id=user, joined_at=when)
        )

    def reflection_run(self, channel: str, when: datetime) -> int:
        schedule = ReflectionSchedule(
            team_id=self.team_id,
            channel_id=channel,
            created_by=A1,
            frequency=Frequency.WEEKLY,
            day=2,
            time_of_day="09:00",
            timezone="UTC",
            prompt_set="weekly-retro",
        )
        self.session.add(schedule)
        self.session.flush()
        assert schedule.id is not None
        run = ReflectionRun(
            team_id=self.team_id,
            schedule_id=schedule.id,
            run_at=when,
            channel_id=channel,
            prompt="What did you learn?",
            sent_at=when,
        )
        self.session.add(run)
        self.session.flush()
        assert run.id is not None
        return run.id

    def reflection(self, run_id: int, user: str, channel: str, when: datetime) -> None:
        self.session.add(
            ReflectionResponse(
                team_id=self.team_id,
                run_id=run_id,
                user_id=user,
                channel_id=channel,
                message_ts=f"{when.timestamp():.0f}.{next(self.stamps):06d}",
                text="I learned to ask.",
                created_at=when,
            )
        )


def seed_participation(engine: Engine, team_id: str) -> None:
    """2026-W44, all in #engineering: 150 people; Q001 and Q002 made 5 contributions each,
    Q003 to Q016 2 each, Q017 to Q150 1 each (172 in all).

    2026-W45, in #general: 20 people; P01 made 6 contributions (2 TILs, a question, a first
    answer, 2 reflection answers), P02 3 TILs, P03 3 (a TIL, a question, a reflection), P04 a
    question (answered by P01), P05 to P20 a TIL each (29 in all); in #random, P21 a TIL."""
    with Session(engine) as session:
        seed = Seeder(session, team_id)
        wednesday = at(10, 28, 16)
        for number in range(1, 151):
            made = 5 if number <= 2 else 2 if number <= 16 else 1
            for _ in range(made):
                seed.til(person("Q", number, 3), ENGINEERING, wednesday)

        wednesday = at(11, 4, 17)
        p = [""] + [person("P", number, 2) for number in range(1, 22)]
        seed.til(p[1], GENERAL, wednesday)
        seed.til(p[1], GENERAL, wednesday)
        seed.question(p[1], GENERAL, wednesday)
        seed.question(p[4], GENERAL, at(11, 4, 15), answered=(p[1], at(11, 4, 16)))
        run = seed.reflection_run(GENERAL, at(11, 4, 14))
        seed.reflection(run, p[1], GENERAL, at(11, 4, 15))
        seed.reflection(run, p[1], GENERAL, at(11, 4, 16))
        for _ in range(3):
            seed.til(p[2], GENERAL, wednesday)
        seed.til(p[3], GENERAL, wednesday)
        seed.question(p[3], GENERAL, wednesday)
        seed.reflection(run, p[3], GENERAL, at(11, 4, 18))
        for number in range(5, 21):
            seed.til(p[number], GENERAL, wednesday)
        seed.til(p[21], RANDOM, wednesday)
        session.commit()


def seed_flow(engine: Engine, team_id: str) -> None:
    """Knowledge flow in 2026-W47 (Mon 16 Nov 05:00 UTC to Mon 23 Nov 05:00 UTC) and the 8
    weeks to it; newcomers joining across them."""
    with Session(engine) as session:
        seed = Seeder(session, team_id)
        for user in (X1, X2, X3):
            seed.expert(user, "python")
        seed.expert(X4, "kubernetes")
        seed.expert(X5, "js")  # declared before `js` became an alias of javascript
        for user in (Y1, Y2, Y3):
            seed.expert(user, "secret")
        seed.alias("k8s", "kubernetes")
        seed.alias("js", "javascript")

        def routed(question_id: int, *experts: str) -> None:
            for expert in experts:
                seed.route(question_id, expert, at(11, 20, 9))

        routed(seed.question(A1, GENERAL, at(11, 16, 14), ("python",)), X1)
        routed(seed.question(A1, GENERAL, at(11, 17, 14), ("python",)), X1)
        qp3 = seed.question(A2, GENERAL, at(11, 17, 15), ("python",), (A3, at(11, 20, 10)))
        routed(qp3, X1)
        seed.route(qp3, X3, at(11, 23, 6))  # after the week: not counted
        routed(seed.question(A2, GENERAL, at(11, 18, 14), ("python",)), X1, X2)
        routed(seed.question(A3, GENERAL, at(11, 18, 15), ("k8s",)), X4)
        routed(seed.question(A3, GENERAL, at(11, 18, 16), ("rust",)), L1)
        routed(seed.question(A4, GENERAL, at(11, 19, 14), ("rust",)), L1)
        seed.question(A4, GENERAL, at(11, 19, 15), ("go", "python"), (X1, at(11, 24, 10)))
        routed(seed.question(A4, GENERAL, at(11, 19, 16), ("javascript",)), X5)
        for hour in (14, 15, 16):
            routed(seed.question(A5, LEADS, at(11, 20, hour), ("secret",)), Y1)
        seed.question(A1, RANDOM, at(10, 21, 14))  # 2026-W43
        seed.question(O5, GENERAL, at(9, 22, 14))  # 2026-W39: before the 8 weeks

        seed.join(N1, RANDOM, at(10, 1, 10))
        seed.join(N1, GENERAL, at(10, 5, 10))
        seed.til(N1, RANDOM, at(10, 3, 10))  # 2 days after joining
        seed.join(N2, GENERAL, at(11, 17, 12))
        seed.join(N3, GENERAL, at(11, 16, 12))
        seed.question(N3, GENERAL, at(11, 17, 15, 30), answered=(N2, at(11, 17, 18)))  # 6 h
        seed.til(N2, GENERAL, at(11, 19, 10))
        seed.join(N4, GENERAL, at(9, 1, 10))  # before the 8 weeks
        seed.join(N5, GENERAL, at(11, 15, 12))
        seed.til(N5, GENERAL, at(11, 25, 10))  # after the week
        seed.join(N6, ENGINEERING, at(10, 12, 0))
        seed.til(N6, ENGINEERING, at(10, 22, 0))  # 10 days
        seed.join(N7, GENERAL, at(10, 5, 10))
        seed.til(N7, GENERAL, at(8, 1, 10))  # here before LearnLoop saw them join
        seed.join(N8, GENERAL, at(11, 24, 10))  # after the week
        session.commit()
