"""Several `learnloop serve` processes on one PostgreSQL, as in production: one leader sweeps,
a due prompt goes out once, and when the leader is killed another replica takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.leader import LEADER_LOCK_KEY
from storage.db import create_db_engine
from storage.models import ReflectionRun, ReflectionSchedule
from storage.types import utcnow
from tests.conftest import POSTGRES_URL, SIGNING_SECRET, eventually
from tests.tcp_proxy import TcpProxy
from tests.test_serve import free_port, healthz

# As long as a failover of a managed PostgreSQL can take: sweeps fail, the lease is lost, the
# job store's own retry (10 s) runs more than once.
OUTAGE_SECONDS = 30


@pytest.fixture
def own_database(postgres_available: bool) -> Iterator[str]:
    """A database of its own: advisory locks (the leader lease) are per database."""
    if not postgres_available:
        if os.environ.get("LEARNLOOP_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but {POSTGRES_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    name = f"ll_replicas_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def start_replica(
    emulator: SlackEmulator, database_url: str, port: int, cwd: Path
) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE"))}
    environ |= {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "LEARNLOOP_SWEEP_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
        env=environ,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    eventually(lambda: healthz(port), timeout=30, what=f"the replica on port {port}")
    return process


def lease_held(engine: Engine) -> bool:
    with engine.connect() as connection:
        held = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": LEADER_LOCK_KEY},
        ).scalar_one()
    return bool(held)


def prompts(emulator: SlackEmulator) -> int:
    return sum(
        "Time to reflect" in str(c.params.get("text"))
        for c in emulator.calls_to("chat.postMessage")
        if c.status == 200
    )


def due_in_two_seconds(engine: Engine) -> None:
    with Session(engine) as session:
        [schedule] = session.exec(select(ReflectionSchedule)).all()
        schedule.next_run_at = utcnow() + timedelta(seconds=2)
        session.add(schedule)
        session.commit()


def test_one_leader_sends_each_prompt_once_and_a_replica_takes_over_when_it_dies(
    emulator: SlackEmulator, own_database: str, tmp_path: Path
) -> None:
    engine = create_db_engine(own_database)
    leader_port, follower_port = free_port(), free_port()
    leader = start_replica(emulator, own_database, leader_port, tmp_path)
    follower = None
    try:
        eventually(lambda: lease_held(engine), timeout=10, what="the first replica to lead")
        follower = start_replica(emulator, own_database, follower_port, tmp_path)
        emulator.request_url = f"http://127.0.0.1:{follower_port}/slack/events"
        emulator.slash_command(ALICE, GENERAL, "/reflect", "schedule weekly fri 16:00 Etc/UTC")

        due_in_two_seconds(engine)
        eventually(lambda: prompts(emulator) == 1, timeout=15, what="the prompt, from the leader")
        leader.send_signal(signal.SIGKILL)  # no goodbye: its connections just drop
        leader.wait(timeout=10)

        due_in_two_seconds(engine)
        eventually(lambda: prompts(emulator) >= 2, timeout=60, what="the new leader's prompt")
        eventually(lambda: lease_held(engine), timeout=5, what="the survivor to hold the lease")
    finally:
        for process in (leader, follower):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        with Session(engine) as session:
            runs = session.exec(select(ReflectionRun)).all()
        engine.dispose()
    assert prompts(emulator) == 2 and len(runs) == 2, "each due run sent once, by one replica"


def test_a_replica_outlives_a_database_outage_and_catches_up_on_what_fell_due(
    emulator: SlackEmulator, own_database: str, tmp_path: Path
) -> None:
    url = make_url(own_database)
    engine = create_db_engine(own_database)
    port = free_port()
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        replica = start_replica(
            emulator, through_proxy.render_as_string(hide_password=False), port, tmp_path
        )
        try:
            emulator.request_url = f"http://127.0.0.1:{port}/slack/events"
            emulator.slash_command(ALICE, GENERAL, "/reflect", "schedule weekly fri 16:00 Etc/UTC")
            eventually(lambda: lease_held(engine), timeout=10, what="the replica to lead")
            due_in_two_seconds(engine)
            proxy.cut()  # the database (and the job store in it) goes away before it is due
            eventually(lambda: healthz(port) is None, timeout=5, what="/healthz to see the outage")
            time.sleep(OUTAGE_SECONDS)
            assert replica.poll() is None, "the process stays up through the outage"
            assert prompts(emulator) == 0
            proxy.restore()
            eventually(lambda: healthz(port), timeout=15, what="/healthz to recover")
            eventually(lambda: prompts(emulator) == 1, timeout=40, what="the missed prompt")
        finally:
            replica.send_signal(signal.SIGTERM)
            replica.wait(timeout=30)
    engine.dispose()
    assert prompts(emulator) == 1, "caught up once, not once per missed sweep"
