"""A large, deterministic LearnLoop database for the weekly-summary and search benchmarks.

The schema comes from the project's own migrations (`storage.db.upgrade`), so the FTS5 triggers
on SQLite and the tsvector columns and GIN indexes on PostgreSQL are exactly production's; the
rows go in through SQLAlchemy Core executemany in batches. The same sizes and seed give the same
rows on every machine: time is anchored at ANCHOR, never now().

    .venv/bin/python -m bench.dataset --database-url sqlite:////tmp/bench-data/learnloop.db
    .venv/bin/python -m bench.dataset --database-url postgresql+psycopg://postgres@127.0.0.1/bench_x

Shapes a benchmark can rely on: workspace T0000 is the busiest and T{n-1} the quietest; word
rank in `vocabulary()` is frequency rank (rank 0 is in most texts, the last ranks in a handful).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import cache
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from prompts.prompt_sets import load_prompt_sets
from storage.db import MIGRATIONS_DIR, create_db_engine, upgrade
from storage.models import Frequency, HelpStatus, TilSource
from storage.types import UTCDateTime, utcnow

# Monday 00:00 UTC of ISO week 2026-W48: the data fills the `weeks` whole weeks before it.
ANCHOR = datetime(2026, 11, 23, tzinfo=UTC)
# Bump when the generator changes what it writes: ensure() then regenerates old datasets.
GENERATOR_VERSION = 1
BATCH_ROWS = 10_000
MARKER_TABLE = "bench_dataset"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = 1_000_000  # Slack timestamps are microseconds since the epoch here
_HOUR = 3600 * _SECOND
_DAY = 24 * _HOUR
T = TypeVar("T")

_marker_metadata = sa.MetaData()
MARKER = sa.Table(
    MARKER_TABLE,
    _marker_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("generated_at", UTCDateTime(), nullable=False),
    # NULL while generating: an interrupted generation is never mistaken for a complete one.
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("seconds", sa.Float, nullable=True),
)
TABLES = SQLModel.metadata.tables


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TAGS = _words(
    "python postgres sql git docker kubernetes aws terraform react typescript javascript css "
    "testing ci security linux bash performance observability logging api graphql rust go java "
    "kotlin swift android ios design ux accessibility product analytics ml data excel slack "
    "onboarding process meetings writing hiring career leadership networking dns http caching "
    "redis kafka elasticsearch nginx vim vscode macos regex unicode timezones billing"
)
# The head of the word distribution: English glue words first (FTS5 keeps them, PostgreSQL's
# 'english' configuration drops them), then the team's everyday vocabulary.
COMMON_WORDS = _words(
    "the to a you can is in of and it that with for on when if use by this not from an or "
    "instead your without how just need be are only all new one so every at after before does "
    "make way actually faster better also index query cache test deploy build branch commit "
    "config server request response file function error log table column database container "
    "image flag command script shell key value list string type class method field timeout "
    "retry queue thread lock memory disk network port user token secret schema migration "
    "release review merge pipeline job alert metric dashboard trace package dependency version "
    "library module endpoint header cookie session search filter sort join transaction replica "
    "backup shortcut keyboard terminal editor plugin extension debugger breakpoint profiler "
    "benchmark latency throughput batch stream event handler callback promise async loop array "
    "map tuple pattern template layout component state hook route page form button modal color "
    "font icon chart report meeting calendar doc spreadsheet customer ticket incident postmortem "
    "runbook oncall"
)
RARE_WORDS = 30_000
# Emoji people react to TILs with (the bot's own :books: is never counted).
REACTIONS = _words("+1 heart tada bulb raised_hands eyes 100 fire brain pray")
TIL_PREFIXES = ("TIL ", "TIL: ", "TIL - ", "Today I learned ")
QUESTION_OPENINGS = (
    "How do I",
    "Does anyone know why",
    "What is the best way to",
    "Why does",
    "Is there a way to",
    "Who knows how",
    "Any idea how to",
)
SOURCES = (
    (TilSource.KEYWORD, 0.55),
    (TilSource.COMMAND, 0.28),
    (TilSource.REACTION, 0.08),
    (TilSource.SHORTCUT, 0.06),
    (TilSource.ANSWER, 0.03),
)
ZONES = ("UTC", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo")
PROMPT_SETS = ("weekly-retro", "learning-log", "team-health")
# People post during the working day; the hours are UTC (workspaces are spread over zones).
HOUR_WEIGHTS = (0.2,) * 7 + (
    0.6,
    1.5,
    2.5,
    3,
    3,
    2,
    2.5,
    3,
    3,
    2.5,
    1.5,
    0.8,
    0.5,
    0.4,
    0.3,
    0.25,
    0.2,
)


@dataclass(frozen=True)
class Sizes:
    """What a dataset was generated with; equal sizes and seed mean equal rows."""

    tils: int = 1_000_000
    help_requests: int = 200_000
    reflection_responses: int = 50_000
    workspaces: int = 50
    weeks: int = 52
    seed: int = 7

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name != "seed" and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if self.workspaces > 10_000:
            raise ValueError("at most 10,000 workspaces (team ids are T0000..T9999)")


class Weighted(Generic[T]):
    """Draws items by weight with one bisect, cheaper than random.choices for one item."""

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]
        self.last = len(self.items) - 1

    def pick(self, rng: Random) -> T:
        return self.items[bisect.bisect(self.cum, rng.random() * self.total, 0, self.last)]

    def picks(self, rng: Random, count: int) -> list[T]:
        return rng.choices(self.items, cum_weights=self.cum, k=count)

    def distinct(self, rng: Random, count: int) -> list[T]:
        chosen: list[T] = []
        while len(chosen) < count:
            item = self.pick(rng)
            if item not in chosen:
                chosen.append(item)
        return chosen


def zipf(count: int, exponent: float = 1.0) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


@dataclass(frozen=True)
class Workspace:
    team_id: str
    domain: str
    users: Weighted[str]
    channels: Weighted[str]
    private_channel: str
    # The global tag popularity, reordered a little: teams care about different topics.
    tags: Weighted[str]


@cache
def vocabulary(seed: int = 7) -> tuple[str, ...]:
    """Every word texts are made of, most frequent first (the weight of rank r is 1/(r+1))."""
    rng = Random(f"{seed}:vocabulary")
    onsets = _words("b c d f g h j k l m n p r s t v w z br dr gr kl pl st tr")
    vowels = _words("a e i o u ai ou")
    seen = set(COMMON_WORDS)
    rare: list[str] = []
    while len(rare) < RARE_WORDS:
        syllables = rng.randint(2, 4)
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
        word += rng.choice(("", "", "n", "r", "x", "l"))
        if word not in seen:
            seen.add(word)
            rare.append(word)
    return (*COMMON_WORDS, *rare)


def workspaces(sizes: Sizes) -> list[Workspace]:
    """The teams, their people and channels: ~40 people, ~8 channels, one of them private."""
    rng = Random(f"{sizes.seed}:workspaces")
    teams = []
    for number in range(sizes.workspaces):
        users = [f"U{number:04d}{index:04d}" for index in range(rng.randint(32, 48))]
        channels = [f"C{number:04d}{index:04d}" for index in range(rng.randint(6, 10))]
        # A few people post most, as in every team.
        rng.shuffle(users)
        tag_order = list(TAGS)
        for _ in range(10):
            a, b = rng.randrange(len(TAGS)), rng.randrange(len(TAGS))
            tag_order[a], tag_order[b] = tag_order[b], tag_order[a]
        teams.append(
            Workspace(
                team_id=f"T{number:04d}",
                domain=f"team{number:04d}",
                users=Weighted(users, zipf(len(users), 0.8)),
                channels=Weighted(channels, zipf(len(channels), 0.9)),
                private_channel=rng.choice(channels),
                tags=Weighted(tag_order, zipf(len(TAGS))),
            )
        )
    return teams


def first_day(sizes: Sizes) -> datetime:
    return ANCHOR - timedelta(weeks=sizes.weeks)


class Clock:
    """Moments in the dataset's weeks as Slack-style integer microseconds, shaped like a team's
    activity: weekdays and working hours, a dip at year end, slowly growing adoption."""

    def __init__(self, sizes: Sizes) -> None:
        start = first_day(sizes)
        self.start_us = _micros(start)
        days = sizes.weeks * 7
        weights = []
        for index in range(days):
            day = (start + timedelta(days=index)).date()
            weight = (1.0, 1.0, 1.0, 1.0, 0.9, 0.1, 0.07)[day.weekday()]
            weight *= 0.7 + 0.6 * index / days
            if (day.month, day.day) >= (12, 24) or (day.month, day.day) <= (1, 1):
                weight *= 0.3
            weights.append(weight)
        self.days = Weighted(range(days), weights)
        self.hours = Weighted(range(24), HOUR_WEIGHTS)

    def moment(self, rng: Random) -> int:
        day = self.days.pick(rng)
        hour = self.hours.pick(rng)
        return self.start_us + day * _DAY + hour * _HOUR + int(rng.random() * _HOUR)

    def sorted_moments(self, rng: Random, count: int) -> list[int]:
        """Rows are generated oldest first, so ids follow time as in a real table."""
        return sorted(self.moment(rng) for _ in range(count))


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _at(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _ts(micros: int) -> str:
    return f"{micros // _SECOND}.{micros % _SECOND:06d}"


class MessageClock:
    """Slack message timestamps, unique per channel: a later message never reuses a ts."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], int] = {}

    def stamp(self, team_id: str, channel_id: str, micros: int) -> int:
        key = (team_id, channel_id)
        micros = max(micros, self.last.get(key, -1) + 1)
        self.last[key] = micros
        return micros


