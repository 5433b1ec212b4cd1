"""Mentoring: offers and seeks, the workspace's rhythm, rounds and pairs.

Functions add/flush and never commit: the caller owns the transaction. Signing up again for
a tag changes nothing but the channel (the team) it was made in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from storage.db import insert_once
from storage.models import (
    HelpRequest,
    HelpRequestTag,
    MentoringSettings,
    MentorPair,
    MentorRound,
    MentorSide,
    MentorSignup,
    PairStatus,
    Til,
    TilTag,
)
from storage.types import utcnow
from storage.workspaces import served

DEFAULT_EVERY_WEEKS = 2
DEFAULT_CROSS_TEAM = True


@dataclass(frozen=True)
class Rhythm:
    """How often a workspace pairs, and whether across teams."""

    every_weeks: int = DEFAULT_EVERY_WEEKS
    cross_team: bool = DEFAULT_CROSS_TEAM


def sign_up(
    team_id: str,
    user_id: str,
    side: MentorSide,
    tags: Iterable[str],
    channel_id: str,
    *,
    session: Session,
) -> None:
    """Record the offers or seeks; an existing one moves to `channel_id`."""
    for tag in tags:
        row = session.exec(
            select(MentorSignup).where(
                MentorSignup.team_id == team_id,
                MentorSignup.user_id == user_id,
                MentorSignup.side == side,
                MentorSignup.tag == tag,
            )
        ).one_or_none()
        row = row or MentorSignup(
            team_id=team_id, user_id=user_id, side=side, tag=tag, channel_id=channel_id
        )
        row.channel_id = channel_id
        session.add(row)
    session.flush()


def withdraw(team_id: str, user_id: str, sides: Iterable[MentorSide], *, session: Session) -> int:
    """Delete the person's offers and/or seeks; returns how many there were."""
    result = session.execute(
        delete(MentorSignup).where(
            col(MentorSignup.team_id) == team_id,
            col(MentorSignup.user_id) == user_id,
            col(MentorSignup.side).in_(list(sides)),
        )
    )
    return int(getattr(result, "rowcount", 0))


def signups(team_id: str, *, session: Session, user_id: str | None = None) -> list[MentorSignup]:
    """The workspace's offers and seeks (one person's, if given), oldest first."""
    query = select(MentorSignup).where(MentorSignup.team_id == team_id)
    if user_id is not None:
        query = query.where(MentorSignup.user_id == user_id)
    return list(session.exec(query.order_by(col(MentorSignup.created_at), col(MentorSignup.id))))


def teams_signed_up(*, session: Session) -> list[str]:
    """Served workspaces where someone offers or seeks."""
    query = select(MentorSignup.team_id).where(served(MentorSignup.team_id)).distinct()
    return sorted(session.exec(query))


def first_signup_at(team_id: str, *, session: Session) -> datetime | None:
    return session.exec(
        select(func.min(MentorSignup.created_at)).where(MentorSignup.team_id == team_id)
    ).one()


def rhythm(team_id: str, *, session: Session) -> Rhythm:
    row = _settings_row(team_id, session=session)
    return Rhythm(row.every_weeks, row.cross_team) if row is not None else Rhythm()


def set_rhythm(team_id: str, new: Rhythm, updated_by: str, *, session: Session) -> None:
    row = _settings_row(team_id, session=session) or MentoringSettings(
        team_id=team_id,
        every_weeks=new.every_weeks,
        cross_team=new.cross_team,
        updated_by=updated_by,
    )
    row.every_weeks, row.cross_team = new.every_weeks, new.cross_team
    row.updated_by, row.updated_at = updated_by, utcnow()
    session.add(row)
    session.flush()


def _settings_row(team_id: str, *, session: Session) -> MentoringSettings | None:
    return session.exec(
        select(MentoringSettings).where(MentoringSettings.team_id == team_id)
    ).one_or_none()


def last_round(team_id: str, *, session: Session) -> MentorRound | None:
    return session.exec(
        select(MentorRound)
        .where(MentorRound.team_id == team_id)
        .order_by(col(MentorRound.due_at).desc())
        .limit(1)
    ).first()


def claim_round(team_id: str, due_at: datetime, *, session: Session) -> MentorRound | None:
    """The round due at `due_at`, recorded once; None when another sweep already formed it."""
    row = MentorRound(team_id=team_id, due_at=due_at)
    return row if insert_once(row, session=session) else None


def add_pair(
    round_: MentorRound, mentor_id: str, seeker_id: str, tags: list[str], *, session: Session
) -> MentorPair:
    assert round_.id is not None
    pair = MentorPair(
        team_id=round_.team_id,
        round_id=round_.id,
        mentor_id=mentor_id,
        seeker_id=seeker_id,
        tags=" ".join(tags),
    )
    session.add(pair)
    session.flush()
    return pair


def get_pair(pair_id: int, *, session: Session) -> MentorPair | None:
    return session.get(MentorPair, pair_id)


def pairs_of(
    team_id: str, user_id: str, *, session: Session, status: PairStatus | None = None
) -> list[MentorPair]:
    """The pairs the person is in (with that status, if given), oldest first."""
    query = select(MentorPair).where(
        MentorPair.team_id == team_id,
        or_(col(MentorPair.mentor_id) == user_id, col(MentorPair.seeker_id) == user_id),
    )
    if status is not None:
        query = query.where(MentorPair.status == status)
    return list(session.exec(query.order_by(col(MentorPair.id))))


def met(team_id: str, *, session: Session) -> list[tuple[str, str, datetime]]:
    """(mentor, seeker, when) of every pair that counts as having met: all but skipped ones."""
    rows = session.exec(
        select(MentorPair.mentor_id, MentorPair.seeker_id, MentorPair.created_at).where(
            MentorPair.team_id == team_id, MentorPair.status != PairStatus.SKIPPED
        )
    )
    return [(mentor, seeker, when) for mentor, seeker, when in rows]


def latest_question(
    team_id: str, asker_id: str, tags: list[str], *, session: Session
) -> HelpRequest | None:
    """The person's most recent question on one of the tags."""
    on_tags = select(HelpRequestTag.help_request_id).where(
        HelpRequestTag.team_id == team_id, col(HelpRequestTag.tag).in_(tags)
    )
    return session.exec(
        select(HelpRequest)
        .where(
            HelpRequest.team_id == team_id,
            HelpRequest.asker_id == asker_id,
            col(HelpRequest.id).in_(on_tags),
        )
        .order_by(col(HelpRequest.created_at).desc(), col(HelpRequest.id).desc())
        .limit(1)
    ).first()


def most_reacted_til(
    team_id: str, author_id: str, tags: list[str], *, session: Session
) -> Til | None:
    """The person's TIL on one of the tags that most people reacted to (the newest on a tie)."""
    on_tags = select(TilTag.til_id).where(TilTag.team_id == team_id, col(TilTag.tag).in_(tags))
    return session.exec(
        select(Til)
        .where(Til.team_id == team_id, Til.author_id == author_id, col(Til.id).in_(on_tags))
        .order_by(col(Til.reaction_count).desc(), col(Til.created_at).desc(), col(Til.id).desc())
        .limit(1)
    ).first()
