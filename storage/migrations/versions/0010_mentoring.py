"""Mentoring pairs: offers and seeks per tag, the workspace's rhythm, rounds and pairs.

Revision ID: 0010_mentoring
Revises: 0009_onboarding
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0010_mentoring"
down_revision: str | None = "0009_onboarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mentor_signup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "side",
            sa.Enum("offer", "seek", name="mentorside", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id", "side", "tag", name="uq_mentor_signup"),
    )
    op.create_table(
        "mentoring_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("every_weeks", sa.Integer(), nullable=False),
        sa.Column("cross_team", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", name="uq_mentoring_settings"),
    )
    op.create_table(
        "mentor_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("formed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "due_at", name="uq_mentor_round"),
    )
    op.create_table(
        "mentor_pair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.String(length=32), nullable=False),
        sa.Column("seeker_id", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.String(length=1000), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "skipped", "ended", name="pairstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["mentor_round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "mentor_id", "seeker_id", name="uq_mentor_pair"),
    )
    op.create_index("ix_mentor_pair_team_mentor", "mentor_pair", ["team_id", "mentor_id"])
    op.create_index("ix_mentor_pair_team_seeker", "mentor_pair", ["team_id", "seeker_id"])


def downgrade() -> None:
    op.drop_index("ix_mentor_pair_team_seeker", "mentor_pair")
    op.drop_index("ix_mentor_pair_team_mentor", "mentor_pair")
    op.drop_table("mentor_pair")
    op.drop_table("mentor_round")
    op.drop_table("mentoring_settings")
    op.drop_table("mentor_signup")
