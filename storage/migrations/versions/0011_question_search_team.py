"""SQLite search of questions by workspace inside the index, as 0007 did for TILs: /ask's
"maybe already answered" ranked every workspace's matching questions on each ask.

Revision ID: 0011_question_search_team
Revises: 0010_mentoring
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_question_search_team"
down_revision: str | None = "0010_mentoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def _fts(columns: list[str]) -> list[str]:
    """help_request_fts and the triggers that keep it in step, for these columns."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"""CREATE VIRTUAL TABLE help_request_fts USING fts5(
               {names}, content='help_request', content_rowid='id', {TOKENIZE})""",
        f"""CREATE TRIGGER help_request_fts_insert AFTER INSERT ON help_request BEGIN
               INSERT INTO help_request_fts(rowid, {names}) VALUES (new.id, {new});
           END""",
        f"""CREATE TRIGGER help_request_fts_delete AFTER DELETE ON help_request BEGIN
               INSERT INTO help_request_fts(help_request_fts, rowid, {names})
               VALUES ('delete', old.id, {old});
           END""",
        f"""CREATE TRIGGER help_request_fts_update AFTER UPDATE OF text ON help_request BEGIN
               INSERT INTO help_request_fts(help_request_fts, rowid, {names})
               VALUES ('delete', old.id, {old});
               INSERT INTO help_request_fts(rowid, {names}) VALUES (new.id, {new});
           END""",
        "INSERT INTO help_request_fts(help_request_fts) VALUES ('rebuild')",
    ]


def _replace(columns: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL filters by team_id on the table's own index
    for trigger in (
        "help_request_fts_insert",
        "help_request_fts_delete",
        "help_request_fts_update",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS help_request_fts")
    for statement in _fts(columns):
        op.execute(statement)


def upgrade() -> None:
    _replace(["text", "team_id"])


def downgrade() -> None:
    _replace(["text"])
