"""Dates people type ("until 2026-12-24") and what they mean for the clock (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

# "Until I say otherwise": away or muted with no end date.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
_UNTIL = re.compile(r"^(?:until\s+)?(\d{4}-\d{2}-\d{2})$", re.IGNORECASE)


def parse_until(text: str, today: date) -> date | None:
    """`[until] YYYY-MM-DD`, today or later; None for no date. ValueError for anything else."""
    if not text.strip():
        return None
    match = _UNTIL.match(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    day = date.fromisoformat(match[1])
    if day < today:
        raise ValueError(f"{day} is in the past")
    return day


def end_of(day: date | None) -> datetime:
    """The moment a day (UTC) is over: the first instant of the next one; FOREVER for None."""
    if day is None:
        return FOREVER
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
