"""What the benchmarks over the generated million-TIL database share: their options, the data
(generated once, then reused), timing, and how results are printed and kept."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.dataset import ensure
from bot.serve import freeze_start_up_objects

RESULTS = Path(__file__).parent / "results"
DEFAULT_SQLITE = "sqlite:////tmp/bench-data/learnloop.db"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_summary"
# The dataset every scale benchmark reads (bench/dataset.py generates it once).
SIZES = {
    "tils": 1_000_000,
    "help_requests": 200_000,
    "reflection_responses": 50_000,
    "workspaces": 50,
}


def parse_options(description: str) -> argparse.Namespace:
    """Databases, repeats, where results go, and dataset sizes (smaller for a smoke run)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sqlite-url", default=DEFAULT_SQLITE)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    for size, default in SIZES.items():
        parser.add_argument(f"--{size.replace('_', '-')}", type=int, default=default)
    return parser.parse_args()


def sizes_of(args: argparse.Namespace) -> dict[str, int]:
    return {size: getattr(args, size) for size in SIZES}


def databases(args: argparse.Namespace, console: Console) -> Iterator[str]:
    """Each database of the run with the dataset in it; an unreachable one is skipped, saying so."""
    for url in [args.sqlite_url] + ([] if args.skip_postgres else [args.postgres_url]):
        if url.startswith("sqlite:////"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            ensure(url, **sizes_of(args))
        except sa.exc.OperationalError as error:
            console.print(f"[yellow]skipped {url}: the database is unreachable ({error.orig})")
            continue
        yield url


def timed(action: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds per call, after one warm-up call, with what the benchmark built so far
    kept out of the cycle collector's passes, as `learnloop serve` keeps its start-up (without
    it, a full pass over SQLAlchemy's objects lands in some calls: 70 ms more each)."""
    action()
    freeze_start_up_objects()
    spent = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def report(
    name: str,
    title: str,
    columns: Sequence[tuple[str, Callable[[dict[str, Any]], str]]],
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    console: Console,
) -> None:
    """Print the table (text columns left, figures right) and keep the JSON in --results."""
    table = Table(title=title)
    for heading, _ in columns:
        figure = heading.endswith(("ms", "baseline", "hits"))
        table.add_column(heading, justify="right" if figure else "left")
    for row in results:
        table.add_row(*(cell(row) for _, cell in columns))
    console.print(table)
    args.results.mkdir(exist_ok=True)
    out = args.results / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"sizes": sizes_of(args), "results": results}, indent=2))
    console.print(f"written to {out}")
