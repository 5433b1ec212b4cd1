"""Requests Slack sends that are not events, commands or actions: each gets the answer Slack
expects, never Bolt's 404 (which makes Slack retry and, in time, disable the subscription)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from bot.emulator import SlackEmulator
from bot.serve import BackgroundServer


def test_ssl_check_is_answered(server: BackgroundServer, emulator: SlackEmulator) -> None:
    body = urlencode({"ssl_check": "1", "token": "legacy-verification-token"}).encode()
    delivery = emulator.deliver(body, content_type="application/x-www-form-urlencoded")
    assert delivery.status == 200


def test_app_rate_limited_is_accepted_and_logged(
    server: BackgroundServer, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    body = {
        "token": "legacy-verification-token",
        "type": "app_rate_limited",
        "team_id": emulator.team_id,
        "minute_rate_limited": 1518467820,
        "api_app_id": emulator.app_id,
    }
    with caplog.at_level(logging.WARNING, logger="bot.server"):
        delivery = emulator.deliver(json.dumps(body).encode(), content_type="application/json")
    assert delivery.status == 200
    assert any(
        "holding back events of workspace" in r.getMessage() and emulator.team_id in r.getMessage()
        for r in caplog.records
    )
    assert emulator.calls_to("chat.postMessage") == [], "nothing to answer in Slack"
