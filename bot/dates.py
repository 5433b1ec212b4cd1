"""Dates, times and zones people type ("until 2026-12-24", "fri", "09:30", "Europe/Berlin")
and what they mean for the clock (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Weekdays by name, Monday first (Python's weekday() numbering).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# "Until I say otherwise": away or muted with no end date.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
_UNTIL = re.compile(r"^(?:until\s+)?([0-9]{4}-[0-9]{2}-[0-9]{2})$", re.IGNORECASE)


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
    if day >= FOREVER.date():
        raise ValueError(f"{day} is further than any end date; leave the date out instead")
    return day


def end_of(day: date | None) -> datetime:
    """The moment a day (UTC) is over: the first instant of the next one; FOREVER for None."""
    if day is None:
        return FOREVER
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def weekday(word: str) -> int:
    """`fri`, `Friday`, `fridays` -> 4 (Monday 0); ValueError for anything else."""
    typed = word.lower().removesuffix("s") if len(word) > 3 else word.lower()
    for number, name in enumerate(_DAY_NAMES):
        if len(typed) >= 3 and name.startswith(typed):
            return number
    raise ValueError(f"{word!r} is not a day of the week; use mon, tue, … sun")


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; ValueError naming the mistake for anything else."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone; use Area/City, e.g. Europe/Berlin"
        ) from None


def wall_clock(moment: datetime, zone_name: str) -> str:
    """How a moment reads on a clock in the zone: "Fri 04 Dec 2026 16:00"."""
    return moment.astimezone(zone(zone_name)).strftime("%a %d %b %Y %H:%M")
