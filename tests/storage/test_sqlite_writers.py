"""SQLite as a server's database: five listener threads and the scheduler writing at once for
ten seconds never meet "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from bot import til
from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.jobs import run_due_work
from bot.leader import LeaderLease
from bot.serve import build_runtime
from bot.til import SlackMessage
from storage.db import create_db_engine, upgrade
from storage.models import TilSource
from tests.conftest import settings_for

SECONDS = 10
WRITERS = 5
SHORT_WAIT = "PRAGMA busy_timeout=200"


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


def test_a_write_lock_held_past_the_wait_fails_as_sqlalchemys_error_and_the_engine_goes_on(
    tmp_path: Path,
) -> None:
    """Transactions start with BEGIN IMMEDIATE on the driver's own cursor (storage.db): when
    another process holds the write lock past busy_timeout, the caller still gets SQLAlchemy's
    OperationalError (what the listeners and the scheduler catch), and once the lock is free the
    same engine writes again."""
    path = tmp_path / "learnloop.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    event.listen(engine, "connect", lambda connection, _: connection.execute(SHORT_WAIT))
    engine.dispose()  # reconnect with the short wait
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"), engine.begin() as connection:
            connection.execute(text("DELETE FROM til"))
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tag_alias (team_id, alias, tag, added_by)"
                " VALUES ('T1', 'py', 'python', 'U1')"
            )
        )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT tag FROM tag_alias")).scalar_one() == "python"
    engine.dispose()
