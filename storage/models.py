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
    ANSWER = "answer"


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
        Index("ix_til_team_channel_created", "team_id", "channel_id", "created_at"),
        Index("ix_til_team_author_created", "team_id", "author_id", "created_at"),
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
    # People's reactions to the TIL's message (rows in til_reaction; the bot's own left out):
    # what summaries highlight.
    reaction_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
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


class TilReaction(SQLModel, table=True):
    """A person's emoji reaction to a TIL's message: one row each, so a retried event counts
    once and a removed reaction un-counts."""

    __tablename__ = "til_reaction"
    __table_args__ = (UniqueConstraint("til_id", "user_id", "reaction", name="uq_til_reaction"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    til_id: int = Field(
        sa_column=Column(Integer, ForeignKey("til.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: str = Field(max_length=32)
    reaction: str = Field(max_length=100)


class Role(StrEnum):
    """What a person may configure: leads run their team's rituals, managers the workspace."""

    MEMBER = "member"
    LEAD = "lead"
    MANAGER = "manager"


class MemberRole(SQLModel, table=True):
    """A role granted in LearnLoop; people without a row are members."""

    __tablename__ = "member_role"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_member_role"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    role: Role = Field(sa_type=_enum_of_values(Role))
    granted_by: str = Field(max_length=32)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Expert(SQLModel, table=True):
    """Someone declared (by themselves or a lead) as knowing about a tag."""

    __tablename__ = "expert"
    __table_args__ = (
        UniqueConstraint("team_id", "tag", "user_id", name="uq_expert"),
        Index("ix_expert_team_user", "team_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    tag: str = Field(max_length=80)
    added_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TagAlias(SQLModel, table=True):
    """Another name for a tag ("k8s" for "kubernetes"), declared by a manager."""

    __tablename__ = "tag_alias"
    __table_args__ = (UniqueConstraint("team_id", "alias", name="uq_tag_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    alias: str = Field(max_length=80)
    tag: str = Field(max_length=80)
    added_by: str = Field(max_length=32)


class TagFollow(SQLModel, table=True):
    """Someone who wants a DM for every new question on a tag, without being asked to answer."""

    __tablename__ = "tag_follow"
    __table_args__ = (UniqueConstraint("team_id", "tag", "user_id", name="uq_tag_follow"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    tag: str = Field(max_length=80)


class ExpertStatus(SQLModel, table=True):
    """Per person routing state: away until a date, and when they were last asked."""

    __tablename__ = "expert_status"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_expert_status"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    # Away with no end date is stored as a far-future day; None means available.
    away_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_asked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HelpStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    RESOLVED = "resolved"


class HelpRequest(SQLModel, table=True):
    """A question asked with /ask or a mention, and what became of it."""

    __tablename__ = "help_request"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_help_request_message"),
        Index("ix_help_request_team_status", "team_id", "status", "created_at"),
        Index("ix_help_request_team_created", "team_id", "created_at"),
        Index("ix_help_request_team_channel_created", "team_id", "channel_id", "created_at"),
        Index("ix_help_request_team_first_answer", "team_id", "first_answer_at"),
        Index("ix_help_request_team_resolved", "team_id", "resolved_at"),
        Index("ix_help_request_team_asker", "team_id", "asker_id", "created_at"),
        Index("ix_help_request_team_answerer", "team_id", "first_answerer_id", "first_answer_at"),
        Index("ix_help_request_escalate_at", "escalate_at"),
        Index("ix_help_request_route_at", "route_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    asker_id: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The question's message in the channel (the bot's post for /ask, the asker's own message
    # for a mention); None until Slack accepted the post.
    message_ts: str | None = Field(default=None, max_length=32)
    # The bot's message that shows the question's state and its Resolved button.
    status_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=512)
    status: HelpStatus = Field(default=HelpStatus.OPEN, sa_type=_enum_of_values(HelpStatus))
    claimed_by: str | None = Field(default=None, max_length=32)
    first_answer_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_answerer_id: str | None = Field(default=None, max_length=32)
    first_answer_ts: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answerer_id: str | None = Field(default=None, max_length=32)
    # The accepted answer kept as team knowledge ("Save the answer as a TIL").
    answer_til_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("til.id", ondelete="SET NULL"), nullable=True),
    )
    # Set while the asker looks at "maybe already answered" suggestions: experts are asked then.
    route_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Escalation: 0 = first experts asked, 1 = more experts asked, 2 = handed to the team.
    escalation_level: int = Field(default=0)
    escalate_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HelpRequestTag(SQLModel, table=True):
    __tablename__ = "help_request_tag"
    __table_args__ = (
        UniqueConstraint("help_request_id", "tag", name="uq_help_request_tag"),
        Index("ix_help_request_tag_team_tag", "team_id", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    help_request_id: int = Field(
        sa_column=Column(Integer, ForeignKey("help_request.id", ondelete="CASCADE"), nullable=False)
    )
    tag: str = Field(max_length=80)


class RouteAnswer(StrEnum):
    TAKEN = "taken"
    DECLINED = "declined"
    ALREADY_ANSWERED = "already_answered"


class HelpRoute(SQLModel, table=True):
    """One expert asked about one question: at most once, whatever retries happen."""

    __tablename__ = "help_route"
    __table_args__ = (
        UniqueConstraint("help_request_id", "expert_id", name="uq_help_route"),
        Index("ix_help_route_team_expert", "team_id", "expert_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    help_request_id: int = Field(
        sa_column=Column(Integer, ForeignKey("help_request.id", ondelete="CASCADE"), nullable=False)
    )
    expert_id: str = Field(max_length=32)
    round: int = Field(default=1)
    routed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dm_channel_id: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)
    answer: RouteAnswer | None = Field(default=None, sa_type=_enum_of_values(RouteAnswer))
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WorkspaceSettings(SQLModel, table=True):
    """A workspace's own routing choices; None means the deployment's default."""

    __tablename__ = "workspace_settings"
    __table_args__ = (UniqueConstraint("team_id", name="uq_workspace_settings"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    experts_per_question: int | None = None
    escalation_minutes: int | None = None
    help_channel: str | None = Field(default=None, max_length=32)
    # The zone whose ISO weeks summaries count in (an IANA name).
    timezone: str | None = Field(default=None, max_length=64)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Workspace(SQLModel, table=True):
    """Whether LearnLoop still serves a workspace: a row appears when the workspace installs
    (OAuth) or uninstalls; no row means served (single-token mode)."""

    __tablename__ = "workspace"
    __table_args__ = (UniqueConstraint("team_id", name="uq_workspace"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    active: bool
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Frequency(StrEnum):
    DAILY = "daily"  # weekdays only
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class ReflectionSchedule(SQLModel, table=True):
    """A lead's recurring reflection prompt: the database row is the truth about it."""

    __tablename__ = "reflection_schedule"
    __table_args__ = (Index("ix_reflection_schedule_due", "paused", "next_run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    created_by: str = Field(max_length=32)
    frequency: Frequency = Field(sa_type=_enum_of_values(Frequency))
    # Weekday 0-6 (Monday 0) for weekly/biweekly, day of month 1-28 for monthly.
    day: int | None = None
    time_of_day: str = Field(max_length=5)  # HH:MM, wall clock in `timezone`
    timezone: str = Field(max_length=64)
    prompt_set: str = Field(max_length=40)
    # Delivered by DM to each member of the channel instead of posted in it.
    dm: bool = Field(default=False)
    # Runs falling on a public holiday of this country (or country-subdivision, "US-CA") are
    # skipped.
    skip_holidays: str | None = Field(default=None, max_length=16)
    # DM schedules: each member gets the prompt at time_of_day in their own time zone; the
    # members' zones seen at the last run (comma-separated) decide the next run time.
    local: bool = Field(default=False)
    local_zones: str | None = Field(default=None, max_length=2000)
    # DM schedules: remind those who have not answered this many minutes after the prompt
    # (once per run); None means no reminders, the default.
    remind_after_minutes: int | None = None
    # Prompts of the set already sent in this rotation, so none repeats until all were asked.
    prompts_sent: int = Field(default=0)
    # A schedule for one person (a newcomer's onboarding prompts, bot.onboarding): only they
    # get its prompts, it is driven by the onboarding sweep and kept out of /reflect's list.
    recipient_id: str | None = Field(default=None, max_length=32)
    paused: bool = Field(default=False)
    # Biweekly schedules fire on the weeks of this date's parity.
    anchor: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReflectionRun(SQLModel, table=True):
    """One prompt sent for a schedule at a run time; the unique key makes it happen once."""

    __tablename__ = "reflection_run"
    __table_args__ = (
        UniqueConstraint("schedule_id", "run_at", name="uq_reflection_run"),
        Index("ix_reflection_run_message", "team_id", "channel_id", "message_ts"),
        Index("ix_reflection_run_team_sent", "team_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    schedule_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reflection_schedule.id", ondelete="CASCADE"), nullable=False
        )
    )
    run_at: datetime = Field(sa_type=UTCDateTime)
    channel_id: str = Field(max_length=32)
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    message_ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReflectionDelivery(SQLModel, table=True):
    """A DM carrying a run's prompt to one member; their replies in that DM are answers."""

    __tablename__ = "reflection_delivery"
    __table_args__ = (
        UniqueConstraint("run_id", "user_id", name="uq_reflection_delivery"),
        Index("ix_reflection_delivery_dm", "team_id", "dm_channel_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    run_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reflection_run.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: str = Field(max_length=32)
    dm_channel_id: str = Field(max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReflectionMute(SQLModel, table=True):
    """Someone who asked not to get reflection DMs, until a time (or for good: far future)."""

    __tablename__ = "reflection_mute"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_reflection_mute"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    until: datetime = Field(sa_type=UTCDateTime)


class CustomPrompt(SQLModel, table=True):
    """A prompt a manager added to a set: a new set of the workspace's, or a built-in one."""

    __tablename__ = "custom_prompt"
    __table_args__ = (UniqueConstraint("team_id", "set_name", "text", name="uq_custom_prompt"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    set_name: str = Field(max_length=40)
    text: str = Field(max_length=1000)
    added_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReflectionResponse(SQLModel, table=True):
    """A member's answer to a prompt, from the prompt's thread."""

    __tablename__ = "reflection_response"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_reflection_response"),
        Index("ix_reflection_response_team_created", "team_id", "created_at"),
        Index("ix_reflection_response_team_user", "team_id", "user_id", "created_at"),
        Index("ix_reflection_response_run", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    run_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reflection_run.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    message_ts: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChannelInfo(SQLModel, table=True):
    """What Slack said about a channel; whether it is private decides what summaries quote."""

    __tablename__ = "channel_info"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_channel_info"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    is_private: bool
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SummarySubscription(SQLModel, table=True):
    """A weekly digest posted to a channel; the row is the truth, like a reflection schedule."""

    __tablename__ = "summary_subscription"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", name="uq_summary_subscription"),
        Index("ix_summary_subscription_due", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    # Where the digest is posted.
    channel_id: str = Field(max_length=32)
    # What it summarises: one channel, or None for the whole workspace.
    scope_channel_id: str | None = Field(default=None, max_length=32)
    weekday: int  # Monday 0
    time_of_day: str = Field(max_length=5)  # HH:MM in the workspace's zone
    created_by: str = Field(max_length=32)
    next_run_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SummaryDigest(SQLModel, table=True):
    """One digest posted: the unique key makes a week's digest to a channel happen once."""

    __tablename__ = "summary_digest"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "iso_week", name="uq_summary_digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    iso_week: str = Field(max_length=8)  # "2026-W48"
    subscription_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("summary_subscription.id", ondelete="SET NULL"), nullable=True
        ),
    )
    message_ts: str | None = Field(default=None, max_length=32)
    chart_file_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MemberJoin(SQLModel, table=True):
    """When someone first joined a channel, as Slack's member_joined_channel said: who is new
    is what onboarding welcomes and what the newcomer-ramp figure starts counting from."""

    __tablename__ = "member_join"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "user_id", name="uq_member_join"),
        Index("ix_member_join_user", "team_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    inviter_id: str | None = Field(default=None, max_length=32)
    joined_at: datetime = Field(sa_type=UTCDateTime)


class OnboardingChannel(SQLModel, table=True):
    """A channel whose newcomers are welcomed by DM; the lead who turned it on hears about
    newcomers without a buddy and sees their week-1 answers."""

    __tablename__ = "onboarding_channel"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_onboarding_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    # What the channel is about, as the lead typed it (Slack mrkdwn).
    about: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    enabled_by: str = Field(max_length=32)
    enabled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OnboardingBuddy(SQLModel, table=True):
    """Someone who volunteered to be a newcomer's buddy; when they were last chosen spreads
    newcomers over the volunteers."""

    __tablename__ = "onboarding_buddy"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_onboarding_buddy"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    # Off keeps the row, so volunteering again does not jump the assignment queue.
    volunteering: bool = Field(default=True)
    last_assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OnboardingEnrolment(SQLModel, table=True):
    """A newcomer welcomed to a channel: their buddy, the lead, and their week-1 prompts (a
    reflection schedule of their own, whose runs and answers are the reflection machinery's)."""

    __tablename__ = "onboarding_enrolment"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "user_id", name="uq_onboarding_enrolment"),
        Index("ix_onboarding_enrolment_due", "next_prompt_at"),
        Index("ix_onboarding_enrolment_schedule", "schedule_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    buddy_id: str | None = Field(default=None, max_length=32)
    lead_id: str = Field(max_length=32)
    schedule_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reflection_schedule.id", ondelete="CASCADE"), nullable=False
        )
    )
    prompts_sent: int = Field(default=0)
    # The next week-1 prompt (10:00 on a weekday in the newcomer's zone); None when all went.
    next_prompt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set once each DM went out, so a replayed welcome sends only what is missing.
    welcomed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    buddy_told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentorSide(StrEnum):
    """Which side of a mentoring pair someone signed up for."""

    OFFER = "offer"
    SEEK = "seek"


class MentorSignup(SQLModel, table=True):
    """Someone offering to mentor on a tag, or seeking a mentor on it. The channel they signed
    up in is their team, for workspaces that pair only within teams."""

    __tablename__ = "mentor_signup"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "side", "tag", name="uq_mentor_signup"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    side: MentorSide = Field(sa_type=_enum_of_values(MentorSide))
    tag: str = Field(max_length=80)
    channel_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentoringSettings(SQLModel, table=True):
    """A workspace's mentoring rhythm; no row means every two weeks, across teams."""

    __tablename__ = "mentoring_settings"
    __table_args__ = (UniqueConstraint("team_id", name="uq_mentoring_settings"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    every_weeks: int
    cross_team: bool
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentorRound(SQLModel, table=True):
    """One pairing round of a workspace; the unique key makes a round happen once."""

    __tablename__ = "mentor_round"
    __table_args__ = (UniqueConstraint("team_id", "due_at", name="uq_mentor_round"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    due_at: datetime = Field(sa_type=UTCDateTime)
    formed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PairStatus(StrEnum):
    ACTIVE = "active"
    SKIPPED = "skipped"  # not met: the two may be paired again
    ENDED = "ended"


class MentorPair(SQLModel, table=True):
    """A mentor and a seeker paired in a round on the tags they share, with their group DM."""

    __tablename__ = "mentor_pair"
    __table_args__ = (
        UniqueConstraint("round_id", "mentor_id", "seeker_id", name="uq_mentor_pair"),
        Index("ix_mentor_pair_team_mentor", "team_id", "mentor_id"),
        Index("ix_mentor_pair_team_seeker", "team_id", "seeker_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    round_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mentor_round.id", ondelete="CASCADE"), nullable=False)
    )
    mentor_id: str = Field(max_length=32)
    seeker_id: str = Field(max_length=32)
    tags: str = Field(max_length=1000)  # the shared tags, space-separated
    status: PairStatus = Field(default=PairStatus.ACTIVE, sa_type=_enum_of_values(PairStatus))
    # The group DM with the two of them, and the intro posted there; None until Slack accepted.
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_by: str | None = Field(default=None, max_length=32)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FollowUp(SQLModel, table=True):
    """Work promised by an acknowledged request (confirm a TIL, post and route a question),
    stored with the request's own writes so a crash after the ack loses nothing: it runs at
    once, and the sweep replays whatever is still here when its claim has run out."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_due", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    task: str = Field(max_length=64)  # a name in bot.outbox.TASKS, never code
    args: str = Field(sa_column=Column(Text, nullable=False))  # JSON of ids and plain values
    attempts: int = Field(default=0)
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Whoever runs it holds it until then; a replay waits for the claim to run out.
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The Core tables, for hot paths that skip the ORM.
TIL_TABLE = SQLModel.metadata.tables[Til.__tablename__]
TIL_TAG_TABLE = SQLModel.metadata.tables[TilTag.__tablename__]
HELP_REQUEST_TABLE = SQLModel.metadata.tables[HelpRequest.__tablename__]
HELP_REQUEST_TAG_TABLE = SQLModel.metadata.tables[HelpRequestTag.__tablename__]
