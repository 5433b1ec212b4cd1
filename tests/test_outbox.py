"""Nothing an acknowledged request promised is lost: follow-up work (confirm a TIL, post and
route a question, act on a click) is stored with the request and replayed until it is done."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import til
from bot.dates import FOREVER
from bot.emulator import BOB, DAVE, GENERAL, Channel, SlackEmulator
from bot.jobs import run_follow_ups
from bot.outbox import LEASE, MAX_ATTEMPTS
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from storage.models import FollowUp, HelpRequest, HelpRoute
from storage.types import utcnow
from tests.conftest import eventually


def follow_ups(engine: Engine) -> list[FollowUp]:
    with Session(engine) as session:
        return list(session.exec(select(FollowUp).order_by(FollowUp.id)))  # type: ignore[arg-type]


def questions_posted(emulator: SlackEmulator) -> list[str]:
    return [
        str(c.params["text"])
        for c in emulator.calls_to("chat.postMessage")
        if c.status == 200 and "Question from" in str(c.params.get("text"))
    ]


def test_a_question_slack_could_not_post_is_posted_and_routed_later_once(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.slash_command(BOB, GENERAL, "/expert", "add #postgres")
    # Slack is down for the first post and the client's own two retries.
    emulator.fail("chat.postMessage", status=503, times=3)
    reply = emulator.slash_command(DAVE, GENERAL, "/ask", "How do I vacuum? #postgres")
    assert reply.status == 200 and "Got it" in reply.json()["text"]
    [pending] = eventually(
        lambda: [f for f in follow_ups(engine) if f.attempts == 1], what="the failed attempt"
    )
    assert (
        pending.task == "help.post_and_route" and pending.last_error == "SlackApiError: fatal_error"
    )
    assert questions_posted(emulator) == []

    replica = Runtime(settings)  # any process may replay it: it is all in the database
    try:
        assert run_follow_ups(replica, utcnow()) == [], "not before its retry time"
        assert run_follow_ups(replica, pending.run_after + timedelta(seconds=1)) == [pending.id]
        assert run_follow_ups(replica, pending.run_after + timedelta(minutes=5)) == []
    finally:
        replica.close()
    assert len(questions_posted(emulator)) == 1
    with Session(engine) as session:
        [question] = session.exec(select(HelpRequest)).all()
        [route] = session.exec(select(HelpRoute)).all()
    assert question.message_ts is not None and route.expert_id == BOB, "posted, then routed"
    assert follow_ups(engine) == []


def store_command_til(runtime: Runtime, emulator: SlackEmulator, text: str) -> None:
    """What a /til request stores before its ack: the TIL and the follow-up sharing it."""
    runtime.call_sync(
        til.save_command_tils,
        batch=[
            til.CommandText(
                emulator.team_id, GENERAL, DAVE, text, f"{emulator.base_url}/response/unused"
            )
        ],
    )


def test_work_left_by_a_process_that_died_is_replayed_by_one_replica(
    settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    died = Runtime(settings)
    try:
        # What a /til request stores before its ack; the process dies before the follow-up runs.
        store_command_til(died, emulator, "replays finish what crashes interrupt #ops")
    finally:
        died.close()
    [left] = follow_ups(engine)
    replicas = [Runtime(settings), Runtime(settings)]
    later = utcnow() + LEASE + timedelta(seconds=1)  # the dead process's claim has run out
    try:
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda replica: run_follow_ups(replica, later), replicas))
    finally:
        for replica in replicas:
            replica.close()
    assert sorted(done) == [[], [left.id]], "one replica runs it, the other finds it taken"
    shared = [m for m in emulator.messages(GENERAL) if "replays finish" in m.text]
    assert len(shared) == 1 and follow_ups(engine) == []


def test_a_follow_up_that_keeps_failing_gives_up_loudly_after_the_last_attempt(
    settings: Settings, emulator: SlackEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(settings)
    try:
        store_command_til(runtime, emulator, "some outages last")
        with Session(engine) as session:
            [row] = session.exec(select(FollowUp)).all()
            row.attempts = MAX_ATTEMPTS - 1
            row.claimed_until = None
            session.add(row)
            session.commit()
        emulator.fail("chat.postMessage", status=500, times=3)
        with caplog.at_level(logging.WARNING):
            assert run_follow_ups(runtime, utcnow() + timedelta(seconds=1)) == []
    finally:
        runtime.close()
    [row] = follow_ups(engine)
    assert row.attempts == MAX_ATTEMPTS and row.run_after == FOREVER, "kept, never retried"
    assert any("gave up after 10 attempts" in r.getMessage() for r in caplog.records)


def test_a_short_rate_limit_is_waited_out_and_a_long_one_left_to_the_replay(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    emulator.slash_command(DAVE, GENERAL, "/til", "Retry-After is in seconds #slack")
    eventually(lambda: follow_ups(engine) == [], what="the /til shared after one wait")
    assert time.monotonic() - started >= 1, "Slack asked for a 1 s wait"
    assert [c.status for c in emulator.calls_to("chat.postMessage")] == [429, 200]

    emulator.fail("chat.postMessage", status=429, retry_after=120)
    started = time.monotonic()
    emulator.slash_command(DAVE, GENERAL, "/til", "some limits last minutes #slack")
    [pending] = eventually(
        lambda: [f for f in follow_ups(engine) if f.attempts == 1], what="the rate-limited attempt"
    )
    assert time.monotonic() - started < 5, "no thread sleeps through a two-minute Retry-After"
    assert pending.last_error == "SlackApiError: ratelimited"
    replica = Runtime(settings)
    try:
        assert run_follow_ups(replica, pending.run_after + timedelta(seconds=1)) == [pending.id]
    finally:
        replica.close()
    shared = [m for m in emulator.messages(GENERAL) if "some limits last minutes" in m.text]
    assert len(shared) == 1


def test_a_follow_up_slack_refuses_is_reported_and_not_retried(
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.fail("reactions.add", error="not_in_channel")
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        emulator.post_message(DAVE, GENERAL, "TIL some answers don't change on retry")
        eventually(lambda: follow_ups(engine) == [], what="the refused confirmation let go")
    assert len(emulator.calls_to("reactions.add")) == 1, "asked once: retrying gets the same no"
    [warning] = [r.getMessage() for r in caplog.records if "refused by Slack" in r.getMessage()]
    assert "not_in_channel (invite me to the channel: /invite @LearnLoop)" in warning


def test_acks_stay_fast_while_the_follow_up_work_is_slow(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for method in ("reactions.add", "chat.postMessage", "chat.getPermalink"):
        emulator.slow_down(method, 3)
    for text in ("TIL acks do not wait for Slack", "TIL nor for the database of a slow reply"):
        started = time.monotonic()
        _, delivery = emulator.post_message(DAVE, GENERAL, text)
        assert delivery is not None and delivery.status == 200
        assert time.monotonic() - started < 1, "the event is acknowledged within a second"
    started = time.monotonic()
    reply = emulator.slash_command(DAVE, GENERAL, "/til", "so are slash commands #slack")
    assert reply.status == 200 and time.monotonic() - started < 1
    eventually(lambda: follow_ups(engine) == [], timeout=15, what="the slow follow-ups done")
    assert len(emulator.calls_to("reactions.add")) == 2


def test_posts_beyond_a_channels_allowance_are_deferred_not_failed(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    busy = "C0BUSY"
    emulator.add_channel(Channel(busy, "busy", members=frozenset({DAVE, emulator.bot_user_id})))
    for number in range(8):
        emulator.slash_command(DAVE, busy, "/til", f"burst number {number} #slack")
    deferred = eventually(
        lambda: [f for f in follow_ups(engine) if f.claimed_until is None],
        timeout=10,
        what="posts past the channel's allowance handed back to the outbox",
    )
    assert all(f.attempts == 0 and f.last_error is None for f in deferred), "no failure counted"
    replica = Runtime(settings)
    try:
        # A sweep's clock past the deferrals (seconds away) but inside the claims of posts the
        # server is still making (two minutes), which a sweep must not take over.
        eventually(
            lambda: (
                run_follow_ups(replica, utcnow() + timedelta(seconds=30)) == []
                and follow_ups(engine) == []
            ),
            timeout=30,
            what="every deferred post sent by the replays",
        )
    finally:
        replica.close()
    shared = [m.text for m in emulator.messages(busy) if "burst number" in m.text]
    assert len(shared) == 8 and len(set(shared)) == 8, "each /til shared once"


def test_a_sweep_replaying_a_backlog_stops_between_two_when_its_process_closes(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    """A shutdown must not wait for a backlog of slow replays (each post may wait for its
    channel's turn): the sweep stops after the one it is on, and the rest stay due."""
    emulator.fail("reactions.add", status=503, times=3 * 4)  # each attempt and its two retries
    for number in range(4):
        emulator.post_message(DAVE, GENERAL, f"TIL replay backlog {number}")
    eventually(
        lambda: len([f for f in follow_ups(engine) if f.attempts == 1]) == 4,
        what="four failed confirmations",
    )
    emulator.slow_down("reactions.add", 1.5)
    replica = Runtime(settings)
    with ThreadPoolExecutor(1) as sweeper:
        sweep = sweeper.submit(run_follow_ups, replica, utcnow() + timedelta(minutes=5))
        emulator.wait_for_call("reactions.add", lambda c: c.status == 200, timeout=3)
        started = time.monotonic()
        replica.close()
        replayed = sweep.result(timeout=5)
    assert time.monotonic() - started < 3, "closed after the replay in flight, not the backlog"
    assert len(replayed) < 4 and len(follow_ups(engine)) == 4 - len(replayed)
