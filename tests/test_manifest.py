"""manifest.yml and the registered listeners stay in step, both ways."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import handlers
from bot.emulator import ALICE, GENERAL, SlackEmulator
from bot.oauth import BOT_SCOPES
from bot.serve import BackgroundServer

MANIFEST = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())
REQUEST_PATH = "/slack/events"
# Manifest event subscriptions name a scope of delivery; listeners see the event type.
EVENT_TYPE = {"message.channels": "message", "message.groups": "message", "message.im": "message"}


class RegistrationRecorder:
    """Stands where Bolt's App stands in register(app) and notes what is listened to."""

    def __init__(self) -> None:
        self.events: set[str] = set()
        self.commands: set[str] = set()
        self.shortcuts: set[str] = set()
        self.actions: set[str] = set()
        self.views: set[str] = set()
        self.error_handlers: list[Callable[..., Any]] = []

    def _note(self, into: set[str], key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        into.add(key)
        return lambda function: function

    def event(self, event_type: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._note(self.events, event_type)

    def command(self, command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._note(self.commands, command)

    def shortcut(self, callback_id: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._note(self.shortcuts, callback_id)

    def action(self, action_id: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._note(self.actions, action_id)

    def view(self, callback_id: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._note(self.views, callback_id)

    def error(self, function: Callable[..., Any]) -> None:
        self.error_handlers.append(function)


@pytest.fixture(scope="module")
def registered() -> RegistrationRecorder:
    recorder = RegistrationRecorder()
    handlers.register_all(recorder)  # type: ignore[arg-type]
    return recorder


def manifest_commands() -> set[str]:
    return {command["command"] for command in MANIFEST["features"]["slash_commands"]}


def manifest_shortcuts() -> set[str]:
    return {shortcut["callback_id"] for shortcut in MANIFEST["features"]["shortcuts"]}


def manifest_event_types() -> set[str]:
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    return {EVENT_TYPE.get(event, event) for event in events}


def test_every_command_is_declared_and_handled(registered: RegistrationRecorder) -> None:
    assert manifest_commands() == registered.commands


def test_every_shortcut_is_declared_and_handled(registered: RegistrationRecorder) -> None:
    assert manifest_shortcuts() == registered.shortcuts


def test_every_event_is_subscribed_and_handled(registered: RegistrationRecorder) -> None:
    assert manifest_event_types() == registered.events


def test_one_request_url_and_no_socket_mode_by_default() -> None:
    urls = [command["url"] for command in MANIFEST["features"]["slash_commands"]]
    urls += [
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith(REQUEST_PATH) for url in urls) and len(set(urls)) == 1
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is False


def test_scopes_cover_what_the_app_does_and_no_more() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "app_mentions:read",  # questions asked by mentioning the bot
        "channels:history",  # message.channels, conversations.history/replies
        "groups:history",  # message.groups in private channels
        "channels:read",  # conversations.members, member_joined_channel: reflection DMs, onboarding
        "groups:read",  # the same in private channels
        "chat:write",  # /til posts
        "commands",  # /til and the shortcut
        "reactions:read",  # reaction_added
        "reactions:write",  # the :books: confirmation
        "im:write",  # conversations.open for expert and reflection DMs
        "mpim:write",  # conversations.open for a mentoring pair's group DM
        "im:history",  # message.im: answers to reflection prompts sent by DM
        "dnd:read",  # routing prefers experts not in Do Not Disturb
        "files:write",  # the weekly digest's chart, /learnloop export-me
        "users:read",  # users.info: roles, time zones, deactivated people
    }


def test_the_scopes_asked_at_installation_are_the_manifests() -> None:
    assert set(BOT_SCOPES) == set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_every_declared_listener_answers_a_signed_sample_with_2xx(
    server: BackgroundServer, emulator: SlackEmulator
) -> None:
    ts, _ = emulator.post_message(ALICE, GENERAL, "a message to act on")
    answers = {}
    for command in manifest_commands():
        answers[command] = emulator.slash_command(ALICE, GENERAL, command, "help").status
    for callback_id in manifest_shortcuts():
        answers[callback_id] = emulator.message_shortcut(ALICE, GENERAL, ts, callback_id).status
    samples = {
        "app_mention": {
            "type": "app_mention",
            "channel": GENERAL,
            "user": ALICE,
            "text": f"<@{emulator.bot_user_id}>",
            "ts": ts,
        },
        "message": {"type": "message", "channel": GENERAL, "user": ALICE, "text": "hi", "ts": ts},
        "reaction_added": {
            "type": "reaction_added",
            "user": ALICE,
            "reaction": "thumbsup",
            "item": {"type": "message", "channel": GENERAL, "ts": ts},
            "event_ts": ts,
        },
        "reaction_removed": {
            "type": "reaction_removed",
            "user": ALICE,
            "reaction": "thumbsup",
            "item": {"type": "message", "channel": GENERAL, "ts": ts},
            "event_ts": ts,
        },
        "tokens_revoked": {
            "type": "tokens_revoked",
            "tokens": {"oauth": [ALICE], "bot": []},
            "event_ts": ts,
        },
        "app_uninstalled": {"type": "app_uninstalled", "event_ts": ts},
        "member_joined_channel": {
            "type": "member_joined_channel",
            "user": ALICE,
            "channel": GENERAL,
            "channel_type": "C",
            "event_ts": ts,
        },
        "app_home_opened": {
            "type": "app_home_opened",
            "user": ALICE,
            "channel": "D0ALICE",
            "tab": "home",
            "event_ts": ts,
        },
    }
    for event_type in manifest_event_types():
        answers[event_type] = emulator.deliver_event(samples[event_type]).status
    assert all(200 <= status < 300 for status in answers.values()), answers
