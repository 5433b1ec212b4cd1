"""GET /metrics: Prometheus counters that move by exactly what Slack and the app did."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.jobs import DUE_WORK_JOB_ID, start_scheduler
from bot.serve import BackgroundServer, build_runtime
from bot.server import create_web_app
from bot.settings import Settings
from tests.conftest import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: BackgroundServer) -> Samples:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_requests_acks_and_slack_retries_are_counted_by_kind_and_status(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    before = scrape(server)
    ts, delivery = emulator.post_message(ALICE, GENERAL, "good morning, nothing to keep here")
    assert delivery is not None and delivery.status == 200
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": ALICE,
        "text": "good morning, nothing to keep here",
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    assert emulator.deliver_event(event, retry_num=1, retry_reason="http_timeout").status == 200
    assert emulator.slash_command(ALICE, GENERAL, "/til", "help").status == 200
    forged = emulator.deliver(
        b'{"type": "event_callback"}', content_type="application/json", signature="v0=" + "0" * 64
    )
    assert forged.status == 401
    after = scrape(server)

    requests = "learnloop_requests_total"
    assert moved(before, after, requests, kind="event/message", status="200") == 2
    assert moved(before, after, requests, kind="command/til", status="200") == 1
    assert moved(before, after, requests, kind="rejected", status="401") == 1
    requests_seen = {key for key in after if key[0] == requests}
    assert len(requests_seen) == 3, f"no other kinds of request: {requests_seen}"
    acks = "learnloop_ack_seconds_count"
    assert moved(before, after, acks, kind="event/message") == 2
    assert moved(before, after, acks, kind="command/til") == 1
    assert moved(before, after, acks, kind="rejected") == 1
    assert moved(before, after, "learnloop_slack_retries_total", reason="http_timeout") == 1
    web_api_calls = "learnloop_web_api_calls_total"
    assert moved(before, after, web_api_calls, method="auth.test", outcome="ok") == 1, (
        "Bolt's own client is counted too (auth.test before its first request)"
    )


def test_a_rate_limited_web_api_call_is_counted_and_its_retry_too(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    emulator.fail("chat.postMessage", status=429, retry_after=1)
    reply = emulator.slash_command(ALICE, GENERAL, "/til", "rate limits pass #slack")
    assert "Saved" in reply.json()["text"]
    emulator.wait_for_call("chat.postMessage", lambda call: call.status == 200, timeout=10)

    def posted() -> Samples | None:
        samples = scrape(server)
        calls = "learnloop_web_api_calls_total"
        return samples if value(samples, calls, method="chat.postMessage", outcome="ok") else None

    samples = eventually(posted, what="the retried chat.postMessage in /metrics")
    calls = "learnloop_web_api_calls_total"
    assert value(samples, calls, method="chat.postMessage", outcome="ratelimited") == 1
    assert value(samples, "learnloop_web_api_ratelimited_total", method="chat.postMessage") == 1
    assert value(samples, "learnloop_web_api_ratelimited_total", method="chat.getPermalink") == 0


@pytest.fixture
def scheduled_server(settings: Settings) -> Iterator[tuple[BackgroundServer, BackgroundScheduler]]:
    """What `learnloop serve` runs: the web app with the scheduler in the same runtime."""
    runtime = build_runtime(settings)
    scheduler = start_scheduler(runtime)
    with BackgroundServer(create_web_app(create_app(settings, runtime), runtime)) as server:
        yield server, scheduler


def test_scheduler_runs_and_misses_are_counted(
    scheduled_server: tuple[BackgroundServer, BackgroundScheduler],
) -> None:
    server, scheduler = scheduled_server
    runs, misses = "learnloop_scheduler_runs_total", "learnloop_scheduler_misses_total"
    scheduler.modify_job(DUE_WORK_JOB_ID, next_run_time=datetime.now(UTC))
    eventually(
        lambda: value(scrape(server), runs, job=DUE_WORK_JOB_ID) == 1,
        what="the sweep's run in /metrics",
    )
    assert value(scrape(server), misses) == 0
    # Due two minutes ago, past the minute's grace: APScheduler skips the run as missed.
    scheduler.add_job(
        "bot.jobs:sweep", "date", run_date=datetime.now(UTC) - timedelta(minutes=2), id="late"
    )
    eventually(lambda: value(scrape(server), misses) == 1, what="the missed run in /metrics")
    assert value(scrape(server), runs, job="late") == 0
    assert value(scrape(server), runs, job=DUE_WORK_JOB_ID) == 1
