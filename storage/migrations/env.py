"""Alembic environment: uses the caller's connection (storage.db.upgrade) or DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

from storage.db import is_managed_by_models

target_metadata = SQLModel.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=is_managed_by_models,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = create_engine(os.environ.get("DATABASE_URL") or "sqlite:///./learnloop.db")
    with engine.begin() as fresh_connection:
        run_migrations(fresh_connection)
