"""Data portability: every stored record as JSON lines, streamed, each with a "type"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlmodel import Session, SQLModel

from storage.export import iter_rows
from storage.help_requests import iter_help_requests
from storage.models import (
    CustomPrompt,
    Expert,
    ExpertStatus,
    MemberRole,
    ReflectionResponse,
    ReflectionRun,
    ReflectionSchedule,
    TagAlias,
    TagFollow,
)
from storage.til import iter_tils

# Record type -> table, for the tables whose rows export as they are.
PLAIN_RECORDS: dict[str, type[SQLModel]] = {
    "role": MemberRole,
    "expert": Expert,
    "tag_alias": TagAlias,
    "tag_follow": TagFollow,
    "expert_status": ExpertStatus,
    "custom_prompt": CustomPrompt,
    "reflection_schedule": ReflectionSchedule,
    "reflection_run": ReflectionRun,
    "reflection_response": ReflectionResponse,
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
    for type_, model in PLAIN_RECORDS.items():
        for row in iter_rows(model, session=session, team_id=team_id):
            yield record(type_, row)
    for request, tags, routes in iter_help_requests(session=session, team_id=team_id):
        yield record(
            "help_request",
            request,
            tags=tags,
            routes=[_fields(route, exclude=frozenset({"team_id"})) for route in routes],
        )


def export_jsonl(stream: TextIO, *, session: Session, team_id: str | None = None) -> int:
    """Write one JSON object a line; return how many were written."""
    count = 0
    for item in records(session=session, team_id=team_id):
        stream.write(json.dumps(item, ensure_ascii=False) + "\n")
        count += 1
    return count
