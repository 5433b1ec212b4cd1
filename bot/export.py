"""Data portability: every stored record as JSON lines, streamed, each with a "type"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col

from storage.export import iter_rows
from storage.help_requests import iter_help_requests
from storage.models import (
    CustomPrompt,
    Expert,
    ExpertStatus,
    HelpRoute,
    MemberJoin,
    MemberRole,
    MentoringSettings,
    MentorPair,
    MentorRound,
    MentorSignup,
    OnboardingBuddy,
    OnboardingChannel,
    OnboardingEnrolment,
    ReflectionDelivery,
    ReflectionMute,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    TagAlias,
    TagFollow,
    TilReaction,
)
from storage.til import iter_tils

# Record type -> table, and the column naming the person a row is about (None: nobody's), for
# the tables whose rows export as they are.
PLAIN_RECORDS: dict[str, tuple[type[SQLModel], str | None]] = {
    "til_reaction": (TilReaction, "user_id"),
    "role": (MemberRole, "user_id"),
    "expert": (Expert, "user_id"),
    "tag_alias": (TagAlias, "added_by"),
    "tag_follow": (TagFollow, "user_id"),
    "expert_status": (ExpertStatus, "user_id"),
    "custom_prompt": (CustomPrompt, "added_by"),
    "reflection_schedule": (ReflectionSchedule, "created_by"),
    "reflection_run": (ReflectionRun, None),
    "reflection_delivery": (ReflectionDelivery, "user_id"),
    "reflection_response": (ReflectionResponse, "user_id"),
    "reflection_mute": (ReflectionMute, "user_id"),
    "member_join": (MemberJoin, "user_id"),
    "onboarding_channel": (OnboardingChannel, "enabled_by"),
    "onboarding_buddy": (OnboardingBuddy, "user_id"),
    "onboarding_enrolment": (OnboardingEnrolment, "user_id"),
    "mentor_signup": (MentorSignup, "user_id"),
    "mentoring_settings": (MentoringSettings, "updated_by"),
    "mentor_round": (MentorRound, None),
    # Names two people: in each one's own export (personal_records), as theirs.
    "mentor_pair": (MentorPair, None),
}


def record(type_: str, row: SQLModel, **extra: Any) -> dict[str, Any]:
    """A row as JSON-ready data: ISO 8601 UTC times, enum values, plus `extra` fields."""
    return {"type": type_, **_fields(row), **extra}


def _fields(row: SQLModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The row's columns in declaration order (a loaded row's own order varies)."""
    dumped = row.model_dump(mode="json")
    return {name: dumped[name] for name in type(row).model_fields if name not in exclude}


def records(*, session: Session, team_id: str | None = None) -> Iterator[dict[str, Any]]:
    for til, tags in iter_tils(session=session, team_id=team_id):
        yield record("til", til, tags=tags)
    for type_, (model, _) in PLAIN_RECORDS.items():
        for row in iter_rows(model, session=session, team_id=team_id):
            yield record(type_, row)
    for request, tags, routes in iter_help_requests(session=session, team_id=team_id):
        yield record(
            "help_request",
            request,
            tags=tags,
            routes=[_fields(route, exclude=frozenset({"team_id"})) for route in routes],
        )


def personal_records(team_id: str, user_id: str, *, session: Session) -> Iterator[dict[str, Any]]:
    """The records about one person, in the shapes of `records`, selected by person in SQL.

    Their questions come without routes (who else was asked, and what they answered, is those
    people's); the times they were asked come as `help_route` records instead.
    """
    for til, tags in iter_tils(session=session, team_id=team_id, author_id=user_id):
        yield record("til", til, tags=tags)
    for type_, (model, person) in PLAIN_RECORDS.items():
        if person is None:
            continue
        mine = col(getattr(model, person)) == user_id
        for row in iter_rows(model, session=session, team_id=team_id, where=mine):
            yield record(type_, row)
    for request, tags, _ in iter_help_requests(session=session, team_id=team_id, asker_id=user_id):
        yield record("help_request", request, tags=tags)
    asked = col(HelpRoute.expert_id) == user_id
    for route in iter_rows(HelpRoute, session=session, team_id=team_id, where=asked):
        yield record("help_route", route)
    paired = or_(col(MentorPair.mentor_id) == user_id, col(MentorPair.seeker_id) == user_id)
    for pair in iter_rows(MentorPair, session=session, team_id=team_id, where=paired):
        yield record("mentor_pair", pair)


def export_jsonl(stream: TextIO, *, session: Session, team_id: str | None = None) -> int:
    """Write one JSON object a line; return how many were written."""
    count = 0
    for item in records(session=session, team_id=team_id):
        stream.write(json.dumps(item, ensure_ascii=False) + "\n")
        count += 1
    return count
