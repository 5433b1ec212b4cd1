"""The Slack emulator behaves like Slack: over real HTTP, with slack_sdk on both sides."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot import emulator as emulator_module
from bot.emulator import (
    ALICE,
    APP_ID,
    BOB,
    BOT_ID,
    BOT_USER_ID,
    CAROL,
    DAVE,
    ENGINEERING,
    GENERAL,
    LEADS,
    RANDOM,
    TEAM_ID,
    Delivery,
    DeliveryError,
    SlackEmulator,
)

SECRET = "emulator-test-signing-secret"
TS = re.compile(r"^\d{10}\.\d{6}$")


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def payload(self) -> dict[str, Any]:
        return json.loads(self.form()["payload"])

    @property
    def event(self) -> dict[str, Any]:
        body = self.json() if self.headers["content-type"] == "application/json" else {}
        return body.get("event", {})


class Receiver:
    """Stands in for the app: verifies signatures as Bolt does and records every request."""

    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.answer: tuple[int, str] = (200, "")
        self.delay = 0.0
        self._received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                valid = receiver.verifier.is_valid_request(body, headers)
                with receiver._lock:
                    receiver._received.append(Received(headers, body, valid))
                time.sleep(receiver.delay)
                status, answer = receiver.answer if valid else (401, "invalid signature")
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/slack/events"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in self.received:
                if predicate(request):
                    return request
            time.sleep(0.01)
        raise AssertionError(f"no matching request arrived; got {[r.body for r in self.received]}")

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = Receiver(SECRET).start()
    yield app
    app.stop()


@pytest.fixture
def emu(receiver: Receiver) -> Iterator[SlackEmulator]:
    with SlackEmulator(signing_secret=SECRET) as emulator:
        emulator.request_url = receiver.url
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    return WebClient(base_url=emu.api_url, token=emu.bot_token)


def error_of(call: Callable[[], Any]) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- signing -------------------------------------------------------------------------------


def test_sign_reproduces_slacks_documented_test_vector() -> None:
    # docs.slack.dev/authentication/verifying-requests-from-slack (token as published there)
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    emulator = SlackEmulator(signing_secret="8f742231b10e8888abcd99yyyzzz85a5")

    signature = emulator.sign(body, "1531420618")

    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_stale_timestamp_and_forged_signature_are_sent_as_given(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    stale = str(int(time.time()) - 600)

    assert emu.deliver(b"{}", content_type="application/json", timestamp=stale).status == 401
    forged = emu.deliver(b"{}", content_type="application/json", signature="v0=" + "0" * 64)
    assert forged.status == 401
    assert emu.deliver(b"{}", content_type="application/json").status == 200
    assert [r.signature_valid for r in receiver.received] == [False, False, True]
    assert receiver.received[0].headers["x-slack-request-timestamp"] == stale


# -- Web API -------------------------------------------------------------------------------


def test_auth_test_identifies_the_bot_for_bolt(client: WebClient) -> None:
    response = client.auth_test()

    assert response["url"] == "https://learnloop-demo.slack.com/"
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (
        TEAM_ID,
        BOT_USER_ID,
        BOT_ID,
    )


def test_posted_message_shows_in_history_replies_and_permalink(
    emu: SlackEmulator, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel=GENERAL, text="TIL: pytest fixtures compose")
    reply_ts, _ = emu.post_message(BOB, GENERAL, "nice", thread_ts=parent["ts"])
    client.chat_postMessage(channel="#general", text="later, by channel name")

    assert parent["channel"] == GENERAL and TS.match(parent["ts"])
    assert parent["message"]["bot_id"] == BOT_ID and parent["message"]["user"] == BOT_USER_ID
    history = client.conversations_history(channel=GENERAL)["messages"]
    assert [m["text"] for m in history] == [
        "later, by channel name",
        "TIL: pytest fixtures compose",
    ]
    assert history[1]["reply_count"] == 1 and history[1]["reply_users"] == [BOB]
    replies = client.conversations_replies(channel=GENERAL, ts=reply_ts)["messages"]
    assert [m["text"] for m in replies] == ["TIL: pytest fixtures compose", "nice"]
    assert replies[1]["thread_ts"] == parent["ts"]
    link = client.chat_getPermalink(channel=GENERAL, message_ts=parent["ts"])["permalink"]
    digits = parent["ts"].replace(".", "")
    assert link == f"https://learnloop-demo.slack.com/archives/{GENERAL}/p{digits}"
    reply_link = client.chat_getPermalink(channel=GENERAL, message_ts=reply_ts)["permalink"]
    assert reply_link.endswith(f"?thread_ts={parent['ts']}&cid={GENERAL}")
    call = emu.calls_to("chat.postMessage")[0]
    assert call.params == {"channel": GENERAL, "text": "TIL: pytest fixtures compose"}
    assert call.token == emu.bot_token and call.status == 200 and call.response["ok"] is True


def test_history_pages_newest_first_with_cursor_and_time_bounds(
    emu: SlackEmulator, client: WebClient
) -> None:
    stamps = [emu.post_message(ALICE, RANDOM, f"m{i}")[0] for i in range(5)]
    emu.join(RANDOM, BOT_USER_ID)

    pages, cursor = [], None
    while True:
        page = client.conversations_history(channel=RANDOM, limit=2, cursor=cursor)
        pages.append([m["text"] for m in page["messages"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    bounded = client.conversations_history(
        channel=RANDOM, oldest=stamps[1], latest=stamps[3], inclusive=True
    )

    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    assert [m["text"] for m in bounded["messages"]] == ["m3", "m2", "m1"]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    assert all(TS.match(ts) for ts in stamps)


def test_blocks_are_recorded_decoded_whether_sent_as_json_or_form(
    emu: SlackEmulator, client: WebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    client.chat_postMessage(channel=GENERAL, text="json body", blocks=blocks)
    client.api_call(
        "chat.postMessage",
        params={"channel": GENERAL, "text": "form body", "blocks": json.dumps(blocks)},
    )

    recorded = [c.params["blocks"] for c in emu.calls_to("chat.postMessage")]
    assert recorded == [blocks, blocks]
    stored = emu.messages(GENERAL)[-1].blocks
    assert stored is not None and stored[0]["text"]["text"] == "*hi*" and stored[0]["block_id"]


def test_post_message_fails_outside_bot_channels_and_for_unknown_channels(
    client: WebClient,
) -> None:
    assert error_of(lambda: client.chat_postMessage(channel=RANDOM, text="x")) == "not_in_channel"
    assert error_of(lambda: client.chat_postMessage(channel="C0NOPE", text="x")) == (
        "channel_not_found"
    )
    no_text = error_of(lambda: client.api_call("chat.postMessage", json={"channel": GENERAL}))
    assert no_text == "no_text"


def test_ephemeral_message_needs_the_user_in_the_channel_and_stays_out_of_history(
    emu: SlackEmulator, client: WebClient
) -> None:
    error = error_of(lambda: client.chat_postEphemeral(channel=ENGINEERING, user=DAVE, text="x"))
    sent = client.chat_postEphemeral(channel=ENGINEERING, user=BOB, text="only for bob")

    assert error == "user_not_in_channel"
    assert emu.messages(ENGINEERING) == []
    [ephemeral] = emu.messages(ENGINEERING, include_ephemeral=True)
    assert (ephemeral.ts, ephemeral.ephemeral_to, ephemeral.text) == (
        sent["message_ts"],
        BOB,
        "only for bob",
    )
    assert client.conversations_history(channel=ENGINEERING)["messages"] == []


def test_reactions_report_already_reacted_missing_message_and_invalid_name(
    emu: SlackEmulator, client: WebClient
) -> None:
    ts, _ = emu.post_message(ALICE, GENERAL, "TIL something")
    client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes")

    again = error_of(lambda: client.reactions_add(channel=GENERAL, timestamp=ts, name="eyes"))
    missing = error_of(
        lambda: client.reactions_add(channel=GENERAL, timestamp="1.000001", name="x")
    )
    invalid = error_of(lambda: client.reactions_add(channel=GENERAL, timestamp=ts, name=":eyes:"))

    assert (again, missing, invalid) == ("already_reacted", "message_not_found", "invalid_name")
    got = client.reactions_get(channel=GENERAL, timestamp=ts)["message"]["reactions"]
    assert got == [{"name": "eyes", "users": [BOT_USER_ID], "count": 1}]
    client.reactions_remove(channel=GENERAL, timestamp=ts, name="eyes")
    assert emu.message(GENERAL, ts).reactions == {}
    assert error_of(
        lambda: client.reactions_remove(channel=GENERAL, timestamp=ts, name="eyes")
    ) == ("no_reaction")


def test_chat_update_and_delete_change_only_bot_messages(
    emu: SlackEmulator, client: WebClient
) -> None:
    mine = client.chat_postMessage(channel=GENERAL, text="draft")["ts"]
    theirs, _ = emu.post_message(ALICE, GENERAL, "hers")

    updated = client.chat_update(channel=GENERAL, ts=mine, text="final")
    refused = error_of(lambda: client.chat_update(channel=GENERAL, ts=theirs, text="x"))
    client.chat_delete(channel=GENERAL, ts=mine)

    assert updated["message"]["text"] == "final" and "edited" in updated["message"]
    assert refused == "cant_update_message"
    assert [m.text for m in emu.messages(GENERAL)] == ["hers"]


def test_rate_limited_method_answers_429_with_retry_after_then_succeeds(
    emu: SlackEmulator, client: WebClient
) -> None:
    emu.fail("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=GENERAL, text="too fast")
    retried = client.chat_postMessage(channel=GENERAL, text="again")

    response = raised.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "7"
    assert retried["ok"] is True
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]


def test_slack_sdk_rate_limit_retry_handler_recovers_from_an_injected_429(
    emu: SlackEmulator,
) -> None:
    client = WebClient(
        base_url=emu.api_url,
        token=emu.bot_token,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.fail("users.info", status=429, retry_after=0)

    assert client.users_info(user=ALICE)["user"]["id"] == ALICE
    assert [c.status for c in emu.calls_to("users.info")] == [429, 200]


def test_failures_return_error_codes_and_server_errors_for_the_given_times(
    emu: SlackEmulator, client: WebClient
) -> None:
    emu.fail("conversations.history", error="fatal_error")
    emu.fail("team.info", status=503, times=2)

    assert error_of(lambda: client.conversations_history(channel=GENERAL)) == "fatal_error"
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.team_info()
        assert raised.value.response.status_code == 503
    assert client.team_info()["team"]["id"] == TEAM_ID


def test_a_held_call_waits_until_released_and_other_calls_go_on(
    emu: SlackEmulator, client: WebClient
) -> None:
    held = emu.hold("users.info")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.users_info, user=ALICE)
        held.wait_until_arrived()
        assert client.team_info()["team"]["id"] == TEAM_ID, "only users.info waits"
        assert not pending.done() and not emu.calls_to("users.info")
        held.release()
        assert pending.result(timeout=5)["user"]["id"] == ALICE
    assert client.users_info(user=BOB)["user"]["id"] == BOB, "the hold was for one call"


def test_wrong_or_missing_token_and_unknown_method_are_rejected(emu: SlackEmulator) -> None:
    wrong = WebClient(base_url=emu.api_url, token="xoxb-wrong")
    anonymous = WebClient(base_url=emu.api_url)
    client = WebClient(base_url=emu.api_url, token=emu.bot_token)

    assert error_of(wrong.auth_test) == "invalid_auth"
    assert error_of(anonymous.auth_test) == "not_authed"
    assert error_of(lambda: client.api_call("chat.teleport")) == "unknown_method"
    assert [c.token for c in emu.calls_to("auth.test")] == ["xoxb-wrong", None]


def test_conversations_open_returns_the_same_dm_every_time(
    emu: SlackEmulator, client: WebClient
) -> None:
    first = client.conversations_open(users=CAROL)["channel"]["id"]
    second = client.conversations_open(users=[CAROL])

    assert first.startswith("D") and second["channel"]["id"] == first
    assert second["already_open"] is True
    assert emu.open_im(CAROL).id == first
    info = client.conversations_info(channel=first)["channel"]
    assert info["is_im"] is True and info["user"] == CAROL
    client.chat_postMessage(channel=first, text="hello carol")
    assert [m.text for m in emu.messages(first)] == ["hello carol"]


def test_conversations_open_with_several_users_opens_one_group_dm_for_them(
    emu: SlackEmulator, client: WebClient
) -> None:
    first = client.conversations_open(users=f"{ALICE},{CAROL}")["channel"]["id"]
    second = client.conversations_open(users=[CAROL, ALICE])

    assert second["channel"]["id"] == first and second["already_open"] is True
    assert client.conversations_open(users=f"{ALICE},{BOB}")["channel"]["id"] != first
    info = client.conversations_info(channel=first)["channel"]
    assert (info["is_mpim"], info["is_private"], info["is_channel"]) == (True, True, False)
    assert emu.channel(first).members == {ALICE, CAROL, emu.bot_user_id}
    client.chat_postMessage(channel=first, text="hello you two")
    assert [m.text for m in emu.messages(first)] == ["hello you two"]
    assert emu.post_message(ALICE, first, "hi")[1] is None, "no message.mpim subscription"


def test_users_info_reports_timezone_offset_and_roles(client: WebClient) -> None:
    carol = client.users_info(user=CAROL)["user"]
    alice = client.users_info(user=ALICE)["user"]

    assert (carol["tz"], carol["tz_offset"]) == ("Asia/Tokyo", 9 * 3600)
    assert alice["is_admin"] is True and carol["is_admin"] is False
    assert carol["profile"]["display_name"] == "carol"
    assert error_of(lambda: client.users_info(user="U0NOBODY")) == "user_not_found"
    ids = {m["id"] for m in client.users_list()["members"]}
    assert ids == {ALICE, BOB, CAROL, DAVE, BOT_USER_ID}


def test_wait_for_call_times_out_naming_the_method_and_the_calls_seen(
    emu: SlackEmulator, client: WebClient
) -> None:
    client.auth_test()

    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        emu.wait_for_call("chat.postMessage", timeout=0.05)
    assert emu.wait_for_call("auth.test").response["ok"] is True


# -- deliveries ----------------------------------------------------------------------------


def test_user_message_arrives_as_a_signed_event_callback(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    ts, delivery = emu.post_message(ALICE, GENERAL, "hello <@U0LEARNBOT>")

    assert delivery is not None and delivery.status == 200
    request = receiver.received[0]
    assert request.signature_valid
    assert request.headers["content-type"] == "application/json"
    envelope = request.json()
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert (envelope["team_id"], envelope["api_app_id"]) == (TEAM_ID, APP_ID)
    assert envelope["authorizations"][0]["user_id"] == BOT_USER_ID
    assert isinstance(envelope["event_time"], int) and envelope["token"]
    event = envelope["event"]
    assert event["type"] == "message" and event["channel_type"] == "channel"
    assert (event["channel"], event["user"], event["ts"], event["event_ts"]) == (
        GENERAL,
        ALICE,
        ts,
        ts,
    )
    assert event["blocks"][0]["type"] == "rich_text"
    mention = receiver.wait_for(lambda r: r.event.get("type") == "app_mention").json()
    assert mention["event"]["text"] == "hello <@U0LEARNBOT>"
    assert mention["event_id"] != envelope["event_id"]


def test_message_in_a_channel_without_the_bot_is_stored_but_not_delivered(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    ts, delivery = emu.post_message(DAVE, RANDOM, "quiet here")

    assert delivery is None
    assert receiver.received == []
    assert emu.message(RANDOM, ts).text == "quiet here"


def test_private_channel_reply_event_has_group_type_and_thread_ts(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    parent, _ = emu.post_message(ALICE, LEADS, "question")
    emu.post_message(ALICE, LEADS, "answer", thread_ts=parent)

    event = receiver.received[-1].json()["event"]
    assert event["channel_type"] == "group"
    assert event["thread_ts"] == parent and event["parent_user_id"] == ALICE


def test_retry_redelivers_the_same_event_id_with_retry_headers(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    emu.post_message(BOB, ENGINEERING, "TIL retries")
    first = emu.last_envelope
    assert first is not None

    emu.deliver_event(first["event"], retry_num=1, retry_reason="http_timeout")

    original, retry = receiver.received
    assert "x-slack-retry-num" not in original.headers
    assert retry.headers["x-slack-retry-num"] == "1"
    assert retry.headers["x-slack-retry-reason"] == "http_timeout"
    assert retry.json()["event_id"] == first["event_id"] and retry.signature_valid


def test_edit_and_delete_deliver_message_changed_and_message_deleted(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    ts, _ = emu.post_message(ALICE, GENERAL, "tpyo")
    emu.edit_message(GENERAL, ts, "typo")
    emu.delete_message(GENERAL, ts)

    changed, deleted = (r.json()["event"] for r in receiver.received[1:])
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["text"] == "typo" and changed["message"]["edited"]["user"] == ALICE
    assert changed["previous_message"]["text"] == "tpyo"
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == ts
    assert deleted["previous_message"]["text"] == "typo"
    assert emu.messages(GENERAL) == []


def test_reaction_added_event_names_the_item_and_its_author(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    ts, _ = emu.post_message(ALICE, GENERAL, "TIL")

    emu.add_reaction(BOB, GENERAL, ts, "bulb")

    event = receiver.received[-1].json()["event"]
    assert event["type"] == "reaction_added" and event["reaction"] == "bulb"
    assert event["item"] == {"type": "message", "channel": GENERAL, "ts": ts}
    assert (event["user"], event["item_user"]) == (BOB, ALICE)
    assert emu.message(GENERAL, ts).reactions == {"bulb": [BOB]}


def test_slash_command_is_form_encoded_and_its_response_url_posts_messages(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    emu.slash_command(CAROL, ENGINEERING, "/til", "SQLite has WAL mode")

    request = receiver.received[0]
    form = request.form()
    assert request.signature_valid
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert (form["command"], form["text"], form["user_id"], form["channel_name"]) == (
        "/til",
        "SQLite has WAL mode",
        CAROL,
        "engineering",
    )
    hook = WebhookClient(form["response_url"])
    assert hook.send(text="Saved for you").status_code == 200
    assert hook.send(text="Carol learned", response_type="in_channel").status_code == 200
    assert [r["text"] for r in emu.responses] == ["Saved for you", "Carol learned"]
    [posted] = emu.messages(ENGINEERING)
    assert (posted.text, posted.bot_id) == ("Carol learned", BOT_ID)
    [private] = [m for m in emu.messages(ENGINEERING, include_ephemeral=True) if m.ephemeral_to]
    assert (private.text, private.ephemeral_to) == ("Saved for you", CAROL)


def test_slash_command_immediate_answer_is_shown_only_to_the_user(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    receiver.answer = (200, json.dumps({"text": "Usage: /til <what you learned>"}))

    delivery = emu.slash_command(ALICE, GENERAL, "/til")

    assert delivery.json() == {"text": "Usage: /til <what you learned>"}
    [shown] = emu.messages(GENERAL, include_ephemeral=True)
    assert (shown.ephemeral_to, shown.text) == (ALICE, "Usage: /til <what you learned>")


def test_message_shortcut_sends_a_message_action_payload(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    ts, _ = emu.post_message(BOB, GENERAL, "TIL: git worktree")

    emu.message_shortcut(ALICE, GENERAL, ts, "save_as_til")

    request = receiver.received[-1]
    payload = request.payload()
    assert request.signature_valid and list(request.form()) == ["payload"]
    assert payload["type"] == "message_action" and payload["callback_id"] == "save_as_til"
    assert payload["user"] == {
        "id": ALICE,
        "username": "alice",
        "name": "alice",
        "team_id": TEAM_ID,
    }
    assert payload["channel"] == {"id": GENERAL, "name": "general"}
    assert payload["message_ts"] == ts
    assert (payload["message"]["user"], payload["message"]["text"]) == (BOB, "TIL: git worktree")
    assert payload["trigger_id"] and payload["response_url"].startswith(emu.base_url)


def test_button_click_finds_block_and_value_and_response_can_replace_the_message(
    emu: SlackEmulator, client: WebClient, receiver: Receiver
) -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Was this useful?"}},
        {
            "type": "actions",
            "block_id": "vote",
            "elements": [
                {
                    "type": "button",
                    "action_id": "til_upvote",
                    "value": "til-42",
                    "text": {"type": "plain_text", "text": "Yes"},
                }
            ],
        },
    ]
    ts = client.chat_postMessage(channel=GENERAL, text="Useful?", blocks=blocks)["ts"]

    emu.click_button(DAVE, GENERAL, ts, "til_upvote")

    payload = receiver.wait_for(lambda r: "payload" in r.form()).payload()
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": GENERAL,
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "til_upvote",
        "vote",
        "til-42",
        "button",
    )
    assert payload["message"]["blocks"][1]["block_id"] == "vote"
    with pytest.raises(LookupError, match="til_upvote"):
        emu.click_button(DAVE, GENERAL, ts, "no_such_button")
    WebhookClient(payload["response_url"]).send(text="Thanks!", replace_original=True)
    assert emu.message(GENERAL, ts).text == "Thanks!"


def test_views_open_needs_a_fresh_trigger_and_home_view_is_sent_on_app_home_opened(
    emu: SlackEmulator, client: WebClient, receiver: Receiver
) -> None:
    emu.slash_command(ALICE, GENERAL, "/til")
    trigger = receiver.received[-1].form()["trigger_id"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "TIL"}, "blocks": []}
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }

    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    reused = error_of(lambda: client.views_open(trigger_id=trigger, view=modal))
    client.views_publish(user_id=ALICE, view=home)
    emu.open_app_home(ALICE)

    assert opened["id"].startswith("V") and opened["type"] == "modal"
    assert reused == "exchanged_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="1.2.3", view=modal)) == (
        "invalid_trigger_id"
    )
    published = emu.home_view(ALICE)
    assert published is not None and published["blocks"][0]["text"]["text"] == "Hi"
    event = receiver.received[-1].json()["event"]
    assert event["type"] == "app_home_opened" and event["tab"] == "home"
    assert event["channel"] == emu.open_im(ALICE).id and event["view"]["id"] == published["id"]


def test_bot_message_is_echoed_as_an_event_after_the_api_call_answers(
    emu: SlackEmulator, client: WebClient, receiver: Receiver
) -> None:
    receiver.delay = 0.5

    started = time.monotonic()
    ts = client.chat_postMessage(channel=ENGINEERING, text="Weekly digest")["ts"]
    answered_in = time.monotonic() - started

    assert answered_in < 0.4, "chat.postMessage should not wait for the echo delivery"
    echo = receiver.wait_for(lambda r: r.event.get("ts") == ts).json()["event"]
    assert (echo["bot_id"], echo["user"], echo["app_id"]) == (BOT_ID, BOT_USER_ID, APP_ID)
    assert echo["channel"] == ENGINEERING and echo["text"] == "Weekly digest"


def test_no_echo_when_disabled(receiver: Receiver) -> None:
    with SlackEmulator(signing_secret=SECRET, echo_bot_messages=False) as emu:
        emu.request_url = receiver.url
        WebClient(base_url=emu.api_url, token=emu.bot_token).chat_postMessage(
            channel=GENERAL, text="silent"
        )
        emu.post_message(ALICE, GENERAL, "marker")

    assert [r.event["text"] for r in receiver.received] == ["marker"]


def test_echo_failure_is_recorded_and_the_server_keeps_serving(
    emu: SlackEmulator, client: WebClient
) -> None:
    emu.request_url = f"http://127.0.0.1:{closed_port()}/slack/events"

    client.chat_postMessage(channel=GENERAL, text="nobody listening")

    deadline = time.monotonic() + 5
    while not emu.errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.errors and "could not deliver" in emu.errors[0]
    assert client.auth_test()["ok"] is True


def test_delivery_to_an_unreachable_app_raises_delivery_error(emu: SlackEmulator) -> None:
    emu.request_url = f"http://127.0.0.1:{closed_port()}/slack/events"

    with pytest.raises(DeliveryError, match="could not deliver"):
        emu.slash_command(ALICE, GENERAL, "/til", "x")


def test_stop_frees_the_port_and_joins_the_server_thread() -> None:
    emu = SlackEmulator(signing_secret=SECRET).start()
    port = emu.port

    emu.stop()

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing should listen after stop()"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("slack-emulator")]
    assert alive == [], "stop() should join the server and echo threads"


def test_concurrent_posts_get_unique_increasing_ts_and_all_land(
    emu: SlackEmulator, client: WebClient
) -> None:
    def post(worker: int) -> list[str]:
        return [
            client.chat_postMessage(channel=GENERAL, text=f"{worker}-{i}")["ts"] for i in range(20)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        per_worker = list(pool.map(post, range(4)))

    stamps = [ts for batch in per_worker for ts in batch]
    assert len(set(stamps)) == 80
    assert all(batch == sorted(batch, key=float) for batch in per_worker)
    assert [m.ts for m in emu.messages(GENERAL)] == sorted(stamps, key=float)


# -- Socket Mode ---------------------------------------------------------------------------

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def socket_emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(signing_secret=SECRET, socket_mode=True) as emulator:
        yield emulator


@dataclass
class SocketRecorder:
    """What a Socket Mode app saw; it acks every envelope, with ``answers[type]`` if set."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "envelope_id" in m]


