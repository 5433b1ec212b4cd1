"""`learnloop serve` as an operator runs it: a process, a port, Slack's requests, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from sqlalchemy import Engine

from bot.emulator import ALICE, GENERAL, SlackEmulator
from tests.conftest import SIGNING_SECRET, eventually, stored_tils


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


def test_serve_takes_slack_requests_on_the_given_port_and_stops_cleanly_on_sigterm(
    emulator: SlackEmulator, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE"))}
    environ |= {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "PORT": "1",  # --port wins over PORT
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually(lambda: healthz(port), timeout=30, what="learnloop serve to become healthy")
        emulator.request_url = f"http://127.0.0.1:{port}/slack/events"
        ts, delivery = emulator.post_message(ALICE, GENERAL, "TIL serve runs the real stack")
        assert delivery is not None and delivery.status == 200
        emulator.wait_for_call("reactions.add", lambda call: call.params["timestamp"] == ts)
        assert len(stored_tils(engine)) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn finishes in-flight work, then re-raises SIGTERM so supervisors see why it stopped.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "Traceback" not in output, output
    assert emulator.bot_token not in output and SIGNING_SECRET not in output, "secrets in logs"
