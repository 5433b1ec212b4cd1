"""Bad input, correctly signed: property tests feed the running app nonsense over real HTTP.

Slack signs whatever a person types and whatever shape an event or payload has; the gate
(tests/test_server.py) only refuses what is unsigned or unparsable. Past the gate, each
example must leave the app answering, its log free of unexpected exceptions and its database
without partial records; after all examples it still keeps a normal TIL.

One app per database backend serves the whole module, so examples share a database: the
invariants are checked over every row after each example.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import Session

from bot import blocks
from bot.app import create_app
from bot.emulator import ALICE, BOB, GENERAL, Delivery, SlackEmulator
from bot.runtime import Runtime
from bot.serve import BackgroundServer, build_runtime
from bot.server import MAX_BODY_BYTES, create_web_app, routable
from bot.text import command_tags, extract_tags
from storage.db import create_db_engine
from tests.conftest import SIGNING_SECRET, fresh_postgres_schema, settings_for, stored_tils
from tests.test_server import get

MANIFEST = Path(__file__).parent.parent / "manifest.yml"
COMMANDS = [
    c["command"] for c in yaml.safe_load(MANIFEST.read_text())["features"]["slash_commands"]
]
ACTION_IDS = sorted(
    {
        *blocks.ROUTE_ANSWERS,
        blocks.HELP_RESOLVE,
        blocks.HELP_SAVE_ANSWER,
        blocks.MENTOR_SKIP,
        blocks.MENTOR_END,
    }
)
SLACK_MAX_BLOCKS = 50
DM = "D0BOB"

# -- the app under test ----------------------------------------------------------------------


class ProblemLog(logging.Handler):
    """Log records that mean a bug: errors, and anything logged with a traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            with self._lock_records:
                self._records.append(record)

    def take(self) -> list[str]:
        with self._lock_records:
            records, self._records = self._records, []
        return [_describe(record) for record in records]


def _describe(record: logging.LogRecord) -> str:
    error = record.exc_info[1] if record.exc_info else None
    cause = f": {type(error).__name__}: {str(error)[:300]}" if error else ""
    return f"{record.name} {record.levelname} {record.getMessage()[:200]}{cause}"