@asynccontextmanager
async def socket_app(emu: SlackEmulator, recorder: SocketRecorder) -> AsyncIterator[None]:
    """slack_sdk's aiohttp SocketModeClient, connected to the emulator with the app token."""
    client = SocketModeClient(
        app_token=emu.app_token,
        web_client=AsyncWebClient(base_url=emu.api_url),
        auto_reconnect_enabled=False,
    )

    async def record(
        _: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        recorder.messages.append(message)

    async def ack(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        answer = recorder.answers.get(request.type)
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, answer))

    client.message_listeners.append(record)
    client.socket_mode_request_listeners.append(ack)
    await client.connect()
    try:
        await asyncio.to_thread(emu.wait_for_socket, 5.0)
        yield
    finally:
        await client.close()


async def open_link_url(emu: SlackEmulator) -> str:
    client = AsyncWebClient(base_url=emu.api_url)
    return str((await client.apps_connections_open(app_token=emu.app_token))["url"])


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"expected {what} within {timeout}s"
        await asyncio.sleep(0.01)


def raw_link(emu: SlackEmulator) -> socket.socket:
    """A hand-made WebSocket handshake, for clients that misbehave in ways aiohttp cannot."""
    app = WebClient(base_url=emu.api_url, token=emu.app_token)
    url = urlsplit(app.apps_connections_open(app_token=emu.app_token)["url"])
    sock = socket.create_connection((url.hostname or "", url.port or 0), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_apps_connections_open_takes_only_the_app_token(emu: SlackEmulator) -> None:
    app = WebClient(base_url=emu.api_url, token=emu.app_token)
    bot = WebClient(base_url=emu.api_url, token=emu.bot_token)

    url = app.apps_connections_open(app_token=emu.app_token)["url"]

    pattern = rf"ws://127\.0\.0\.1:{emu.port}/link/\?ticket={UUID}&app_id={APP_ID}"
    assert re.fullmatch(pattern, url), url
    assert error_of(lambda: bot.apps_connections_open(app_token=emu.bot_token)) == (
        "not_allowed_token_type"
    )
    assert error_of(lambda: bot.apps_connections_open(app_token="xapp-wrong")) == "invalid_auth"
    assert error_of(lambda: app.chat_postMessage(channel=GENERAL, text="x")) == (
        "not_allowed_token_type"
    )
    assert emu.calls_to("apps.connections.open")[0].token == emu.app_token


def test_socket_mode_event_is_an_events_api_envelope_and_the_ack_is_the_delivery(
    socket_emu: SlackEmulator,
) -> None:
    recorder = SocketRecorder()

    async def scenario() -> tuple[str, Delivery, Delivery]:
        async with socket_app(socket_emu, recorder):
            ts, delivery = await asyncio.to_thread(
                socket_emu.post_message, ALICE, GENERAL, "hello over the socket"
            )
            envelope = socket_emu.last_envelope
            assert envelope is not None and delivery is not None
            retried = await asyncio.to_thread(
                socket_emu.deliver_event, envelope["event"], retry_num=1
            )
        return ts, delivery, retried

    ts, delivery, retried = asyncio.run(scenario())

    hello = recorder.messages[0]
    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": APP_ID} and "debug_info" in hello
    first, retry = recorder.envelopes
    assert delivery == Delivery(200, "", {}) and retried == Delivery(200, "", {})
    assert re.fullmatch(UUID, first["envelope_id"])
    assert (first["type"], first["accepts_response_payload"]) == ("events_api", False)
    assert (first["retry_attempt"], first["retry_reason"]) == (0, "")
    payload = first["payload"]
    assert payload["type"] == "event_callback" and payload["api_app_id"] == APP_ID
    assert (payload["event"]["ts"], payload["event"]["text"]) == (ts, "hello over the socket")
    assert retry["payload"]["event_id"] == payload["event_id"]
    assert (retry["retry_attempt"], retry["retry_reason"]) == (1, "http_timeout")
    assert retry["envelope_id"] != first["envelope_id"]


def test_socket_mode_slash_command_ack_payload_is_shown_and_shortcuts_are_interactive(
    socket_emu: SlackEmulator,
) -> None:
    recorder = SocketRecorder(answers={"slash_commands": {"text": "Usage: /til <what>"}})

    async def scenario() -> tuple[Delivery, Delivery]:
        async with socket_app(socket_emu, recorder):
            command = await asyncio.to_thread(socket_emu.slash_command, ALICE, GENERAL, "/til")
            ts, _ = await asyncio.to_thread(socket_emu.post_message, BOB, GENERAL, "TIL: tmux")
            shortcut = await asyncio.to_thread(
                socket_emu.message_shortcut, ALICE, GENERAL, ts, "save_as_til"
            )
        return command, shortcut

    command, shortcut = asyncio.run(scenario())

    assert command.json() == {"text": "Usage: /til <what>"}
    [shown] = [m for m in socket_emu.messages(GENERAL, include_ephemeral=True) if m.ephemeral_to]
    assert (shown.ephemeral_to, shown.text) == (ALICE, "Usage: /til <what>")
    slash, _, action = recorder.envelopes
    assert (slash["type"], slash["accepts_response_payload"]) == ("slash_commands", True)
    assert "retry_attempt" not in slash
    assert (slash["payload"]["command"], slash["payload"]["user_id"]) == ("/til", ALICE)
    assert slash["payload"]["is_enterprise_install"] == "false", "form fields stay strings"
    assert (action["type"], action["accepts_response_payload"]) == ("interactive", False)
    assert action["payload"]["type"] == "message_action"
    assert action["payload"]["callback_id"] == "save_as_til"
    assert shortcut == Delivery(200, "", {})


def test_socket_mode_ticket_opens_one_connection_and_pings_are_answered(
    socket_emu: SlackEmulator,
) -> None:
    async def scenario() -> tuple[Any, bytes, int]:
        url = await open_link_url(socket_emu)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, autoping=False) as ws,
        ):
            hello = await ws.receive_json(timeout=5)
            await ws.ping(b"are-you-there")
            pong = await ws.receive(timeout=5)
            assert pong.type == aiohttp.WSMsgType.PONG
            with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
                await session.ws_connect(url)
        return hello, pong.data, reused.value.status

    hello, pong, status = asyncio.run(scenario())

    assert hello["type"] == "hello"
    assert pong == b"are-you-there"
    assert status == 401, "a ticket is spent by its first connection"


