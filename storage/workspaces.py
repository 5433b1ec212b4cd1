"""Which workspaces are served: an uninstalled one keeps its data, but the sweeps leave its
rows alone until it installs again. Flushes, never commits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.models import Workspace
from storage.types import utcnow


def set_active(team_id: str, active: bool, *, session: Session) -> None:
    """Record an installation (True) or an uninstallation (False); idempotent."""
    row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).one_or_none()
    row = row or Workspace(team_id=team_id, active=active)
    row.active, row.changed_at = active, utcnow()
    session.add(row)
    session.flush()


def served(team_id: Any) -> ColumnElement[bool]:
    """A filter for due-work queries: rows of workspaces that have not uninstalled LearnLoop
    (a workspace without a row is served)."""
    uninstalled = select(Workspace.team_id).where(col(Workspace.active).is_(sa.false()))
    return sa.not_(col(team_id).in_(uninstalled))
