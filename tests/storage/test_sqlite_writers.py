"""SQLite as a server's database: five listener threads and the scheduler writing at once for
ten seconds never meet "database is locked"."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot import til
from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.jobs import run_due_work
from bot.leader import LeaderLease
from bot.serve import build_runtime
from bot.til import SlackMessage
from storage.models import TilSource
from tests.conftest import settings_for

SECONDS = 10
WRITERS = 5


def test_five_writers_and_the_scheduler_never_see_database_is_locked(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    runtime = build_runtime(settings_for(emulator, f"sqlite:///{tmp_path / 'learnloop.db'}"))
    errors: list[Exception] = []
    stored = [0] * WRITERS
    deadline = time.monotonic() + SECONDS

    def listener(number: int) -> None:
        while time.monotonic() < deadline:
            message = SlackMessage(
                emulator.team_id, GENERAL, f"{number}.{stored[number]:06d}", ALICE, "TIL #load"
            )
            try:
                runtime.call_sync(
                    til.capture_message,
                    message=message,
                    source=TilSource.KEYWORD,
                    captured_by=ALICE,
                    workspace=None,
                )
                stored[number] += 1
            except OperationalError as error:
                errors.append(error)

    def scheduler() -> None:
        lease = LeaderLease(runtime.engine)
        while time.monotonic() < deadline:
            try:
                run_due_work(runtime, lease)  # replays follow-ups: reads and deletes rows
            except OperationalError as error:
                errors.append(error)

    threads = [threading.Thread(target=listener, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=scheduler))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with runtime.engine.connect() as connection:
            kept = connection.execute(text("SELECT count(*) FROM til")).scalar_one()
            settings = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
    finally:
        runtime.close()
    assert errors == [], f"{len(errors)} writes failed, e.g. {errors[:1]}"
    assert kept == sum(stored) and all(count > 0 for count in stored), stored
    assert settings["journal_mode"] == "wal" and settings["foreign_keys"] == 1
    assert settings["busy_timeout"] >= 5000
