"""People joining channels: the first time someone joins a channel is what makes them new there."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage import membership as store


def member_joined(
    team_id: str,
    channel_id: str,
    user_id: str,
    joined_at: datetime,
    *,
    inviter_id: str | None = None,
    session: Session,
) -> bool:
    """Record a join; True when this is the person's first join of the channel."""
    first = store.record_join(
        team_id, channel_id, user_id, joined_at, inviter_id=inviter_id, session=session
    )
    session.commit()
    return first