def _delay(rng: Random, median_seconds: float, sigma: float, most_seconds: float) -> int:
    """A log-normal wait (minutes usually, days sometimes), in microseconds."""
    seconds = min(rng.lognormvariate(0, sigma) * median_seconds, most_seconds)
    return int(max(seconds, 20) * _SECOND)


def _permalink(team: Workspace, channel_id: str, ts: str) -> str:
    return f"https://{team.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


class Text:
    """Sentences drawn from the Zipf vocabulary, so searches find common and rare words."""

    def __init__(self, seed: int) -> None:
        words = vocabulary(seed)
        self.words = Weighted(words, zipf(len(words)))

    def sentence(self, rng: Random, mean_words: float, fewest: int) -> str:
        count = fewest + int(rng.expovariate(1 / mean_words))
        return " ".join(self.words.picks(rng, min(count, 150)))


# -- The tables ---------------------------------------------------------------------------------


@dataclass
class Writer:
    """Batched executemany per table, one transaction per batch, with a progress bar each."""

    connection: Connection
    progress: Progress

    def write(
        self, batches: Iterable[dict[str, list[dict[str, Any]]]], totals: dict[str, int | None]
    ) -> None:
        """Insert every batch; a None total (child rows such as tags) is known at the end."""
        tasks = {
            table: self.progress.add_task(table, total=total) for table, total in totals.items()
        }
        written = dict.fromkeys(totals, 0)
        for batch in batches:
            with self.connection.begin():
                for table, rows in batch.items():
                    if rows:
                        self.connection.execute(TABLES[table].insert(), rows)
            for table, rows in batch.items():
                written[table] += len(rows)
                self.progress.update(tasks[table], completed=written[table])
        for table, task in tasks.items():
            self.progress.update(task, total=written[table], completed=written[table])


