"""The weekly figures, each one aggregate query: the database does the counting, Python only
receives the numbers and a handful of rows to quote.

Every function takes a `Window` (a workspace, optionally one channel, and a UTC half-open
interval). Content of private channels is counted everywhere; the queries that return text to
quote take `hidden_channels`, the channels whose content must not be shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.db import insert_once
from storage.models import (
    ChannelInfo,
    Expert,
    HelpRequest,
    HelpRequestTag,
    HelpRoute,
    HelpStatus,
    MemberJoin,
    ReflectionDelivery,
    ReflectionResponse,
    ReflectionRun,
    SummaryDigest,
    SummarySubscription,
    TagAlias,
    Til,
    TilTag,
)
from storage.types import utcnow
from storage.workspaces import served

til = Til.__table__  # type: ignore[attr-defined]
til_tag = TilTag.__table__  # type: ignore[attr-defined]
question = HelpRequest.__table__  # type: ignore[attr-defined]
question_tag = HelpRequestTag.__table__  # type: ignore[attr-defined]
run = ReflectionRun.__table__  # type: ignore[attr-defined]
delivery = ReflectionDelivery.__table__  # type: ignore[attr-defined]
response = ReflectionResponse.__table__  # type: ignore[attr-defined]
channel_info = ChannelInfo.__table__  # type: ignore[attr-defined]
expert = Expert.__table__  # type: ignore[attr-defined]
tag_alias = TagAlias.__table__  # type: ignore[attr-defined]
route = HelpRoute.__table__  # type: ignore[attr-defined]
member_join = MemberJoin.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Window:
    """Whose activity, and when: [start, end) in UTC."""

    team_id: str
    channel_id: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True)
class QuotedTil:
    id: int
    channel_id: str
    author_id: str
    text: str
    permalink: str | None
    reactions: int


# The columns of a QuotedTil, in its order.
_QUOTED_TIL = (
    til.c.id,
    til.c.channel_id,
    til.c.author_id,
    til.c.text,
    til.c.permalink,
    til.c.reaction_count,
)


@dataclass(frozen=True)
class QuotedQuestion:
    id: int
    channel_id: str
    asker_id: str
    text: str
    permalink: str | None
    created_at: datetime


@dataclass(frozen=True)
class TagGap:
    tag: str
    asked: int
    unanswered: int


@dataclass(frozen=True)
class HelpCounts:
    asked: int
    answered: int
    resolved: int
    still_open: int


@dataclass(frozen=True)
class ReflectionCounts:
    prompts_sent: int
    responses: int
    responders: int
    dm_deliveries: int
    # Prompts posted in channels this week, per channel: each reaches the channel's members.
    channel_prompts: dict[str, int]
    # Distinct (prompt, person) answers to this week's prompts.
    answered_prompts: int


def _in(column: ColumnElement[datetime], window: Window) -> ColumnElement[bool]:
    return sa.and_(column >= window.start, column < window.end)


def _scope(table: sa.Table, window: Window) -> ColumnElement[bool]:
    """The workspace, and the channel when the window has one."""
    clauses = [table.c.team_id == window.team_id]
    if window.channel_id is not None:
        clauses.append(table.c.channel_id == window.channel_id)
    return sa.and_(*clauses)


def _shown(table: sa.Table, hidden_channels: Collection[str]) -> ColumnElement[bool]:
    if not hidden_channels:
        return sa.true()
    return table.c.channel_id.not_in(sorted(hidden_channels))


def _rows(source: sa.FromClause, *where: ColumnElement[bool], session: Session) -> int:
    """How many rows of `source` meet every condition."""
    query = sa.select(sa.func.count()).select_from(source).where(*where)
    return int(session.execute(query).scalar_one())


def _counts(session: Session, query: sa.Select[str, int]) -> list[Count]:
    return [Count(str(key), int(count)) for key, count in session.execute(query)]


# -- TILs -------------------------------------------------------------------------------------


def count_tils(window: Window, *, session: Session) -> int:
    return _rows(til, _scope(til, window), _in(til.c.created_at, window), session=session)


def top_tags(window: Window, limit: int, *, session: Session) -> list[Count]:
    joined = til_tag.join(til, til.c.id == til_tag.c.til_id)
    query = (
        sa.select(til_tag.c.tag, sa.func.count().label("n"))
        .select_from(joined)
        .where(_scope(til, window), _in(til.c.created_at, window))
        .group_by(til_tag.c.tag)
        .order_by(sa.desc("n"), til_tag.c.tag)
        .limit(limit)
    )
    return _counts(session, query)


def top_contributors(window: Window, limit: int, *, session: Session) -> list[Count]:
    query = (
        sa.select(til.c.author_id, sa.func.count().label("n"))
        .where(_scope(til, window), _in(til.c.created_at, window))
        .group_by(til.c.author_id)
        .order_by(sa.desc("n"), til.c.author_id)
        .limit(limit)
    )
    return _counts(session, query)


def highlighted_tils(
    window: Window, limit: int, hidden_channels: Collection[str], *, session: Session
) -> list[QuotedTil]:
    """The week's most reacted-to TILs (earliest first on a tie), none from hidden channels."""
    query = (
        sa.select(*_QUOTED_TIL)
        .where(
            _scope(til, window),
            _in(til.c.created_at, window),
            _shown(til, hidden_channels),
            til.c.reaction_count > 0,
        )
        .order_by(til.c.reaction_count.desc(), til.c.created_at, til.c.id)
        .limit(limit)
    )
    return [QuotedTil(*row) for row in session.execute(query)]


