"""SQLite search by workspace inside the index: til_fts also indexes team_id, so a search
intersects the word's matches with the workspace's instead of ranking every workspace's.

Revision ID: 0007_search_team
Revises: 0006_workspaces
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_search_team"
down_revision: str | None = "0006_workspaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def _fts(columns: list[str]) -> list[str]:
    """The FTS5 table over `til` and the triggers that keep it in step, for these columns."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"""CREATE VIRTUAL TABLE til_fts USING fts5(
               {names}, content='til', content_rowid='id', {TOKENIZE})""",
        f"""CREATE TRIGGER til_fts_insert AFTER INSERT ON til BEGIN
               INSERT INTO til_fts(rowid, {names}) VALUES (new.id, {new});
           END""",
        f"""CREATE TRIGGER til_fts_delete AFTER DELETE ON til BEGIN
               INSERT INTO til_fts(til_fts, rowid, {names}) VALUES ('delete', old.id, {old});
           END""",
        f"""CREATE TRIGGER til_fts_update AFTER UPDATE OF text ON til BEGIN
               INSERT INTO til_fts(til_fts, rowid, {names}) VALUES ('delete', old.id, {old});
               INSERT INTO til_fts(rowid, {names}) VALUES (new.id, {new});
           END""",
        "INSERT INTO til_fts(til_fts) VALUES ('rebuild')",
    ]


def _replace(columns: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL filters by team_id on the table's own index
    for trigger in ("til_fts_insert", "til_fts_delete", "til_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS til_fts")
    for statement in _fts(columns):
        op.execute(statement)


def upgrade() -> None:
    _replace(["text", "team_id"])


def downgrade() -> None:
    _replace(["text"])
