"""How long `/til search` takes on a database of 1,000,000 TILs, common words included.

    .venv/bin/python -m bench.search_scale              # SQLite and PostgreSQL

The data is bench/dataset.py's (the same as the summary benchmark's). For the busiest and the
quietest workspace, the script times `storage.til.search_tils` (what `/til search` runs) for
words picked by how common they are, from a word in most TILs to one in a handful, 20 times
each after a warm-up, and reports p50 and p95 against a baseline measured in the same run: the
workspace's 10 latest TILs read on their index, the least a search that returns 10 TILs costs.
"""

from __future__ import annotations

import statistics
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from sqlmodel import Session

from bench.dataset import vocabulary
from bench.scale import databases, parse_options, report, sizes_of, timed
from storage.db import create_db_engine
from storage.models import Til
from storage.til import search_tils

# Word ranks by frequency: 0 is in most TILs, the last in a handful.
RANKS = (0, 5, 100, 1000, 5000, -1)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def measure(url: str, repeats: int, workspaces: int) -> list[dict[str, Any]]:
    words = vocabulary()
    engine = create_db_engine(url)
    rows: list[dict[str, Any]] = []
    try:
        with Session(engine) as session:
            for team in (f"T{0:04d}", f"T{workspaces - 1:04d}"):  # the busiest, the quietest
                latest = (
                    sa.select(Til.id)
                    .where(Til.team_id == team)
                    .order_by(sa.desc(Til.created_at))
                    .limit(10)
                )
                base = timed(lambda latest=latest: session.execute(latest).all(), repeats)
                rows.append(_row(engine.dialect.name, team, "baseline: 10 latest", 10, base, base))
                for rank in RANKS:
                    word = words[rank]
                    hits = len(search_tils(team, word, session=session, limit=10))
                    spent = timed(
                        lambda team=team, word=word: search_tils(
                            team, word, session=session, limit=10
                        ),
                        repeats,
                    )
                    label = f"word rank {rank if rank >= 0 else len(words) - 1}: {word}"
                    rows.append(_row(engine.dialect.name, team, label, hits, spent, base))
    finally:
        engine.dispose()
    return rows


def _row(
    database: str, team: str, what: str, hits: int, spent: list[float], base: list[float]
) -> dict[str, Any]:
    return {
        "database": database,
        "workspace": team,
        "what": what,
        "hits": hits,
        "p50_ms": statistics.median(spent),
        "p95_ms": p95(spent),
        "vs_baseline": statistics.median(spent) / statistics.median(base),
    }


def main() -> None:
    args = parse_options(__doc__.splitlines()[0])
    console = Console()
    results: list[dict[str, Any]] = []
    for url in databases(args, console):
        results += measure(url, args.repeats, args.workspaces)
    report(
        "search",
        f"/til search, {sizes_of(args)}",
        [
            ("database", lambda row: row["database"]),
            ("workspace", lambda row: row["workspace"]),
            ("what", lambda row: row["what"]),
            ("hits", lambda row: str(row["hits"])),
            ("p50 ms", lambda row: f"{row['p50_ms']:.1f}"),
            ("p95 ms", lambda row: f"{row['p95_ms']:.1f}"),
            ("vs baseline", lambda row: f"{row['vs_baseline']:.1f}x"),
        ],
        results,
        args,
        console,
    )


if __name__ == "__main__":
    main()
