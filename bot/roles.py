"""Who may do what: members ask and answer, leads configure their team, managers everything."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlmodel import Session

from storage.experts import get_role, set_role_row
from storage.models import Role


class NotAllowed(Exception):
    """The person lacks the role the change needs; nothing was changed."""

    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


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


def require_manager(
    team_id: str, user_id: str, *, session: Session, client: WebClient, seeded: frozenset[str]
) -> None:
    """Raise NotAllowed (nothing changed yet) unless the person is a manager."""
    if not is_manager(team_id, user_id, session=session, client=client, seeded=seeded):
        raise NotAllowed("a community manager")


def require_lead_or_manager(
    team_id: str, user_id: str, *, session: Session, client: WebClient, seeded: frozenset[str]
) -> None:
    if not is_lead_or_manager(team_id, user_id, session=session, client=client, seeded=seeded):
        raise NotAllowed("a team lead or community manager")


def set_role(
    team_id: str,
    actor_id: str,
    user_id: str,
    role: Role,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> None:
    """Managers grant lead or manager, or take it back (member)."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    set_role_row(team_id, user_id, role, actor_id, session=session)
    session.commit()
