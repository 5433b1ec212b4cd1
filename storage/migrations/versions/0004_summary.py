"""Summaries: reactions to TILs, channel privacy, digest subscriptions and their posts,
the workspace's zone, and the indexes the weekly aggregates read.

Revision ID: 0004_summary
Revises: 0003_reflection
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0004_summary"
down_revision: str | None = "0003_reflection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "til": {
        "ix_til_team_channel_created": ["team_id", "channel_id", "created_at"],
        "ix_til_team_author_created": ["team_id", "author_id", "created_at"],
    },
    "help_request": {
        "ix_help_request_team_created": ["team_id", "created_at"],
        "ix_help_request_team_channel_created": ["team_id", "channel_id", "created_at"],
        "ix_help_request_team_first_answer": ["team_id", "first_answer_at"],
        "ix_help_request_team_resolved": ["team_id", "resolved_at"],
        "ix_help_request_team_asker": ["team_id", "asker_id", "created_at"],
        "ix_help_request_team_answerer": ["team_id", "first_answerer_id", "first_answer_at"],
    },
    "reflection_run": {"ix_reflection_run_team_sent": ["team_id", "sent_at"]},
    "reflection_response": {
        "ix_reflection_response_team_created": ["team_id", "created_at"],
        "ix_reflection_response_team_user": ["team_id", "user_id", "created_at"],
        "ix_reflection_response_run": ["run_id"],
    },
}


def upgrade() -> None:
    # Plain ALTERs, not batch mode: recreating `til` on SQLite would drop its FTS triggers.
    op.add_column(
        "til", sa.Column("reaction_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("workspace_settings", sa.Column("timezone", sa.String(length=64)))
    for table, indexes in INDEXES.items():
        for name, columns in indexes.items():
            op.create_index(name, table, columns)
    op.create_table(
        "til_reaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("til_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("reaction", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["til_id"], ["til.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("til_id", "user_id", "reaction", name="uq_til_reaction"),
    )
    op.create_table(
        "channel_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_channel_info"),
    )
    op.create_table(
        "summary_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("scope_channel_id", sa.String(length=32), nullable=True),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("time_of_day", sa.String(length=5), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_summary_subscription"),
    )
    op.create_index("ix_summary_subscription_due", "summary_subscription", ["next_run_at"])
    op.create_table(
        "summary_digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("chart_file_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["summary_subscription.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", "iso_week", name="uq_summary_digest"),
    )


def downgrade() -> None:
    op.drop_table("summary_digest")
    op.drop_index("ix_summary_subscription_due", "summary_subscription")
    op.drop_table("summary_subscription")
    op.drop_table("channel_info")
    op.drop_table("til_reaction")
    for table, indexes in INDEXES.items():
        for name in indexes:
            op.drop_index(name, table)
    with op.batch_alter_table("workspace_settings") as batch_op:
        batch_op.drop_column("timezone")
    op.drop_column("til", "reaction_count")
