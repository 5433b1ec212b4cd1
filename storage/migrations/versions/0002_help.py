"""Roles, the expert directory (experts, aliases, follows, status) and help requests.

Revision ID: 0002_help
Revises: 0001_til
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0002_help"
down_revision: str | None = "0001_til"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SQLITE_FTS = [
    """CREATE VIRTUAL TABLE help_request_fts USING fts5(
           text, content='help_request', content_rowid='id',
           tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER help_request_fts_insert AFTER INSERT ON help_request BEGIN
           INSERT INTO help_request_fts(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER help_request_fts_delete AFTER DELETE ON help_request BEGIN
           INSERT INTO help_request_fts(help_request_fts, rowid, text)
           VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER help_request_fts_update AFTER UPDATE OF text ON help_request BEGIN
           INSERT INTO help_request_fts(help_request_fts, rowid, text)
           VALUES ('delete', old.id, old.text);
           INSERT INTO help_request_fts(rowid, text) VALUES (new.id, new.text);
       END""",
]

POSTGRES_FTS = [
    """ALTER TABLE help_request ADD COLUMN search_vector tsvector
           GENERATED ALWAYS AS (to_tsvector('english', text)) STORED""",
    "CREATE INDEX ix_help_request_search_vector ON help_request USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "expert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "tag", "user_id", name="uq_expert"),
    )
    op.create_index("ix_expert_team_user", "expert", ["team_id", "user_id"])

    op.create_table(
        "expert_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("away_until", UTCDateTime(), nullable=True),
        sa.Column("last_asked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id", name="uq_expert_status"),
    )
    op.create_table(
        "help_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("asker_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("status_ts", sa.String(length=32), nullable=True),
        sa.Column("permalink", sa.String(length=512), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "claimed",
                "answered",
                "resolved",
                name="helpstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("first_answer_at", UTCDateTime(), nullable=True),
        sa.Column("first_answerer_id", sa.String(length=32), nullable=True),
        sa.Column("first_answer_ts", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("answerer_id", sa.String(length=32), nullable=True),
        sa.Column(
            "answer_til_id",
            sa.Integer(),
            sa.ForeignKey("til.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("route_at", UTCDateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalate_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_help_request_message"),
    )
    op.create_index(
        "ix_help_request_team_status", "help_request", ["team_id", "status", "created_at"]
    )
    op.create_index("ix_help_request_escalate_at", "help_request", ["escalate_at"])
    op.create_index("ix_help_request_route_at", "help_request", ["route_at"])

    op.create_table(
        "member_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "role",
            sa.Enum("member", "lead", "manager", name="role", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("granted_by", sa.String(length=32), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id", name="uq_member_role"),
    )
    op.create_table(
        "tag_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=80), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "alias", name="uq_tag_alias"),
    )
    op.create_table(
        "tag_follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "tag", "user_id", name="uq_tag_follow"),
    )
    op.create_table(
        "help_request_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["help_request_id"], ["help_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("help_request_id", "tag", name="uq_help_request_tag"),
    )
    op.create_index("ix_help_request_tag_team_tag", "help_request_tag", ["team_id", "tag"])

    op.create_table(
        "help_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("help_request_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("routed_at", UTCDateTime(), nullable=False),
        sa.Column("dm_channel_id", sa.String(length=32), nullable=True),
        sa.Column("dm_ts", sa.String(length=32), nullable=True),
        sa.Column(
            "answer",
            sa.Enum("taken", "declined", "already_answered", name="routeanswer", native_enum=False),
            nullable=True,
        ),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["help_request_id"], ["help_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("help_request_id", "expert_id", name="uq_help_route"),
    )
    op.create_index("ix_help_route_team_expert", "help_route", ["team_id", "expert_id"])

    op.create_table(
        "workspace_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("experts_per_question", sa.Integer(), nullable=True),
        sa.Column("escalation_minutes", sa.Integer(), nullable=True),
        sa.Column("help_channel", sa.String(length=32), nullable=True),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", name="uq_workspace_settings"),
    )
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE help_request_fts")
    op.drop_table("workspace_settings")
    op.drop_index("ix_help_route_team_expert", table_name="help_route")

    op.drop_table("help_route")
    op.drop_index("ix_help_request_tag_team_tag", table_name="help_request_tag")

    op.drop_table("help_request_tag")
    op.drop_table("tag_follow")
    op.drop_table("tag_alias")
    op.drop_table("member_role")
    op.drop_index("ix_help_request_route_at", table_name="help_request")
    op.drop_index("ix_help_request_escalate_at", table_name="help_request")
    op.drop_index("ix_help_request_team_status", table_name="help_request")

    op.drop_table("help_request")
    op.drop_table("expert_status")
    op.drop_index("ix_expert_team_user", table_name="expert")

    op.drop_table("expert")
