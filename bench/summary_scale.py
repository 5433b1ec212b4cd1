"""How long a weekly summary takes on a big database, against one hand-written SQL aggregate.

    .venv/bin/python -m bench.summary_scale            # SQLite and PostgreSQL, 1,000,000 TILs
    .venv/bin/python -m bench.summary_scale --tils 100000 --help-requests 20000 ...

The data comes from bench/dataset.py (generated once with a progress bar, then reused). For each
database the script times, after a warm-up, `bot.summary.summarise` exactly as `/summary` and
`learnloop summary` call it (offline: no Slack client, so only database time is measured) for
the busiest workspace's week, the whole workspace and one channel, and for every workspace in
turn; the baseline is a single SQL statement counting that week's TILs, questions and
reflections, the least any summary must do. It prints a table and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from bench.dataset import ANCHOR, ensure
from bot.summary import Week, summarise
from storage.db import create_db_engine
from storage.models import HelpRequest, ReflectionResponse, Til

RESULTS = Path(__file__).parent / "results"
DEFAULT_SQLITE = "sqlite:////tmp/bench-data/learnloop.db"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_summary"
ZONE = "Europe/Berlin"
# The dataset every scale benchmark reads (bench/dataset.py generates it once).
SIZES = {
    "tils": 1_000_000,
    "help_requests": 200_000,
    "reflection_responses": 50_000,
    "workspaces": 50,
}
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


def add_size_options(parser: argparse.ArgumentParser) -> None:
    """--tils, --help-requests, ...: smaller datasets for a smoke run."""
    for size, default in SIZES.items():
        parser.add_argument(f"--{size.replace('_', '-')}", type=int, default=default)


def sizes_of(args: argparse.Namespace) -> dict[str, int]:
    return {size: getattr(args, size) for size in SIZES}


def timed(action: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds per call, after one warm-up call."""
    action()
    spent = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


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
                summarise(busiest, None, WEEK, ZONE, session=session, client=None)

            def one_channel() -> None:
                summarise(busiest, channel, WEEK, ZONE, session=session, client=None)

            def every_workspace() -> None:
                for number in range(workspaces):
                    summarise(f"T{number:04d}", None, WEEK, ZONE, session=session, client=None)

            base = timed(baseline, repeats)
            for name, action, count in (
                ("baseline: one SQL aggregate (3 counts)", baseline, repeats),
                ("summary of the busiest workspace", workspace, repeats),
                ("summary of one of its channels", one_channel, repeats),
                (f"summaries of all {workspaces} workspaces, in turn", every_workspace, 3),
            ):
                spent = base if action is baseline else timed(action, count)
                rows.append(
                    {
                        "database": engine.dialect.name,
                        "what": name,
                        "p50_ms": statistics.median(spent),
                        "max_ms": max(spent),
                        "vs_baseline": statistics.median(spent) / statistics.median(base),
                    }
                )
    finally:
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-url", default=DEFAULT_SQLITE)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    add_size_options(parser)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    sizes = sizes_of(args)
    urls = [args.sqlite_url] + ([] if args.skip_postgres else [args.postgres_url])
    console = Console()
    results = []
    for url in urls:
        if url.startswith("sqlite:////"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            ensure(url, **sizes)
        except sa.exc.OperationalError as error:
            console.print(f"[yellow]skipped {url}: the database is unreachable ({error.orig})")
            continue
        results += measure(url, args.repeats, args.workspaces)
    table = Table(title=f"Weekly summary, {WEEK.label} ({ZONE}), {sizes}")
    for column in ("database", "what", "p50 ms", "max ms", "vs baseline"):
        table.add_column(column, justify="right" if "ms" in column or "vs" in column else "left")
    for row in results:
        table.add_row(
            row["database"],
            row["what"],
            f"{row['p50_ms']:.1f}",
            f"{row['max_ms']:.1f}",
            f"{row['vs_baseline']:.1f}x",
        )
    console.print(table)
    args.results.mkdir(exist_ok=True)
    out = args.results / f"summary-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"sizes": sizes, "results": results}, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
