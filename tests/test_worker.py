"""The web/worker split (LEARNLOOP_FOLLOW_UPS=worker): serving processes store and acknowledge,
`learnloop worker` processes make the Slack calls the requests promised, each once."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot import til
from bot.emulator import DAVE, GENERAL, SlackEmulator
from bot.jobs import run_due_work
from bot.leader import LeaderLease
from bot.runtime import Runtime
from bot.serve import BackgroundServer, build_web_app
from bot.settings import FollowUps, Settings
from bot.worker import Worker
from storage.db import create_db_engine, upgrade
from storage.models import FollowUp
from storage.types import utcnow
from tests.conftest import SIGNING_SECRET, eventually, settings_for, stored_tils
from tests.tcp_proxy import TcpProxy
from tests.test_serve import serve_environment


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    """Serving processes that leave their follow-ups to workers polling every 50 ms."""
    return replace(settings, follow_ups="worker", worker_poll_seconds=0.05)


@pytest.fixture
def web(worker_settings: Settings, emulator: SlackEmulator) -> Iterator[BackgroundServer]:
    """A serving process that only stores and acknowledges."""
    with BackgroundServer(build_web_app(worker_settings)) as server:
        emulator.request_url = server.request_url
        yield server


def follow_ups(engine: Engine) -> list[FollowUp]:
    with Session(engine) as session:
        return list(session.exec(select(FollowUp).order_by(FollowUp.id)))  # type: ignore[arg-type]


def books_on(emulator: SlackEmulator, ts: str) -> int:
    """How many times the bot asked Slack for :books: on the message `ts`."""
    return sum(
        1
        for call in emulator.calls_to("reactions.add")
        if call.params.get("timestamp") == ts and call.params.get("name") == "books"
    )


@contextmanager
def working(settings: Settings) -> Iterator[Worker]:
    """`learnloop worker`'s service loop on a thread, stopped (and its runtime closed) after."""
    runtime = Runtime(settings)
    worker = Worker(runtime)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=10)
        runtime.close()
    assert not thread.is_alive(), "the worker stops when told to"


def post_til_left_to_the_workers(emulator: SlackEmulator, engine: Engine, text: str) -> str:
    """A keyword TIL acknowledged and stored by a serving process that runs no follow-up."""
    ts, delivery = emulator.post_message(DAVE, GENERAL, text)
    assert delivery is not None and delivery.status == 200, "the event is acknowledged"
    assert [t.message_ts for t in stored_tils(engine)] == [ts], "the TIL is stored before the ack"
    [row] = follow_ups(engine)
    assert row.task == "til.confirm" and row.claimed_until is None, "left unclaimed, for anyone"
    time.sleep(0.3)  # what a serving process would have done by now (it does it at once)
    assert emulator.calls_to("reactions.add") == [], "the serving process makes no Slack call"
    return ts


def keep_tils(runtime: Runtime, emulator: SlackEmulator, count: int) -> list[str]:
    """`count` keyword TILs stored as a serving process stores them; their messages' ts."""
    stamps = [emulator.keep_message(DAVE, GENERAL, f"TIL number {n}") for n in range(count)]
    messages = [til.SlackMessage(emulator.team_id, GENERAL, ts, DAVE, "TIL") for ts in stamps]
    workspace = f"https://{emulator.team_domain}.slack.com/"
    runtime.call_sync(til.capture_keyword_messages, batch=[(m, workspace) for m in messages])
    return stamps


def test_a_til_acknowledged_by_the_web_process_is_confirmed_by_a_worker_once(
    web: BackgroundServer,
    worker_settings: Settings,
    emulator: SlackEmulator,
    engine: Engine,
) -> None:
    ts = post_til_left_to_the_workers(emulator, engine, "TIL workers make the Slack calls")
    with working(worker_settings):
        emulator.wait_for_call("reactions.add")
        eventually(lambda: follow_ups(engine) == [], what="the done follow-up deleted")
    assert books_on(emulator, ts) == 1 and len(emulator.calls_to("reactions.add")) == 1


