"""Channel joins. Flushes, never commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.db import insert_once
from storage.models import MemberJoin


def record_join(
    team_id: str,
    channel_id: str,
    user_id: str,
    joined_at: datetime,
    *,
    inviter_id: str | None = None,
    session: Session,
) -> bool:
    """Keep someone's first join of a channel; False when it was known (a rejoin or a retry)."""
    row = MemberJoin(
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        inviter_id=inviter_id,
        joined_at=joined_at,
    )
    return insert_once(row, session=session)
