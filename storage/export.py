"""Reading every row of a table in id order, a batch at a time, for data exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col, select

Row = TypeVar("Row", bound=SQLModel)


def iter_rows(
    model: type[Row],
    *,
    session: Session,
    team_id: str | None = None,
    where: ColumnElement[bool] | None = None,
    batch_size: int = 500,
) -> Iterator[Row]:
    """Every row (of one workspace, and matching `where`, if given), oldest first; memory
    stays flat."""
    table: Any = model
    last_id = 0
    while True:
        statement = (
            select(model).where(col(table.id) > last_id).order_by(col(table.id)).limit(batch_size)
        )
        if team_id is not None:
            statement = statement.where(col(table.team_id) == team_id)
        if where is not None:
            statement = statement.where(where)
        batch = list(session.exec(statement))
        if not batch:
            return
        yield from batch
        last_id = getattr(batch[-1], "id", last_id)
        session.expunge_all()
