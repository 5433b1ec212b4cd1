"""How long a weekly summary takes on a big database, against one hand-written SQL aggregate.

    .venv/bin/python -m bench.summary_scale            # SQLite and PostgreSQL, 1,000,000 TILs
    .venv/bin/python -m bench.summary_scale --tils 100000 --help-requests 20000 ...

The data comes from bench/dataset.py (generated once with a progress bar, then reused). For each
database the script times, after a warm-up, `bot.summary.summarise` exactly as `/summary` and
`learnloop summary` call it (offline: no Slack client, so only database time is measured) for
the busiest workspace's week, the whole workspace and one channel, and for every workspace in
turn; and `bot.health.assess` as `/summary health` calls it (the 8 weeks to that week), for the
workspace and the channel. The baseline is a single SQL statement counting that week's TILs,
questions and reflections, the least any summary must do. It prints a table and writes it to
bench/results/.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from sqlmodel import Session

from bench.dataset import ANCHOR
from bench.scale import databases, parse_options, report, sizes_of, timed
from bot.health import assess
from bot.summary import Week, summarise
from storage.db import create_db_engine
from storage.models import HelpRequest, ReflectionResponse, Til

ZONE = "Europe/Berlin"
WEEK = Week.containing(ANCHOR.date()).shifted(-1)  # the last full week of the data


def baseline_query(team_id: str, start: datetime, end: datetime) -> sa.Select[Any]:
    """One statement: the week's TILs, questions and reflections, counted on their indexes."""

    def counted(model: Any) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count())
            .where(model.team_id == team_id, model.created_at >= start, model.created_at < end)
            .scalar_subquery()
        )

    return sa.select(counted(Til), counted(HelpRequest), counted(ReflectionResponse))


def row(database: str, what: str, spent: list[float], base: list[float]) -> dict[str, Any]:
    return {
        "database": database,
        "what": what,
        "p50_ms": statistics.median(spent),
        "max_ms": max(spent),
        "vs_baseline": statistics.median(spent) / statistics.median(base),
    }


def summary_of(team_id: str, session: Session) -> None:
    summarise(team_id, None, WEEK, ZONE, session=session, client=None)


def measure(url: str, repeats: int, workspaces: int) -> list[dict[str, Any]]:
    engine = create_db_engine(url)
    start, end = WEEK.bounds(ZoneInfo(ZONE))
    rows = []
    try:
        with Session(engine) as session:
            busiest = "T0000"
            channel = session.execute(
                sa.select(Til.channel_id).where(Til.team_id == busiest).limit(1)
            ).scalar_one()

            def baseline() -> None:
                session.execute(baseline_query(busiest, start, end)).one()

            def workspace() -> None:
                summary_of(busiest, session)

            def one_channel() -> None:
                summarise(busiest, channel, WEEK, ZONE, session=session, client=None)

            def workspace_health() -> None:
                assess(busiest, None, WEEK, ZONE, session=session, client=None)

            def channel_health() -> None:
                assess(busiest, channel, WEEK, ZONE, session=session, client=None)

            def every_workspace() -> None:
                for number in range(workspaces):
                    summary_of(f"T{number:04d}", session)

            base = timed(baseline, repeats)
            for name, action, count in (
                ("baseline: one SQL aggregate (3 counts)", baseline, repeats),
                ("summary of the busiest workspace", workspace, repeats),
                ("summary of one of its channels", one_channel, repeats),
                ("community health of the busiest workspace (8 weeks)", workspace_health, repeats),
                ("community health of one of its channels", channel_health, repeats),
                (f"summaries of all {workspaces} workspaces, in turn", every_workspace, 3),
            ):
                spent = base if action is baseline else timed(action, count)
                rows.append(row(engine.dialect.name, name, spent, base))
            # Each workspace's own summary (what its /summary and digest take): the typical one
            # and the slowest, each the median of 3.
            each = [
                statistics.median(timed(partial(summary_of, f"T{number:04d}", session), 3))
                for number in range(workspaces)
            ]
            what = f"summary of each of the {workspaces} workspaces (median, slowest)"
            rows.append(row(engine.dialect.name, what, each, base))
    finally:
        engine.dispose()
    return rows


def main() -> None:
    args = parse_options(__doc__.splitlines()[0])
    console = Console()
    results = []
    for url in databases(args, console):
        results += measure(url, args.repeats, args.workspaces)
    report(
        "summary",
        f"Weekly summary, {WEEK.label} ({ZONE}), {sizes_of(args)}",
        [
            ("database", lambda row: row["database"]),
            ("what", lambda row: row["what"]),
            ("p50 ms", lambda row: f"{row['p50_ms']:.1f}"),
            ("max ms", lambda row: f"{row['max_ms']:.1f}"),
            ("vs baseline", lambda row: f"{row['vs_baseline']:.1f}x"),
        ],
        results,
        args,
        console,
    )


if __name__ == "__main__":
    main()