@dataclass(frozen=True)
class LiveApp:
    emulator: SlackEmulator
    runtime: Runtime
    server: BackgroundServer
    engine: Engine
    problems: ProblemLog


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_available: bool,
) -> Iterator[LiveApp]:
    """The conftest pieces (database, emulator, settings, server) once per module and backend,
    holding the Runtime so each example can wait for the follow-up work it started."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'learnloop.db'}"
        else:
            url = stack.enter_context(fresh_postgres_schema(postgres_available))
        emulator = stack.enter_context(SlackEmulator(signing_secret=SIGNING_SECRET))
        settings = settings_for(emulator, url)
        runtime = build_runtime(settings)
        web = create_web_app(create_app(settings, runtime), runtime)
        server = stack.enter_context(BackgroundServer(web))
        emulator.request_url = server.request_url
        engine = create_db_engine(url, pool_size=2)
        stack.callback(engine.dispose)
        problems = ProblemLog()
        logging.getLogger().addHandler(problems)
        stack.callback(logging.getLogger().removeHandler, problems)
        yield LiveApp(emulator, runtime, server, engine, problems)


def _meet(barrier: threading.Barrier, *, session: Session) -> None:
    barrier.wait()


def drain_follow_ups(runtime: Runtime) -> None:
    """Return once the follow-up work queued so far is done: the pool takes work in order, so
    when every worker waits at one barrier nothing queued before is still running."""
    workers = runtime.settings.worker_threads
    barrier = threading.Barrier(workers + 1, timeout=20)
    for _ in range(workers):
        runtime.spawn(_meet, barrier=barrier)
    barrier.wait()


def settle(live: LiveApp, what: str) -> None:
    """After one example: no unexpected exception logged (its follow-ups included), and no
    partial record anywhere in the database."""
    drain_follow_ups(live.runtime)
    problems = live.problems.take()
    assert not problems, f"{what}: nothing unexpected may be logged, got {problems}"
    assert_no_partial_records(live.engine)


# Each query counts the rows that break the invariant its key states.
ORPHANS = {
    "every til_tag belongs to an existing TIL": (
        "SELECT count(*) FROM til_tag t LEFT JOIN til ON til.id = t.til_id WHERE til.id IS NULL"
    ),
    "every til_reaction belongs to an existing TIL": (
        "SELECT count(*) FROM til_reaction r LEFT JOIN til ON til.id = r.til_id"
        " WHERE til.id IS NULL"
    ),
    "every help_request_tag belongs to an existing question": (
        "SELECT count(*) FROM help_request_tag t LEFT JOIN help_request h"
        " ON h.id = t.help_request_id WHERE h.id IS NULL"
    ),
    "every help_route belongs to an existing question": (
        "SELECT count(*) FROM help_route r LEFT JOIN help_request h"
        " ON h.id = r.help_request_id WHERE h.id IS NULL"
    ),
    "a TIL's reaction_count is its til_reaction rows": (
        "SELECT count(*) FROM til WHERE reaction_count <>"
        " (SELECT count(*) FROM til_reaction r WHERE r.til_id = til.id)"
    ),
}


def assert_no_partial_records(engine: Engine) -> None:
    with engine.connect() as connection:
        for invariant, query in ORPHANS.items():
            broken = connection.execute(text(query)).scalar_one()
            assert broken == 0, f"{invariant}; {broken} rows break it"
        til_tags = _tags_by_owner(connection, "SELECT til_id, tag FROM til_tag")
        for til_id, til_text in connection.execute(text("SELECT id, text FROM til")):
            assert til_text.strip(), f"TIL {til_id} must have text, got {til_text!r}"
            assert til_tags.get(til_id, set()) == set(extract_tags(til_text)), (
                f"TIL {til_id} must carry exactly the #tags of its text"
            )
        question_tags = _tags_by_owner(
            connection, "SELECT help_request_id, tag FROM help_request_tag"
        )
        for request_id, question in connection.execute(text("SELECT id, text FROM help_request")):
            assert question.strip(), f"question {request_id} must have text"
            if command_tags(question):
                assert question_tags.get(request_id), (
                    f"question {request_id} has #tags in its text, so it must have tag rows"
                )


def _tags_by_owner(connection: Any, query: str) -> dict[int, set[str]]:
    tags: dict[int, set[str]] = {}
    for owner, tag in connection.execute(text(query)):
        tags.setdefault(owner, set()).add(tag)
    return tags


def assert_still_serves(live: LiveApp) -> None:
    """After the nonsense: healthy, and a plain TIL is kept as ever."""
    status, body = get(live.server.url + "/healthz")
    assert status == 200, f"/healthz must stay 200 after bad input, got {status} {body}"
    marker = uuid.uuid4().hex
    _, delivery = live.emulator.post_message(ALICE, GENERAL, f"TIL the app survived {marker}")
    assert delivery is not None and delivery.status == 200, "a normal TIL must still be acked"
    assert any(marker in til.text for til in stored_tils(live.engine)), (
        "a normal TIL must still be stored after bad input"
    )
    settle(live, "a normal TIL")


def sign_and_post(live: LiveApp, body: bytes, content_type: str) -> Delivery:
    return live.emulator.deliver(body, content_type=content_type)


# -- what people type --------------------------------------------------------------------------

# Words the commands' parsers look for, and Slack markup as Slack sends it in command text.
WORDS = [
    *("help", "search", "add", "remove", "list", "away", "back", "follow", "unfollow", "alias"),
    *("settings", "unrouted", "experts", "escalation", "channel", "schedule", "edit", "pause"),
    *("resume", "delete", "now", "mute", "unmute", "prompts", "subscribe", "unsubscribe"),
    *("subscriptions", "timezone", "role", "lead", "manager", "member", "until", "this week"),
    *("last week", "2026-W48", "2026-W00", "2026-02-30", "daily", "weekly", "biweekly"),
    *("monthly", "fri", "mon", "16:00", "25:61", "Europe/Berlin", "Mars/Olympus", "set:nope"),
    *("dm", "local", "remind:120", "remind:-1", "skip-holidays:XX", "all", "1", "0", "-3"),
    *(
        "99999999999999999999",
        "2147483648",
        "²",
        "١٢",
        "until 9999-12-31",
        "#git",
        "#Git.",
        "#",
        "##",
        "#k8s",
        "#kubernetes",
        "TIL",
    ),
    *("<@U0ALICE>", "<@U0BOB|bob>", "<@W0NOBODY>", "<#C0GENERAL|general>", "<#C0NOWHERE>"),
    *("<#C" + "A" * 40 + ">", "<@U" + "B" * 40 + ">", "remind:²", "monthly ²"),
    *("<!here>", "<!channel>", "<!subteam^S0TEAM|@team>", "&lt;", "&gt;", "&amp;", "<http://x>"),
    *("\u200f", "\u202e", "\u200b", "\ufeff", "\x00", "\x1b[31m", "\t", "\n", "🙂", "👩‍💻"),
]
UNICODE = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
WHITESPACE = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u2028"), max_size=20)
SENTENCES = st.lists(st.one_of(st.sampled_from(WORDS), UNICODE), max_size=8).map(" ".join)


@st.composite
def long_texts(draw: st.DrawFn) -> str:
    """Slack's 4,000 characters of command text and beyond, up to twice a message's 40,000."""
    unit = draw(st.one_of(st.sampled_from(WORDS), UNICODE.filter(bool)))
    size = draw(st.sampled_from([3_000, 4_001, 40_000, 40_001, 80_000]))
    head = draw(st.sampled_from(["", "TIL ", "search ", "add ", "schedule weekly "]))
    return (head + (unit + " ") * size)[:size]


TEXTS = st.one_of(SENTENCES, UNICODE, WHITESPACE, long_texts())


def assert_readable_answer(delivery: Delivery, what: str) -> None:
    """Slack shows a command's answer only if it is a 2xx with text (and valid blocks)."""
    assert delivery.status == 200, f"{what}: expected 200, got {delivery.status}"
    answer = delivery.json()
    assert str(answer.get("text", "")).strip(), f"{what}: the answer must say something"
    shown = answer.get("blocks", [])
    assert len(shown) <= SLACK_MAX_BLOCKS, f"{what}: Slack takes at most 50 blocks"
    for block in shown:
        texts = [block["text"]] if "text" in block else block.get("elements", [])
        for element in texts:
            assert len(element.get("text", "")) <= blocks.MAX_SECTION_TEXT, (
                f"{what}: Slack refuses block text over 3,000 characters"
            )