# -- Help -------------------------------------------------------------------------------------


def _open_at(moment: datetime) -> ColumnElement[bool]:
    """Asked before `moment` and not resolved by then."""
    return sa.and_(
        question.c.created_at < moment,
        sa.or_(question.c.resolved_at.is_(None), question.c.resolved_at >= moment),
    )


def help_counts(window: Window, *, session: Session) -> HelpCounts:
    """Asked, first answered and resolved during the week; still open at its end (or now)."""
    end = min(window.end, utcnow())

    def counted(condition: ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    # One pass over the workspace's questions that could count; each figure is a conditional sum.
    query = sa.select(
        counted(_in(question.c.created_at, window)),
        counted(_in(question.c.first_answer_at, window)),
        counted(_in(question.c.resolved_at, window)),
        counted(_open_at(end)),
    ).where(
        _scope(question, window),
        question.c.created_at < window.end,
        sa.or_(
            question.c.created_at >= window.start,
            question.c.first_answer_at >= window.start,
            question.c.resolved_at >= window.start,
            question.c.status != HelpStatus.RESOLVED.value,
        ),
    )
    asked, answered, resolved, still_open = session.execute(query).one()
    return HelpCounts(int(asked), int(answered), int(resolved), int(still_open))


def _seconds_between(
    session: Session, earlier: sa.Column[datetime], later: sa.Column[datetime]
) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "sqlite":
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    return sa.cast(sa.extract("epoch", later - earlier), sa.Float)


def answer_time_percentiles(
    window: Window, fractions: Sequence[float], *, session: Session
) -> list[float] | None:
    """Seconds from question to first answer, for answers given this week, at each fraction
    (linear interpolation between ranks, as PostgreSQL's percentile_cont); None without any."""
    where = (_scope(question, window), _in(question.c.first_answer_at, window))
    total = _rows(question, *where, session=session)
    if total == 0:
        return None
    wanted = sorted({rank for low, high, _ in _ranks(total, fractions) for rank in (low, high)})
    seconds = _seconds_between(session, question.c.created_at, question.c.first_answer_at)
    ranked = (
        sa.select(
            seconds.label("seconds"),
            (sa.func.row_number().over(order_by=seconds) - 1).label("position"),
        )
        .where(*where)
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.position, ranked.c.seconds).where(ranked.c.position.in_(wanted))
    )
    at = {int(position): float(value) for position, value in rows}
    return _interpolated(at, total, fractions)


