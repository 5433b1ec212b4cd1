"""The expert directory: declared experts, tag aliases, follows, availability, roles.

Functions add/flush and never commit: the caller owns the transaction. Writes are idempotent:
adding what exists, or removing what does not, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Float, cast, delete, func, literal
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from storage.models import (
    Expert,
    ExpertStatus,
    HelpRequest,
    HelpRequestTag,
    HelpRoute,
    HelpStatus,
    MemberRole,
    Role,
    RouteAnswer,
    TagAlias,
    TagFollow,
    Til,
    TilTag,
)
from storage.privacy import FORGOTTEN_USER
from storage.types import UTCDateTime, utcnow

SECONDS_A_DAY = 86_400


def get_role(team_id: str, user_id: str, *, session: Session) -> Role | None:
    role = session.exec(
        select(MemberRole.role).where(MemberRole.team_id == team_id, MemberRole.user_id == user_id)
    ).one_or_none()
    return Role(role) if role is not None else None


def set_role_row(
    team_id: str, user_id: str, role: Role, granted_by: str, *, session: Session
) -> None:
    """Record a role; "member" removes the row, as people without one are members."""
    row = session.exec(
        select(MemberRole).where(MemberRole.team_id == team_id, MemberRole.user_id == user_id)
    ).one_or_none()
    if role is Role.MEMBER:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(MemberRole(team_id=team_id, user_id=user_id, role=role, granted_by=granted_by))
    else:
        row.role, row.granted_by, row.granted_at = role, granted_by, utcnow()
        session.add(row)
    session.flush()


def leads(team_id: str, *, session: Session) -> list[str]:
    """People with the lead role, oldest grant first."""
    return list(
        session.exec(
            select(MemberRole.user_id)
            .where(MemberRole.team_id == team_id, MemberRole.role == Role.LEAD)
            .order_by(col(MemberRole.id))
        )
    )


def resolve_aliases(team_id: str, tags: Iterable[str], *, session: Session) -> list[str]:
    """Tags with aliases replaced by what they stand for, in order, without repeats."""
    tags = list(dict.fromkeys(tags))
    meanings = aliases(team_id, tags, session=session)
    return list(dict.fromkeys(meanings.get(tag, tag) for tag in tags))


# Built once, on the table rather than the model: every /ask batch runs it, and an ORM select
# cost a question a tenth of its ack.
_tag_alias = TagAlias.__table__  # type: ignore[attr-defined]
_ALIASES = sa.select(_tag_alias.c.alias, _tag_alias.c.tag).where(
    _tag_alias.c.team_id == sa.bindparam("team_id"),
    _tag_alias.c.alias.in_(sa.bindparam("tags", expanding=True)),
)


def aliases(team_id: str, tags: Iterable[str], *, session: Session) -> dict[str, str]:
    """What each of the tags that is an alias stands for (one query for any number of tags)."""
    tags = list(tags)
    if not tags:
        return {}
    rows = session.connection().execute(_ALIASES, {"team_id": team_id, "tags": tags})
    return {alias: tag for alias, tag in rows}


def add_alias(team_id: str, alias: str, tag: str, added_by: str, *, session: Session) -> None:
    """Point `alias` at `tag` (replacing an earlier meaning), and move experts and follows over."""
    existing = session.exec(
        select(TagAlias).where(TagAlias.team_id == team_id, TagAlias.alias == alias)
    ).one_or_none()
    if existing is None:
        session.add(TagAlias(team_id=team_id, alias=alias, tag=tag, added_by=added_by))
    else:
        existing.tag, existing.added_by = tag, added_by
        session.add(existing)
    rows: list[Expert | TagFollow] = [
        *session.exec(select(Expert).where(Expert.team_id == team_id, Expert.tag == alias)),
        *session.exec(
            select(TagFollow).where(TagFollow.team_id == team_id, TagFollow.tag == alias)
        ),
    ]
    for row in rows:
        _move_tag(row, tag, session=session)
    session.flush()


def _move_tag(row: Expert | TagFollow, tag: str, *, session: Session) -> None:
    model = type(row)
    duplicate = session.exec(
        select(model).where(
            model.team_id == row.team_id, model.user_id == row.user_id, model.tag == tag
        )
    ).first()
    if duplicate is None:
        row.tag = tag
        session.add(row)
    else:
        session.delete(row)


def with_aliases(team_id: str, tags: Iterable[str], *, session: Session) -> list[str]:
    """The tags and every alias that stands for them (TILs keep the name their author wrote)."""
    tags = list(dict.fromkeys(tags))
    aliases = session.exec(
        select(TagAlias.alias).where(TagAlias.team_id == team_id, col(TagAlias.tag).in_(tags))
    )
    return list(dict.fromkeys([*tags, *aliases]))


def known_tags(team_id: str, *, session: Session) -> set[str]:
    """Every tag the workspace uses for routing: declared expertise and aliases."""
    experts = session.exec(select(Expert.tag).where(Expert.team_id == team_id).distinct())
    aliases = session.exec(select(TagAlias.alias).where(TagAlias.team_id == team_id))
    return set(experts) | set(aliases)


def add_expert(team_id: str, user_id: str, tag: str, *, added_by: str, session: Session) -> bool:
    """True when the person was not yet an expert on the tag."""
    if _expert_row(team_id, user_id, tag, session=session) is not None:
        return False
    session.add(Expert(team_id=team_id, user_id=user_id, tag=tag, added_by=added_by))
    session.flush()
    return True


def remove_expert(team_id: str, user_id: str, tag: str, *, session: Session) -> bool:
    """True when there was something to remove."""
    row = _expert_row(team_id, user_id, tag, session=session)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _expert_row(team_id: str, user_id: str, tag: str, *, session: Session) -> Expert | None:
    return session.exec(
        select(Expert).where(
            Expert.team_id == team_id, Expert.user_id == user_id, Expert.tag == tag
        )
    ).one_or_none()


def list_experts(
    team_id: str, *, session: Session, tag: str | None = None
) -> list[tuple[str, str, int]]:
    """(tag, user_id, questions answered) for every declared expert, by tag then most answered."""
    answered = (
        select(HelpRequest.answerer_id, func.count().label("answered"))
        .where(HelpRequest.team_id == team_id, HelpRequest.status == HelpStatus.RESOLVED)
        .group_by(col(HelpRequest.answerer_id))
        .subquery()
    )
    statement = (
        select(Expert.tag, Expert.user_id, func.coalesce(answered.c.answered, 0))
        .join(answered, answered.c.answerer_id == Expert.user_id, isouter=True)
        .where(Expert.team_id == team_id)
        .order_by(col(Expert.tag), func.coalesce(answered.c.answered, 0).desc(), Expert.user_id)
    )
    if tag is not None:
        statement = statement.where(Expert.tag == tag)
    return [(row[0], row[1], int(row[2])) for row in session.exec(statement)]


def experts_for_tags(team_id: str, tags: Iterable[str], *, session: Session) -> list[str]:
    """Declared experts on any of the tags, each once."""
    return list(
        dict.fromkeys(
            session.exec(
                select(Expert.user_id)
                .where(Expert.team_id == team_id, col(Expert.tag).in_(list(tags)))
                .order_by(col(Expert.id))
            )
        )
    )


def follow(team_id: str, user_id: str, tag: str, *, session: Session) -> bool:
    exists = session.exec(
        select(TagFollow).where(
            TagFollow.team_id == team_id, TagFollow.user_id == user_id, TagFollow.tag == tag
        )
    ).first()
    if exists is not None:
        return False
    session.add(TagFollow(team_id=team_id, user_id=user_id, tag=tag))
    session.flush()
    return True


def unfollow(team_id: str, user_id: str, tag: str, *, session: Session) -> bool:
    result = session.execute(
        delete(TagFollow).where(
            col(TagFollow.team_id) == team_id,
            col(TagFollow.user_id) == user_id,
            col(TagFollow.tag) == tag,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def followers_of(team_id: str, tags: Iterable[str], *, session: Session) -> list[str]:
    return list(
        dict.fromkeys(
            session.exec(
                select(TagFollow.user_id)
                .where(TagFollow.team_id == team_id, col(TagFollow.tag).in_(list(tags)))
                .order_by(col(TagFollow.id))
            )
        )
    )


def get_status(team_id: str, user_id: str, *, session: Session) -> ExpertStatus:
    """The person's routing state, created empty on first use."""
    status = session.exec(
        select(ExpertStatus).where(ExpertStatus.team_id == team_id, ExpertStatus.user_id == user_id)
    ).one_or_none()
    if status is None:
        status = ExpertStatus(team_id=team_id, user_id=user_id)
        session.add(status)
        session.flush()
    return status