def channel_rows(teams: list[Workspace], sizes: Sizes) -> list[dict[str, Any]]:
    """Every channel's privacy, as the summaries' privacy cache would hold it."""
    rng = Random(f"{sizes.seed}:channels")
    return [
        {
            "team_id": team.team_id,
            "channel_id": channel,
            "is_private": channel == team.private_channel,
            "checked_at": ANCHOR - timedelta(minutes=rng.randint(5, 7 * 24 * 60)),
        }
        for team in teams
        for channel in team.channels.items
    ]


def til_batches(teams: list[Workspace], sizes: Sizes) -> Iterator[dict[str, list[dict[str, Any]]]]:
    rng = Random(f"{sizes.seed}:til")
    text = Text(sizes.seed)
    teams_by_size = Weighted(teams, zipf(len(teams), 0.5))
    sources = Weighted([source for source, _ in SOURCES], [share for _, share in SOURCES])
    stamps = MessageClock()
    moments = Clock(sizes).sorted_moments(rng, sizes.tils)
    tils: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    reactions: list[dict[str, Any]] = []
    emoji = Weighted(REACTIONS, zipf(len(REACTIONS)))
    for index, moment in enumerate(moments):
        team = teams_by_size.pick(rng)
        channel = team.channels.pick(rng)
        micros = stamps.stamp(team.team_id, channel, moment)
        ts = _ts(micros)
        author = team.users.pick(rng)
        source = sources.pick(rng)
        reaction_count = min(12, int(rng.expovariate(0.45)))
        captured_by = author
        if source in (TilSource.REACTION, TilSource.SHORTCUT) and rng.random() < 0.7:
            captured_by = team.users.pick(rng)
        til_tags = team.tags.distinct(rng, rng.choices((1, 2, 3), (50, 35, 15))[0])
        body = text.sentence(rng, mean_words=14, fewest=6)
        prefix = rng.choice(TIL_PREFIXES) if source is TilSource.KEYWORD else ""
        created = _at(micros)
        edited = rng.random() < 0.04
        tils.append(
            {
                "id": index + 1,
                "team_id": team.team_id,
                "channel_id": channel,
                "message_ts": ts,
                "thread_ts": _ts(micros - _delay(rng, 1800, 1.5, 86400))
                if rng.random() < 0.06
                else None,
                "author_id": author,
                "captured_by": captured_by,
                "source": source,
                "text": f"{prefix}{body} {' '.join('#' + tag for tag in til_tags)}",
                "permalink": _permalink(team, channel, ts),
                "reaction_count": reaction_count,
                "created_at": created,
                "updated_at": created + timedelta(minutes=rng.randint(1, 600))
                if edited
                else created,
            }
        )
        tags.extend({"team_id": team.team_id, "til_id": index + 1, "tag": tag} for tag in til_tags)
        # reaction_count counts til_reaction rows, as storage.til.record_reaction keeps it.
        reacted: set[tuple[str, str]] = set()
        while len(reacted) < reaction_count:
            reactor = team.users.pick(rng)
            if reactor != author:
                reacted.add((reactor, emoji.pick(rng)))
        reactions.extend(
            {"team_id": team.team_id, "til_id": index + 1, "user_id": user, "reaction": name}
            for user, name in sorted(reacted)
        )
        if len(tils) == BATCH_ROWS:
            yield {"til": tils, "til_tag": tags, "til_reaction": reactions}
            tils, tags, reactions = [], [], []
    yield {"til": tils, "til_tag": tags, "til_reaction": reactions}


