"""Who may do what: members ask and answer, leads configure their team, managers everything."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlmodel import Session

from storage.experts import get_role
from storage.models import Role


def is_manager(
    team_id: str, user_id: str, *, session: Session, client: WebClient, seeded: frozenset[str]
) -> bool:
    """Managers: granted in LearnLoop, listed in LEARNLOOP_MANAGERS, or a workspace owner/admin."""
    if user_id in seeded or get_role(team_id, user_id, session=session) is Role.MANAGER:
        return True
    user = client.users_info(user=user_id)["user"]
    return bool(user.get("is_owner") or user.get("is_admin"))


def is_lead_or_manager(
    team_id: str, user_id: str, *, session: Session, client: WebClient, seeded: frozenset[str]
) -> bool:
    if get_role(team_id, user_id, session=session) is Role.LEAD:
        return True
    return is_manager(team_id, user_id, session=session, client=client, seeded=seeded)
