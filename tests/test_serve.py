"""`learnloop serve` as an operator runs it: a process, HTTP on a port or Socket Mode, Slack's
requests, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.server import EVENTS_PATH
from bot.settings import OAUTH_REDIRECT_PATH
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


@contextmanager
def learnloop_serve(
    emulator: SlackEmulator, database_url: str, cwd: Path, *args: str, **env: str
) -> Iterator[list[str]]:
    """Run `learnloop serve`; on exit SIGTERM it and put its whole output in the list."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE"))}
    environ |= {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", *args],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        yield output
    finally:
        process.send_signal(signal.SIGTERM)
        text, _ = process.communicate(timeout=30)
        output.append(text)
    # uvicorn finishes in-flight work, then re-raises SIGTERM so supervisors see why it stopped.
    assert process.returncode in (0, -signal.SIGTERM), text
    assert "Traceback" not in text, text
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
    port = free_port()
    args = ("--port", str(port), "--host", "127.0.0.1")
    with learnloop_serve(emulator, database_url, tmp_path, *args, PORT="1") as output:
        eventually(lambda: healthz(port), timeout=30, what="learnloop serve to become healthy")
        emulator.request_url = f"http://127.0.0.1:{port}/slack/events"
        post_til_and_see_it_kept(emulator, engine)
        with engine.connect() as connection:
            jobs = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
        assert jobs == ["due-work"], "the sweep job lives in APScheduler's job store, in our DB"
    assert "Application shutdown complete" in output[0]


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
    with learnloop_serve(emulator, database_url, tmp_path, "--port", str(port), **oauth) as output:
        eventually(lambda: healthz(port), timeout=30, what="learnloop serve to become healthy")
        other_workspace.request_url = url + EVENTS_PATH
        assert install(url, OTHER_TEAM).status == 200
        post_til_and_see_it_kept(other_workspace, engine)
    assert emulator.client_secret not in output[0], "secrets in the logs"
    assert other_workspace.bot_token not in output[0], "secrets in the logs"


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
    ) as output:
        emulator.wait_for_socket(timeout=30)
        post_til_and_see_it_kept(emulator, engine)
        reply = emulator.slash_command(ALICE, GENERAL, "/til", "help").json()
        assert "/til search" in reply["text"]
    assert "Socket Mode shutdown complete" in output[0]
    assert emulator.calls_to("apps.connections.open")