def test_every_command_answers_any_text_readably(live: LiveApp) -> None:
    """Every slash command in the manifest answers anything typed after it (nonsense gets its
    usage), stores nothing partial and logs no exception."""

    @given(command=st.sampled_from(COMMANDS), user=st.sampled_from([ALICE, BOB]), typed=TEXTS)
    # Regressions; each once failed the listener with an exception (the user saw "something
    # went wrong"): NUL on PostgreSQL, dates past 9999-12-30, ids beyond an INTEGER,
    # digits int() refuses, ids longer than their column.
    @example(command="/til", user=ALICE, typed="TIL nul \x00 byte #x")
    @example(command="/ask", user=ALICE, typed="why \x00 #git")
    @example(command="/reflect", user=ALICE, typed="prompts add myset hi\x00")
    @example(command="/expert", user=ALICE, typed="away until 9999-12-31")
    @example(command="/reflect", user=ALICE, typed="mute until 9999-12-31")
    @example(command="/reflect", user=ALICE, typed="pause 99999999999999999999")
    @example(command="/reflect", user=ALICE, typed="edit 2147483648 weekly fri 16:00")
    @example(command="/reflect", user=ALICE, typed="now ²")
    @example(command="/ask", user=ALICE, typed="settings experts ²")
    @example(command="/reflect", user=ALICE, typed="schedule monthly ² 09:00")
    @example(command="/summary", user=ALICE, typed="subscribe <#C" + "A" * 40 + "> mon 09:00")
    @example(command="/expert", user=ALICE, typed="add <@U" + "B" * 40 + "> #git")
    def check(command: str, user: str, typed: str) -> None:
        delivery = live.emulator.slash_command(user, GENERAL, command, typed)
        what = f"{command} {typed[:80]!r}"
        assert_readable_answer(delivery, what)
        settle(live, what)

    check()
    assert_still_serves(live)


# -- what Slack delivers -------------------------------------------------------------------


def message(ts: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": GENERAL,
        "user": BOB,
        "text": "TIL fuzzing finds bugs #testing",
        "ts": ts,
        "channel_type": "channel",
        **fields,
    }


def reaction(kind: str, name: str, ts: str) -> dict[str, Any]:
    return {
        "type": kind,
        "user": BOB,
        "reaction": name,
        "item": {"type": "message", "channel": GENERAL, "ts": ts},
        "item_user": ALICE,
        "event_ts": ts,
    }


