"""Scheduling at scale: 10,000 reflection schedules, the start-up time of `learnloop serve`
with them against an empty database, and 1,000 prompts due in the same minute, each posted
once (on PostgreSQL by two replicas at once).

Schedules are rows, not scheduler jobs (one sweep job reads what is due), so start-up should
not grow with them. Servers run pinned to core 0 with the scheduler's sweep every second; the
Slack emulator (this process, core 1) records every post.

    .venv/bin/python -m bench.scheduling_scale [--schedules 10000] [--due 1000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from bench.scale import RESULTS
from bench.serve_stack import (
    SIGNING_SECRET,
    free_port,
    learnloop_command,
    server_env,
    start_server,
)
from bot.emulator import ALICE, Channel, SlackEmulator
from bot.reflection import next_run
from storage.db import create_db_engine, upgrade
from storage.models import Frequency, ReflectionSchedule
from storage.types import utcnow

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scheduling"
PROMPT_SET = "weekly-retro"
PROMPT_MARK = "Time to reflect"


@dataclass(frozen=True)
class Result:
    database: str
    replicas: int
    schedules: int
    startup_empty_s: float
    startup_loaded_s: float
    due: int
    posted: int
    posted_twice: int
    first_post_after_due_s: float
    last_post_after_due_s: float
    posts_per_second: float
    rss_mb: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for posts")
    parser.add_argument(
        "--lead", type=float, default=60.0, help="seconds from loading to the due moment"
    )
    parser.add_argument("--startups", type=int, default=3, help="start-ups timed per database")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    console = Console(width=160)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        urls = [(f"sqlite:///{Path(folder) / 'schedules.db'}", 1)]
        if not args.skip_postgres:
            urls.append((args.postgres_url, 2))
        for url, replicas in urls:
            with fresh_database(url, folder) as (empty_url, loaded_url):
                if loaded_url is None:
                    console.print(f"[yellow]skipped {url}: PostgreSQL is unreachable")
                    continue
                console.print(f"[bold]{url.split(':')[0]}[/], {replicas} replica(s)")
                results.append(measure(empty_url, loaded_url, replicas, args, console))
    report(results, args, console)


@contextmanager
def fresh_database(url: str, folder: str) -> Iterator[tuple[str, str | None]]:
    """An empty migrated database and one to load schedules into; PostgreSQL databases are
    created for the run and dropped after it."""
    if url.startswith("sqlite"):
        yield f"sqlite:///{Path(folder) / 'empty.db'}", url
        return
    server = sa.make_url(url)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    names = [server.database or "bench_scheduling", f"{server.database}_empty"]
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        yield "", None
        return
    try:
        yield (
            server.set(database=names[1]).render_as_string(hide_password=False),
            server.render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(
    empty_url: str, loaded_url: str, replicas: int, args: argparse.Namespace, console: Console
) -> Result:
    with SlackEmulator(signing_secret=SIGNING_SECRET, echo_bot_messages=False) as emulator:
        channels = [f"C0DUE{number:05d}" for number in range(args.due)]
        for channel in channels:
            emulator.add_channel(
                Channel(channel, channel.lower(), members=frozenset({ALICE, emulator.bot_user_id}))
            )
        for url in (empty_url, loaded_url):
            engine = create_db_engine(url)
            upgrade(engine)
            engine.dispose()
        startup_empty = startup_seconds(empty_url, emulator, args.startups)
        due_at = load_schedules(loaded_url, emulator.team_id, channels, args.schedules, args.lead)
        console.print(
            f"  {args.schedules:,} schedules stored, {args.due:,} due at {due_at:%H:%M:%S} UTC"
        )
        startup_loaded = startup_seconds(loaded_url, emulator, args.startups)
        servers = [serve(loaded_url, emulator) for _ in range(replicas)]
        try:
            wait_for_posts(emulator, args.due, due_at, args.timeout)
            time.sleep(3)  # a second post would come from the next sweeps
            posts = prompt_posts(emulator)
            rss = max(rss_mb(server.process.pid) for server in servers)
        finally:
            for server in servers:
                stop(server)
    per_channel = Counter(channel for channel, _ in posts)
    times = sorted(moment for _, moment in posts)
    due_timestamp = due_at.timestamp()
    spread = (times[-1] - times[0]) if len(times) > 1 else 0.0
    return Result(
        database=loaded_url.split(":")[0].split("+")[0],
        replicas=replicas,
        schedules=args.schedules,
        startup_empty_s=startup_empty,
        startup_loaded_s=startup_loaded,
        due=args.due,
        posted=len(per_channel),
        posted_twice=sum(1 for count in per_channel.values() if count > 1),
        first_post_after_due_s=(times[0] - due_timestamp) if times else float("nan"),
        last_post_after_due_s=(times[-1] - due_timestamp) if times else float("nan"),
        posts_per_second=len(times) / spread if spread else float("nan"),
        rss_mb=rss,
    )


def load_schedules(
    url: str, team_id: str, channels: list[str], count: int, lead: float
) -> datetime:
    """`count` weekly schedules; one per due channel is due `lead` seconds from now (its next
    run, the row the sweep reads, set to that moment: after the start-ups are timed), the rest
    later in the week. Returns the due moment."""
    now = utcnow()
    due_at = now + timedelta(seconds=lead)
    engine = create_db_engine(url)
    with Session(engine) as session:
        for number in range(count):
            due = number < len(channels)
            moment = (
                due_at if due else due_at + timedelta(days=1 + number % 5, minutes=number % 600)
            )
            schedule = ReflectionSchedule(
                team_id=team_id,
                channel_id=channels[number] if due else channels[number % len(channels)],
                created_by=ALICE,
                frequency=Frequency.WEEKLY,
                day=moment.weekday(),
                time_of_day=f"{moment:%H:%M}",
                timezone="UTC",
                prompt_set=PROMPT_SET,
            )
            schedule.next_run_at = due_at if due else next_run(schedule, now)
            session.add(schedule)
        session.commit()
    engine.dispose()
    return due_at


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int
    started_at: float


def serve(url: str, emulator: SlackEmulator) -> Server:
    port = free_port()
    env = server_env(emulator, url, LEARNLOOP_SWEEP_SECONDS="1")
    started_at = time.time()
    return Server(start_server(learnloop_command(port), env, port), port, started_at)


def stop(server: Server) -> None:
    server.process.terminate()
    server.process.wait(timeout=30)


def startup_seconds(url: str, emulator: SlackEmulator, tries: int) -> float:
    """The quickest of a few start-ups (the first one also warms the disk cache)."""
    quickest = float("inf")
    for _ in range(tries):
        server = serve(url, emulator)
        try:
            quickest = min(quickest, ready_seconds(server))
        finally:
            stop(server)
    return quickest


def ready_seconds(server: Server) -> float:
    """From starting the process to /readyz answering ready."""
    url = f"http://127.0.0.1:{server.port}/readyz"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if json.load(answer).get("status") == "ready":
                    return time.time() - server.started_at
        except OSError:
            pass
        time.sleep(0.01)


def prompt_posts(emulator: SlackEmulator) -> list[tuple[str, float]]:
    """(channel, when) of each reflection prompt posted."""
    return [
        (str(call.params.get("channel")), call.at)
        for call in emulator.calls_to("chat.postMessage")
        if PROMPT_MARK in str(call.params.get("text"))
    ]


def wait_for_posts(emulator: SlackEmulator, due: int, due_at: datetime, timeout: float) -> None:
    deadline = due_at.timestamp() + timeout
    while time.time() < deadline:
        if len({channel for channel, _ in prompt_posts(emulator)}) >= due:
            return
        time.sleep(0.2)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def report(results: list[Result], args: argparse.Namespace, console: Console) -> None:
    table = Table(title=f"{args.schedules:,} schedules, {args.due:,} due in the same minute")
    for column in (
        "database",
        "replicas",
        "start-up, empty db",
        "start-up, loaded",
        "ratio",
        "posted",
        "twice",
        "first post after due",
        "last post after due",
        "posts/s",
        "RSS MB",
    ):
        table.add_column(column, justify="right")
    for result in results:
        table.add_row(
            result.database,
            str(result.replicas),
            f"{result.startup_empty_s:.2f} s",
            f"{result.startup_loaded_s:.2f} s",
            f"{result.startup_loaded_s / result.startup_empty_s:.2f}",
            f"{result.posted}/{result.due}",
            str(result.posted_twice),
            f"{result.first_post_after_due_s:.1f} s",
            f"{result.last_post_after_due_s:.1f} s",
            f"{result.posts_per_second:.0f}",
            f"{result.rss_mb:.0f}",
        )
    console.print(table)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"scheduling_scale-{int(time.time())}.json"
    out.write_text(json.dumps([asdict(result) for result in results], indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
