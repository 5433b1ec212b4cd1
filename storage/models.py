"""The tables. Every table carries team_id so one deployment serves many workspaces."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


class TilSource(StrEnum):
    """How a TIL reached LearnLoop."""

    KEYWORD = "keyword"
    COMMAND = "command"
    SHORTCUT = "shortcut"
    REACTION = "reaction"


def _enum_of_values(enum: type[StrEnum]) -> sa.Enum:
    """Store an enum's values ("keyword"), not its names, in a plain VARCHAR column."""
    return sa.Enum(
        enum,
        native_enum=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Til(SQLModel, table=True):
    """A "today I learned" post: one row per Slack message, whichever path captured it."""

    __tablename__ = "til"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_til_message"),
        Index("ix_til_team_created", "team_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    # None only for a /til the bot could not post (e.g. not in the channel): kept, never lost.
    message_ts: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    author_id: str = Field(max_length=32)
    captured_by: str = Field(max_length=32)
    source: TilSource = Field(sa_type=_enum_of_values(TilSource))
    text: str = Field(sa_column=Column(Text, nullable=False))
    permalink: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TilTag(SQLModel, table=True):
    """A normalised #tag on a TIL; its own table so tags can be counted and shared by features."""

    __tablename__ = "til_tag"
    __table_args__ = (
        UniqueConstraint("til_id", "tag", name="uq_til_tag"),
        Index("ix_til_tag_team_tag", "team_id", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    til_id: int = Field(
        sa_column=Column(Integer, ForeignKey("til.id", ondelete="CASCADE"), nullable=False)
    )
    tag: str = Field(max_length=80)


# The Core tables, for hot paths that skip the ORM.
TIL_TABLE = SQLModel.metadata.tables[Til.__tablename__]
TIL_TAG_TABLE = SQLModel.metadata.tables[TilTag.__tablename__]