def help_batches(teams: list[Workspace], sizes: Sizes) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Questions: ~70% answered (minutes to days later), ~50% resolved, the rest open or
    claimed; nothing happens after ANCHOR, so recent questions are less often answered."""
    rng = Random(f"{sizes.seed}:help")
    text = Text(sizes.seed)
    teams_by_size = Weighted(teams, zipf(len(teams), 0.5))
    stamps = MessageClock()
    anchor = _micros(ANCHOR)
    moments = Clock(sizes).sorted_moments(rng, sizes.help_requests)
    questions: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []

    def someone_else(team: Workspace, person: str) -> str:
        while (other := team.users.pick(rng)) == person:
            pass
        return other

    for index, moment in enumerate(moments):
        team = teams_by_size.pick(rng)
        channel = team.channels.pick(rng)
        micros = stamps.stamp(team.team_id, channel, moment)
        ts = _ts(micros)
        asker = team.users.pick(rng)
        question_tags = team.tags.distinct(rng, rng.choice((1, 1, 2)))
        body = text.sentence(rng, mean_words=12, fewest=4)
        claimed_by = someone_else(team, asker) if rng.random() < 0.35 else None
        answered_us = micros + _delay(rng, 45 * 60, 1.6, 14 * 86400)
        answered = rng.random() < 0.70 and answered_us < anchor
        resolved_us = answered_us + _delay(rng, 2 * 3600, 1.5, 21 * 86400)
        resolved = answered and rng.random() < 5 / 7 and resolved_us < anchor
        first_answerer = None
        if answered:
            first_answerer = (
                claimed_by
                if claimed_by is not None and rng.random() < 0.8
                else someone_else(team, asker)
            )
        if resolved:
            status = HelpStatus.RESOLVED
        elif answered:
            status = HelpStatus.ANSWERED
        elif claimed_by is not None:
            status = HelpStatus.CLAIMED
        else:
            status = HelpStatus.OPEN
        routed = status is not HelpStatus.OPEN or rng.random() < 0.85
        # An open question nobody took was handed to the team (level 2, no further step due);
        # for the others the escalation clock stays where routing left it, never due again.
        if status is HelpStatus.OPEN:
            level, escalate_at = (2 if routed else 0), None
        else:
            level = 1 if rng.random() < 0.1 else 0
            escalate_at = _at(micros) + timedelta(minutes=60 * (level + 1))
        questions.append(
            {
                "id": index + 1,
                "team_id": team.team_id,
                "channel_id": channel,
                "asker_id": asker,
                "text": f"{rng.choice(QUESTION_OPENINGS)} {body}? "
                + " ".join("#" + tag for tag in question_tags),
                "message_ts": ts,
                "status_ts": ts,
                "permalink": _permalink(team, channel, ts),
                "status": status,
                "claimed_by": claimed_by,
                "first_answer_at": _at(answered_us) if answered else None,
                "first_answerer_id": first_answerer,
                "first_answer_ts": _ts(answered_us) if answered else None,
                "resolved_at": _at(resolved_us) if resolved else None,
                "answerer_id": (first_answerer or claimed_by) if resolved else None,
                "answer_til_id": None,
                "route_at": None,
                "escalation_level": level,
                "escalate_at": escalate_at,
                "created_at": _at(micros),
            }
        )
        tags.extend(
            {"team_id": team.team_id, "help_request_id": index + 1, "tag": tag}
            for tag in question_tags
        )
        if len(questions) == BATCH_ROWS:
            yield {"help_request": questions, "help_request_tag": tags}
            questions, tags = [], []
    yield {"help_request": questions, "help_request_tag": tags}


@dataclass(frozen=True)
class Reflection:
    """Schedules, their weekly runs and DM deliveries, in memory: a few thousand rows."""

    schedules: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    # Who may answer each run: the DM schedule's members, or None for anyone in the team.
    audience: dict[int, list[str] | None]


def reflection_plan(teams: list[Workspace], sizes: Sizes) -> Reflection:
    rng = Random(f"{sizes.seed}:reflection")
    prompt_sets = load_prompt_sets()
    start, anchor = first_day(sizes), ANCHOR
    schedules: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    audience: dict[int, list[str] | None] = {}
    for team in teams:
        channels = list(team.channels.items)
        rng.shuffle(channels)
        for channel in channels[: rng.randint(2, 4)]:
            schedule_id = len(schedules) + 1
            weekday = rng.randint(0, 4)
            hours, minutes = rng.choice(((9, 0), (9, 30), (10, 0), (15, 0), (16, 0), (16, 30)))
            zone = ZoneInfo(rng.choice(ZONES))
            dm = rng.random() < 0.35
            remind = rng.choice((None, 240)) if dm else None
            members = team.users.distinct(rng, rng.randint(6, 16)) if dm else None
            prompts = prompt_sets[rng.choice(PROMPT_SETS)]
            created = start - timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))

            at = clock(hours, minutes)
            sent = 0
            for week in range(sizes.weeks):
                run_at = _weekly_run((start + timedelta(weeks=week)).date(), weekday, at, zone)
                # A few runs were missed (downtime past the grace period).
                if not start <= run_at < anchor or rng.random() < 0.03:
                    continue
                run_id = len(runs) + 1
                # Set on DM runs too, as storage.summary counts runs by sent_at; note that the
                # app itself (bot.reflection) sets it only when it posts in a channel.
                sent_at = run_at + timedelta(seconds=rng.uniform(0.2, 25))
                runs.append(
                    {
                        "id": run_id,
                        "team_id": team.team_id,
                        "schedule_id": schedule_id,
                        "run_at": run_at,
                        "channel_id": channel,
                        "prompt": prompts.prompts[sent % len(prompts.prompts)],
                        "message_ts": None if dm else _ts(_micros(sent_at)),
                        "sent_at": sent_at,
                    }
                )
                sent += 1
                audience[run_id] = members
                for position, member in enumerate(members or ()):
                    if rng.random() < 0.05:  # muted that week
                        continue
                    delivered = sent_at + timedelta(milliseconds=300 * position)
                    reminded = remind is not None and rng.random() < 0.4
                    deliveries.append(
                        {
                            "team_id": team.team_id,
                            "run_id": run_id,
                            "user_id": member,
                            "dm_channel_id": "D" + member[1:],
                            "message_ts": _ts(_micros(delivered)),
                            "sent_at": delivered,
                            "reminded_at": delivered + timedelta(minutes=240) if reminded else None,
                        }
                    )
            next_run = _weekly_run(anchor.date(), weekday, at, zone)
            if next_run < anchor:
                next_run = _weekly_run(anchor.date() + timedelta(weeks=1), weekday, at, zone)
            schedules.append(
                {
                    "id": schedule_id,
                    "team_id": team.team_id,
                    "channel_id": channel,
                    "created_by": team.users.pick(rng),
                    "frequency": Frequency.WEEKLY,
                    "day": weekday,
                    "time_of_day": f"{hours:02d}:{minutes:02d}",
                    "timezone": zone.key,
                    "prompt_set": prompts.name,
                    "dm": dm,
                    "skip_holidays": None,
                    "local": False,
                    "local_zones": None,
                    "remind_after_minutes": remind,
                    "prompts_sent": sent,
                    "paused": False,
                    "anchor": created,
                    "next_run_at": next_run,
                    "created_at": created,
                }
            )
    return Reflection(schedules, runs, deliveries, audience)


def _weekly_run(monday: date, weekday: int, at: clock, zone: ZoneInfo) -> datetime:
    """The UTC moment of a weekly schedule's run in the week starting `monday`."""
    local = datetime.combine(monday + timedelta(days=weekday), at, tzinfo=zone)
    return local.astimezone(UTC)


