"""The HTTP gate: forged, stale, malformed or oversized requests are refused before any
listener runs; /healthz says the process is alive, /readyz whether this replica can serve."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.serve import BackgroundServer, build_web_app
from bot.server import signed_by_slack
from handlers.events import is_idle_chatter
from tests.conftest import settings_for, stored_tils
from tests.tcp_proxy import TcpProxy


def til_event_body(emulator: SlackEmulator, text: str = "TIL forged") -> bytes:
    envelope = {
        "type": "event_callback",
        "team_id": emulator.team_id,
        "api_app_id": emulator.app_id,
        "event_id": "Ev0FORGED",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": GENERAL,
            "user": ALICE,
            "text": text,
            "ts": "1700000000.000100",
            "channel_type": "channel",
        },
    }
    return json.dumps(envelope).encode()


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def assert_refused_without_effect(emulator: SlackEmulator, engine: Engine) -> None:
    assert len(stored_tils(engine)) == 0, "a refused request must store nothing"
    assert not emulator.calls_to("reactions.add") and not emulator.calls_to("chat.postMessage")


@pytest.mark.parametrize(
    "case",
    ["forged signature", "body altered after signing", "stale timestamp", "future timestamp"],
)
def test_unverifiable_requests_get_401_and_change_nothing(
    case: str, server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    body = til_event_body(emulator)
    now = int(time.time())
    if case == "forged signature":
        delivery = emulator.deliver(
            body, content_type="application/json", signature="v0=" + "0" * 64
        )
    elif case == "body altered after signing":
        timestamp = str(now)
        signature = emulator.sign(body, timestamp)
        altered = til_event_body(emulator, "TIL altered")
        delivery = emulator.deliver(
            altered, content_type="application/json", timestamp=timestamp, signature=signature
        )
    else:
        timestamp = str(now - 6 * 60 if case == "stale timestamp" else now + 6 * 60)
        delivery = emulator.deliver(body, content_type="application/json", timestamp=timestamp)
    assert delivery.status == 401, f"{case}: expected 401, got {delivery.status}"
    assert_refused_without_effect(emulator, engine)


@pytest.mark.parametrize("timestamp", ["", "abc", "1" * 5000, "-5", "1.5e9"])
def test_malformed_timestamps_get_401_not_500(
    timestamp: str, server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    body = til_event_body(emulator)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": emulator.sign(body, timestamp),
    }
    status, _ = raw_post(server.request_url, body, headers)
    assert status == 401
    assert_refused_without_effect(emulator, engine)


def test_missing_signature_headers_get_401(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    status, _ = raw_post(
        server.request_url, til_event_body(emulator), {"Content-Type": "application/json"}
    )
    assert status == 401
    assert_refused_without_effect(emulator, engine)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
    ],
)
def test_signed_but_malformed_bodies_get_400_and_the_server_keeps_serving(
    body: bytes,
    content_type: str,
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
) -> None:
    assert emulator.deliver(body, content_type=content_type).status == 400
    _, delivery = emulator.post_message(ALICE, GENERAL, "TIL the server survived")
    assert delivery is not None and delivery.status == 200
    assert len(stored_tils(engine)) == 1


def test_oversized_body_gets_413(server: BackgroundServer, emulator: SlackEmulator) -> None:
    body = urlencode({"text": "x" * (1024 * 1024 + 1)}).encode()
    assert emulator.deliver(body, content_type="application/x-www-form-urlencoded").status == 413


def test_url_verification_echoes_the_challenge_only_when_signed(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aB", "token": "x"}).encode()
    delivery = emulator.deliver(body, content_type="application/json")
    assert delivery.status == 200 and "3eZbrw1aB" in delivery.body
    status, text = raw_post(server.request_url, body, {"Content-Type": "application/json"})
    assert status == 401 and "3eZbrw1aB" not in text


def test_slack_documented_signature_example_passes_the_gate() -> None:
    """Slack's own example request, secret and signature; one byte changed, it fails."""
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    verifier = SignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5")
    assert signed_by_slack(verifier, body, headers, now=1531420618 + 60)
    assert not signed_by_slack(verifier, body.replace("foobar", "foobaz"), headers, now=1531420618)
    assert not signed_by_slack(verifier, body, headers, now=1531420618 + 301), "too old"


def test_healthz_and_readyz_answer_without_a_slack_signature(server: BackgroundServer) -> None:
    assert get(server.url + "/healthz") == (200, {"status": "ok"})
    assert get(server.url + "/readyz") == (
        200,
        {"status": "ready", "database": "ok", "scheduler": "off"},
    ), "no scheduler runs in a test server"


def test_readyz_follows_the_database_going_away_and_coming_back_while_healthz_stays_up(
    emulator: SlackEmulator, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        settings = settings_for(emulator, through_proxy.render_as_string(hide_password=False))
        with BackgroundServer(build_web_app(settings)) as server:
            assert get(server.url + "/readyz")[0] == 200
            proxy.cut()
            status, body = get(server.url + "/readyz")
            assert (status, body["status"], body["database"]) == (
                503,
                "unavailable",
                "unreachable",
            )
            assert get(server.url + "/healthz")[0] == 200, "alive: no reason to restart"
            proxy.restore()
            assert get(server.url + "/readyz")[0] == 200, "ready again once the database is back"


@pytest.mark.parametrize(
    ("change", "idle"),
    [
        ({}, True),
        ({"text": "TIL the gate reads the keyword too"}, False),
        ({"thread_ts": "1699999999.000100"}, False),  # a reply: maybe a question's answer
        ({"thread_ts": "1700000000.000100"}, True),  # a thread's own parent
        ({"channel_type": "im"}, False),  # maybe a reflection
        ({"subtype": "message_changed"}, False),  # an edit may add "TIL"
        ({"subtype": "message_deleted"}, False),
        ({"type": "reaction_added"}, False),
        ({"text": None}, True),
    ],
)
def test_only_chatter_no_feature_reads_is_acknowledged_without_bolt(
    change: dict[str, object], idle: bool
) -> None:
    event = {
        "type": "message",
        "channel": GENERAL,
        "user": ALICE,
        "text": "lunch at noon?",
        "ts": "1700000000.000100",
        "channel_type": "channel",
        **change,
    }
    assert is_idle_chatter(event) is idle


def test_chatter_is_acknowledged_and_touches_nothing(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    before = len(emulator.calls)
    _ts, delivery = emulator.post_message(ALICE, GENERAL, "lunch at noon?")
    assert delivery is not None and (delivery.status, delivery.body) == (200, "")
    assert len(stored_tils(engine)) == 0
    assert emulator.calls[before:] == [], "chatter must cost no Web API call"