def _ranks(total: int, fractions: Sequence[float]) -> list[tuple[int, int, float]]:
    """For each fraction of `total` sorted values: the ranks below and above it, and how far
    it lies between them."""
    positions = [fraction * (total - 1) for fraction in fractions]
    return [(int(p), min(int(p) + 1, total - 1), p - int(p)) for p in positions]


def _interpolated(at: Mapping[int, float], total: int, fractions: Sequence[float]) -> list[float]:
    """Each fraction's value, interpolated linearly between ranks as PostgreSQL's
    percentile_cont does; `at` holds the sorted values by rank (at least those `_ranks` names)."""
    return [at[low] + (at[high] - at[low]) * share for low, high, share in _ranks(total, fractions)]


def oldest_open_questions(
    window: Window, limit: int, hidden_channels: Collection[str], *, session: Session
) -> list[QuotedQuestion]:
    end = min(window.end, utcnow())
    query = (
        sa.select(
            question.c.id,
            question.c.channel_id,
            question.c.asker_id,
            question.c.text,
            question.c.permalink,
            question.c.created_at,
        )
        .where(
            _scope(question, window),
            _open_at(end),
            _shown(question, hidden_channels),
        )
        .order_by(question.c.created_at, question.c.id)
        .limit(limit)
    )
    return [QuotedQuestion(*row) for row in session.execute(query)]


def knowledge_gaps(window: Window, limit: int, *, session: Session) -> list[TagGap]:
    """Tags of this week's questions, ranked by how many had no answer by the week's end."""
    joined = question_tag.join(question, question.c.id == question_tag.c.help_request_id)
    unanswered = sa.or_(
        question.c.first_answer_at.is_(None), question.c.first_answer_at >= window.end
    )
    missing = sa.func.sum(sa.case((unanswered, 1), else_=0)).label("missing")
    query = (
        sa.select(question_tag.c.tag, sa.func.count(), missing)
        .select_from(joined)
        .where(_scope(question, window), _in(question.c.created_at, window))
        .group_by(question_tag.c.tag)
        .having(missing > 0)
        .order_by(sa.desc("missing"), question_tag.c.tag)
        .limit(limit)
    )
    return [TagGap(tag, int(asked), int(gap)) for tag, asked, gap in session.execute(query)]


def top_answerers(window: Window, limit: int, *, session: Session) -> list[Count]:
    """Who gave the first answer most often this week."""
    query = (
        sa.select(question.c.first_answerer_id, sa.func.count().label("n"))
        .where(
            _scope(question, window),
            _in(question.c.first_answer_at, window),
            question.c.first_answerer_id.is_not(None),
        )
        .group_by(question.c.first_answerer_id)
        .order_by(sa.desc("n"), question.c.first_answerer_id)
        .limit(limit)
    )
    return _counts(session, query)


# -- Reflection -------------------------------------------------------------------------------


def reflection_counts(window: Window, *, session: Session) -> ReflectionCounts:
    """A reflection belongs to the channel its schedule is for, wherever it was answered."""
    week_runs = sa.and_(_scope(run, window), _in(run.c.sent_at, window))
    dm_runs = sa.select(run.c.id).where(week_runs, run.c.id.in_(sa.select(delivery.c.run_id)))
    prompts_sent = _rows(run, week_runs, session=session)
    dm_deliveries = _rows(
        delivery.join(run, run.c.id == delivery.c.run_id), week_runs, session=session
    )
    channel_prompts = {
        str(channel): int(n)
        for channel, n in session.execute(
            sa.select(run.c.channel_id, sa.func.count())
            .where(week_runs, run.c.id.not_in(dm_runs))
            .group_by(run.c.channel_id)
        )
    }
    answered_of_response = response.join(run, run.c.id == response.c.run_id)
    responses, responders = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(response.c.user_id)))
        .select_from(answered_of_response)
        .where(_scope(run, window), _in(response.c.created_at, window))
    ).one()
    pairs = (
        sa.select(response.c.run_id, response.c.user_id)
        .select_from(answered_of_response)
        .where(week_runs)
        .distinct()
        .subquery()
    )
    answered_prompts = _rows(pairs, session=session)
    return ReflectionCounts(
        prompts_sent=prompts_sent,
        responses=int(responses),
        responders=int(responders),
        dm_deliveries=dm_deliveries,
        channel_prompts=channel_prompts,
        answered_prompts=answered_prompts,
    )


