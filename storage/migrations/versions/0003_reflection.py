"""Reflection schedules, their runs and DM deliveries, mutes, and the answers.

Revision ID: 0003_reflection
Revises: 0002_help
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0003_reflection"
down_revision: str | None = "0002_help"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reflection_mute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id", name="uq_reflection_mute"),
    )
    op.create_table(
        "reflection_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column(
            "frequency",
            sa.Enum(
                "daily",
                "weekly",
                "biweekly",
                "monthly",
                name="frequency",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("day", sa.Integer(), nullable=True),
        sa.Column("time_of_day", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("prompt_set", sa.String(length=40), nullable=False),
        sa.Column("dm", sa.Boolean(), nullable=False),
        sa.Column("skip_holidays", sa.String(length=16), nullable=True),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("local_zones", sa.String(length=2000), nullable=True),
        sa.Column("remind_after_minutes", sa.Integer(), nullable=True),
        sa.Column("prompts_sent", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("anchor", UTCDateTime(), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reflection_schedule_due", "reflection_schedule", ["paused", "next_run_at"])

    op.create_table(
        "reflection_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["reflection_schedule.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "run_at", name="uq_reflection_run"),
    )
    op.create_index(
        "ix_reflection_run_message", "reflection_run", ["team_id", "channel_id", "message_ts"]
    )

    op.create_table(
        "reflection_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("dm_channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["reflection_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "user_id", name="uq_reflection_delivery"),
    )
    op.create_index(
        "ix_reflection_delivery_dm", "reflection_delivery", ["team_id", "dm_channel_id", "sent_at"]
    )

    op.create_table(
        "reflection_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["reflection_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_reflection_response"),
    )

    op.create_table(
        "custom_prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("set_name", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "set_name", "text", name="uq_custom_prompt"),
    )

    # APScheduler's SQLAlchemy job store (bot/jobs.py), created here rather than by the store.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_table("custom_prompt")
    op.drop_table("reflection_response")
    op.drop_index("ix_reflection_delivery_dm", table_name="reflection_delivery")

    op.drop_table("reflection_delivery")
    op.drop_index("ix_reflection_run_message", table_name="reflection_run")

    op.drop_table("reflection_run")
    op.drop_index("ix_reflection_schedule_due", table_name="reflection_schedule")

    op.drop_table("reflection_schedule")
    op.drop_table("reflection_mute")
