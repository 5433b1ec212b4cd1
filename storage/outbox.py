"""Follow-up rows: add with the request's writes, claim before running, delete when done.
Flushes, never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.db import BulkInsert
from storage.models import FollowUp
from storage.types import utcnow
from storage.workspaces import served

follow_up = FollowUp.__table__  # type: ignore[attr-defined]
_INSERT = BulkInsert(
    follow_up,
    ("team_id", "task", "args", "attempts", "run_after", "claimed_until", "created_at"),
    returning=("id",),
)


def add_follow_ups(
    follow_ups: Sequence[tuple[str, str, dict[str, Any]]],
    claimed_until: datetime | None,
    *,
    session: Session,
) -> list[int]:
    """(team, task, args) rows in one INSERT on the session's connection, no ORM, returning
    their ids in order: they sit on the capture's hot path, a batch at a time.
    `claimed_until` None leaves them due at once to whoever claims them."""
    connection = session.connection()
    now = _INSERT.bind(connection, "created_at", utcnow())
    claimed = _INSERT.bind(connection, "claimed_until", claimed_until)
    return _INSERT.ids(
        connection,
        [
            (team_id, task, json.dumps(args), 0, now, claimed, now)
            for team_id, task, args in follow_ups
        ],
    )


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Its time has come and its claim, if any, has run out."""
    return sa.and_(
        follow_up.c.run_after <= now,
        sa.or_(follow_up.c.claimed_until.is_(None), follow_up.c.claimed_until <= now),
    )


def claim(follow_up_id: int, now: datetime, lease: timedelta, *, session: Session) -> bool:
    """Take a due row for `lease`; one UPDATE, so of two replicas only one wins."""
    taken = session.execute(
        sa.update(follow_up)
        .where(follow_up.c.id == follow_up_id, _due(now))
        .values(claimed_until=now + lease)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def claim_due(
    now: datetime, limit: int, lease: timedelta, *, session: Session
) -> list[tuple[int, str, str, str, int]]:
    """Take up to `limit` due rows of served workspaces for `lease`, oldest first, in one
    statement, returning (id, team, task, args JSON, attempts). Of several workers each row goes
    to one: PostgreSQL skips rows another worker's statement has locked instead of waiting, and
    re-checks a row whose claim committed meanwhile; SQLite runs one writer at a time."""
    oldest_due = (
        sa.select(follow_up.c.id)
        .where(_due(now), served(follow_up.c.team_id))
        .order_by(follow_up.c.run_after, follow_up.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # left out on SQLite
    )
    taken = session.execute(
        sa.update(follow_up)
        .where(follow_up.c.id.in_(oldest_due))
        .values(claimed_until=now + lease)
        .returning(
            follow_up.c.id,
            follow_up.c.team_id,
            follow_up.c.task,
            follow_up.c.args,
            follow_up.c.attempts,
        )
    )
    return sorted((int(i), team, task, args, int(n)) for i, team, task, args, n in taken)


def release(follow_up_ids: list[int], *, session: Session) -> None:
    """Claimed but never started: due again at once, for any runner."""
    session.execute(
        sa.update(follow_up).where(follow_up.c.id.in_(follow_up_ids)).values(claimed_until=None)
    )


def due(now: datetime, limit: int, *, session: Session) -> list[tuple[int, str]]:
    """(id, team) of the rows whose time has come and whose claim (if any) has run out, in
    served workspaces, oldest first."""
    query = (
        select(FollowUp.id, FollowUp.team_id)
        .where(_due(now), served(FollowUp.team_id))
        .order_by(col(FollowUp.run_after), col(FollowUp.id))
        .limit(limit)
    )
    return [(int(i), team_id) for i, team_id in session.exec(query) if i is not None]


def get_follow_up(follow_up_id: int, *, session: Session) -> FollowUp | None:
    return session.get(FollowUp, follow_up_id)


def finish(follow_up_ids: list[int], *, session: Session) -> None:
    session.execute(sa.delete(follow_up).where(follow_up.c.id.in_(follow_up_ids)))


def postpone(follow_up_id: int, run_after: datetime, error: str, *, session: Session) -> None:
    """A failed attempt: counted, released, and tried again from `run_after`."""
    session.execute(
        sa.update(follow_up)
        .where(follow_up.c.id == follow_up_id)
        .values(
            attempts=follow_up.c.attempts + 1,
            run_after=run_after,
            claimed_until=None,
            last_error=error[:200],
        )
    )


def defer(follow_up_id: int, run_after: datetime, *, session: Session) -> None:
    """Not now, and not a failure: released, tried again from `run_after`."""
    session.execute(
        sa.update(follow_up)
        .where(follow_up.c.id == follow_up_id)
        .values(run_after=run_after, claimed_until=None)
    )


def pending(*, session: Session) -> list[FollowUp]:
    return list(session.exec(select(FollowUp).order_by(col(FollowUp.id))))
