"""Data portability: every stored record as JSON lines, streamed."""

from __future__ import annotations

import json
from typing import Any, TextIO

from sqlmodel import Session

from storage.models import Til
from storage.til import iter_tils


def til_record(til: Til, tags: list[str]) -> dict[str, Any]:
    return {
        "type": "til",
        "id": til.id,
        "team_id": til.team_id,
        "channel_id": til.channel_id,
        "message_ts": til.message_ts,
        "thread_ts": til.thread_ts,
        "author_id": til.author_id,
        "captured_by": til.captured_by,
        "source": str(til.source),
        "text": til.text,
        "tags": tags,
        "permalink": til.permalink,
        "created_at": til.created_at.isoformat(),
        "updated_at": til.updated_at.isoformat(),
    }


def export_jsonl(stream: TextIO, *, session: Session, team_id: str | None = None) -> int:
    """Write one JSON object a line, each with a "type"; return how many were written."""
    count = 0
    for til, tags in iter_tils(session=session, team_id=team_id):
        stream.write(json.dumps(til_record(til, tags), ensure_ascii=False) + "\n")
        count += 1
    return count
