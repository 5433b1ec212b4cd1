"""Several `learnloop serve` processes on one PostgreSQL, as in production: one leader sweeps,
a due prompt goes out once, and when the leader is killed another replica takes over."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.emulator import ALICE, GENERAL, RANDOM, SlackEmulator
from bot.leader import LEADER_LOCK_KEY
from storage.db import create_db_engine
from storage.models import ReflectionRun, ReflectionSchedule
from storage.types import utcnow
from tests.conftest import POSTGRES_URL, eventually, require_postgres
from tests.tcp_proxy import TcpProxy
from tests.test_serve import free_port, healthz, serve_command, serve_environment

# As long as a failover of a managed PostgreSQL can take: sweeps fail, the lease is lost, the
# job store's own retry (10 s) runs more than once.
OUTAGE_SECONDS = 30


@pytest.fixture
def own_database(postgres_available: bool) -> Iterator[str]:
    """A database of its own: advisory locks (the leader lease) are per database."""
    require_postgres(postgres_available)
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
    process = subprocess.Popen(
        serve_command(port),
        env=serve_environment(emulator, database_url, LEARNLOOP_SWEEP_SECONDS="1"),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    eventually(lambda: healthz(port), timeout=30, what=f"the replica on port {port}")
    return process


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:  # HTTPError (503) included
        return False


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
            eventually(lambda: not ready(port), timeout=5, what="/readyz to see the outage")
            time.sleep(OUTAGE_SECONDS)
            assert replica.poll() is None, "the process stays up through the outage"
            assert prompts(emulator) == 0
            proxy.restore()
            eventually(lambda: ready(port), timeout=15, what="/readyz to recover")
            eventually(lambda: prompts(emulator) == 1, timeout=40, what="the missed prompt")
        finally:
            replica.send_signal(signal.SIGTERM)
            replica.wait(timeout=30)
    engine.dispose()
    assert prompts(emulator) == 1, "caught up once, not once per missed sweep"


def deliver_to(port: int, emulator: SlackEmulator, body: bytes, retry: int | None) -> int:
    """What Slack does: the same signed envelope, to whichever replica the balancer picks."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": emulator.sign(body, timestamp),
    }
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_an_event_delivered_four_times_to_two_replicas_is_stored_and_confirmed_once(
    emulator: SlackEmulator, own_database: str, tmp_path: Path
) -> None:
    # Posted where the bot is not yet, so nothing is delivered until the test does it.
    ts, _ = emulator.post_message(ALICE, RANDOM, "TIL load balancers spread retries")
    emulator.join(RANDOM, emulator.bot_user_id)
    event = {
        "type": "message",
        "channel": RANDOM,
        "user": ALICE,
        "text": "TIL load balancers spread retries",
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    envelope = {
        "token": "legacy",
        "team_id": emulator.team_id,
        "api_app_id": emulator.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0REPLICAS1",
        "event_time": int(time.time()),
    }
    body = json.dumps(envelope).encode()
    ports = [free_port(), free_port()]
    replicas = [start_replica(emulator, own_database, port, tmp_path) for port in ports]
    try:
        # The first delivery and its first retry arrive at the same moment, one at each replica.
        with ThreadPoolExecutor(2) as pool:
            first = list(
                pool.map(
                    lambda p: deliver_to(p[0], emulator, body, p[1]),
                    [(ports[0], None), (ports[1], 1)],
                )
            )
        later = [deliver_to(ports[n % 2], emulator, body, n) for n in (2, 3)]
        assert first + later == [200, 200, 200, 200]
        eventually(
            lambda: emulator.calls_to("reactions.add"), timeout=10, what="the :books: confirmation"
        )
        time.sleep(1)  # room for a wrong second confirmation to show up
    finally:
        for replica in replicas:
            replica.send_signal(signal.SIGTERM)
            replica.wait(timeout=30)
    engine = create_db_engine(own_database)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT count(*) FROM til")).scalar_one()
    engine.dispose()
    assert kept == 1, "stored once across replicas and retries"
    assert len(emulator.calls_to("reactions.add")) == 1, "confirmed once"