def events(live: LiveApp) -> dict[str, dict[str, Any]]:
    """One well-formed event of each kind the manifest subscribes to, about messages that
    exist in the emulated workspace; examples break them."""
    ts, _ = live.emulator.post_message(BOB, GENERAL, "a message the examples talk about")
    thread, _ = live.emulator.post_message(ALICE, GENERAL, "a thread the examples reply in")
    return {
        "message": message(ts),
        "thread reply": message(ts, text="me too", thread_ts=thread),
        "bot message": message(ts, subtype="bot_message", bot_id="B0OTHER"),
        "dm": message(ts, channel=DM, channel_type="im", text="a reflection"),
        "edit": {
            "type": "message",
            "subtype": "message_changed",
            "channel": GENERAL,
            "hidden": True,
            "ts": thread,
            "message": message(ts, text="TIL edited #new", edited={"user": BOB, "ts": ts}),
            "previous_message": message(ts),
            "channel_type": "channel",
        },
        "deletion": {
            "type": "message",
            "subtype": "message_deleted",
            "channel": GENERAL,
            "hidden": True,
            "deleted_ts": ts,
            "ts": thread,
            "previous_message": message(ts),
            "channel_type": "channel",
        },
        "capture reaction": reaction("reaction_added", "bulb", ts),
        "resolve reaction": reaction("reaction_added", "white_check_mark", ts),
        "reaction removed": reaction("reaction_removed", "tada", ts),
        "app_mention": message(ts, type="app_mention", text="<@U0LEARNBOT> how to rebase? #git"),
        "app_home_opened": {"type": "app_home_opened", "user": BOB, "channel": DM, "tab": "home"},
    }


SUBTYPES = ["channel_join", "thread_broadcast", "file_share", "me_message", "huddle_thread"]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["type", "id", "ts", "text"]), st.integers(), max_size=2),
    st.sampled_from(["", "C0NOWHERE", "U0NOBODY", "not-a-ts", "1e400", "-1", "x" * 100]),
    st.sampled_from(SUBTYPES),
    TEXTS,
)
MISSING = object()


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a nested dict, the dicts themselves included."""
    paths = []
    for key, inner in value.items():
        paths.append((*prefix, key))
        if isinstance(inner, dict):
            paths += _paths(inner, (*prefix, key))
    return paths


def _replace(value: dict[str, Any], path: tuple[str, ...], new: Any) -> None:
    """Set or (with MISSING) delete the key at path, when its parents are still dicts."""
    *parents, key = path
    for parent in parents:
        value = value.get(parent)  # type: ignore[assignment]
        if not isinstance(value, dict):
            return
    if new is MISSING:
        value.pop(key, None)
    else:
        value[key] = new


@st.composite
def broken(draw: st.DrawFn, templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A template with fields missing or of the wrong type (or a text of any length)."""
    value = copy.deepcopy(templates[draw(st.sampled_from(sorted(templates)))])
    paths = draw(st.lists(st.sampled_from(_paths(value)), min_size=1, max_size=3, unique=True))
    for path in paths:
        _replace(value, path, draw(st.one_of(st.just(MISSING), JUNK)))
    return value


def event_callback(live: LiveApp, event: Any) -> dict[str, Any]:
    """An Events API envelope as Slack sends it, around whatever `event` is."""
    return {
        "token": live.emulator.verification_token,
        "team_id": live.emulator.team_id,
        "api_app_id": live.emulator.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
    }


SUBSCRIBED = {"message", "reaction_added", "reaction_removed", "app_mention", "app_home_opened"}


def expected_event_statuses(body: dict[str, Any]) -> set[int]:
    """200 for an event of a subscribed type, however broken: Slack retries anything but a 2xx
    and no retry mends a malformed event, so it is acknowledged and what can't be read is
    ignored. An event of another type gets Bolt's 404 (never subscribed, so never sent), and
    one Bolt could not even route (not an object, a user id that is a number) the gate's 400."""
    if not routable(body):
        return {400}
    return {200} if body["event"]["type"] in SUBSCRIBED else {200, 404}


def test_malformed_events_are_acknowledged_and_ignored(live: LiveApp) -> None:
    """Events with fields missing or of the wrong type, unknown subtypes and huge texts never
    get a 5xx (that asks Slack to retry), log no exception and store nothing partial."""

    @given(event=st.one_of(broken(events(live)), JUNK))
    # Regressions: Bolt raised on the first three (a 500 asking Slack to retry forever), the
    # listeners on the others.
    @example(event=None)
    @example(event=reaction("reaction_removed", "tada", "1.2") | {"item": {"channel": 7}})
    @example(event={"type": "app_home_opened", "user": False, "tab": "home"})
    @example(event={"type": "message", "subtype": "message_changed", "channel": GENERAL})
    @example(event=reaction("reaction_added", "x" * 101, "1700000000.000100"))
    def check(event: Any) -> None:
        body = event_callback(live, event)
        data = json.dumps(body).encode()
        delivery = live.emulator.deliver(data, content_type="application/json")
        expected = {413} if len(data) > MAX_BODY_BYTES else expected_event_statuses(body)
        what = f"event {json.dumps(event)[:300]}"
        assert delivery.status in expected, f"{what}: expected {expected}, got {delivery.status}"
        settle(live, what)

    check()
    assert_still_serves(live)