def response_rows(teams: list[Workspace], plan: Reflection, sizes: Sizes) -> list[dict[str, Any]]:
    """Answers spread over the runs, each after its run (a DM answer within the 7-day window)
    and before ANCHOR; ids and timestamps in time order."""
    rng = Random(f"{sizes.seed}:responses")
    text = Text(sizes.seed)
    by_team = {team.team_id: team for team in teams}
    anchor = _micros(ANCHOR)
    answers = []
    for _ in range(sizes.reflection_responses):
        run = rng.choice(plan.runs)
        members = plan.audience[run["id"]]
        team = by_team[run["team_id"]]
        user = rng.choice(members) if members else team.users.pick(rng)
        sent = _micros(run["sent_at"])
        wait = _delay(rng, 3 * 3600, 1.4, 6.9 * 86400)
        if sent + wait >= anchor:
            wait = int((anchor - sent) * rng.random())
        channel = "D" + user[1:] if members else run["channel_id"]
        answers.append((sent + wait + 1, team.team_id, channel, run["id"], user))
    answers.sort()
    stamps = MessageClock()
    rows = []
    for index, (moment, team_id, channel, run_id, user) in enumerate(answers):
        micros = stamps.stamp(team_id, channel, moment)
        rows.append(
            {
                "id": index + 1,
                "team_id": team_id,
                "run_id": run_id,
                "user_id": user,
                "channel_id": channel,
                "message_ts": _ts(micros),
                "text": text.sentence(rng, mean_words=25, fewest=3),
                "created_at": _at(micros),
            }
        )
    return rows