def test_socket_mode_without_a_client_or_an_ack_raises_delivery_error(
    socket_emu: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator_module, "DELIVERY_TIMEOUT", 0.2)
    with pytest.raises(DeliveryError, match="no Socket Mode client connected"):
        socket_emu.open_app_home(ALICE)

    async def scenario() -> tuple[dict[str, Any], str]:
        url = await open_link_url(socket_emu)
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            with pytest.raises(DeliveryError) as raised:
                await asyncio.to_thread(socket_emu.open_app_home, ALICE)
            envelope = await ws.receive_json(timeout=5)
        return envelope, str(raised.value)

    envelope, error = asyncio.run(scenario())

    assert envelope["envelope_id"] in error and "no ack within 0.2s" in error


def test_socket_mode_client_that_breaks_off_or_breaks_the_protocol_never_stops_the_server(
    socket_emu: SlackEmulator, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator_module, "DELIVERY_TIMEOUT", 0.5)
    unmasked = raw_link(socket_emu)
    unmasked.sendall(b"\x81\x02{}")  # a text frame without the mask every client must set
    received = b""
    while chunk := unmasked.recv(4096):
        received += chunk
    unmasked.close()
    truncated = raw_link(socket_emu)
    truncated.sendall(b"\x81\xfe\x10")  # half a frame header, then gone
    truncated.close()

    with pytest.raises(DeliveryError, match="Socket Mode"):
        socket_emu.open_app_home(ALICE)
    assert received.endswith(b"\x88\x02\x03\xea"), "expected a close frame with code 1002"
    assert client.auth_test()["ok"] is True
    assert socket_emu.errors == ["Socket Mode client broke the protocol: an unmasked client frame"]


