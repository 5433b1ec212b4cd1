"""People joining channels: the first time someone joins a channel is what makes them new there."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.onboarding import promise_welcome
from bot.outbox import Promised
from storage import membership as store


def member_joined(
    team_id: str,
    channel_id: str,
    user_id: str,
    joined_at: datetime,
    *,
    inviter_id: str | None = None,
    session: Session,
) -> Promised | None:
    """Record a join. Someone's first join of a channel where onboarding is on promises their
    welcome in the same transaction: returns that follow-up (None for a rejoin or a retry)."""
    first = store.record_join(
        team_id, channel_id, user_id, joined_at, inviter_id=inviter_id, session=session
    )
    welcome = promise_welcome(team_id, channel_id, user_id, session=session) if first else None
    session.commit()
    return welcome