def _batched(rows: list[dict[str, Any]], table: str) -> Iterator[dict[str, list[dict[str, Any]]]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield {table: rows[start : start + BATCH_ROWS]}


# -- Generating and reusing ---------------------------------------------------------------------


def generate(url: str, *, progress: bool = True, **sizes_given: int) -> None:
    """Migrate an empty database (or one this module generated, which is wiped) and fill it
    with a dataset of these Sizes (their defaults for what is not given).

    Refuses a database holding anything else, so a wrong URL never loses real data.
    """
    sizes = Sizes(**sizes_given)
    started = time.perf_counter()
    _create_database_if_missing(url)
    engine = _empty_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            _marker_metadata.create_all(connection)
            connection.execute(
                MARKER.insert(), {"id": 1, "params": _params(sizes), "generated_at": utcnow()}
            )
        _fill(engine, sizes, progress=progress)
        with engine.begin() as connection:
            connection.execute(
                MARKER.update().values(completed_at=utcnow(), seconds=time.perf_counter() - started)
            )
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                # Fold the WAL into the file: the benchmark then reads a settled database.
                connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                )
    finally:
        engine.dispose()


def ensure(url: str, *, progress: bool = True, **sizes: int) -> None:
    """Generate unless the database already holds a complete dataset of these sizes and seed,
    made by this generator version for the current migrations head."""
    if not is_generated(url, **sizes):
        generate(url, progress=progress, **sizes)


def is_generated(url: str, **sizes: int) -> bool:
    """True when the database holds a complete dataset generated with exactly these sizes."""
    wanted = _params(Sizes(**sizes))
    if _missing_sqlite_file(url):
        return False
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(MARKER_TABLE):
                return False
            row = connection.execute(sa.select(MARKER.c.params, MARKER.c.completed_at)).first()
    except sa.exc.OperationalError:  # e.g. a PostgreSQL database that does not exist yet
        return False
    finally:
        engine.dispose()
    return row is not None and row.completed_at is not None and row.params == wanted