# -- Participation ----------------------------------------------------------------------------


def _contribution_rows(window: Window, *, timed: bool) -> list[sa.Select[Any]]:
    """Each contribution in the window (a TIL posted, a question asked, a first answer, a
    reflection answer) as a row naming who made it (`user_id`) and, when `timed`, when (`at`)."""

    def made(who: sa.Column[str], when: sa.Column[datetime]) -> list[ColumnElement[Any]]:
        return [who.label("user_id"), when.label("at")] if timed else [who.label("user_id")]

    return [
        sa.select(*made(til.c.author_id, til.c.created_at)).where(
            _scope(til, window), _in(til.c.created_at, window)
        ),
        sa.select(*made(question.c.asker_id, question.c.created_at)).where(
            _scope(question, window), _in(question.c.created_at, window)
        ),
        sa.select(*made(question.c.first_answerer_id, question.c.first_answer_at)).where(
            _scope(question, window),
            question.c.first_answerer_id.is_not(None),
            _in(question.c.first_answer_at, window),
        ),
        sa.select(*made(response.c.user_id, response.c.created_at))
        .select_from(response.join(run, run.c.id == response.c.run_id))
        .where(_scope(run, window), _in(response.c.created_at, window)),
    ]


def _contributions(window: Window) -> sa.CompoundSelect:
    """Who contributed in the window."""
    return sa.union(*_contribution_rows(window, timed=False))


def active_members(window: Window, *, session: Session) -> list[str]:
    active = _contributions(window).subquery()
    return sorted(str(user) for user in session.execute(sa.select(active.c.user_id)).scalars())


def first_time_contributors(window: Window, *, session: Session) -> list[str]:
    """Active this week, with no contribution in the same scope before it: for each of the
    week's few active people, one index probe per kind of contribution."""
    active = _contributions(window).subquery()
    person = active.c.user_id

    def before(
        table: sa.Table, who: sa.Column[str], when: sa.Column[datetime], scope: sa.Table
    ) -> ColumnElement[bool]:
        joined = table if scope is table else table.join(run, run.c.id == table.c.run_id)
        return sa.exists(
            sa.select(1)
            .select_from(joined)
            .where(_scope(scope, window), who == person, when < window.start)
        )

    query = sa.select(person).where(
        ~before(til, til.c.author_id, til.c.created_at, til),
        ~before(question, question.c.asker_id, question.c.created_at, question),
        ~before(question, question.c.first_answerer_id, question.c.first_answer_at, question),
        ~before(response, response.c.user_id, response.c.created_at, run),
    )
    return sorted(str(user) for user in session.execute(query).scalars())


# -- Community health -------------------------------------------------------------------------

# The groups of participation inequality (the 90-9-1 pattern), most active first.
INEQUALITY_GROUPS = ("top_1", "next_9", "rest_90")


@dataclass(frozen=True)
class ContributionGroup:
    name: str
    people: int
    contributions: int
    # Percent of the week's contributions, one decimal; a week's groups sum to exactly 100.
    share: float


@dataclass(frozen=True)
class Inequality:
    """One week: who contributed, and how the contributions split over the 1/9/90 groups
    (no groups when nobody contributed)."""

    people: int
    contributions: int
    groups: list[ContributionGroup]