def statuses(team_id: str, user_ids: Iterable[str], *, session: Session) -> dict[str, ExpertStatus]:
    rows = session.exec(
        select(ExpertStatus).where(
            ExpertStatus.team_id == team_id, col(ExpertStatus.user_id).in_(list(user_ids))
        )
    )
    return {row.user_id: row for row in rows}


def set_away(team_id: str, user_id: str, until: datetime | None, *, session: Session) -> None:
    status = get_status(team_id, user_id, session=session)
    status.away_until = until
    session.add(status)
    session.flush()


def mark_asked(team_id: str, user_id: str, when: datetime, *, session: Session) -> None:
    status = get_status(team_id, user_id, session=session)
    status.last_asked_at = when
    session.add(status)
    session.flush()


class EvidenceKind(StrEnum):
    """What counts as evidence that someone knows a tag (or, for declines, does not)."""

    RESOLVED = "resolved"
    TIL = "til"
    DECLINED = "declined"


def evidence(
    team_id: str,
    tags: Iterable[str],
    now: datetime,
    since: datetime,
    half_life: timedelta,
    *,
    session: Session,
) -> list[tuple[str, EvidenceKind, float]]:
    """(user, kind, strength) for answers that resolved, TILs posted and questions declined on
    any of the tags (or their aliases) since `since`: each piece counts 1 at `now`, halving
    every `half_life`, summed in the database (routing reads a row per person, not per piece)."""
    tags = with_aliases(team_id, tags, session=session)
    dialect = session.get_bind().dialect.name
    resolved = (
        select(
            HelpRequest.answerer_id, _faded(col(HelpRequest.resolved_at), now, half_life, dialect)
        )
        .join(HelpRequestTag, col(HelpRequestTag.help_request_id) == col(HelpRequest.id))
        .where(
            HelpRequest.team_id == team_id,
            col(HelpRequestTag.tag).in_(tags),
            HelpRequest.status == HelpStatus.RESOLVED,
            col(HelpRequest.answerer_id).is_not(None),
            col(HelpRequest.answerer_id) != FORGOTTEN_USER,
            col(HelpRequest.resolved_at) >= since,
        )
        .group_by(col(HelpRequest.answerer_id))
    )
    tils = (
        select(Til.author_id, _faded(col(Til.created_at), now, half_life, dialect))
        .join(TilTag, col(TilTag.til_id) == col(Til.id))
        .where(
            Til.team_id == team_id,
            col(TilTag.tag).in_(tags),
            Til.author_id != FORGOTTEN_USER,
            Til.created_at >= since,
        )
        .group_by(col(Til.author_id))
    )
    declined = (
        select(HelpRoute.expert_id, _faded(col(HelpRoute.answered_at), now, half_life, dialect))
        .join(HelpRequestTag, col(HelpRequestTag.help_request_id) == col(HelpRoute.help_request_id))
        .where(
            HelpRoute.team_id == team_id,
            col(HelpRequestTag.tag).in_(tags),
            HelpRoute.answer == RouteAnswer.DECLINED,
            HelpRoute.expert_id != FORGOTTEN_USER,
            col(HelpRoute.answered_at) >= since,
        )
        .group_by(col(HelpRoute.expert_id))
    )
    # A forgotten person's answers stay on their questions, but nobody is asked in their name.
    return [
        (str(user), kind, float(strength))
        for kind, statement in (
            (EvidenceKind.RESOLVED, resolved),
            (EvidenceKind.TIL, tils),
            (EvidenceKind.DECLINED, declined),
        )
        for user, strength in session.execute(statement)
    ]


def _faded(
    when: Mapped[datetime] | Mapped[datetime | None],
    now: datetime,
    half_life: timedelta,
    dialect: str,
) -> ColumnElement[float]:
    """SUM over rows of 0.5 ** (age / half_life), ages in days (SQLite's julianday, PostgreSQL's
    epoch seconds)."""
    at = literal(now, UTCDateTime)
    if dialect == "sqlite":
        age_days = func.julianday(at) - func.julianday(when)
    else:
        age_days = func.extract("epoch", at - when) / SECONDS_A_DAY
    return func.sum(func.power(0.5, cast(age_days, Float) / (half_life / timedelta(days=1))))