def _params(sizes: Sizes) -> str:
    return json.dumps(
        {**asdict(sizes), "generator": GENERATOR_VERSION, "migrations": _migrations_digest()},
        sort_keys=True,
    )


def _migrations_digest() -> str:
    """The migrations' text, not just the head revision: a migration edited in place (as
    0004 was while summaries were written) changes production's schema all the same."""
    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists()


def _create_database_if_missing(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            ).first()
            if exists is None:
                connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def _empty_engine(url: str) -> Engine:
    """An engine on an empty database: a previous generated dataset is removed first."""
    engine = create_db_engine(url, pool_size=1)
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    if not tables:
        return engine
    if MARKER_TABLE not in tables:
        engine.dispose()
        raise RuntimeError(
            f"{make_url(url).render_as_string(hide_password=True)} holds tables that this "
            f"generator did not make ({', '.join(sorted(tables)[:5])}, ...); refusing to wipe it"
        )
    if engine.dialect.name == "sqlite":
        engine.dispose()
        database = Path(make_url(url).database or "")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
        return create_db_engine(url, pool_size=1)
    with engine.begin() as connection:
        names = ", ".join(f'"{table}"' for table in tables)
        connection.execute(sa.text(f"DROP TABLE {names} CASCADE"))
    return engine


def _fill(engine: Engine, sizes: Sizes, *, progress: bool) -> None:
    teams = workspaces(sizes)
    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, disable=not progress) as bar,
        engine.connect() as connection,
    ):
        _tune_for_loading(connection)
        writer = Writer(connection, bar)
        channels = channel_rows(teams, sizes)
        writer.write(_batched(channels, "channel_info"), {"channel_info": len(channels)})
        writer.write(
            til_batches(teams, sizes), {"til": sizes.tils, "til_tag": None, "til_reaction": None}
        )
        writer.write(
            help_batches(teams, sizes),
            {"help_request": sizes.help_requests, "help_request_tag": None},
        )
        plan = reflection_plan(teams, sizes)
        for table, rows in (
            ("reflection_schedule", plan.schedules),
            ("reflection_run", plan.runs),
            ("reflection_delivery", plan.deliveries),
            ("reflection_response", response_rows(teams, plan, sizes)),
        ):
            writer.write(_batched(rows, table), {table: len(rows)})
        analyze = bar.add_task("analyze", total=1)
        _settle(connection)
        bar.advance(analyze)


def _tune_for_loading(connection: Connection) -> None:
    """Session settings only: the file or database keeps production's schema and settings."""
    if connection.dialect.name == "sqlite":
        driver: Any = connection.connection.driver_connection
        # Losing the file to a power cut mid-load only means generating again.
        driver.execute("PRAGMA synchronous=OFF")
        driver.execute("PRAGMA cache_size=-262144")  # 256 MiB: the indexes stay in memory
        driver.execute("PRAGMA temp_store=MEMORY")
    else:
        with connection.begin():
            connection.execute(sa.text("SET synchronous_commit = off"))


def _settle(connection: Connection) -> None:
    """Statistics for the planner, and on PostgreSQL the state autovacuum would reach on its
    own (sequences past the explicit ids, GIN pending lists merged, visibility map set), so
    neither it nor a stale plan runs in the middle of a benchmark."""
    if connection.dialect.name == "sqlite":
        with connection.begin():
            connection.exec_driver_sql("ANALYZE")
        return
    with connection.begin():
        tables = [table for table in sa.inspect(connection).get_table_names() if table in TABLES]
        for table in tables:
            connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'coalesce(max(id), 1), max(id) IS NOT NULL) FROM "{table}"'
                )
            )
    autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
    names = ", ".join(f'"{table}"' for table in tables)
    autocommit.execute(sa.text(f"VACUUM (ANALYZE) {names}"))


def _describe(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        return f"{path} ({path.stat().st_size / 2**20:,.0f} MiB)"
    return parsed.render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///... or postgresql+...")
    defaults = Sizes()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    sizes = {name: getattr(args, name) for name in asdict(defaults)}
    started = time.perf_counter()
    reused = not args.force and is_generated(args.database_url, **sizes)
    action: Callable[..., None] = ensure if not args.force else generate
    action(args.database_url, progress=not args.quiet, **sizes)
    elapsed = time.perf_counter() - started
    verb = "reused" if reused else "generated"
    print(f"{verb} {_describe(args.database_url)} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