def test_learnloop_worker_runs_what_serve_stored_and_stops_at_once_on_sigterm(
    web: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    ts = post_til_left_to_the_workers(emulator, engine, "TIL the worker is its own process")
    env = serve_environment(
        emulator, database_url, LEARNLOOP_FOLLOW_UPS="worker", LEARNLOOP_WORKER_POLL_SECONDS="0.1"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        emulator.wait_for_call("reactions.add", timeout=30)
        eventually(lambda: follow_ups(engine) == [], what="the done follow-up deleted")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)  # idle: nothing claimed, nothing running
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, f"a graceful stop exits 0: {output}"
    assert time.monotonic() - started < 3, "an idle worker stops at once"
    assert books_on(emulator, ts) == 1
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"LearnLoop worker: {kind} database, 8 threads, polling every 0.1s" in output, output
    assert "SIGTERM received" in output and "Traceback" not in output, output
    assert emulator.bot_token not in output and SIGNING_SECRET not in output, "secrets logged"


def test_learnloop_worker_refuses_an_unknown_follow_ups_setting(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    env = serve_environment(
        emulator, f"sqlite:///{tmp_path / 'll.db'}", LEARNLOOP_FOLLOW_UPS="workers"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "LEARNLOOP_FOLLOW_UPS" in lines[0] and "'workers'" in lines[0]
    assert "Traceback" not in result.stderr


def test_two_workers_on_postgresql_run_each_follow_up_once(
    postgres_url: str, emulator: SlackEmulator
) -> None:
    settings = replace(settings_for(emulator, postgres_url), follow_ups="worker")
    engine = create_db_engine(postgres_url, pool_size=2)
    try:
        upgrade(engine)
        web = Runtime(settings)
        try:
            stamps = keep_tils(web, emulator, 200)
        finally:
            web.close()
        with working(settings), working(settings):
            eventually(
                lambda: follow_ups(engine) == [], timeout=60, what="200 follow-ups run and deleted"
            )
    finally:
        engine.dispose()
    per_message = {ts: books_on(emulator, ts) for ts in stamps}
    assert set(per_message.values()) == {1}, "each follow-up ran exactly once"
    assert len(emulator.calls_to("reactions.add")) == 200


def test_a_transient_failure_is_postponed_and_run_by_a_worker_once_due_again(
    web: BackgroundServer, worker_settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    # Slack is down for the attempt and the client's own two retries.
    emulator.fail("reactions.add", status=503, times=3)
    ts = post_til_left_to_the_workers(emulator, engine, "TIL outages end")
    with working(worker_settings):
        [failed] = eventually(
            lambda: [f for f in follow_ups(engine) if f.attempts == 1], what="the failed attempt"
        )
        assert failed.last_error == "SlackApiError: fatal_error" and failed.claimed_until is None
        assert failed.run_after > utcnow() + timedelta(seconds=20), "tried again in 30 s"
        assert books_on(emulator, ts) == 3, "no worker takes it before it is due"
        with Session(engine) as session:  # 30 s pass
            session.execute(update(FollowUp).values(run_after=utcnow()))
            session.commit()
        eventually(lambda: follow_ups(engine) == [], what="the second attempt done")
    assert [c.status for c in emulator.calls_to("reactions.add")] == [503, 503, 503, 200]


def test_a_stopping_worker_finishes_what_runs_and_hands_back_what_waits(
    worker_settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    settings = replace(worker_settings, worker_threads=1)  # one runs, one waits claimed
    runtime = Runtime(settings)
    stop = threading.Event()
    worker = Worker(runtime)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    try:
        first, second, third = keep_tils(runtime, emulator, 3)
        held = emulator.hold("reactions.add")
        thread.start()
        held.wait_until_arrived()
        claimed = [f for f in follow_ups(engine) if f.claimed_until is not None]
        assert len(claimed) == 2, "a running batch and a waiting one, no more"
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the worker stops claiming at once"
        released = [f for f in follow_ups(engine) if f.claimed_until is None]
        assert len(released) == 2, "the one waiting is handed back, the third never claimed"
        held.release()
    finally:
        stop.set()
        runtime.close()  # finishes the one running
    assert books_on(emulator, first) == 1 and books_on(emulator, second) == 0
    assert books_on(emulator, third) == 0
    assert [f.attempts for f in follow_ups(engine)] == [0, 0], "handed back is no failure"


@pytest.mark.parametrize(("follow_ups_run_by", "replayed"), [("serve", 1), ("worker", 0)])
def test_the_leaders_sweep_replays_follow_ups_only_when_no_workers_do(
    follow_ups_run_by: FollowUps,
    replayed: int,
    settings: Settings,
    emulator: SlackEmulator,
    engine: Engine,
) -> None:
    runtime = Runtime(replace(settings, follow_ups=follow_ups_run_by))
    lease = LeaderLease(runtime.engine)
    try:
        [ts] = keep_tils(runtime, emulator, 1)
        earlier = utcnow() - timedelta(minutes=5)
        with Session(engine) as session:  # a failed attempt, due again, claimed by nobody
            session.execute(
                update(FollowUp).values(attempts=1, run_after=earlier, claimed_until=None)
            )
            session.commit()
        assert lease.is_leader(), "this process leads the sweeps"
        run_due_work(runtime, lease)
    finally:
        lease.release()
        runtime.close()
    assert books_on(emulator, ts) == replayed
    assert len(follow_ups(engine)) == 1 - replayed, "a worker's to replay"


def test_a_worker_outlives_a_database_outage_and_runs_what_fell_due_after(
    postgres_url: str, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(postgres_url)
    engine = create_db_engine(postgres_url, pool_size=2)
    upgrade(engine)
    settings = replace(settings_for(emulator, postgres_url), follow_ups="worker")
    try:
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            behind = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
            worker_settings = replace(settings, database_url=behind, worker_poll_seconds=0.05)
            with caplog.at_level(logging.WARNING, logger="bot.worker"), working(worker_settings):
                proxy.cut()
                eventually(
                    lambda: any("could not claim" in r.getMessage() for r in caplog.records),
                    what="a failed poll, logged",
                )
                web = Runtime(settings)
                try:
                    [ts] = keep_tils(web, emulator, 1)
                finally:
                    web.close()
                proxy.restore()
                eventually(lambda: follow_ups(engine) == [], timeout=15, what="the TIL done")
        assert books_on(emulator, ts) == 1
    finally:
        engine.dispose()
