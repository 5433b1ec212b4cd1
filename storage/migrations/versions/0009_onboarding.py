"""Social onboarding: channels that welcome newcomers, buddy volunteers, each newcomer's
enrolment, and reflection schedules for one person (a newcomer's week-1 prompts).

Revision ID: 0009_onboarding
Revises: 0008_member_join
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0009_onboarding"
down_revision: str | None = "0008_member_join"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: recreating reflection_schedule on SQLite would
    # cascade-delete its runs and their answers.
    op.add_column(
        "reflection_schedule", sa.Column("recipient_id", sa.String(length=32), nullable=True)
    )
    op.create_table(
        "onboarding_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("about", sa.Text(), server_default="", nullable=False),
        sa.Column("enabled_by", sa.String(length=32), nullable=False),
        sa.Column("enabled_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_onboarding_channel"),
    )
    op.create_table(
        "onboarding_buddy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("volunteering", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id", name="uq_onboarding_buddy"),
    )
    op.create_table(
        "onboarding_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("buddy_id", sa.String(length=32), nullable=True),
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("prompts_sent", sa.Integer(), nullable=False),
        sa.Column("next_prompt_at", UTCDateTime(), nullable=True),
        sa.Column("welcomed_at", UTCDateTime(), nullable=True),
        sa.Column("buddy_told_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["reflection_schedule.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", "user_id", name="uq_onboarding_enrolment"),
    )
    op.create_index("ix_onboarding_enrolment_due", "onboarding_enrolment", ["next_prompt_at"])
    op.create_index("ix_onboarding_enrolment_schedule", "onboarding_enrolment", ["schedule_id"])


def downgrade() -> None:
    op.drop_index("ix_onboarding_enrolment_schedule", "onboarding_enrolment")
    op.drop_index("ix_onboarding_enrolment_due", "onboarding_enrolment")
    op.drop_table("onboarding_enrolment")
    op.drop_table("onboarding_buddy")
    op.drop_table("onboarding_channel")
    op.drop_column("reflection_schedule", "recipient_id")