def test_stop_with_a_connected_socket_mode_client_closes_it_and_joins_threads() -> None:
    emu = SlackEmulator(signing_secret=SECRET, socket_mode=True).start()
    port = emu.port

    async def scenario() -> tuple[aiohttp.WSMessage, float]:
        url = await open_link_url(emu)
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            closing = asyncio.ensure_future(ws.receive(timeout=5))
            started = time.monotonic()
            await asyncio.to_thread(emu.stop)
            return await closing, time.monotonic() - started

    message, stopped_in = asyncio.run(scenario())

    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001
    assert stopped_in < 1.5, "the client answered the close frame, so stop() need not wait"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("slack-emulator")]
    assert alive == [], "stop() should join the socket threads too"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing should listen after stop()"
    assert emu.errors == []


def test_bolt_async_app_runs_end_to_end_over_socket_mode(socket_emu: SlackEmulator) -> None:
    seen: list[dict[str, Any]] = []

    async def scenario() -> tuple[Delivery, Delivery | None]:
        client = AsyncWebClient(base_url=socket_emu.api_url, token=socket_emu.bot_token)
        app = AsyncApp(client=client, signing_secret=SECRET)

        @app.command("/echo")
        async def echo(ack: Any, command: dict[str, Any]) -> None:
            await ack(f"echo: {command['text']}")

        @app.event("message")
        async def record(event: dict[str, Any], say: Any) -> None:
            seen.append(event)
            if event.get("text") == "ping":
                await say("pong")

        handler = AsyncSocketModeHandler(app, socket_emu.app_token)
        await handler.connect_async()
        try:
            await asyncio.to_thread(socket_emu.wait_for_socket, 5.0)
            command = await asyncio.to_thread(
                socket_emu.slash_command, ALICE, GENERAL, "/echo", "hi there"
            )
            _, message = await asyncio.to_thread(socket_emu.post_message, ALICE, GENERAL, "ping")
            await asyncio.to_thread(socket_emu.wait_for_call, "chat.postMessage")
            # the pong comes back as an event too; Bolt acks its own message without a listener
            await eventually(lambda: len(socket_emu.deliveries) == 3, "the pong echo to be acked")
        finally:
            await handler.close_async()
        return command, message

    command, message = asyncio.run(scenario())

    assert command.json() == {"text": "echo: hi there"}
    [shown] = [m for m in socket_emu.messages(GENERAL, include_ephemeral=True) if m.ephemeral_to]
    assert (shown.ephemeral_to, shown.text) == (ALICE, "echo: hi there")
    assert message == Delivery(200, "", {})
    assert [e["text"] for e in seen] == ["ping"], "Bolt ignores the app's own pong"
    assert [m.text for m in socket_emu.messages(GENERAL)] == ["ping", "pong"]
    assert socket_emu.errors == []
