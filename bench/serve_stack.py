"""Cost per Slack request: LearnLoop against a bare Bolt app on the same server stack, same run.

The server under test runs in its own process pinned to core 0; this driver (and the Slack
emulator it talks to) run on core 1. Requests are signed exactly as Slack signs them and sent
over loopback by a fixed number of concurrent keep-alive connections for a fixed time.

LearnLoop is measured three times: as one process that also runs the follow-ups its requests
promise (the :books:, posts, routing); as a web process with LEARNLOOP_FOLLOW_UPS=worker beside
a `learnloop worker` on core 1 at the lowest priority (so that it takes what the driver leaves,
and catches up after the run: its CPU and the time it took are reported too); and as that web
process alone, as a replica runs when its workers are on other machines (what it promises
stays stored, not run).

Each configuration is compared with a bare Bolt baseline measured just before it (an event and
a command), not with one measured once at the start: these VMs change speed by up to a factor of
two within one run, which had made a ratio compare two different machines.

Beside the server's CPU, each scenario reports where the rest of the machine's went: the CPU of
PostgreSQL's processes per request (on SQLite the database works inside the server) and each
core's idle share, since the database and the driver share the machine with the server.

    .venv/bin/python -m bench.serve_stack [--seconds 5] [--concurrency 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
import uvloop
from sqlalchemy import Engine

from bench.http_client import LoopbackSender
from bot.emulator import ALICE, GENERAL, SlackEmulator
from storage.db import create_db_engine

SIGNING_SECRET = "bench-signing-secret"
RESULTS_DIR = Path(__file__).parent / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    server: str
    scenario: str
    requests: int
    errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_us: float
    # LearnLoop only: how long its follow-ups (the :books:, posts, routing) ran on after the
    # last ack, and the CPU per request with them (the server's, and any worker's).
    drain_s: float = 0.0
    server_cpu_with_follow_ups_us: float = 0.0
    # Where the rest of the machine's CPU went: PostgreSQL's own processes per request (None on
    # SQLite, which works inside the server), and each core's idle share during the run.
    database_cpu_us: float | None = None
    idle_percent_per_core: tuple[float, ...] = ()
    # Throughput as a ratio to the bare Bolt baseline measured just before (see against()).
    vs_baseline: float = 0.0


Body = tuple[bytes, str]  # body, content type


def chatter(index: int, emulator: SlackEmulator) -> Body:
    return _event(f"lunch at {index % 7}?", index)


def til_message(index: int, emulator: SlackEmulator) -> Body:
    """A TIL that exists in the emulated Slack, so its :books: confirmation succeeds there."""
    text = f"TIL benchmark fact number {index} #bench"
    return _event(text, index, emulator.keep_message(ALICE, GENERAL, text))


def til_command(index: int, emulator: SlackEmulator) -> Body:
    return _command("/til", f"benchmarks measure {index} #bench", index, emulator)


def ask_command(index: int, emulator: SlackEmulator) -> Body:
    return _command("/ask", f"how do benchmarks measure {index}? #bench", index, emulator)


def _command(command: str, text: str, index: int, emulator: SlackEmulator) -> Body:
    form = {
        "command": command,
        "text": text,
        "team_id": "T0LEARN01",
        "channel_id": GENERAL,
        "user_id": ALICE,
        "response_url": emulator.response_url(GENERAL, ALICE),
        "trigger_id": f"{index}.1.x",
        "api_app_id": "A0LEARNAPP",
    }
    return urlencode(form).encode(), "application/x-www-form-urlencoded"


def _event(text: str, index: int, ts: str | None = None) -> Body:
    ts = ts or f"{1_800_000_000 + index}.{index % 1_000_000:06d}"
    envelope = {
        "type": "event_callback",
        "team_id": "T0LEARN01",
        "api_app_id": "A0LEARNAPP",
        "event_id": f"Ev{index:010d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0LEARN01", "user_id": "U0LEARNBOT", "is_bot": True}],
        "event": {
            "type": "message",
            "channel": GENERAL,
            "user": ALICE,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        },
    }
    return json.dumps(envelope).encode(), "application/json"


SCENARIOS: dict[str, Callable[[int, SlackEmulator], Body]] = {
    "chatter (ignored messages)": chatter,
    "TIL message (stored)": til_message,
    "/til command (stored)": til_command,
    "/ask command (stored)": ask_command,
}


BASELINE_COMMAND = [sys.executable, "-m", "bench.baseline_app"]  # listens on $PORT
# An event and a command: bare Bolt's no-op listener and command take any message and command.
BASELINE_SCENARIOS = ["chatter (ignored messages)", "/til command (stored)"]
WORKER_COMMAND = [sys.executable, "-m", "bot", "worker"]
LEARNLOOP = "LearnLoop"
LEARNLOOP_WEB = "LearnLoop web"  # with LEARNLOOP_FOLLOW_UPS=worker and a worker beside it
LEARNLOOP_WEB_ALONE = "web alone"  # the same, its workers elsewhere: follow-ups are not run
CONFIGURATIONS = (  # name, LEARNLOOP_FOLLOW_UPS, a worker beside it
    (LEARNLOOP, "serve", False),
    (LEARNLOOP_WEB, "worker", True),
    (LEARNLOOP_WEB_ALONE, "worker", False),
)


def learnloop_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]


def server_env(emulator: SlackEmulator, database_url: str, **settings: str) -> dict[str, str]:
    """A server under test's environment: Slack is the emulator, logs are quiet, plus
    `settings` (PORT, LEARNLOOP_SWEEP_SECONDS…)."""
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        **settings,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU used so far by this machine's PostgreSQL processes (benchmarks use loopback only):
    they share the two cores with the server and the driver, where bare Bolt has no database."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except (OSError, IndexError):  # gone meanwhile
                continue
    return total


def idle_seconds_per_core() -> list[float]:
    """Each core's idle (and I/O wait) time so far, from /proc/stat."""
    idle = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            idle.append((int(fields[3]) + int(fields[4])) / CLOCK_TICKS)
    return idle


