"""A database outage never turns into "200 and gone": events get a 5xx so Slack retries, and a
command gets a clear answer; once the database is back, the retry is stored exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer, build_web_app
from tests.conftest import settings_for, stored_tils
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def app_behind_proxy(
    emulator: SlackEmulator, postgres_url: str, proxy: TcpProxy
) -> Iterator[BackgroundServer]:
    url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    settings = settings_for(emulator, url.render_as_string(hide_password=False))
    with BackgroundServer(build_web_app(settings)) as server:
        emulator.request_url = server.request_url
        yield server


@pytest.fixture
def direct_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_til_event_during_an_outage_gets_5xx_and_its_retry_is_stored_once(
    app_behind_proxy: BackgroundServer,
    emulator: SlackEmulator,
    proxy: TcpProxy,
    direct_engine: Engine,
) -> None:
    proxy.cut()
    ts, delivery = emulator.post_message(ALICE, GENERAL, "TIL outages happen")
    assert delivery is not None and delivery.status >= 500, "Slack must be told to retry"
    assert not emulator.calls_to("reactions.add"), "nothing is confirmed that was not stored"
    proxy.restore()
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": ALICE,
        "text": "TIL outages happen",
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    for retry in (1, 2):
        assert emulator.deliver_event(event, retry_num=retry).status == 200
    assert len(stored_tils(direct_engine)) == 1
    emulator.wait_for_call("reactions.add", lambda call: call.params["timestamp"] == ts)


def test_til_command_during_an_outage_answers_the_user_and_the_server_recovers(
    app_behind_proxy: BackgroundServer,
    emulator: SlackEmulator,
    proxy: TcpProxy,
    direct_engine: Engine,
) -> None:
    proxy.cut()
    delivery = emulator.slash_command(ALICE, GENERAL, "/til", "databases can go away")
    assert delivery.status == 200
    reply = delivery.json()
    assert reply["response_type"] == "ephemeral" and "try again" in reply["text"]
    proxy.restore()
    again = emulator.slash_command(ALICE, GENERAL, "/til", "databases can go away")
    assert "Saved" in again.json()["text"]
    assert len(stored_tils(direct_engine)) == 1
