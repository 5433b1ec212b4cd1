"""Channel joins: who joined which channel when, for onboarding and the newcomer ramp.

Revision ID: 0008_member_join
Revises: 0007_search_team
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0008_member_join"
down_revision: str | None = "0007_search_team"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_join",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("inviter_id", sa.String(length=32), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", "user_id", name="uq_member_join"),
    )
    op.create_index("ix_member_join_user", "member_join", ["team_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_member_join_user", "member_join")
    op.drop_table("member_join")