def contribution_inequality(
    team_id: str, channel_id: str | None, boundaries: Sequence[datetime], *, session: Session
) -> list[Inequality]:
    """Per interval between consecutive boundaries: people ranked by contributions (most first,
    then by user id); the top ceil(1%) of them, the next ceil(10%) - ceil(1%), and the rest.
    One query ranks and groups everyone in the database."""
    window = Window(team_id, channel_id, boundaries[0], boundaries[-1])
    made = sa.union_all(*_contribution_rows(window, timed=True)).subquery()
    inner = boundaries[1:-1]
    week = (
        sa.case(*((made.c.at < b, n) for n, b in enumerate(inner)), else_=len(inner))
        if inner
        else sa.literal(0)
    )
    dated = sa.select(made.c.user_id, week.label("week")).subquery()
    per_person = (
        sa.select(dated.c.week, dated.c.user_id, sa.func.count().label("n"))
        .group_by(dated.c.week, dated.c.user_id)
        .subquery()
    )
    ranked = sa.select(
        per_person.c.week,
        per_person.c.n,
        sa.func.row_number()
        .over(
            partition_by=per_person.c.week,
            order_by=(per_person.c.n.desc(), per_person.c.user_id),
        )
        .label("rank"),
        sa.func.count().over(partition_by=per_person.c.week).label("people"),
    ).subquery()
    # ceil(people / 100) and ceil(people / 10), in integer arithmetic on both databases.
    group = sa.case(
        (ranked.c.rank <= (ranked.c.people + 99) // 100, 0),
        (ranked.c.rank <= (ranked.c.people + 9) // 10, 1),
        else_=2,
    )
    grouped = sa.select(ranked.c.week, group.label("grp"), ranked.c.n).subquery()
    rows = session.execute(
        sa.select(
            grouped.c.week, grouped.c.grp, sa.func.count(), sa.func.sum(grouped.c.n)
        ).group_by(grouped.c.week, grouped.c.grp)
    )
    counts = {(int(w), int(g)): (int(people), int(n)) for w, g, people, n in rows}
    weeks = []
    for number in range(len(boundaries) - 1):
        people, made_by = zip(
            *(counts.get((number, g), (0, 0)) for g in range(len(INEQUALITY_GROUPS))),
            strict=True,
        )
        total = sum(made_by)
        groups = (
            [
                ContributionGroup(name, p, n, share)
                for name, p, n, share in zip(
                    INEQUALITY_GROUPS, people, made_by, _percentages(made_by), strict=True
                )
            ]
            if total
            else []
        )
        weeks.append(Inequality(sum(people), total, groups))
    return weeks


def _percentages(parts: Sequence[int]) -> list[float]:
    """Each part's percent of their sum to one decimal, summing to exactly 100: the tenths
    left over after rounding down go to the largest remainders (the earlier part on a tie)."""
    total = sum(parts)
    tenths = [part * 1000 // total for part in parts]
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(parts[i] * 1000 % total), i))
    for index in by_remainder[: 1000 - sum(tenths)]:
        tenths[index] += 1
    return [t / 10 for t in tenths]


def _canonical(table: sa.Table) -> tuple[sa.FromClause, ColumnElement[str]]:
    """`table` with the workspace's aliases joined, and its tag as what the alias stands for."""
    aliases = tag_alias.alias()
    joined = table.outerjoin(
        aliases, sa.and_(aliases.c.team_id == table.c.team_id, aliases.c.alias == table.c.tag)
    )
    return joined, sa.func.coalesce(aliases.c.tag, table.c.tag)


def tags_without_experts(window: Window, *, session: Session) -> list[Count]:
    """Tags of the window's questions (aliases resolved) that no declared expert covers, with
    how many questions asked about each."""
    asked, asked_tag = _canonical(question_tag)
    declared, declared_tag = _canonical(expert)
    covered = (
        sa.select(declared_tag).select_from(declared).where(expert.c.team_id == window.team_id)
    )
    questions = sa.func.count(sa.distinct(question.c.id)).label("n")
    query = (
        sa.select(asked_tag, questions)
        .select_from(asked.join(question, question.c.id == question_tag.c.help_request_id))
        .where(
            _scope(question, window),
            _in(question.c.created_at, window),
            asked_tag.not_in(covered),
        )
        .group_by(asked_tag)
        .order_by(sa.desc("n"), asked_tag)
    )
    return _counts(session, query)


@dataclass(frozen=True)
class OverloadedExpert:
    user_id: str
    routed: int
    # The mean routed to the experts who share at least one of this expert's tags (them too).
    peer_mean: float
    # The channels of the questions routed: whether the expert may be named depends on them.
    channels: frozenset[str]


def overloaded_experts(window: Window, *, session: Session) -> list[OverloadedExpert]:
    """Declared experts asked about more of the window's questions than twice the mean of the
    experts sharing their tags (aliases resolved); most routed first."""
    in_window = sa.and_(
        route.c.team_id == window.team_id,
        _scope(question, window),
        _in(route.c.routed_at, window),
    )
    routes = route.join(question, question.c.id == route.c.help_request_id)
    routed = (
        sa.select(route.c.expert_id, sa.func.count().label("routed"))
        .select_from(routes)
        .where(in_window)
        .group_by(route.c.expert_id)
        .cte("routed")
    )
    declared, declared_tag = _canonical(expert)
    tags = (
        sa.select(expert.c.user_id, declared_tag.label("tag"))
        .select_from(declared)
        .where(expert.c.team_id == window.team_id)
        .distinct()
        .cte("expert_tags")
    )
    mine, theirs = tags.alias("mine"), tags.alias("theirs")
    peers = (
        sa.select(mine.c.user_id.label("expert_id"), theirs.c.user_id.label("peer_id"))
        .select_from(mine.join(theirs, mine.c.tag == theirs.c.tag))
        .distinct()
        .subquery()
    )
    peer_routed = routed.alias("peer_routed")
    means = (
        sa.select(
            peers.c.expert_id,
            sa.func.avg(sa.func.coalesce(peer_routed.c.routed, 0) * 1.0).label("mean"),
        )
        .select_from(peers.outerjoin(peer_routed, peer_routed.c.expert_id == peers.c.peer_id))
        .group_by(peers.c.expert_id)
        .subquery()
    )
    found = session.execute(
        sa.select(routed.c.expert_id, routed.c.routed, means.c.mean)
        .select_from(routed.join(means, means.c.expert_id == routed.c.expert_id))
        .where(routed.c.routed > 2 * means.c.mean)
        .order_by(routed.c.routed.desc(), routed.c.expert_id)
    ).all()
    channels = _channels_of(
        sa.select(route.c.expert_id, question.c.channel_id)
        .select_from(routes)
        .where(in_window, route.c.expert_id.in_([user for user, _, _ in found]))
        .distinct(),
        session=session,
    )
    return [
        OverloadedExpert(str(user), int(n), float(mean), channels[str(user)])
        for user, n, mean in found
    ]


def _channels_of(
    query: sa.Select[tuple[str, str]], *, session: Session
) -> dict[str, frozenset[str]]:
    """(person, channel) rows as each person's channels."""
    found: dict[str, set[str]] = {}
    for person, channel in session.execute(query):
        found.setdefault(str(person), set()).add(str(channel))
    return {person: frozenset(channels) for person, channels in found.items()}


@dataclass(frozen=True)
class OnlyAsker:
    user_id: str
    questions: int
    channels: frozenset[str]


def only_askers(window: Window, *, session: Session) -> list[OnlyAsker]:
    """People who asked in the window, none of whose questions there had a first answer by its
    end, and who had never given a first answer anywhere in the workspace; most questions first."""
    asked = sa.and_(_scope(question, window), _in(question.c.created_at, window))
    answered = sa.case((question.c.first_answer_at < window.end, 1), else_=0)
    unanswered = (
        sa.select(question.c.asker_id)
        .where(asked)
        .group_by(question.c.asker_id)
        .having(sa.func.sum(answered) == 0)
    )
    given = question.alias("given")
    answered_someone = sa.exists(
        sa.select(1).where(
            given.c.team_id == window.team_id,
            given.c.first_answerer_id == question.c.asker_id,
            given.c.first_answer_at < window.end,
        )
    )
    rows = session.execute(
        sa.select(question.c.asker_id, question.c.channel_id, sa.func.count())
        .where(asked, question.c.asker_id.in_(unanswered), ~answered_someone)
        .group_by(question.c.asker_id, question.c.channel_id)
    )
    questions: dict[str, int] = {}
    channels: dict[str, set[str]] = {}
    for asker, channel, n in rows:
        questions[str(asker)] = questions.get(str(asker), 0) + int(n)
        channels.setdefault(str(asker), set()).add(str(channel))
    ranked = sorted(questions, key=lambda asker: (-questions[asker], asker))
    return [OnlyAsker(a, questions[a], frozenset(channels[a])) for a in ranked]


@dataclass(frozen=True)
class NewcomerRamp:
    joined: int
    # Of those who joined: how many posted a first TIL or first answer by the window's end.
    ramped: int
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def not_yet(self) -> int:
        return self.joined - self.ramped


def newcomer_ramp(window: Window, *, session: Session) -> NewcomerRamp:
    """People whose first join of any channel of the workspace falls in the window (and who
    joined the window's channel, when it has one), and the time from that join to their first
    TIL or first answer (in the window's channel, when it has one) before the window's end.
    Someone whose first TIL or answer came before that join was here before LearnLoop saw them
    join: not a newcomer."""
    first_join = (
        sa.select(member_join.c.user_id, sa.func.min(member_join.c.joined_at).label("joined_at"))
        .where(member_join.c.team_id == window.team_id)
        .group_by(member_join.c.user_id)
        .having(_in(sa.func.min(member_join.c.joined_at), window))
    )
    if window.channel_id is not None:
        first_join = first_join.where(
            member_join.c.user_id.in_(
                sa.select(member_join.c.user_id).where(
                    member_join.c.team_id == window.team_id,
                    member_join.c.channel_id == window.channel_id,
                )
            )
        )
    newcomers = first_join.subquery()
    person = newcomers.c.user_id
    first_til = (
        sa.select(sa.func.min(til.c.created_at))
        .where(_scope(til, window), til.c.author_id == person, til.c.created_at < window.end)
        .scalar_subquery()
    )
    first_answer = (
        sa.select(sa.func.min(question.c.first_answer_at))
        .where(
            _scope(question, window),
            question.c.first_answerer_id == person,
            question.c.first_answer_at < window.end,
        )
        .scalar_subquery()
    )
    joined = 0
    ramps: list[float] = []
    for _, joined_at, til_at, answer_at in session.execute(
        sa.select(person, newcomers.c.joined_at, first_til, first_answer)
    ):
        first = min((at for at in (til_at, answer_at) if at is not None), default=None)
        if first is not None and first < joined_at:
            continue
        joined += 1
        if first is not None:
            ramps.append((first - joined_at).total_seconds())
    if not ramps:
        return NewcomerRamp(joined, 0, None, None)
    median, p90 = _interpolated(dict(enumerate(sorted(ramps))), len(ramps), (0.5, 0.9))
    return NewcomerRamp(joined, len(ramps), median, p90)


# -- The chart --------------------------------------------------------------------------------


def weekly_series(
    team_id: str, channel_id: str | None, boundaries: Sequence[datetime], *, session: Session
) -> dict[str, list[int]]:
    """TILs, questions, first answers and reflections per interval between consecutive
    boundaries: one query per table, each week a conditional sum."""
    window = Window(team_id, channel_id, boundaries[0], boundaries[-1])
    weeks = list(pairwise(boundaries))

    def per_week(
        table: sa.Table, column: sa.Column[datetime], scope: sa.Table, joined: sa.FromClause
    ) -> list[int]:
        sums = [
            sa.func.coalesce(
                sa.func.sum(sa.case((sa.and_(column >= a, column < b), 1), else_=0)), 0
            )
            for a, b in weeks
        ]
        row = session.execute(
            sa.select(*sums).select_from(joined).where(_scope(scope, window), _in(column, window))
        ).one()
        return [int(n) for n in row]

    return {
        "tils": per_week(til, til.c.created_at, til, til),
        "questions": per_week(question, question.c.created_at, question, question),
        "answered": per_week(question, question.c.first_answer_at, question, question),
        "reflections": per_week(
            response,
            response.c.created_at,
            run,
            response.join(run, run.c.id == response.c.run_id),
        ),
    }


# -- Channel privacy --------------------------------------------------------------------------


def remember_privacy(team_id: str, channel_id: str, is_private: bool, *, session: Session) -> None:
    """Record what Slack said, whoever else records it at the same time; flushes, never
    commits."""
    row = ChannelInfo(team_id=team_id, channel_id=channel_id, is_private=is_private)
    if not insert_once(row, session=session):
        session.execute(
            sa.update(channel_info)
            .where(channel_info.c.team_id == team_id, channel_info.c.channel_id == channel_id)
            .values(is_private=is_private, checked_at=utcnow())
        )


def recent_privacy(
    team_id: str, channel_ids: Collection[str], since: datetime, *, session: Session
) -> dict[str, bool]:
    """What Slack said about these channels, where it said it after `since`."""
    if not channel_ids:
        return {}
    rows = session.execute(
        sa.select(channel_info.c.channel_id, channel_info.c.is_private).where(
            channel_info.c.team_id == team_id,
            channel_info.c.channel_id.in_(sorted(channel_ids)),
            channel_info.c.checked_at >= since,
        )
    )
    return {str(channel): bool(private) for channel, private in rows}


# -- One person's week (App Home) -------------------------------------------------------------


@dataclass(frozen=True)
class PersonalWeek:
    tils: list[QuotedTil]
    til_count: int
    answers: int
    reflections: int


def personal_week(
    team_id: str, user_id: str, window: Window, limit: int, *, session: Session
) -> PersonalWeek:
    mine = sa.and_(til.c.team_id == team_id, til.c.author_id == user_id)
    latest = session.execute(
        sa.select(*_QUOTED_TIL)
        .where(mine, _in(til.c.created_at, window))
        .order_by(til.c.created_at.desc(), til.c.id.desc())
        .limit(limit)
    )
    return PersonalWeek(
        tils=[QuotedTil(*row) for row in latest],
        til_count=_rows(til, mine, _in(til.c.created_at, window), session=session),
        answers=_rows(
            question,
            question.c.team_id == team_id,
            question.c.first_answerer_id == user_id,
            _in(question.c.first_answer_at, window),
            session=session,
        ),
        reflections=_rows(
            response,
            response.c.team_id == team_id,
            response.c.user_id == user_id,
            _in(response.c.created_at, window),
            session=session,
        ),
    )


# -- Digest subscriptions ---------------------------------------------------------------------


def get_subscription(
    team_id: str, channel_id: str, *, session: Session
) -> SummarySubscription | None:
    return session.exec(
        select(SummarySubscription).where(
            SummarySubscription.team_id == team_id, SummarySubscription.channel_id == channel_id
        )
    ).one_or_none()


def list_subscriptions(team_id: str, *, session: Session) -> list[SummarySubscription]:
    return list(
        session.exec(
            select(SummarySubscription)
            .where(SummarySubscription.team_id == team_id)
            .order_by(col(SummarySubscription.id))
        )
    )


def due_subscriptions(now: datetime, *, session: Session) -> list[SummarySubscription]:
    return list(
        session.exec(
            select(SummarySubscription)
            .where(col(SummarySubscription.next_run_at) <= now, served(SummarySubscription.team_id))
            .order_by(col(SummarySubscription.next_run_at), col(SummarySubscription.id))
        )
    )


def claim_digest(
    subscription: SummarySubscription, iso_week: str, *, session: Session
) -> SummaryDigest | None:
    """The digest of a week for a channel, recorded once; None when it was already claimed."""
    digest = SummaryDigest(
        team_id=subscription.team_id,
        channel_id=subscription.channel_id,
        iso_week=iso_week,
        subscription_id=subscription.id,
    )
    return digest if insert_once(digest, session=session) else None