# -- what people click --------------------------------------------------------------------------


LIVE_TRIGGER = "a fresh trigger_id"
"""Stands for a trigger_id Slack issued for this click: each can open one modal."""


def interaction(live: LiveApp, payload: dict[str, Any]) -> tuple[Delivery, bool]:
    """Deliver the payload; also whether its body was over the gate's size limit."""
    if payload.get("trigger_id") == LIVE_TRIGGER:
        payload = {**payload, "trigger_id": live.emulator.trigger_id(BOB)}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    delivery = live.emulator.deliver(body, content_type="application/x-www-form-urlencoded")
    return delivery, len(body) > MAX_BODY_BYTES


def payloads(live: LiveApp) -> dict[str, dict[str, Any]]:
    """One well-formed payload per button, form and shortcut; values name no real question."""
    emulator = live.emulator
    ts, _ = emulator.post_message(ALICE, GENERAL, "a message the buttons and shortcut act on")
    common = {
        "user": {"id": BOB, "username": "bob", "team_id": emulator.team_id},
        "team": {"id": emulator.team_id, "domain": emulator.team_domain},
        "api_app_id": emulator.app_id,
        "token": emulator.verification_token,
        "trigger_id": LIVE_TRIGGER,
    }
    found: dict[str, dict[str, Any]] = {}
    for action_id in ACTION_IDS:
        found[action_id] = {
            **common,
            "type": "block_actions",
            "container": {"type": "message", "message_ts": ts, "channel_id": GENERAL},
            "channel": {"id": GENERAL, "name": "general"},
            "response_url": emulator.response_url(GENERAL, BOB, ts),
            "actions": [{"action_id": action_id, "block_id": "b", "value": "42", "type": "button"}],
        }
    found["answer link form"] = {
        **common,
        "type": "view_submission",
        "view": {
            "id": "V0FUZZ",
            "callback_id": blocks.ANSWER_LINK_VIEW,
            "private_metadata": "42",
            "state": {
                "values": {
                    blocks.ANSWER_LINK_BLOCK: {
                        blocks.ANSWER_LINK_INPUT: {
                            "type": "plain_text_input",
                            "value": "https://x.y",
                        }
                    }
                }
            },
        },
    }
    found["save as TIL"] = {
        **common,
        "type": "message_action",
        "callback_id": blocks.SAVE_TIL_SHORTCUT,
        "channel": {"id": GENERAL, "name": "general"},
        "message_ts": ts,
        "response_url": emulator.response_url(GENERAL, BOB, ts),
        "message": {"type": "message", "user": ALICE, "ts": ts, "text": "shortcut #saved"},
    }
    return found


def test_malformed_interactions_never_fail(live: LiveApp) -> None:
    """Buttons, the answer-link form and the Save as TIL shortcut with fields missing or of the
    wrong type, unknown action ids, or ids of questions that don't exist: Slack never retries
    an interaction, so the app answers 200 and ignores what it can't read (Bolt's 404 for an id
    it never registered, the gate's 400 for what Bolt could not route) and logs no exception."""
    templates = payloads(live)

    @given(payload=broken(templates))
    # Regressions: Bolt raised on a view without a type or that is not an object; the
    # database on a workspace id longer than its column; the listeners on a value that is
    # not a number and on a trigger_id Slack had already used.
    @example(payload={"type": "view_submission", "user": {"id": BOB}, "view": {"callback_id": "x"}})
    @example(payload=templates[blocks.HELP_RESOLVE] | {"actions": [{"action_id": "help_resolve"}]})
    @example(payload=templates[blocks.HELP_ALREADY_ANSWERED] | {"trigger_id": "1.2.used"})
    @example(payload={"user": {"id": BOB}, "view": False})
    @example(payload=templates["save as TIL"] | {"team": {"id": "help " * 10}})
    def check(payload: dict[str, Any]) -> None:
        delivery, oversized = interaction(live, payload)
        what = f"payload {json.dumps(payload)[:300]}"
        expected = {413} if oversized else {200, 404} if routable(payload) else {400}
        assert delivery.status in expected, f"{what}: expected {expected}, got {delivery.status}"
        settle(live, what)

    check()
    assert_still_serves(live)
