"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from storage.db import alembic_config, schema_drift, upgrade


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert schema_drift(connection) == [], "models changed without a migration"


def test_migrations_downgrade_to_nothing_and_upgrade_again(engine: Engine) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert "til" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert {"til", "til_tag"} <= set(inspect(engine).get_table_names())
