"""`learnloop serve` as an operator runs it: a process, HTTP on a port or Socket Mode, Slack's
requests, readiness, its logs, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from bot.emulator import ALICE, BOB, GENERAL, SlackEmulator
from bot.leader import LEADER_LOCK_KEY
from bot.server import EVENTS_PATH
from bot.settings import OAUTH_REDIRECT_PATH
from storage.experts import get_role
from storage.models import Role
from tests.conftest import OTHER_TEAM, SIGNING_SECRET, eventually, install, stored_tils


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status if json.loads(response.read())["status"] == "ok" else None
    except OSError:
        return None


def readyz(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
        return dict(json.loads(response.read()))


@dataclass
class Serving:
    """A running `learnloop serve`; `output` is everything it wrote, once it has exited."""

    process: subprocess.Popen[str]
    port: int
    output: str = field(default="")


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"]


def serve_environment(emulator: SlackEmulator, database_url: str, **env: str) -> dict[str, str]:
    """What an operator sets for `learnloop serve` (Slack at the emulator), and nothing of
    this process's own Slack or database settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE"))}
    return environ | {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        **env,
    }


@contextmanager
def learnloop_serve(
    emulator: SlackEmulator,
    database_url: str,
    cwd: Path,
    *,
    logged_errors: bool = False,
    port: int | None = None,
    **env: str,
) -> Iterator[Serving]:
    """Run `learnloop serve --port <port, or a free one>` with Slack at the emulator and wait
    until it is healthy; on exit SIGTERM it (unless the test did) and check how it stopped and
    what it logged (no traceback unless `logged_errors`)."""
    port = port or free_port()
    process = subprocess.Popen(
        serve_command(port),
        env=serve_environment(emulator, database_url, **env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    serving = Serving(process, port)
    try:
        if "SLACK_APP_TOKEN" not in env:
            eventually(lambda: healthz(port), timeout=30, what="learnloop serve to become healthy")
            emulator.request_url = f"http://127.0.0.1:{port}/slack/events"
        yield serving
    finally:
        process.send_signal(signal.SIGTERM)
        serving.output, _ = process.communicate(timeout=30)
    text = serving.output
    assert process.returncode == 0, f"a graceful stop exits 0, got {process.returncode}: {text}"
    assert logged_errors or "Traceback" not in text, text
    assert emulator.bot_token not in text and SIGNING_SECRET not in text, "secrets in the logs"
    assert emulator.app_token not in text, "secrets in the logs"


def post_til_and_see_it_kept(emulator: SlackEmulator, engine: Engine) -> None:
    ts, delivery = emulator.post_message(ALICE, GENERAL, "TIL serve runs the real stack")
    assert delivery is not None and delivery.status == 200
    emulator.wait_for_call("reactions.add", lambda call: call.params["timestamp"] == ts)
    assert [til.message_ts for til in stored_tils(engine)] == [ts]


def test_serve_takes_slack_requests_on_the_given_port_and_stops_cleanly_on_sigterm(
    emulator: SlackEmulator, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with learnloop_serve(emulator, database_url, tmp_path, PORT="1") as serving:
        post_til_and_see_it_kept(emulator, engine)
        with engine.connect() as connection:
            jobs = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
        assert jobs == ["due-work"], "the sweep job lives in APScheduler's job store, in our DB"
    assert "Application shutdown complete" in serving.output
    first = serving.output.splitlines()[0]
    assert " INFO " in first and not first.startswith("{"), "plain text logs by default"


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(
    emulator: SlackEmulator, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with learnloop_serve(emulator, database_url, tmp_path) as serving:
        slow = emulator.hold("users.info")  # /learnloop role asks Slack whether Alice is admin
        with ThreadPoolExecutor(max_workers=1) as slack:
            answer = slack.submit(
                emulator.slash_command, ALICE, GENERAL, "/learnloop", f"role <@{BOB}> lead"
            )
            slow.wait_until_arrived()
            serving.process.send_signal(signal.SIGTERM)
            eventually(
                lambda: healthz(serving.port) is None,
                what="the server to stop taking new connections",
            )
            assert serving.process.poll() is None, "still finishing the request in flight"
            slow.release()
            delivery = answer.result(timeout=20)
        assert serving.process.wait(timeout=30) == 0
    assert delivery.status == 200, delivery.body
    assert f"<@{BOB}> is now a *lead*" in delivery.json()["text"]
    with Session(engine) as session:
        assert get_role(emulator.team_id, BOB, session=session) is Role.LEAD, "and it was stored"
    assert "SIGTERM received" in serving.output


def test_serve_is_ready_and_leads_the_scheduler_alone_on_sqlite(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'learnloop.db'}"
    with learnloop_serve(emulator, database_url, tmp_path) as serving:
        assert readyz(serving.port) == {"status": "ready", "database": "ok", "scheduler": "leader"}


def test_a_replica_that_finds_the_leader_lease_taken_is_a_ready_follower(
    emulator: SlackEmulator, postgres_url: str, tmp_path: Path
) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as other_replica:
            take = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=LEADER_LOCK_KEY)
            eventually(
                lambda: other_replica.execute(take).scalar_one(),
                timeout=30,
                what="the leader lease (another test's server may hold it)",
            )
            with learnloop_serve(emulator, postgres_url, tmp_path) as serving:
                assert readyz(serving.port) == {
                    "status": "ready",
                    "database": "ok",
                    "scheduler": "follower",
                }
    finally:
        engine.dispose()


def test_log_format_json_writes_one_object_per_line_with_the_traceback_inside(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'learnloop.db'}"
    # At DEBUG, so learnloop_serve's check for secrets covers every library's debug output too.
    debug = {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    with learnloop_serve(emulator, database_url, tmp_path, logged_errors=True, **debug) as serving:
        emulator.fail("users.info", error="fatal_error")  # the listener fails: logged with exc_info
        reply = emulator.slash_command(ALICE, GENERAL, "/learnloop", f"role <@{BOB}> lead")
        assert "went wrong" in reply.json()["text"]
    records = [json.loads(line) for line in serving.output.splitlines() if line.strip()]
    assert records and all(
        set(record) >= {"time", "level", "logger", "message"} for record in records
    ), serving.output
    for record in records:
        assert datetime.fromisoformat(record["time"]).utcoffset() == timedelta(0), record["time"]
    failures = [record for record in records if "exc_info" in record]
    assert [(r["level"], r["logger"]) for r in failures] == [("ERROR", "handlers.errors")]
    assert failures[0]["exc_info"].startswith("Traceback (most recent call last)")
    assert "SlackApiError" in failures[0]["exc_info"]
    assert any(r["message"] == "Application shutdown complete." for r in records)


def test_serve_with_a_client_id_installs_through_oauth_and_serves_that_workspace(
    emulator: SlackEmulator,
    other_workspace: SlackEmulator,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator.redirect_url = url + OAUTH_REDIRECT_PATH  # Slack checks the redirect_uri sent
    oauth = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": emulator.client_id,
        "SLACK_CLIENT_SECRET": emulator.client_secret,
        "LEARNLOOP_PUBLIC_URL": url,
    }
    with learnloop_serve(emulator, database_url, tmp_path, port=port, **oauth) as serving:
        other_workspace.request_url = url + EVENTS_PATH
        assert install(url, OTHER_TEAM).status == 200
        post_til_and_see_it_kept(other_workspace, engine)
    assert emulator.client_secret not in serving.output, "secrets in the logs"
    assert other_workspace.bot_token not in serving.output, "secrets in the logs"


def test_serve_with_an_app_token_uses_socket_mode(
    emulator: SlackEmulator, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    emulator.socket_mode = True
    with learnloop_serve(
        emulator,
        database_url,
        tmp_path,
        SLACK_APP_TOKEN=emulator.app_token,
        SLACK_SIGNING_SECRET="",
    ) as serving:
        emulator.wait_for_socket(timeout=30)
        post_til_and_see_it_kept(emulator, engine)
        reply = emulator.slash_command(ALICE, GENERAL, "/til", "help").json()
        assert "/til search" in reply["text"]
    assert "Socket Mode shutdown complete" in serving.output
    assert emulator.calls_to("apps.connections.open")
