"""Per-workspace choices that override the deployment's defaults. Flushes, never commits."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import WorkspaceSettings
from storage.types import utcnow

EDITABLE = ("experts_per_question", "escalation_minutes", "help_channel", "timezone")


def get_workspace_settings(team_id: str, *, session: Session) -> WorkspaceSettings | None:
    return session.exec(
        select(WorkspaceSettings).where(WorkspaceSettings.team_id == team_id)
    ).one_or_none()


def update_workspace_settings(
    team_id: str, updated_by: str, changes: dict[str, int | str], *, session: Session
) -> WorkspaceSettings:
    row = get_workspace_settings(team_id, session=session) or WorkspaceSettings(
        team_id=team_id, updated_by=updated_by
    )
    for name, value in changes.items():
        if name not in EDITABLE:
            raise KeyError(name)
        setattr(row, name, value)
    row.updated_by = updated_by
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row
