"""Memory of `learnloop serve`: resident set size idle, then every 10,000 of 100,000 signed
requests (nine ignored messages to one TIL), against a bare Bolt app on the same stack.

A steady RSS after the first requests warmed the caches means nothing a request leaves behind
is kept: no per-request growth in caches, pools or the outbox.

    .venv/bin/python -m bench.memory_growth [--requests 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import uvloop
from rich.console import Console
from rich.table import Table

from bench.scale import RESULTS
from bench.scheduling_scale import rss_mb
from bench.serve_stack import (
    BASELINE_COMMAND,
    SIGNING_SECRET,
    Body,
    chatter,
    drive,
    free_port,
    learnloop_command,
    server_env,
    start_server,
    til_message,
)
from bot.emulator import SlackEmulator

CONCURRENCY = 16


def mixed(index: int, emulator: SlackEmulator) -> Body:
    """One TIL (stored, confirmed) in ten messages; the rest is chatter the bot ignores."""
    return til_message(index, emulator) if index % 10 == 0 else chatter(index, emulator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--step", type=int, default=10_000, help="requests between samples")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    console = Console(width=160)
    with (
        tempfile.TemporaryDirectory() as folder,
        SlackEmulator(signing_secret=SIGNING_SECRET, echo_bot_messages=False) as emulator,
    ):
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'memory.db'}"
        port = free_port()
        series = {
            "bare Bolt": sample(
                BASELINE_COMMAND,
                server_env(emulator, database_url, PORT=str(port)),
                port,
                emulator,
                args,
            ),
        }
        port = free_port()
        series["LearnLoop"] = sample(
            learnloop_command(port), server_env(emulator, database_url), port, emulator, args
        )
    report(series, args, console)


def sample(
    command: list[str],
    env: dict[str, str],
    port: int,
    emulator: SlackEmulator,
    args: argparse.Namespace,
) -> list[tuple[int, float]]:
    """(requests sent, RSS in MB): idle after start-up, then after each STEP requests."""
    process = start_server(command, env, port)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        time.sleep(1)
        points = [(0, rss_mb(process.pid))]
        for sent in range(args.step, args.requests + 1, args.step):
            uvloop.run(
                drive(
                    url,
                    mixed,
                    emulator,
                    seconds=3600,
                    concurrency=CONCURRENCY,
                    offset=sent,
                    requests=args.step,
                )
            )
            time.sleep(1)  # let the follow-ups of the last requests finish
            points.append((sent, rss_mb(process.pid)))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return points


def report(
    series: dict[str, list[tuple[int, float]]], args: argparse.Namespace, console: Console
) -> None:
    table = Table(title=f"RSS (MB) of the server process over {args.requests:,} requests")
    table.add_column("requests", justify="right")
    for name in series:
        table.add_column(name, justify="right")
    for row, (sent, _) in enumerate(next(iter(series.values()))):
        table.add_row(f"{sent:,}", *(f"{points[row][1]:.1f}" for points in series.values()))
    console.print(table)
    for name, points in series.items():
        warmed = points[1][1]
        console.print(
            f"{name}: idle {points[0][1]:.1f} MB, after the first {args.step:,} {warmed:.1f} MB, "
            f"after {points[-1][0]:,} {points[-1][1]:.1f} MB "
            f"(growth after warm-up {points[-1][1] - warmed:+.1f} MB)"
        )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"memory_growth-{int(time.time())}.json"
    out.write_text(json.dumps(series, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
