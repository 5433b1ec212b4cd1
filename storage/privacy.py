"""Forgetting one person in one workspace. Flushes, never commits: the caller's transaction
makes it all or nothing.

Rows that are the person's own go. Rows other people's records depend on stay, with the
person's id replaced by FORGOTTEN_USER and, for their own questions, their text removed.
Mentions of the person in what others wrote are replaced too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from storage.models import (
    CustomPrompt,
    Expert,
    ExpertStatus,
    FollowUp,
    HelpRequest,
    HelpRoute,
    MemberJoin,
    MemberRole,
    MentoringSettings,
    MentorPair,
    MentorSignup,
    OnboardingBuddy,
    OnboardingChannel,
    OnboardingEnrolment,
    ReflectionDelivery,
    ReflectionMute,
    ReflectionResponse,
    ReflectionSchedule,
    SummarySubscription,
    TagAlias,
    TagFollow,
    Til,
    TilReaction,
    TilTag,
    WorkspaceSettings,
)

# Fits every user id column (32 characters) and is no Slack id, so it never matches a person.
FORGOTTEN_USER = "forgotten-user"
REMOVED_TEXT = "(removed at the author's request)"

# Table -> the column naming whose row it is: these rows are deleted.
_OWN_ROWS: tuple[tuple[type[SQLModel], str], ...] = (
    (Expert, "user_id"),
    (TagFollow, "user_id"),
    (ExpertStatus, "user_id"),
    (MemberRole, "user_id"),
    (HelpRoute, "expert_id"),
    (ReflectionDelivery, "user_id"),
    (ReflectionResponse, "user_id"),
    (ReflectionMute, "user_id"),
    (MemberJoin, "user_id"),
    (OnboardingBuddy, "user_id"),
    (OnboardingEnrolment, "user_id"),
    # A newcomer's own week-1 prompt schedule, with its runs (ON DELETE CASCADE).
    (ReflectionSchedule, "recipient_id"),
    (MentorSignup, "user_id"),
)


@dataclass(frozen=True)
class _Kept:
    """A table whose rows stay: `people` columns naming the person get FORGOTTEN_USER; in
    `text`, mentions of the person go; rows `owner` names get `owner_values` (their text)."""

    model: type[SQLModel]
    people: tuple[str, ...]
    text: str | None = None
    owner: str | None = None
    owner_values: dict[str, Any] = field(default_factory=dict)


_KEPT = (
    _Kept(Til, ("captured_by",), text="text"),
    _Kept(
        HelpRequest,
        ("asker_id", "claimed_by", "first_answerer_id", "answerer_id"),
        text="text",
        owner="asker_id",
        # Their question stays for those who answered it and for the counts, but is no longer
        # routed or escalated: nobody is asked about a text that is gone.
        owner_values={"text": REMOVED_TEXT, "route_at": None, "escalate_at": None},
    ),
    _Kept(ReflectionResponse, (), text="text"),
    _Kept(MemberRole, ("granted_by",)),
    _Kept(Expert, ("added_by",)),
    _Kept(TagAlias, ("added_by",)),
    _Kept(WorkspaceSettings, ("updated_by",)),
    _Kept(ReflectionSchedule, ("created_by",)),
    _Kept(CustomPrompt, ("added_by",)),
    _Kept(SummarySubscription, ("created_by",)),
    _Kept(MemberJoin, ("inviter_id",)),
    _Kept(OnboardingChannel, ("enabled_by",), text="about"),
    _Kept(OnboardingEnrolment, ("buddy_id", "lead_id")),
    # The other person's pairing history stays (and so does "never paired again").
    _Kept(MentorPair, ("mentor_id", "seeker_id", "ended_by")),
    _Kept(MentoringSettings, ("updated_by",)),
)


@dataclass
class Changes:
    deleted: int = 0
    anonymised: int = 0


def forget_user(team_id: str, user_id: str, *, session: Session) -> dict[str, Changes]:
    """Delete or anonymise every row naming `user_id` in the workspace; returns what changed
    per table (tables left unchanged are absent). `user_id` must be a Slack id (no % or _)."""
    report: dict[str, Changes] = {}

    def note(model: type[SQLModel], *, deleted: int = 0, anonymised: int = 0) -> None:
        if deleted or anonymised:
            changes = report.setdefault(str(model.__tablename__), Changes())
            changes.deleted += deleted
            changes.anonymised += anonymised

    _uncount_reactions(team_id, user_id, session=session)
    own_tils = select(col(Til.id)).where(col(Til.team_id) == team_id, col(Til.author_id) == user_id)
    # Explicit rather than left to ON DELETE CASCADE, so the report counts them.
    note(
        TilReaction,
        deleted=_delete(
            TilReaction,
            team_id,
            or_(col(TilReaction.user_id) == user_id, col(TilReaction.til_id).in_(own_tils)),
            session=session,
        ),
    )
    note(
        TilTag,
        deleted=_delete(TilTag, team_id, col(TilTag.til_id).in_(own_tils), session=session),
    )
    # A question whose accepted answer was one of these TILs loses the link (ON DELETE SET NULL).
    note(Til, deleted=_delete(Til, team_id, col(Til.author_id) == user_id, session=session))
    for model, column in _OWN_ROWS:
        where = col(getattr(model, column)) == user_id
        note(model, deleted=_delete(model, team_id, where, session=session))
    for kept in _KEPT:
        note(kept.model, anonymised=_anonymise(kept, team_id, user_id, session=session))
    # Pending follow-ups naming the person (their click, their reaction) are dropped with them.
    mentions_them = col(FollowUp.args).contains(f'"{user_id}"')
    note(FollowUp, deleted=_delete(FollowUp, team_id, mentions_them, session=session))
    session.flush()
    return report


def _delete(
    model: type[SQLModel], team_id: str, where: ColumnElement[bool], *, session: Session
) -> int:
    table: Any = model
    result = session.execute(delete(table).where(col(table.team_id) == team_id, where))
    return int(getattr(result, "rowcount", 0))


def _uncount_reactions(team_id: str, user_id: str, *, session: Session) -> None:
    """Take the person's reactions out of the counts summaries highlight TILs by."""
    per_til = session.execute(
        select(col(TilReaction.til_id), func.count())
        .where(col(TilReaction.team_id) == team_id, col(TilReaction.user_id) == user_id)
        .group_by(col(TilReaction.til_id))
    ).all()
    for til_id, count in per_til:
        session.execute(
            update(Til)
            .where(col(Til.id) == til_id)
            .values(reaction_count=col(Til.reaction_count) - count)
        )


