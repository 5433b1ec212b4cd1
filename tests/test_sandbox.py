"""The sandbox's JSON API and how it starts: what the page does is a person's action in the
emulator, and each person sees only what Slack would show them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.emulator import (
    ALICE,
    BOB,
    BOT_USER_ID,
    DAVE,
    ENGINEERING,
    GENERAL,
    LEADS,
    SlackEmulator,
)
from bot.sandbox import ESCAPED_COMMANDS, MESSAGE_SHORTCUTS, SandboxApi, page_app
from bot.serve import BackgroundServer, build_web_app
from tests.browser import running_sandbox
from tests.conftest import eventually, settings_for

ROOT = Path(__file__).parent.parent
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())


@pytest.fixture
def page(emulator: SlackEmulator, tmp_path: Path) -> Iterator[str]:
    """The page's server in front of the emulator, wired to the app (SQLite: no database here
    is under test)."""
    settings = settings_for(emulator, f"sqlite:///{tmp_path / 'sandbox.db'}")
    with (
        BackgroundServer(build_web_app(settings)) as app,
        BackgroundServer(page_app(emulator)) as page,
    ):
        emulator.request_url = app.request_url
        yield page.url


def call(
    url: str, body: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET, or POST ``body`` as JSON; the status and the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=data, headers=sent | (headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def state(page: str, person: str, conversation: str = GENERAL, since: str = "") -> Any:
    query = f"as={person}&open={conversation}&since={since}"
    status, answer = call(f"{page}/api/state?{query}")
    assert status == 200, answer
    return answer


def test_typed_mentions_become_slack_markup_and_tags_stay_words(emulator: SlackEmulator) -> None:
    api = SandboxApi(emulator)
    typed = "@bob see #general on #postgres, mail bob@example.com"
    assert api.markup(typed, labelled=False) == (
        f"<@{BOB}> see <#{GENERAL}|general> on #postgres, mail bob@example.com"
    )
    assert api.markup("add @bob #postgres", labelled=True) == f"add <@{BOB}|bob> #postgres"


def test_commands_and_shortcuts_are_the_manifests() -> None:
    features = MANIFEST["features"]
    escaped = {c["command"] for c in features["slash_commands"] if c.get("should_escape")}
    assert escaped == ESCAPED_COMMANDS, "mentions are escaped for exactly these commands"
    shortcuts = {
        s["callback_id"]: s["name"] for s in features["shortcuts"] if s["type"] == "message"
    }
    assert shortcuts == MESSAGE_SHORTCUTS


def test_a_commands_answer_is_shown_only_to_the_person_who_typed_it(
    page: str, emulator: SlackEmulator
) -> None:
    status, answer = call(f"{page}/api/send", {"as": BOB, "channel": GENERAL, "text": "/til help"})
    assert (status, answer) == (200, {"ok": True, "notice": None})
    bobs = state(page, BOB)["messages"]
    assert len(bobs) == 1 and bobs[0]["ephemeral"] and bobs[0]["bot"], bobs
    assert state(page, ALICE)["messages"] == [], "another person does not see it"


def test_a_message_reaches_the_app_as_a_person_typed_it(page: str, emulator: SlackEmulator) -> None:
    text = "TIL a < b & #git for @alice"
    status, _ = call(f"{page}/api/send", {"as": BOB, "channel": GENERAL, "text": text})
    assert status == 200
    posted = emulator.messages(GENERAL)[0]
    assert posted.text == f"TIL a &lt; b &amp; #git for <@{ALICE}>", "escaped as Slack escapes"
    reactions = eventually(
        lambda: state(page, ALICE)["messages"][0]["reactions"], what="the :books: reaction"
    )
    assert reactions == [{"name": "books", "count": 1, "mine": False}]
    status, _ = call(
        f"{page}/api/react",
        {"as": ALICE, "channel": GENERAL, "ts": posted.ts, "name": "bulb", "add": True},
    )
    assert status == 200 and emulator.message(GENERAL, posted.ts).reactions["bulb"] == [ALICE]


def test_each_person_sees_their_own_dm_and_only_their_private_channels(page: str) -> None:
    bobs = state(page, BOB)
    assert bobs["dm"] == "D0BOB" and LEADS not in {c["id"] for c in bobs["channels"]}
    assert state(page, ALICE)["channels"][-1]["id"] == LEADS
    for hidden in ("D0ALICE", LEADS):
        status, answer = call(f"{page}/api/state?as={BOB}&open={hidden}")
        assert status == 403 and not answer["ok"], f"{hidden} is not Bob's"


def test_polling_an_unchanged_page_answers_only_its_version(page: str) -> None:
    first = state(page, ALICE)
    assert state(page, ALICE, since=first["version"]) == {"version": first["version"]}
    call(f"{page}/api/send", {"as": ALICE, "channel": GENERAL, "text": "hello"})
    assert state(page, ALICE, since=first["version"])["messages"][0]["text"] == "hello"


def test_what_slack_would_refuse_is_explained(page: str) -> None:
    status, answer = call(f"{page}/api/send", {"as": DAVE, "channel": ENGINEERING, "text": "hi"})
    assert status == 400 and answer["error"] == "Join #engineering to post in it."
    assert call(f"{page}/api/join", {"as": DAVE, "channel": ENGINEERING})[0] == 200
    assert call(f"{page}/api/send", {"as": DAVE, "channel": ENGINEERING, "text": "hi"})[0] == 200
    status, answer = call(f"{page}/api/send", {"as": BOB, "channel": GENERAL, "text": "/nope x"})
    assert status == 200 and "HTTP 404" in answer["notice"], answer
    status, answer = call(f"{page}/api/send", {"as": BOT_USER_ID, "channel": GENERAL, "text": "x"})
    assert status == 400 and answer["error"] == "You cannot act as learnloop."


def test_writes_need_json_from_a_local_page(page: str) -> None:
    form = urllib.request.Request(
        f"{page}/api/send",
        data=b"as=U0BOB&channel=C0GENERAL&text=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(form, timeout=10)
    assert refused.value.code == 415, "a form from another site cannot post"
    with pytest.raises(urllib.error.HTTPError) as foreign:
        urllib.request.urlopen(
            urllib.request.Request(f"{page}/", headers={"Host": "evil.example"}), timeout=10
        )
    assert foreign.value.code == 400, "a page reached under another name is refused"


def test_make_run_without_a_token_starts_the_sandbox(tmp_path: Path) -> None:
    env_file = ROOT / ".env"
    if env_file.exists() and "SLACK_BOT_TOKEN=" in env_file.read_text():
        pytest.skip(".env holds a Slack token: `make run` serves that workspace here")
    database = f"sqlite:///{tmp_path / 'run.db'}"
    with running_sandbox(database, ROOT, ["make", "-s", "run"]) as run:
        page = urllib.request.urlopen(run.address, timeout=10).read()
    assert b"LearnLoop sandbox" in page
    assert any("connect a real workspace" in line for line in run.lines), run.lines