async def drive(
    url: str,
    make: Callable[[int, SlackEmulator], Body],
    emulator: SlackEmulator,
    *,
    seconds: float,
    concurrency: int,
    offset: int,
    requests: int = 10_000_000,
) -> tuple[list[float], int]:
    """Send signed requests made by `make` for `seconds`, or until `requests` were sent, from
    `concurrency` keep-alive connections (a lost one counts as an error and is reopened)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(offset, offset + requests))
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        nonlocal errors
        connection = await LoopbackSender.connect(url)
        try:
            while time.perf_counter() < deadline and (index := next(counter, None)) is not None:
                body, content_type = make(index, emulator)
                timestamp = str(int(time.time()))
                headers = {
                    "Content-Type": content_type,
                    "X-Slack-Request-Timestamp": timestamp,
                    "X-Slack-Signature": emulator.sign(body, timestamp),
                }
                started = time.perf_counter()
                try:
                    status = await connection.post(body, headers)
                except (ConnectionError, ValueError):
                    errors += 1
                    connection = await LoopbackSender.connect(url)
                    continue
                if status != 200:
                    errors += 1
                latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, errors


def start_server(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = start_pinned(command, env, core=0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not start")


def start_pinned(
    command: list[str], env: dict[str, str], *, core: int, nice: int = 0
) -> subprocess.Popen[bytes]:
    pin = ["taskset", "-c", str(core)] if _has_taskset() else []
    return subprocess.Popen(
        [*pin, "nice", "-n", str(nice), *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _has_taskset() -> bool:
    return subprocess.run(["which", "taskset"], capture_output=True).returncode == 0


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    emulator: SlackEmulator,
    args: argparse.Namespace,
    scenarios: list[str],
    outbox: Engine | None = None,
    worker_env: dict[str, str] | None = None,
    on_postgres: bool = False,
) -> list[Result]:
    """Each scenario against the server `command`; with `worker_env`, a `learnloop worker`
    runs beside it on core 1 at the lowest priority."""
    process = start_server(command, env, port)
    worker = (
        None if worker_env is None else start_pinned(WORKER_COMMAND, worker_env, core=1, nice=19)
    )
    url = f"http://127.0.0.1:{port}/slack/events"
    results = []

    def learnloop_cpu() -> float:
        return sum(cpu_seconds(p.pid) for p in (process, worker) if p is not None)

    try:
        # Warm up (imports, auth.test, connection pools) before measuring.
        uvloop.run(drive(url, chatter, emulator, seconds=1, concurrency=4, offset=0))
        for number, scenario in enumerate(scenarios, start=1):
            before, before_all = cpu_seconds(process.pid), learnloop_cpu()
            database_before, idle_before = postgres_cpu_seconds(), idle_seconds_per_core()
            started = time.perf_counter()
            latencies, errors = uvloop.run(
                drive(
                    url,
                    SCENARIOS[scenario],
                    emulator,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                    offset=number * 10_000_000,
                )
            )
            elapsed, idle_after = time.perf_counter() - started, idle_seconds_per_core()
            used = cpu_seconds(process.pid) - before
            database_used = postgres_cpu_seconds() - database_before
            idle = [
                100 * (after - before_core) / elapsed
                for before_core, after in zip(idle_before, idle_after, strict=True)
            ]
            drain = drained_after(outbox) if outbox is not None else 0.0
            with_follow_ups = learnloop_cpu() - before_all
            ordered = sorted(latencies)
            results.append(
                Result(
                    server=name,
                    scenario=scenario,
                    requests=len(ordered),
                    errors=errors,
                    per_second=len(ordered) / args.seconds,
                    p50_ms=statistics.median(ordered) * 1000,
                    p95_ms=ordered[int(len(ordered) * 0.95)] * 1000,
                    p99_ms=ordered[int(len(ordered) * 0.99)] * 1000,
                    server_cpu_us=used / max(len(ordered), 1) * 1e6,
                    drain_s=drain,
                    server_cpu_with_follow_ups_us=with_follow_ups / max(len(ordered), 1) * 1e6,
                    database_cpu_us=(
                        database_used / max(len(ordered), 1) * 1e6 if on_postgres else None
                    ),
                    idle_percent_per_core=tuple(idle),
                )
            )
    finally:
        for started in (process, worker):
            if started is not None:
                started.terminate()
                started.wait(timeout=30)
    return results


def drained_after(outbox: Engine, timeout: float = 120.0) -> float:
    """Seconds until every follow-up stored had its first attempt: done (deleted), or moved
    later (deferred because its channel already had its message this second, or postponed
    after a failure). Further attempts wait on Slack's limit of one post a second per channel,
    not on LearnLoop, and are not waited for."""
    started = time.monotonic()
    in_flight = sa.text("SELECT count(*) FROM follow_up WHERE run_after = created_at")
    while time.monotonic() - started < timeout:
        with outbox.connect() as connection:
            if not connection.execute(in_flight).scalar():
                break
        time.sleep(0.05)
    return time.monotonic() - started


def empty_outbox(outbox: Engine) -> None:
    """Each configuration starts without the posts an earlier one left for later (deferred for
    a busy channel), which its worker would otherwise spend its time on."""
    if sa.inspect(outbox).has_table("follow_up"):
        with outbox.begin() as connection:
            connection.execute(sa.text("DELETE FROM follow_up"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where JSON goes")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})
    with (
        tempfile.TemporaryDirectory() as folder,
        SlackEmulator(signing_secret=SIGNING_SECRET, echo_bot_messages=False) as emulator,
    ):
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        on_postgres = sa.make_url(database_url).get_backend_name() == "postgresql"
        results: list[Result] = []
        outbox = create_db_engine(database_url)
        for name, follow_ups, with_worker in CONFIGURATIONS:
            port = free_port()
            baseline = measure(
                "bare Bolt",
                BASELINE_COMMAND,
                server_env(emulator, database_url, PORT=str(port)),
                port,
                emulator,
                args,
                BASELINE_SCENARIOS,
                on_postgres=on_postgres,
            )
            empty_outbox(outbox)
            port = free_port()
            env = server_env(emulator, database_url, LEARNLOOP_FOLLOW_UPS=follow_ups)
            runs_follow_ups = follow_ups == "serve" or with_worker
            learnloop = measure(
                name,
                learnloop_command(port),
                env,
                port,
                emulator,
                args,
                list(SCENARIOS),
                outbox=outbox if runs_follow_ups else None,
                worker_env=env if with_worker else None,
                on_postgres=on_postgres,
            )
            results += against(baseline, baseline) + against(learnloop, baseline)
    report(results, args, database_url.split(":")[0])


def against(results: list[Result], baseline: list[Result]) -> list[Result]:
    """`results` with their throughput as a ratio to the baseline measured just before them
    (see the module's docstring): slash commands to its command, events to its event."""
    event, command = baseline
    return [
        replace(
            result,
            vs_baseline=result.per_second
            / (command if "command" in result.scenario else event).per_second,
        )
        for result in results
    ]


def report(results: list[Result], args: argparse.Namespace, database: str) -> None:
    print(
        f"\nconcurrency {args.concurrency}, {args.seconds:.0f} s per scenario, "
        f"server pinned to core 0, database {database}; each configuration after its own "
        "bare Bolt baseline\n"
    )
    header = (
        f"{'server':<13} {'scenario':<28} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} {'errors':>6} "
        f"{'drain s':>7} {'CPU µs/req with follow-ups':>26} {'PostgreSQL µs/req':>17} "
        f"{'idle % per core':>15}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.server:<13} {result.scenario:<28} {result.per_second:>8.0f} "
            f"{result.vs_baseline:>6.2f} "
            f"{result.p50_ms:>7.2f} {result.p95_ms:>7.2f} {result.p99_ms:>7.2f} "
            f"{result.server_cpu_us:>10.0f} {result.errors:>6} "
            f"{result.drain_s:>7.1f} {result.server_cpu_with_follow_ups_us:>26.0f} "
            f"{'-' if result.database_cpu_us is None else f'{result.database_cpu_us:.0f}':>17} "
            f"{' '.join(f'{idle:.0f}' for idle in result.idle_percent_per_core):>15}"
        )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"serve_stack-{database}-{int(time.time())}.json"
    out.write_text(json.dumps([asdict(result) for result in results], indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
