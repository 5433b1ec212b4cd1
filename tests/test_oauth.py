"""Installing in many workspaces: Bolt's OAuth flow over real HTTP, with the installation and
its state kept in the app's own database; a state works once and not after it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import sqlalchemy as sa
from sqlalchemy import Engine

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from tests.conftest import OTHER_TEAM, Browser, install, stored_tils


def installed_teams(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT team_id, bot_token FROM slack_bots"))
        return sorted((str(team), str(token)) for team, token in rows)


def test_an_installation_keeps_the_workspaces_token_and_its_requests_use_it(
    oauth_server: BackgroundServer,
    emulator: SlackEmulator,
    other_workspace: SlackEmulator,
    engine: Engine,
) -> None:
    page = install(oauth_server.url, OTHER_TEAM)
    assert page.status == 200, page
    assert installed_teams(engine) == [(OTHER_TEAM, other_workspace.bot_token)]
    [exchange] = emulator.calls_to("oauth.v2.access")
    assert exchange.response["ok"] and "client_secret" not in exchange.params

    ts, delivery = other_workspace.post_message(ALICE, GENERAL, "TIL tokens are per workspace")
    assert delivery is not None and delivery.status == 200
    reaction = other_workspace.wait_for_call("reactions.add")
    assert reaction.token == other_workspace.bot_token and reaction.params["timestamp"] == ts
    assert [(t.team_id, t.message_ts) for t in stored_tils(engine)] == [(OTHER_TEAM, ts)]
    assert not emulator.calls_to("reactions.add"), "nothing reached the other workspace"


def test_a_state_installs_once_and_a_replayed_one_installs_nothing(
    oauth_server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    browser = Browser()
    back = browser.consent(oauth_server.url, OTHER_TEAM)
    cookies = dict(browser.cookies)
    assert browser.get(back).status == 200
    # The same state and cookie again, with a fresh code for the first workspace.
    browser.cookies = cookies
    query = urlencode(
        {"client_id": emulator.client_id, "state": parse_qs(urlsplit(back).query)["state"][0]}
    )
    again = browser.get(f"{emulator.base_url}/oauth/v2/authorize?{query}")
    assert "code=" in again.location
    assert browser.get(again.location).status == 401, "invalid_state"
    assert installed_teams(engine) == [(OTHER_TEAM, "xoxb-emulator-other")]
    assert len(emulator.calls_to("oauth.v2.access")) == 1, "the replayed code is never exchanged"


def test_an_expired_state_installs_nothing(
    oauth_server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    browser = Browser()
    back = browser.consent(oauth_server.url, OTHER_TEAM)
    with engine.begin() as connection:  # the installer comes back after the state expired
        connection.execute(
            sa.text("UPDATE slack_oauth_states SET expire_at = :past"),
            {"past": datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)},
        )
    assert browser.get(back).status == 401
    assert installed_teams(engine) == []
    assert emulator.calls_to("oauth.v2.access") == []


def test_requests_from_a_workspace_that_never_installed_store_nothing(
    oauth_server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    install(oauth_server.url, OTHER_TEAM)
    emulator.post_message(ALICE, GENERAL, "TIL but this workspace never installed LearnLoop")
    assert stored_tils(engine) == []
    assert emulator.calls_to("reactions.add") == [], "no token, no call"