def _anonymise(kept: _Kept, team_id: str, user_id: str, *, session: Session) -> int:
    """Rewrite the rows of one kept table that name the person; returns how many changed."""
    table: Any = kept.model
    naming = [col(getattr(table, name)) == user_id for name in kept.people]
    changed = 0
    if kept.text is not None:
        changed += _scrub_mentions(table, kept.text, naming, team_id, user_id, session=session)
    if not naming:
        return changed
    in_team = col(table.team_id) == team_id
    changed += session.execute(
        select(func.count()).select_from(table).where(in_team, or_(*naming))
    ).scalar_one()
    values: dict[str, Any] = {
        name: case(
            (col(getattr(table, name)) == user_id, FORGOTTEN_USER), else_=getattr(table, name)
        )
        for name in kept.people
    }
    if kept.owner is not None:
        is_owner = col(getattr(table, kept.owner)) == user_id
        for name, value in kept.owner_values.items():
            values[name] = case((is_owner, value), else_=getattr(table, name))
    session.execute(update(table).where(in_team, or_(*naming)).values(values))
    return changed


def _scrub_mentions(
    table: Any,
    text_column: str,
    naming: list[ColumnElement[bool]],
    team_id: str,
    user_id: str,
    *,
    session: Session,
) -> int:
    """Replace the person's mentions in free text; returns how many rows changed that no
    `naming` column names (those are counted with the id replacement)."""
    mention = re.compile(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>")
    text = getattr(table, text_column)
    named = or_(*naming) if naming else None
    columns = [col(table.id), col(text)] + ([named.label("named")] if named is not None else [])
    rows = session.execute(
        select(*columns).where(col(table.team_id) == team_id, col(text).contains(user_id))
    ).all()
    changed = 0
    for row in rows:
        scrubbed = mention.sub(f"@{FORGOTTEN_USER}", row[1]).replace(user_id, FORGOTTEN_USER)
        if scrubbed == row[1]:
            continue
        session.execute(
            update(table).where(col(table.id) == row[0]).values({text_column: scrubbed})
        )
        changed += 0 if named is not None and row[2] else 1
    return changed
