"""Logs never hold a token or the signing secret, and refused or unhandled requests are logged
quietly (INFO) without their headers or body."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer

ROOT = Path(__file__).parent.parent


def test_the_suite_fails_a_test_that_logs_a_secret_from_any_thread(tmp_path: Path) -> None:
    """tests/conftest.py's autouse watch, run on three tests of its own."""
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            """
            import logging
            import threading

            from bot.emulator import BOT_TOKEN
            from tests.conftest import SIGNING_SECRET

            def test_token_logged_at_debug_on_another_thread():
                log = logging.getLogger("somewhere.deep")
                worker = threading.Thread(target=log.debug, args=("auth with %s", BOT_TOKEN))
                worker.start()
                worker.join()

            def test_secret_in_a_traceback():
                try:
                    raise ValueError(SIGNING_SECRET)
                except ValueError:
                    logging.getLogger("app").exception("verification failed")

            def test_clean():
                logging.getLogger("app").warning("nothing secret here")
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "3 passed, 2 errors" in run.stdout, run.stdout
    assert "DEBUG somewhere.deep: auth with xoxb-" in run.stdout
    assert "ERROR app: verification failed" in run.stdout


def test_a_refused_request_is_logged_at_info_without_its_headers_or_body(
    server: BackgroundServer, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"type": "event_callback", "event": {"text": "TIL body-marker-7"}}'
    signature = "v0=" + "ab" * 32
    delivery = emulator.deliver(body, content_type="application/json", signature=signature)
    assert delivery.status == 401
    refusals = [r for r in caplog.records if r.name == "bot.server"]
    assert [(r.levelno, r.getMessage()) for r in refusals] == [
        (
            logging.INFO,
            "refused a request to /slack/events: invalid or missing Slack signature (401)",
        )
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "body-marker-7" not in logged and signature not in logged


def test_a_request_no_listener_takes_is_logged_at_info_not_warning(
    server: BackgroundServer, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = emulator.slash_command(ALICE, GENERAL, "/nosuch", "anything")
    assert delivery.status == 404
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ]
    assert any(
        r.levelno == logging.INFO
        and r.getMessage() == "no listener for a /nosuch request; answered 404"
        for r in caplog.records
    )
