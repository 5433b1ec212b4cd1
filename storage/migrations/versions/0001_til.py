"""TILs, their tags, and full-text search (FTS5 on SQLite, tsvector on PostgreSQL).

Revision ID: 0001_til
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0001_til"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    """CREATE VIRTUAL TABLE til_fts USING fts5(
           text, content='til', content_rowid='id',
           tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER til_fts_insert AFTER INSERT ON til BEGIN
           INSERT INTO til_fts(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER til_fts_delete AFTER DELETE ON til BEGIN
           INSERT INTO til_fts(til_fts, rowid, text) VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER til_fts_update AFTER UPDATE OF text ON til BEGIN
           INSERT INTO til_fts(til_fts, rowid, text) VALUES ('delete', old.id, old.text);
           INSERT INTO til_fts(rowid, text) VALUES (new.id, new.text);
       END""",
]

POSTGRES_FTS = [
    """ALTER TABLE til ADD COLUMN search_vector tsvector
           GENERATED ALWAYS AS (to_tsvector('english', text)) STORED""",
    "CREATE INDEX ix_til_search_vector ON til USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "til",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("captured_by", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("permalink", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_til_message"),
    )
    op.create_index("ix_til_team_created", "til", ["team_id", "created_at"])
    op.create_table(
        "til_tag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column(
            "til_id", sa.Integer(), sa.ForeignKey("til.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.UniqueConstraint("til_id", "tag", name="uq_til_tag"),
    )
    op.create_index("ix_til_tag_team_tag", "til_tag", ["team_id", "tag"])
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE til_fts")
    op.drop_table("til_tag")
    op.drop_table("til")
