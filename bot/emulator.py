"""A local Slack: a real HTTP server speaking the Web API subset LearnLoop calls.

It keeps the workspace state the way Slack does, records every Web API call, can be told to fail
a method, and delivers signed Events API, slash command and interactivity requests to the app's
Request URL in Slack's own formats, so the app never knows it is not talking to Slack. With
``socket_mode`` on it is a Socket Mode peer instead: ``apps.connections.open`` hands out a
single-use WebSocket URL on the same server and every delivery travels as an envelope over that
socket, answered by the app's ack. Tests, ``learnloop demo``, benchmarks and the sandbox share
it. Standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import queue
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

Found = TypeVar("Found")
TEAM_ID = "T0LEARN01"
TEAM_DOMAIN = "learnloop-demo"
TEAM_NAME = "LearnLoop Demo"
BOT_TOKEN = "xoxb-emulator-token"
APP_TOKEN = "xapp-1-A0LEARNAPP-emulator"
"""The app-level token; only ``apps.connections.open`` accepts it, as in Slack."""
BOT_USER_ID = "U0LEARNBOT"
BOT_ID = "B0LEARNBOT"
APP_ID = "A0LEARNAPP"
BOT_NAME = "learnloop"
VERIFICATION_TOKEN = "emulator-verification-token"
CLIENT_ID = "1000000000.2000000000"
CLIENT_SECRET = "emulator-client-secret"
"""The app's OAuth credentials: ``oauth.v2.access`` accepts only these."""

ALICE = "U0ALICE"
BOB = "U0BOB"
CAROL = "U0CAROL"
DAVE = "U0DAVE"
GENERAL = "C0GENERAL"
ENGINEERING = "C0ENG"
RANDOM = "C0RANDOM"
LEADS = "C0LEADS"

DELIVERY_TIMEOUT = 10.0
"""Seconds a delivery waits for the app's answer (Slack retries after 3 s; tests need slack).

In Socket Mode it bounds both the wait for a connected client and the wait for the ack."""

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_REACTION_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# The app is local: never route deliveries through a proxy taken from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level token; every other method takes the bot token."""
_INTERACTIVE_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})
"""Interactive payloads whose ack may carry a response (response_action, options)."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str = ""
    tz: str = "Europe/London"
    is_bot: bool = False
    is_admin: bool = False
    is_owner: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: frozenset[str] = frozenset()
    is_mpim: bool = False
    """A group DM (conversations.open with several users): private, bot included."""


@dataclass(frozen=True)
class ApiCall:
    """One Web API request as the app sent it: form, query and JSON params merged and decoded."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float = field(default_factory=time.time)
    """When it was answered (time.time())."""


@dataclass(frozen=True)
class Delivery:
    """The app's HTTP answer to a delivered request; header names are lower-cased."""

    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class UploadedFile:
    """A file the app uploaded (files_upload_v2): its bytes, and where it was shared."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str = ""
    channel: str | None = None
    thread_ts: str | None = None


@dataclass
class Message:
    channel: str
    ts: str
    user: str | None
    text: str
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    """Reaction name -> ids of the users who reacted, in order."""
    edited: bool = False
    ephemeral_to: str | None = None
    files: list[str] = field(default_factory=list)
    """Ids of files shared with the message."""


class DeliveryError(RuntimeError):
    """The app could not be reached: its Request URL refused, timed out or was a bad address,
    or, in Socket Mode, no client was connected or the envelope was not acked in time."""


class _ApiError(Exception):
    """Ends a Web API method with Slack's ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class HeldCall:
    """A Web API call the emulator keeps waiting: the app is in the middle of a request."""

    method: str
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_until_arrived(self, timeout: float = DELIVERY_TIMEOUT) -> None:
        if not self.arrived.wait(timeout):
            raise TimeoutError(f"no call to {self.method} arrived within {timeout}s")

    def release(self) -> None:
        """Let the call go on and be answered as usual."""
        self.released.set()


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int


@dataclass(frozen=True)
class _ResponseTarget:
    """Where a response_url posts: the conversation, the user, and the message acted on."""

    channel: str
    user: str
    message_ts: str | None = None


@dataclass
class _PendingAck:
    """An envelope sent over ``link``, waiting for the app's ack."""

    link: _SocketLink
    acked: bool = False
    payload: Any = None


class _ProtocolError(Exception):
    """The client broke RFC 6455; the link closes with ``code``."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


_Echoes = list[dict[str, Any]]


class SlackEmulator:
    """A Slack workspace on 127.0.0.1 for one app; every public method is thread-safe."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str = BOT_TOKEN,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_id: str = APP_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_bot_messages: bool = True,
        seed: bool = True,
        app_token: str = APP_TOKEN,
        socket_mode: bool = False,
        team_name: str = TEAM_NAME,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_url: str | None = None
        """The app's OAuth Redirect URL (``.../slack/oauth_redirect``), as configured in Slack."""
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.host = host
        self.echo_bot_messages = echo_bot_messages
        self.verification_token = VERIFICATION_TOKEN
        self.request_url: str | None = None
        """The app's Request URL (``http://127.0.0.1:3000/slack/events``); set before delivering."""
        self.socket_mode = socket_mode
        """Deliver over the app's Socket Mode connection instead of POSTing to request_url."""

        self._requested_port = port
        self._lock = threading.RLock()
        self._created = int(time.time())
        self._last_ts_us = 0
        self._counter = 0
        self._users: dict[str, User] = {}
        self._snoozed: set[str] = set()
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._edited_ts: dict[tuple[str, str], str] = {}
        self._calls: list[ApiCall] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._holds: list[HeldCall] = []

        self._workspaces: dict[str, SlackEmulator] = {}
        """Other workspaces this Slack serves (add_workspace), by team id."""
        self._codes: dict[str, tuple[SlackEmulator, str]] = {}
        """OAuth codes from the authorize page, each for one workspace, usable once."""
        self._revoked = False
        self._responses: list[dict[str, Any]] = []
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._triggers: dict[str, str] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, str] = {}
        self._files: dict[str, UploadedFile] = {}
        self._event_ids: dict[str, tuple[str, int]] = {}
        self._last_envelope: dict[str, Any] | None = None
        self._deliveries: list[Delivery] = []
        self._errors: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pending_echoes: _Echoes = []
        """Echoes the running Web API method produced; sent once it has answered."""
        self._tickets: set[str] = set()
        self._links: list[_SocketLink] = []
        """Socket Mode connections whose threads are running, open or closing."""
        self._acks: dict[str, _PendingAck] = {}
        self._link_changed = threading.Condition(self._lock)
        """Notified when a link opens or closes, an ack arrives, or the emulator stops."""
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "team.info": self._team_info,
            "dnd.info": self._dnd_info,
            "apps.connections.open": self._apps_connections_open,
        }
        self.add_user(User(bot_user_id, BOT_NAME, "LearnLoop", is_bot=True))
        if seed:
            self._seed()

    def _seed(self) -> None:
        everyone = {ALICE, BOB, CAROL, DAVE}
        bot = self.bot_user_id
        self.add_user(User(ALICE, "alice", "Alice Andersen", "Europe/London", is_admin=True))
        self.add_user(User(BOB, "bob", "Bob Brown", "America/New_York"))
        self.add_user(User(CAROL, "carol", "Carol Tanaka", "Asia/Tokyo"))
        self.add_user(User(DAVE, "dave", "Dave Fischer", "Europe/Berlin"))
        self.add_channel(Channel(GENERAL, "general", members=frozenset(everyone | {bot})))
        self.add_channel(
            Channel(ENGINEERING, "engineering", members=frozenset({ALICE, BOB, CAROL, bot}))
        )
        self.add_channel(Channel(RANDOM, "random", members=frozenset(everyone)))
        self.add_channel(Channel(LEADS, "leads", is_private=True, members=frozenset({ALICE, bot})))

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        """Bind the port and serve on background threads; returns self for chaining."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator",
            daemon=True,
        )
        self._worker = threading.Thread(
            target=self._run_outbox, name="slack-emulator-echo", daemon=True
        )
        self._thread.start()
        self._worker.start()
        return self

    def stop(self) -> None:
        """Drop undelivered echoes, shut the server, close Socket Mode links and join threads."""
        with self._lock:
            self._stopping.set()
            self._tickets.clear()
            for held in self._holds:
                held.release()
            self._holds.clear()
            self._link_changed.notify_all()  # deliveries waiting for a client or an ack give up
        if self._worker is not None:
            self._outbox.put(None)
            self._worker.join(timeout=DELIVERY_TIMEOUT + 1)
            self._worker = None
        if self._server is not None:
            # Stop accepting first, so a client that reconnects on close finds nobody listening.
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._close_links()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _close_links(self) -> None:
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(_CLOSE_GOING_AWAY)
        deadline = time.monotonic() + 2.0
        for link in links:
            link.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if link.thread.is_alive():  # the client never answered the close frame
                link.abort()
                link.thread.join(timeout=2.0)

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)``; ends with a slash like Slack's."""
        return f"{self.base_url}/api/"

    # -- workspace state -------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self._lock:
            self._users[user.id] = user
        return user

    def add_channel(self, channel: Channel) -> Channel:
        with self._lock:
            self._channels[channel.id] = channel
            self._messages.setdefault(channel.id, [])
        return channel

    def join(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            channel = self.channel(channel_id)
            self.user(user_id)
            self._channels[channel_id] = replace(channel, members=channel.members | {user_id})

    def user(self, user_id: str) -> User:
        with self._lock:
            if user_id not in self._users:
                raise KeyError(f"no user {user_id!r} in the emulated workspace")
            return self._users[user_id]

    def channel(self, channel_id: str) -> Channel:
        with self._lock:
            if channel_id not in self._channels:
                raise KeyError(f"no channel {channel_id!r} in the emulated workspace")
            return self._channels[channel_id]

    def channel_by_name(self, name: str) -> Channel:
        with self._lock:
            found = self._find_channel(name)
            if found is None or found.is_im:
                raise KeyError(f"no channel named {name!r} in the emulated workspace")
            return found

    def users(self) -> list[User]:
        """Everyone in the workspace, the bot included, in the order they were added."""
        with self._lock:
            return list(self._users.values())

    def channels(self) -> list[Channel]:
        """Every conversation, DMs with the app included, in the order they were added."""
        with self._lock:
            return list(self._channels.values())

    def messages(self, channel_id: str, *, include_ephemeral: bool = False) -> list[Message]:
        """Copies of the channel's messages, oldest first, top-level and replies together."""
        with self._lock:
            self.channel(channel_id)
            return [
                copy.deepcopy(m)
                for m in self._messages[channel_id]
                if include_ephemeral or m.ephemeral_to is None
            ]

    def message(self, channel_id: str, ts: str) -> Message:
        with self._lock:
            found = self._find_message(channel_id, ts, include_ephemeral=True)
            if found is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            return copy.deepcopy(found)

    def set_dnd(self, user_id: str, snoozed: bool = True) -> None:
        """Put a user in (or out of) Do Not Disturb, as dnd.info reports it."""
        with self._lock:
            self.user(user_id)
            if snoozed:
                self._snoozed.add(user_id)
            else:
                self._snoozed.discard(user_id)

    def open_im(self, user_id: str) -> Channel:
        """The app's DM with a user (created on first use, same id as conversations.open)."""
        with self._lock:
            self.user(user_id)
            return self._open_im(user_id)

    def response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A live response_url, as Slack puts in a payload, for tests that build payloads."""
        with self._lock:
            self.channel(channel_id)
            return self._new_response_url(_ResponseTarget(channel_id, user_id, message_ts))

    def trigger_id(self, user_id: str) -> str:
        """A live trigger_id, as Slack puts in a payload, for tests that build payloads."""
        with self._lock:
            return self._new_trigger_id(user_id)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The view last published to the user's App Home, or None."""
        with self._lock:
            view_id = self._home_views.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def shared_files(self) -> list[UploadedFile]:
        """Files the app uploaded and shared, oldest first."""
        with self._lock:
            return [copy.copy(f) for f in self._files.values() if f.channel is not None]

    # -- recording, waiting and faults -----------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> ApiCall:
        """The first recorded call to ``method`` matching ``predicate``, polling until timeout."""
        return _first_within(
            lambda: self.calls_to(method),
            predicate,
            timeout,
            lambda: (
                f"expected a call to {method} within {timeout}s; calls seen: "
                f"{[f'{c.method}({_short(c.params)})' for c in self.calls] or 'none'}"
            ),
        )

    def wait_for_response(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, *, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first body POSTed to a response_url matching ``predicate``, polling until timeout."""
        return _first_within(
            lambda: self.responses,
            predicate,
            timeout,
            lambda: (
                f"expected a response_url post within {timeout}s; seen: "
                f"{[_short(response) for response in self.responses] or 'none'}"
            ),
        )

    def wait_for_socket(self, timeout: float = 10.0) -> None:
        """Return once a Socket Mode client is connected; AssertionError after ``timeout``."""
        with self._lock:
            if not self._link_changed.wait_for(self._open_link_or_none, timeout=timeout):
                raise AssertionError(
                    f"expected a Socket Mode client to connect within {timeout}s; "
                    "call apps.connections.open with the app token and open its URL"
                )

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Bodies the app POSTed to response_url endpoints, in order."""
        with self._lock:
            return copy.deepcopy(self._responses)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every answer the app gave to a delivered request, echoes included."""
        with self._lock:
            return list(self._deliveries)

    @property
    def errors(self) -> list[str]:
        """Failures that could not be raised to a caller: echo deliveries, handler crashes."""
        with self._lock:
            return list(self._errors)

    @property
    def last_envelope(self) -> dict[str, Any] | None:
        """The last event_callback envelope delivered, to re-deliver it as a retry."""
        with self._lock:
            return copy.deepcopy(self._last_envelope)

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail, as Slack fails them.

        429 answers HTTP 429 with Retry-After and ``ratelimited``; another non-200 status answers
        that status; 200 answers ``{"ok": false, "error": error}``.
        """
        if status == 200 and not error:
            raise ValueError(
                "a failure with HTTP 200 needs an error code, e.g. error='fatal_error'"
            )
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, error, retry_after, times)
            )

    def slow_down(self, method: str, seconds: float) -> None:
        """Make every call to ``method`` take ``seconds`` longer (0 to stop): a slow Slack."""
        with self._lock:
            self._delays[method] = seconds

    def hold(self, method: str) -> HeldCall:
        """Keep the next call to ``method`` waiting until ``release()`` (or the emulator stops),
        then answer it as usual: a slow Slack, with the app's request in flight meanwhile."""
        held = HeldCall(method)
        with self._lock:
            self._holds.append(held)
        return held

    # -- more workspaces and installing the app (OAuth) -------------------------------------

    def add_workspace(self, other: SlackEmulator) -> SlackEmulator:
        """Serve ``other`` (another team, running) through this Slack's Web API and OAuth pages:
        a call with its bot token is answered by it and recorded there, and the authorize page
        installs in it when given ``team=<its id>``."""
        with self._lock:
            self._workspaces[other.team_id] = other
        return other

    def uninstall_app(self) -> tuple[Delivery, Delivery]:
        """An admin removes the app: its bot token stops working (``token_revoked``), then Slack
        sends ``tokens_revoked`` and ``app_uninstalled``."""
        with self._lock:
            self._revoked = True
            revoked = {
                "type": "tokens_revoked",
                "tokens": {"oauth": [], "bot": [self.bot_user_id]},
                "event_ts": self._next_ts(),
            }
            uninstalled = {"type": "app_uninstalled", "event_ts": self._next_ts()}
        return self.deliver_event(revoked), self.deliver_event(uninstalled)

    # -- what users do in Slack ------------------------------------------------------------

    def post_message(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> tuple[str, Delivery | None]:
        """Post as a user; delivers the ``message`` event only when the bot is in the channel,
        and not from a group DM (LearnLoop does not subscribe to ``message.mpim``).

        A mention of the bot is also delivered as an ``app_mention`` event, as Slack does.
        """
        with self._lock:
            ch = self._require_channel(channel)
            self._require_member(ch, user)
            blocks = [_rich_text_block(text)]
            msg = self._add_message(ch, user=user, text=text, blocks=blocks, thread_ts=thread_ts)
            if self.bot_user_id not in ch.members or ch.is_mpim:
                return msg.ts, None
            event = self._message_event(ch, msg)
            event["client_msg_id"] = str(uuid.uuid4())
            mention = None
            if f"<@{self.bot_user_id}>" in text or f"<@{self.bot_user_id}|" in text:
                mention = {k: v for k, v in event.items() if k != "channel_type"}
                mention["type"] = "app_mention"
        delivery = self.deliver_event(event)
        if mention is not None:
            self.deliver_event(mention)
        return msg.ts, delivery

    def keep_message(self, user: str, channel: str, text: str) -> str:
        """Add a message without delivering its event, for a caller that delivers events
        itself (a load driver); returns its ts."""
        with self._lock:
            ch = self._require_channel(channel)
            self._require_member(ch, user)
            return self._add_message(ch, user=user, text=text, blocks=[_rich_text_block(text)]).ts

    def edit_message(self, channel: str, ts: str, text: str) -> Delivery | None:
        """Edit as the author; delivers ``message_changed`` when the bot is in the channel."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, ts)
            previous = self._message_json(msg)
            msg.text = text
            if msg.user and msg.bot_id is None:
                msg.blocks = [_rich_text_block(text)]
            msg.edited = True
            event_ts = self._next_ts()
            self._edited_ts[(ch.id, ts)] = event_ts
            if self.bot_user_id not in ch.members:
                return None
            event = {
                "type": "message",
                "subtype": "message_changed",
                "message": self._message_json(msg),
                "previous_message": previous,
                "channel": ch.id,
                "hidden": True,
                "ts": event_ts,
                "event_ts": event_ts,
                "channel_type": _channel_type(ch),
            }
        return self.deliver_event(event)

    def delete_message(self, channel: str, ts: str) -> Delivery | None:
        """Delete; delivers ``message_deleted`` when the bot is in the channel."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, ts)
            previous = self._message_json(msg)
            self._messages[ch.id].remove(msg)
            if self.bot_user_id not in ch.members:
                return None
            event_ts = self._next_ts()
            event = {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "deleted_ts": ts,
                "channel": ch.id,
                "previous_message": previous,
                "ts": event_ts,
                "event_ts": event_ts,
                "channel_type": _channel_type(ch),
            }
        return self.deliver_event(event)

    def add_reaction(self, user: str, channel: str, ts: str, name: str) -> Delivery:
        """React as a user and deliver ``reaction_added``."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, ts)
            reacted = msg.reactions.setdefault(name, [])
            if user in reacted:
                raise ValueError(f"{user} already reacted :{name}: to {ts}")
            reacted.append(user)
            event = self._reaction_event("reaction_added", user, ch.id, msg, name)
        return self.deliver_event(event)

    def remove_reaction(self, user: str, channel: str, ts: str, name: str) -> Delivery:
        """Take a user's reaction back and deliver ``reaction_removed``."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, ts)
            if user not in msg.reactions.get(name, []):
                raise ValueError(f"{user} has no :{name}: reaction on {ts}")
            msg.reactions[name].remove(user)
            if not msg.reactions[name]:
                del msg.reactions[name]
            event = self._reaction_event("reaction_removed", user, ch.id, msg, name)
        return self.deliver_event(event)

    def slash_command(self, user: str, channel: str, command: str, text: str = "") -> Delivery:
        """Run a slash command; the app's immediate answer is shown as Slack shows it."""
        with self._lock:
            ch = self._require_channel(channel)
            author = self.user(user)
            target = _ResponseTarget(ch.id, user)
            form = {
                "token": self.verification_token,
                "team_id": self.team_id,
                "team_domain": self.team_domain,
                "channel_id": ch.id,
                "channel_name": "directmessage" if ch.is_im else ch.name,
                "user_id": user,
                "user_name": author.name,
                "command": command,
                "text": text,
                "api_app_id": self.app_id,
                "is_enterprise_install": "false",
                "response_url": self._new_response_url(target),
                "trigger_id": self._new_trigger_id(user),
            }
        if self.socket_mode:
            delivery = self._deliver_socket("slash_commands", form, accepts_response_payload=True)
        else:
            body = urlencode(form).encode()
            delivery = self.deliver(body, content_type="application/x-www-form-urlencoded")
        if 200 <= delivery.status < 300 and delivery.body.strip():
            try:
                answer = json.loads(delivery.body)
            except ValueError:
                answer = {"text": delivery.body}
            if isinstance(answer, dict):
                with self._lock:
                    echoes = self._apply_response(target, answer)
                self._enqueue(echoes)
        return delivery

    def message_shortcut(
        self, user: str, channel: str, message_ts: str, callback_id: str
    ) -> Delivery:
        """Choose a message shortcut on a message (payload type ``message_action``)."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, message_ts)
            payload = {
                "type": "message_action",
                "token": self.verification_token,
                "action_ts": self._next_ts(),
                "team": self._team_ref(),
                "user": self._user_ref(user),
                "channel": self._channel_ref(ch),
                "is_enterprise_install": False,
                "enterprise": None,
                "callback_id": callback_id,
                "trigger_id": self._new_trigger_id(user),
                "response_url": self._new_response_url(_ResponseTarget(ch.id, user, msg.ts)),
                "message_ts": msg.ts,
                "message": self._message_json(msg),
            }
        return self._deliver_payload(payload)

    def click_button(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str | None = None,
    ) -> Delivery:
        """Click a button on a message (``block_actions``), found in its blocks by action_id."""
        with self._lock:
            ch = self._require_channel(channel)
            msg = self._require_message(ch.id, message_ts)
            found = _find_element(msg.blocks or [], action_id)
            if found is None and (block_id is None or value is None):
                ids = _action_ids(msg.blocks or [])
                raise LookupError(f"no button {action_id!r} on message {message_ts}; found {ids}")
            found_block, element = found if found is not None else ("", {})
            ephemeral = msg.ephemeral_to is not None
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": self._user_ref(user),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "container": {
                    "type": "message",
                    "message_ts": msg.ts,
                    "channel_id": ch.id,
                    "is_ephemeral": ephemeral,
                },
                "trigger_id": self._new_trigger_id(user),
                "team": self._team_ref(),
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": self._channel_ref(ch),
                "state": {"values": {}},
                "response_url": self._new_response_url(_ResponseTarget(ch.id, user, msg.ts)),
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": block_id if block_id is not None else found_block,
                        "text": element.get("text", {"type": "plain_text", "text": action_id}),
                        "value": value if value is not None else element.get("value"),
                        "type": element.get("type", "button"),
                        "action_ts": self._next_ts(),
                    }
                ],
            }
            if not ephemeral:  # Slack does not send the message of an ephemeral container
                payload["message"] = self._message_json(msg)
        return self._deliver_payload(payload)

    def submit_view(
        self, user: str, view_id: str, values: dict[str, Any] | None = None
    ) -> Delivery:
        """Submit an open modal (``view_submission``) with ``state.values`` as given."""
        with self._lock:
            if view_id not in self._views:
                raise KeyError(f"no view {view_id!r}; open one with views.open first")
            view = copy.deepcopy(self._views[view_id])
            view["state"] = {"values": values or {}}
            payload = {
                "type": "view_submission",
                "team": self._team_ref(),
                "user": self._user_ref(user),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "trigger_id": self._new_trigger_id(user),
                "view": view,
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }
        return self._deliver_payload(payload)

    def member_joins(self, user: str, channel: str, *, inviter: str | None = None) -> Delivery:
        """``user`` joins ``channel`` (``member_joined_channel``), invited by ``inviter``."""
        with self._lock:
            self.join(channel, user)
            event: dict[str, Any] = {
                "type": "member_joined_channel",
                "user": user,
                "channel": channel,
                "channel_type": "G" if self.channel(channel).is_private else "C",
                "team": self.team_id,
                "event_ts": self._next_ts(),
            }
            if inviter is not None:
                event["inviter"] = inviter
        return self.deliver_event(event)

    def open_app_home(self, user: str) -> Delivery:
        """Open the app's Home tab (``app_home_opened``, with the published view if any)."""
        with self._lock:
            self.user(user)
            event: dict[str, Any] = {
                "type": "app_home_opened",
                "user": user,
                "channel": self._open_im(user).id,
                "tab": "home",
                "event_ts": self._next_ts(),
            }
            if user in self._home_views:
                event["view"] = copy.deepcopy(self._views[self._home_views[user]])
        return self.deliver_event(event)

    # -- delivery --------------------------------------------------------------------------

    def deliver_event(
        self,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
    ) -> Delivery:
        """Deliver ``event`` in an event_callback envelope.

        A retry (``retry_num`` set) of an event delivered before reuses its event_id and
        event_time, as Slack's re-deliveries do. In Socket Mode the retry travels as the
        envelope's ``retry_attempt`` and ``retry_reason`` instead of headers.
        """
        with self._lock:
            key = json.dumps(event, sort_keys=True, default=str)
            known = self._event_ids.get(key)
            if event_id is None and retry_num is not None and known is not None:
                event_id, event_time = known
            else:
                event_id = event_id or self._new_id("Ev")
                event_time = int(time.time())
            self._event_ids[key] = (event_id, event_time)
            context = {
                "et": event.get("type"),
                "tid": self.team_id,
                "aid": self.app_id,
                "cid": event.get("channel"),
            }
            envelope = {
                "token": self.verification_token,
                "team_id": self.team_id,
                "api_app_id": self.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": event_time,
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": self.team_id,
                        "user_id": self.bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
                "event_context": "4-" + _b64(json.dumps(context, separators=(",", ":"))),
            }
            self._last_envelope = copy.deepcopy(envelope)
        if self.socket_mode:
            return self._deliver_socket(
                "events_api",
                envelope,
                accepts_response_payload=False,
                retry_attempt=retry_num if retry_num is not None else 0,
                retry_reason=retry_reason if retry_num is not None else "",
            )
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope).encode()
        return self.deliver(body, content_type="application/json", extra_headers=headers)

    def deliver(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: str | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Delivery:
        """POST ``body`` to request_url, signed over ``timestamp`` (default now) unless
        ``signature`` is given; for negative tests (stale timestamp, forged signature).

        Always HTTP, whatever ``socket_mode`` says: it sends raw bytes, which Socket Mode has no
        place for."""
        url = self.request_url
        if not url:
            raise RuntimeError("request_url is not set: point it at the app's Request URL first")
        timestamp = timestamp if timestamp is not None else str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature if signature is not None else self.sign(body, timestamp),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra_headers or {}),
        }
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=DELIVERY_TIMEOUT) as response:
                delivery = _delivery(response.status, response.read(), response.headers.items())
        except urllib.error.HTTPError as exc:
            delivery = _delivery(exc.code, exc.read(), exc.headers.items())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"could not deliver to the app at {url}: {reason}") from exc
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def sign(self, body: bytes, timestamp: str) -> str:
        """Slack's v0 signature: HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the secret."""
        base = b"v0:" + timestamp.encode() + b":" + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    def _deliver_payload(self, payload: dict[str, Any]) -> Delivery:
        if self.socket_mode:
            answerable = payload.get("type") in _INTERACTIVE_WITH_RESPONSE
            return self._deliver_socket("interactive", payload, accepts_response_payload=answerable)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.deliver(body, content_type="application/x-www-form-urlencoded")

    def _deliver_socket(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """Send ``payload`` in a Socket Mode envelope and wait for the app's ack.

        The ack's payload (a slash command's answer, a response_action) becomes the body, so
        the Delivery reads like the HTTP answer would.
        """
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope.update({"retry_attempt": retry_attempt, "retry_reason": retry_reason or ""})
        timeout = DELIVERY_TIMEOUT
        with self._lock:
            self._link_changed.wait_for(
                lambda: self._stopping.is_set() or self._open_link_or_none(), timeout=timeout
            )
            link = None if self._stopping.is_set() else self._open_link_or_none()
            if link is None:
                raise DeliveryError(
                    f"no Socket Mode client connected within {timeout:g}s "
                    f"to take the {kind} envelope {envelope_id}"
                )
            pending = _PendingAck(link)
            self._acks[envelope_id] = pending
        try:
            try:
                link.send_text(json.dumps(envelope))
            except OSError as exc:
                raise DeliveryError(
                    f"could not send the {kind} envelope {envelope_id} over Socket Mode: {exc}"
                ) from exc
            with self._lock:
                self._link_changed.wait_for(
                    lambda: pending.acked or not link.open or self._stopping.is_set(),
                    timeout=timeout,
                )
                if not pending.acked:
                    if self._stopping.is_set():
                        reason = "the emulator stopped"
                    elif not link.open:
                        reason = "the Socket Mode connection closed"
                    else:
                        reason = f"no ack within {timeout:g}s"
                    raise DeliveryError(
                        f"the app did not acknowledge the {kind} envelope {envelope_id}: {reason}"
                    )
        finally:
            with self._lock:
                self._acks.pop(envelope_id, None)
        body = "" if pending.payload is None else json.dumps(pending.payload)
        delivery = Delivery(200, body, {})
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def _enqueue(self, events: _Echoes) -> None:
        for event in events:
            self._outbox.put(event)

    def _run_outbox(self) -> None:
        """Deliver bot-message echoes one by one; a failure is recorded, never raised."""
        while (event := self._outbox.get()) is not None:
            if self._stopping.is_set() or not (self.socket_mode or self.request_url):
                continue
            try:
                delivery = self.deliver_event(event)
            except Exception as exc:  # a background thread has nobody to raise to
                # A socket delivery that stop() cut short is no failure of the app.
                if not (self.socket_mode and self._stopping.is_set()):
                    with self._lock:
                        self._errors.append(f"echo of {event.get('ts')} failed: {exc}")
                continue
            if not 200 <= delivery.status < 300:
                with self._lock:
                    self._errors.append(f"echo of {event.get('ts')} answered {delivery.status}")

    # -- HTTP entry points (called by the request handler) ---------------------------------

    def _handle_api(
        self, method: str, query: str, body: bytes, content_type: str, authorization: str
    ) -> tuple[int, dict[str, str], dict[str, Any], _Echoes]:
        echoes: _Echoes = []
        headers: dict[str, str] = {}
        status = 200
        try:
            params, bad_json = _parse_params(query, body, content_type), False
        except ValueError:
            params, bad_json = {}, True
        with self._lock:
            delay = self._delays.get(method, 0.0)
            held = next(
                (h for h in self._holds if h.method == method and not h.arrived.is_set()), None
            )
            if held is not None:
                held.arrived.set()
        # Outside the lock: other calls go on meanwhile.
        if delay:
            time.sleep(delay)
        if held is not None:
            held.released.wait(DELIVERY_TIMEOUT)
        bearer = authorization[7:].strip() if authorization.startswith("Bearer ") else None
        token = bearer or params.get("token")
        params.pop("token", None)
        other = self._workspace_with_token(token)
        if other is not None:
            return other._handle_api(method, query, body, content_type, authorization)
        if method == "oauth.v2.access" and not bad_json:
            return self._oauth_v2_access(params, authorization)
        with self._lock:
            failure = self._take_failure(method)
            if bad_json:
                response: dict[str, Any] = {"ok": False, "error": "invalid_json"}
            elif failure is not None:
                status = failure.status
                if status == 429:
                    retry_after = 1 if failure.retry_after is None else failure.retry_after
                    headers["Retry-After"] = str(retry_after)
                    response = {"ok": False, "error": failure.error or "ratelimited"}
                else:
                    response = {"ok": False, "error": failure.error or "fatal_error"}
            elif method not in self._methods:
                response = {"ok": False, "error": "unknown_method", "req_method": method}
            elif not token:
                response = {"ok": False, "error": "not_authed"}
            elif self._revoked and token == self.bot_token:
                response = {"ok": False, "error": "token_revoked"}
            elif token != self._token_for(method):
                other_kind = token in (self.bot_token, self.app_token)
                response = {
                    "ok": False,
                    "error": "not_allowed_token_type" if other_kind else "invalid_auth",
                }
            else:
                self._pending_echoes = echoes
                try:
                    response = {"ok": True, **self._methods[method](params)}
                except _ApiError as exc:
                    response = {"ok": False, "error": exc.error}
                    echoes.clear()
                finally:
                    self._pending_echoes = []
            self._calls.append(ApiCall(method, params, token, status, copy.deepcopy(response)))
        return status, headers, response, echoes

    def _workspace_with_token(self, token: str | None) -> SlackEmulator | None:
        with self._lock:
            others = list(self._workspaces.values())
        return next((other for other in others if other.bot_token == token), None)

    def _authorize(self, query: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        """The installer allows the app on Slack's authorize page: back to the app's redirect
        URL with a code for the chosen workspace (``team``, default this one) and the state."""
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        with self._lock:
            team = params.get("team") or self.team_id
            workspace = self if team == self.team_id else self._workspaces.get(team)
            redirect = params.get("redirect_uri") or self.redirect_url
            if params.get("client_id") != self.client_id:
                return 400, {}, {"ok": False, "error": "invalid_client_id"}
            if workspace is None:
                return 400, {}, {"ok": False, "error": "invalid_team"}
            if not redirect or (self.redirect_url and redirect != self.redirect_url):
                return 400, {}, {"ok": False, "error": "bad_redirect_uri"}
            code = secrets.token_hex(12)
            self._codes[code] = (workspace, params.get("scope", ""))
        answer = {"code": code, "state": params.get("state", "")}
        return 302, {"Location": f"{redirect}?{urlencode(answer)}"}, {"ok": True}

    def _oauth_v2_access(
        self, params: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, str], dict[str, Any], _Echoes]:
        """Exchange an authorize code (once) for the bot token of its workspace; the app
        authenticates with its client id and secret (HTTP Basic, or in the body)."""
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:].strip()).decode()
            client_id, _, client_secret = decoded.partition(":")
        with self._lock:
            grant = self._codes.pop(str(params.get("code", "")), None)
            if (client_id, client_secret) != (self.client_id, self.client_secret):
                response: dict[str, Any] = {"ok": False, "error": "invalid_client_id"}
            elif grant is None:
                response = {"ok": False, "error": "invalid_code"}
            else:
                workspace, scope = grant
                response = {"ok": True, **workspace._installed(scope)}
            logged = {k: v for k, v in params.items() if k != "client_secret"}
            self._calls.append(ApiCall("oauth.v2.access", logged, None, 200, response))
        return 200, {}, response, []

    def _installed(self, scope: str) -> dict[str, Any]:
        """This workspace's side of an installation; a token revoked by an uninstall is
        replaced, as Slack issues a new one."""
        with self._lock:
            if self._revoked:
                self._revoked = False
                self.bot_token = f"{self.bot_token}-{secrets.token_hex(4)}"
            installer = next((u.id for u in self._users.values() if u.is_admin), self.bot_user_id)
            return {
                "access_token": self.bot_token,
                "token_type": "bot",
                "scope": scope,
                "bot_user_id": self.bot_user_id,
                "app_id": self.app_id,
                "team": {"id": self.team_id, "name": self.team_name},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": installer},
            }

    def _handle_response_url(
        self, response_id: str, body: bytes
    ) -> tuple[int, dict[str, Any], _Echoes]:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {"ok": False, "error": "invalid_payload"}, []
        with self._lock:
            target = self._response_targets.get(response_id)
            if target is None or not isinstance(payload, dict):
                return 404, {"ok": False, "error": "expired_url"}, []
            self._responses.append(copy.deepcopy(payload))
            echoes = self._apply_response(target, payload)
        return 200, {"ok": True}, echoes

    def _apply_response(self, target: _ResponseTarget, payload: dict[str, Any]) -> _Echoes:
        """Show a response_url (or slash command) answer as Slack does; returns echo events."""
        ch = self._channels[target.channel]
        source = None
        if target.message_ts:
            source = self._find_message(ch.id, target.message_ts, include_ephemeral=True)
        if payload.get("delete_original") and source is not None:
            self._messages[ch.id].remove(source)
            return []
        text, blocks = str(payload.get("text", "")), payload.get("blocks")
        if payload.get("replace_original") and source is not None:
            source.text, source.blocks = text, _with_block_ids(blocks)
            return []
        thread_ts = payload.get("thread_ts")
        if payload.get("response_type") == "in_channel":
            msg = self._add_message(
                ch,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
            )
            return self._echo(ch, msg)
        self._add_message(
            ch,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            ephemeral_to=target.user,
        )
        return []

    # -- Socket Mode (links run on their request handler's thread) --------------------------

    def _token_for(self, method: str) -> str:
        return self.app_token if method in _APP_TOKEN_METHODS else self.bot_token

    def _take_ticket(self, ticket: str) -> bool:
        """Spend a ticket from apps.connections.open; each opens one connection."""
        with self._lock:
            if ticket not in self._tickets:
                return False
            self._tickets.remove(ticket)
            return True

    def _open_link_or_none(self) -> _SocketLink | None:
        """The newest open link, which takes the next envelope (call with the lock held)."""
        return next((link for link in reversed(self._links) if link.open), None)

    def _serve_link(self, link: _SocketLink) -> None:
        """Greet the client, then read its frames until it or stop() closes the link."""
        with self._lock:
            if self._stopping.is_set():
                link.close(_CLOSE_GOING_AWAY)
                return
            self._links.append(link)
            connections = 1 + sum(1 for other in self._links if other.open)
        hello = {
            "type": "hello",
            "num_connections": connections,
            "debug_info": {
                "host": "applink-emulator",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            link.send_text(json.dumps(hello))
            with self._lock:
                link.open = True
                self._link_changed.notify_all()
            while (text := link.receive_text()) is not None:
                self._on_link_text(text)
        except _ProtocolError as exc:
            with self._lock:
                self._errors.append(f"Socket Mode client broke the protocol: {exc}")
            link.close(exc.code)
        except OSError:  # the client went away without a close frame: it will reconnect
            pass
        finally:
            with self._lock:
                link.open = False
                self._links.remove(link)
                self._link_changed.notify_all()

    def _on_link_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            with self._lock:
                self._errors.append(f"Socket Mode client sent something not an ack: {text[:80]}")
            return
        with self._lock:
            pending = self._acks.get(message["envelope_id"])
            if pending is None:  # a late ack for an envelope already given up on
                logger.info("ignoring an ack for unknown envelope %s", message["envelope_id"])
                return
            pending.acked = True
            pending.payload = message.get("payload")
            self._link_changed.notify_all()

    # -- Web API methods (run under the lock; raise _ApiError for Slack's errors) ----------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        self._require_bot_in(ch)
        msg = self._add_bot_message(ch, params)
        self._pending_echoes.extend(self._echo(ch, msg))
        return {"channel": ch.id, "ts": msg.ts, "message": self._message_json(msg)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        user = str(params.get("user", ""))
        if user not in self._users:
            raise _ApiError("user_not_found")
        self._require_bot_in(ch)
        if user not in ch.members:
            raise _ApiError("user_not_in_channel")
        msg = self._add_bot_message(ch, params, ephemeral_to=user)
        return {"message_ts": msg.ts}

    def _add_bot_message(
        self, ch: Channel, params: dict[str, Any], *, ephemeral_to: str | None = None
    ) -> Message:
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")
        return self._add_message(
            ch,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            text=str(params.get("text", "")),
            blocks=params.get("blocks"),
            thread_ts=params.get("thread_ts"),
            ephemeral_to=ephemeral_to,
        )

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        msg = self._message_param(ch, params, "ts")
        if msg.bot_id != self.bot_id:
            raise _ApiError("cant_update_message")
        if "text" in params:
            msg.text = str(params["text"])
        if "blocks" in params:
            msg.blocks = _with_block_ids(params["blocks"])
        msg.edited = True
        self._edited_ts[(ch.id, msg.ts)] = self._next_ts()
        return {
            "channel": ch.id,
            "ts": msg.ts,
            "text": msg.text,
            "message": self._message_json(msg),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        msg = self._message_param(ch, params, "ts")
        if msg.bot_id != self.bot_id:
            raise _ApiError("cant_delete_message")
        self._messages[ch.id].remove(msg)
        return {"channel": ch.id, "ts": msg.ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        msg = self._message_param(ch, params, "message_ts")
        link = f"https://{self.team_domain}.slack.com/archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        name = str(params.get("name", ""))
        if not _REACTION_NAME.match(name):
            raise _ApiError("invalid_name")
        msg = self._message_param(ch, params, "timestamp")
        users = msg.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise _ApiError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        msg = self._message_param(ch, params, "timestamp")
        name = str(params.get("name", ""))
        if self.bot_user_id not in msg.reactions.get(name, []):
            raise _ApiError("no_reaction")
        msg.reactions[name].remove(self.bot_user_id)
        if not msg.reactions[name]:
            del msg.reactions[name]
        return {}

    def _reactions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        msg = self._message_param(ch, params, "timestamp")
        return {"type": "message", "channel": ch.id, "message": self._message_json(msg)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        self._require_bot_in(ch)
        inclusive = _flag(params.get("inclusive"))
        latest = _ts_param(params.get("latest"), "invalid_ts_latest")
        oldest = _ts_param(params.get("oldest"), "invalid_ts_oldest")
        latest_inclusive = inclusive
        if params.get("cursor"):  # "next_ts:<ts>": the first message of the next page
            latest = _ts_param(_decode_cursor(params["cursor"], "next_ts:"), "invalid_cursor")
            latest_inclusive = True
        found = [
            m
            for m in reversed(self._messages[ch.id])
            if m.ephemeral_to is None
            and m.thread_ts in (None, m.ts)
            and (latest is None or _in_range(m.ts, latest, upper=True, inclusive=latest_inclusive))
            and (oldest is None or _in_range(m.ts, oldest, upper=False, inclusive=inclusive))
        ]
        limit = _limit(params.get("limit"), default=100, maximum=999)
        page, rest = found[:limit], found[limit:]
        return {
            "messages": [self._message_json(m) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": _b64(f"next_ts:{rest[0].ts}") if rest else ""},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        self._require_bot_in(ch)
        msg = self._find_message(ch.id, str(params.get("ts", "")))
        if msg is None:
            raise _ApiError("thread_not_found")
        root = msg.thread_ts or msg.ts
        thread = [
            m
            for m in self._messages[ch.id]
            if m.ephemeral_to is None and (m.ts == root or m.thread_ts == root)
        ]
        thread.sort(key=lambda m: (m.ts != root, Decimal(m.ts)))
        messages = [self._message_json(m) for m in thread]
        page = _paginate("messages", messages, params, default_limit=1000)
        return {**page, "has_more": bool(page["response_metadata"]["next_cursor"])}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_json(self._channel_param(params))}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        return _paginate("members", sorted(ch.members), params)

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(params.get("users", "")).split(",") if u and u != self.bot_user_id]
        if params.get("channel"):
            ch = self._channel_param(params)
        elif not users:
            raise _ApiError("users_list_not_supplied")
        elif any(user not in self._users for user in users):
            raise _ApiError("user_not_found")
        else:
            existing = (
                self._group_dm(users) if len(users) > 1 else self._find_channel(_im_id(users[0]))
            )
            if existing is not None:
                ch = existing
                return {"no_op": True, "already_open": True, "channel": self._im_ref(ch, params)}
            ch = self._open_im(users[0]) if len(users) == 1 else self._open_group_dm(users)
        return {"channel": self._im_ref(ch, params)}

    def _group_dm(self, users: list[str]) -> Channel | None:
        members = frozenset(users) | {self.bot_user_id}
        return next(
            (c for c in self._channels.values() if c.is_mpim and c.members == members), None
        )

    def _open_group_dm(self, users: list[str]) -> Channel:
        """A new group DM of these people and the app (Slack names it after them)."""
        names = "--".join(sorted(self._users[user].name for user in users))
        members = frozenset(users) | {self.bot_user_id}
        ch = Channel(self._new_id("G"), f"mpdm-{names}-1", True, members=members, is_mpim=True)
        return self.add_channel(ch)

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel_param(params)
        if ch.is_private or ch.is_im:
            raise _ApiError("method_not_supported_for_channel_type")
        already = self.bot_user_id in ch.members
        ch = replace(ch, members=ch.members | {self.bot_user_id})
        self._channels[ch.id] = ch
        result: dict[str, Any] = {"channel": self._channel_json(ch)}
        if already:
            result["warning"] = "already_in_channel"
            result["response_metadata"] = {"warnings": ["already_in_channel"]}
        return result

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user", "")))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": self._user_json(user)}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        members = [self._user_json(u) for u in self._users.values()]
        return {"cache_ts": int(time.time()), **_paginate("members", members, params)}

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise _ApiError("invalid_arguments")
        upload = UploadedFile(self._new_id("F"), filename, int(length))
        self._files[upload.id] = upload
        return {"file_id": upload.id, "upload_url": f"{self.base_url}/upload/{upload.id}"}

    def _receive_upload(self, file_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The upload URL's answer: 200 for the announced number of bytes, as Slack's."""
        with self._lock:
            upload = self._files.get(file_id)
            if upload is None or upload.data is not None:
                return 404, {"ok": False, "error": "file_not_found"}
            if len(body) != upload.length:
                return 400, {"ok": False, "error": "length_mismatch"}
            upload.data = body
        return 200, {"ok": True}

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            wanted = json.loads(str(params.get("files") or "[]"))
        except ValueError:
            raise _ApiError("invalid_arguments") from None
        uploads = [self._files.get(str(item.get("id"))) for item in wanted]
        if not uploads or any(u is None or u.data is None for u in uploads):
            raise _ApiError("file_not_found")
        ch = None
        if params.get("channel_id"):
            ch = self._require_channel(str(params["channel_id"]))
            self._require_bot_in(ch)
        shared = []
        for item, upload in zip(wanted, uploads, strict=True):
            assert upload is not None
            upload.title = str(item.get("title") or upload.filename)
            shared.append({"id": upload.id, "name": upload.filename, "title": upload.title})
        if ch is not None:
            msg = self._add_message(
                ch,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                text=str(params.get("initial_comment") or ""),
                blocks=None,
                thread_ts=params.get("thread_ts"),
            )
            msg.files = [upload.id for upload in uploads if upload is not None]
            for upload in uploads:
                assert upload is not None
                upload.channel, upload.thread_ts = ch.id, params.get("thread_ts")
        return {"files": shared}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        if user not in self._users:
            raise _ApiError("user_not_found")
        view = _view_param(params)
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments")
        stored = self._store_view(view, view_id=self._home_views.get(user))
        self._home_views[user] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = str(params.get("trigger_id", ""))
        if trigger not in self._triggers:
            raise _ApiError("invalid_trigger_id")
        if not self._triggers[trigger]:
            raise _ApiError("exchanged_trigger_id")
        self._triggers[trigger] = ""
        return {"view": copy.deepcopy(self._store_view(_view_param(params)))}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (
                    i
                    for i, v in self._views.items()
                    if v.get("external_id") == params["external_id"]
                ),
                None,
            )
        if not view_id or view_id not in self._views:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != self._views[view_id]["hash"]:
            raise _ApiError("hash_conflict")
        return {"view": copy.deepcopy(self._store_view(_view_param(params), view_id=view_id))}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        query = urlencode({"ticket": ticket, "app_id": self.app_id})
        return {"url": f"ws://{self.host}:{self.port}/link/?{query}"}

    def _dnd_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        if user not in self._users:
            raise _ApiError("user_not_found")
        snoozed = user in self._snoozed
        return {
            "dnd_enabled": snoozed,
            "next_dnd_start_ts": 1,
            "next_dnd_end_ts": 1,
            "snooze_enabled": snoozed,
        }

    def _team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {"image_default": True},
            }
        }

    # -- state helpers (call with the lock held) -------------------------------------------

    def _next_ts(self) -> str:
        """A unique, increasing Slack ts ("1764345600.000100") near the current time."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:08d}"

    def _new_trigger_id(self, user: str) -> str:
        self._counter += 1
        trigger = f"{self._counter}.{int(time.time())}.{secrets.token_hex(16)}"
        self._triggers[trigger] = user
        return trigger

    def _new_response_url(self, target: _ResponseTarget) -> str:
        response_id = f"{self._new_id('R')}-{secrets.token_hex(8)}"
        self._response_targets[response_id] = target
        return f"{self.base_url}/response/{response_id}"

    def _find_channel(self, ref: str) -> Channel | None:
        if ref in self._channels:
            return self._channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self._channels.values() if not c.is_im and c.name == name), None)

    def _require_channel(self, ref: str) -> Channel:
        found = self._find_channel(ref)
        if found is None:
            raise KeyError(f"no channel {ref!r} in the emulated workspace")
        return found

    def _require_member(self, ch: Channel, user: str) -> None:
        self.user(user)
        if user not in ch.members:
            raise ValueError(f"{user} is not a member of {ch.id}; call join() first")

    def _require_message(self, channel: str, ts: str) -> Message:
        found = self._find_message(channel, ts, include_ephemeral=True)
        if found is None:
            raise KeyError(f"no message {ts} in {channel}")
        return found

    def _find_message(
        self, channel: str, ts: str, *, include_ephemeral: bool = False
    ) -> Message | None:
        for msg in self._messages.get(channel, []):
            if msg.ts == ts and (include_ephemeral or msg.ephemeral_to is None):
                return msg
        return None

    def _channel_param(self, params: dict[str, Any]) -> Channel:
        ref = str(params.get("channel", ""))
        found = self._find_channel(ref) if ref else None
        if found is None and ref in self._users:  # posting to a user id means their DM with the app
            found = self._open_im(ref)
        if found is None:
            raise _ApiError("channel_not_found")
        return found

    def _message_param(self, ch: Channel, params: dict[str, Any], key: str) -> Message:
        msg = self._find_message(ch.id, str(params.get(key, "")))
        if msg is None:
            raise _ApiError("message_not_found")
        return msg

    def _require_bot_in(self, ch: Channel) -> None:
        if not ch.is_im and self.bot_user_id not in ch.members:
            raise _ApiError("not_in_channel")

    def _take_failure(self, method: str) -> _Failure | None:
        pending = self._failures.get(method)
        if not pending:
            return None
        failure = pending[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            pending.pop(0)
        return failure

    def _open_im(self, user: str) -> Channel:
        """The app's DM with ``user``; the same id every time, like Slack."""
        im_id = _im_id(user)
        if im_id not in self._channels:
            members = frozenset({user, self.bot_user_id})
            self.add_channel(Channel(im_id, user, is_im=True, members=members))
        return self._channels[im_id]

    def _add_message(
        self,
        ch: Channel,
        *,
        user: str | None,
        text: str,
        bot_id: str | None = None,
        blocks: list[Any] | None = None,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
    ) -> Message:
        if thread_ts:
            parent = self._find_message(ch.id, thread_ts)
            if parent is not None:
                thread_ts = parent.thread_ts or parent.ts  # a reply to a reply joins the thread
                root = self._find_message(ch.id, thread_ts)
                if root is not None and ephemeral_to is None:
                    root.thread_ts = root.ts
        msg = Message(
            channel=ch.id,
            ts=self._next_ts(),
            user=user,
            text=text,
            bot_id=bot_id,
            thread_ts=thread_ts or None,
            blocks=_with_block_ids(blocks),
            ephemeral_to=ephemeral_to,
        )
        self._messages[ch.id].append(msg)
        return msg

    def _echo(self, ch: Channel, msg: Message) -> _Echoes:
        if self.echo_bot_messages and self.bot_user_id in ch.members and not ch.is_mpim:
            return [self._message_event(ch, msg)]
        return []

    def _store_view(self, view: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored = {
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "root_view_id": view_id,
            "previous_view_id": None,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        }
        stored["blocks"] = _with_block_ids(stored.get("blocks")) or []
        self._views[view_id] = stored
        return stored

    # -- Slack JSON shapes -----------------------------------------------------------------

    def _message_json(self, msg: Message) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "text": msg.text, "ts": msg.ts}
        if msg.user:
            data["user"] = msg.user
        if msg.bot_id:
            data["bot_id"] = msg.bot_id
            data["app_id"] = self.app_id
            data["bot_profile"] = {
                "id": msg.bot_id,
                "app_id": self.app_id,
                "name": self._users[self.bot_user_id].real_name,
                "deleted": False,
                "team_id": self.team_id,
            }
        if msg.blocks is not None:
            data["blocks"] = copy.deepcopy(msg.blocks)
        if msg.files:
            data["files"] = [
                {"id": f, "name": self._files[f].filename, "title": self._files[f].title}
                for f in msg.files
            ]
        data["team"] = self.team_id
        if msg.thread_ts:
            data["thread_ts"] = msg.thread_ts
            if msg.thread_ts == msg.ts:
                replies = [
                    m
                    for m in self._messages[msg.channel]
                    if m.thread_ts == msg.ts and m.ts != msg.ts and m.ephemeral_to is None
                ]
                reply_users = list(dict.fromkeys(m.user for m in replies if m.user))
                data["reply_count"] = len(replies)
                data["reply_users_count"] = len(reply_users)
                data["reply_users"] = reply_users
                data["latest_reply"] = replies[-1].ts if replies else msg.ts
            else:
                parent = self._find_message(msg.channel, msg.thread_ts)
                data["parent_user_id"] = parent.user if parent else None
        if msg.edited:
            edited_ts = self._edited_ts.get((msg.channel, msg.ts), msg.ts)
            data["edited"] = {"user": msg.user, "ts": edited_ts}
        if msg.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in msg.reactions.items()
            ]
        return data

    def _message_event(self, ch: Channel, msg: Message) -> dict[str, Any]:
        event = self._message_json(msg)
        for key in ("reply_count", "reply_users_count", "reply_users", "latest_reply"):
            event.pop(key, None)
        event.update({"channel": ch.id, "event_ts": msg.ts, "channel_type": _channel_type(ch)})
        return event

    def _reaction_event(
        self, kind: str, user: str, channel: str, msg: Message, name: str
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": msg.ts},
            "item_user": msg.user,
            "event_ts": self._next_ts(),
        }

    def _channel_json(self, ch: Channel) -> dict[str, Any]:
        if ch.is_im:
            other = next((m for m in sorted(ch.members) if m != self.bot_user_id), ch.name)
            return {
                "id": ch.id,
                "created": self._created,
                "is_im": True,
                "is_org_shared": False,
                "user": other,
                "is_user_deleted": False,
                "priority": 0,
            }
        blank = {"value": "", "creator": "", "last_set": 0}
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": not ch.is_mpim,
            "is_group": False,
            "is_im": False,
            "is_mpim": ch.is_mpim,
            "is_private": ch.is_private,
            "created": self._created,
            "creator": min(ch.members, default=""),
            "is_archived": False,
            "is_general": ch.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "is_member": self.bot_user_id in ch.members,
            "num_members": len(ch.members),
            "topic": dict(blank),
            "purpose": dict(blank),
        }

    def _im_ref(self, ch: Channel, params: dict[str, Any]) -> dict[str, Any]:
        return self._channel_json(ch) if _flag(params.get("return_im")) else {"id": ch.id}

    def _user_json(self, user: User) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": self.team_id,
        }
        if user.id == self.bot_user_id:
            profile.update({"bot_id": self.bot_id, "api_app_id": self.app_id})
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz,
            "tz_offset": _tz_offset(user.tz),
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": self._created,
            "profile": profile,
        }

    def _user_ref(self, user_id: str) -> dict[str, Any]:
        name = self.user(user_id).name
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team_ref(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _channel_ref(self, ch: Channel) -> dict[str, Any]:
        return {"id": ch.id, "name": "directmessage" if ch.is_im else ch.name}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: SlackEmulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator


class _Handler(BaseHTTPRequestHandler):
    """Routes /api/<method> to the Web API, /upload/<id> to file uploads, /response/<id> to
    response_url handling, /oauth/v2/authorize to the installer's consent and a
    WebSocket upgrade of /link/ to Socket Mode."""

    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's Web API: clients reuse connections
    disable_nagle_algorithm = True  # headers and body leave as two writes: send both at once

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/link", "/link/") and "websocket" in _tokens(self.headers["Upgrade"]):
            self._open_link(url.query)
        elif url.path == "/oauth/v2/authorize":
            status, headers, payload = self.server.emulator._authorize(url.query)
            self._answer(status, payload, headers)
        else:
            self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        emulator = self.server.emulator
        url = urlsplit(self.path)
        echoes: _Echoes = []
        headers: dict[str, str] = {}
        try:
            if url.path.startswith("/api/"):
                status, headers, payload, echoes = emulator._handle_api(
                    url.path.removeprefix("/api/"),
                    url.query,
                    body,
                    self.headers.get("Content-Type", ""),
                    self.headers.get("Authorization", ""),
                )
            elif url.path.startswith("/upload/") and self.command == "POST":
                status, payload = emulator._receive_upload(url.path.removeprefix("/upload/"), body)
            elif url.path.startswith("/response/") and self.command == "POST":
                status, payload, echoes = emulator._handle_response_url(
                    url.path.removeprefix("/response/"), body
                )
            else:
                status, payload = 404, {"ok": False, "error": "not_found"}
        except Exception as exc:  # answer like Slack's 500 and keep serving
            logger.exception("Slack emulator failed on %s", self.path)
            with emulator._lock:
                emulator._errors.append(f"{self.path} failed: {exc!r}")
            status, payload = 500, {"ok": False, "error": "fatal_error"}
        self._answer(status, payload, headers)
        emulator._enqueue(echoes)  # after answering, so the Web API call returns first

    def _answer(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _open_link(self, query: str) -> None:
        """The RFC 6455 opening handshake for a ticket from apps.connections.open, then the link
        lives on this thread until either side closes it."""
        self.close_connection = True
        key = self.headers.get("Sec-WebSocket-Key", "")
        if (
            self.headers.get("Sec-WebSocket-Version") != "13"
            or "upgrade" not in _tokens(self.headers["Connection"])
            or not _valid_websocket_key(key)
        ):
            self._answer(400, {"ok": False, "error": "invalid_websocket_handshake"})
            return
        ticket = parse_qs(query).get("ticket", [""])[-1]
        if not self.server.emulator._take_ticket(ticket):
            # Slack does not document this answer; a refused upgrade is what clients can handle.
            self._answer(401, {"ok": False, "error": "invalid_ticket"})
            return
        threading.current_thread().name = "slack-emulator-socket"
        self.protocol_version = "HTTP/1.1"  # a 101 must not claim HTTP/1.0
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", _websocket_accept(key))
        self.end_headers()
        self.server.emulator._serve_link(_SocketLink(self.connection, self.rfile))

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; calls are recorded on the emulator instead."""


_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONTINUATION, _OP_TEXT, _OP_BINARY = 0x0, 0x1, 0x2
_OP_CLOSE, _OP_PING, _OP_PONG = 0x8, 0x9, 0xA
_CLOSE_NORMAL, _CLOSE_GOING_AWAY, _CLOSE_TOO_BIG = 1000, 1001, 1009
_MAX_MESSAGE = 16 * 1024 * 1024


class _SocketLink:
    """The server side of one RFC 6455 WebSocket, on a request handler's socket.

    Only the handler's thread reads; any thread may send (envelopes, pongs, close frames).
    """

    def __init__(self, sock: socket.socket, rfile: BufferedIOBase) -> None:
        self.sock = sock
        self.rfile = rfile
        self.thread = threading.current_thread()
        self.open = False
        """Hello sent and the link not yet ended; changed under the emulator's lock."""
        self._send_lock = threading.Lock()
        self._close_sent = False

    def send_text(self, text: str) -> None:
        self._send(_OP_TEXT, text.encode())

    def close(self, code: int = _CLOSE_NORMAL) -> None:
        """Send a close frame once; the reader ends when the client answers it."""
        try:
            self._send(_OP_CLOSE, code.to_bytes(2, "big"))
        except OSError:
            self.abort()

    def abort(self) -> None:
        """Drop the TCP connection, which ends a read blocked on it."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def receive_text(self) -> str | None:
        """The next text message, answering pings and close frames; None once closed."""
        while True:
            message = self._receive_message()
            if message is None:
                return None
            opcode, data = message
            if opcode == _OP_TEXT:
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    raise _ProtocolError("a text message that is not UTF-8", 1007) from None
            # Socket Mode has no use for binary messages; ignore them as Slack does.

    def _receive_message(self) -> tuple[int, bytes] | None:
        opcode: int | None = None
        parts: list[bytes] = []
        size = 0
        while True:
            fin, frame_opcode, payload = self._read_frame()
            if frame_opcode == _OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else _CLOSE_NORMAL
                self.close(code)  # echo the client's code, as RFC 6455 asks
                return None
            if frame_opcode == _OP_PING:
                self._send(_OP_PONG, payload)
                continue
            if frame_opcode == _OP_PONG:
                continue
            if frame_opcode == _OP_CONTINUATION:
                if opcode is None:
                    raise _ProtocolError("a continuation frame with nothing to continue")
            elif frame_opcode in (_OP_TEXT, _OP_BINARY):
                if opcode is not None:
                    raise _ProtocolError("a new message inside a fragmented one")
                opcode = frame_opcode
            else:
                raise _ProtocolError(f"unknown opcode {frame_opcode:#x}")
            size += len(payload)
            if size > _MAX_MESSAGE:
                raise _ProtocolError("a message over 16 MiB", _CLOSE_TOO_BIG)
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read_exactly(2)
        fin, opcode = bool(first & 0x80), first & 0x0F
        if first & 0x70:
            raise _ProtocolError("reserved bits set without a negotiated extension")
        if not second & 0x80:
            raise _ProtocolError("an unmasked client frame")
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read_exactly(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read_exactly(8), "big")
        if opcode >= _OP_CLOSE and (length > 125 or not fin):
            raise _ProtocolError("a control frame that is fragmented or over 125 bytes")
        if length > _MAX_MESSAGE:
            raise _ProtocolError("a frame over 16 MiB", _CLOSE_TOO_BIG)
        mask = self._read_exactly(4)
        return fin, opcode, _unmask(self._read_exactly(length), mask)

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.rfile.read(size - len(data))
            if not chunk:
                raise ConnectionResetError("the Socket Mode client closed the connection")
            data += chunk
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, size])
        elif size < 1 << 16:
            header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
        with self._send_lock:
            if self._close_sent:  # nothing may follow a close frame
                if opcode == _OP_CLOSE:
                    return
                raise ConnectionError("the Socket Mode link is closing")
            self._close_sent = opcode == _OP_CLOSE
            self.sock.sendall(header + payload)


# -- pure helpers ----------------------------------------------------------------------------


def _tokens(header: str | None) -> set[str]:
    """The comma-separated, case-insensitive tokens of a header such as Connection."""
    return {part.strip().lower() for part in (header or "").split(",")}


def _valid_websocket_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


def _websocket_accept(key: str) -> str:
    digest = hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    size = len(data)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query, form and JSON params; decode JSON-encoded form fields (blocks, view...)."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if body:
        if content_type.startswith("application/json"):
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("a JSON body must be an object")
            params.update(data)
        else:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str) and params[key].strip()[:1] in ("[", "{"):
            params[key] = json.loads(params[key])
    return params


def _view_param(params: dict[str, Any]) -> dict[str, Any]:
    view = params.get("view")
    if not isinstance(view, dict):
        raise _ApiError("invalid_arguments")
    return view


def _with_block_ids(blocks: Any) -> list[Any] | None:
    """Copy blocks, giving each a block_id as Slack does when the sender left it out."""
    if not isinstance(blocks, list):
        return None
    result = copy.deepcopy(blocks)
    for block in result:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)
    return result


def _rich_text_block(text: str) -> dict[str, Any]:
    """The rich_text block Slack attaches to a user's message, with mentions as user elements."""
    elements: list[dict[str, Any]] = []
    position = 0
    for match in _MENTION.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    section = {"type": "rich_text_section", "elements": elements}
    return {"type": "rich_text", "block_id": secrets.token_urlsafe(4), "elements": [section]}


def _find_element(blocks: list[Any], action_id: str) -> tuple[str, dict[str, Any]] | None:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None


def _action_ids(blocks: list[Any]) -> list[str]:
    ids = []
    for block in blocks:
        if isinstance(block, dict):
            candidates = [*block.get("elements", []), block.get("accessory")]
            ids += [e["action_id"] for e in candidates if isinstance(e, dict) and "action_id" in e]
    return ids


def _channel_type(ch: Channel) -> str:
    if ch.is_im:
        return "im"
    if ch.is_mpim:
        return "mpim"
    return "group" if ch.is_private else "channel"


def _im_id(user: str) -> str:
    return "D" + (user[1:] if user[:1] in ("U", "W") else user)


def _delivery(status: int, body: bytes, headers: Any) -> Delivery:
    text = body.decode("utf-8", errors="replace")
    return Delivery(status, text, {name.lower(): value for name, value in headers})


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _limit(value: Any, *, default: int, maximum: int) -> int:
    try:
        limit = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise _ApiError("invalid_limit") from None
    return min(limit, maximum) if limit > 0 else default


def _ts_param(value: Any, error: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _ApiError(error) from None


def _in_range(ts: str, bound: Decimal, *, upper: bool, inclusive: bool) -> bool:
    value = Decimal(ts)
    if value == bound:
        return inclusive
    return value < bound if upper else value > bound


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_cursor(cursor: Any, prefix: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(str(cursor).encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise _ApiError("invalid_cursor") from None
    if not decoded.startswith(prefix):
        raise _ApiError("invalid_cursor")
    return decoded.removeprefix(prefix)


def _paginate(
    key: str, items: list[Any], params: dict[str, Any], *, default_limit: int = 100
) -> dict[str, Any]:
    """One page of ``items`` for an offset cursor, in Slack's response_metadata shape."""
    offset_text = _decode_cursor(params["cursor"], "offset:") if params.get("cursor") else "0"
    if not offset_text.isdigit():
        raise _ApiError("invalid_cursor")
    offset = int(offset_text)
    limit = _limit(params.get("limit"), default=default_limit, maximum=1000)
    more = offset + limit < len(items)
    return {
        key: items[offset : offset + limit],
        "response_metadata": {"next_cursor": _b64(f"offset:{offset + limit}") if more else ""},
    }


def _tz_offset(tz: str) -> int:
    """Seconds east of UTC right now, as users.info reports it; 0 for an unknown zone."""
    try:
        offset = datetime.now(UTC).astimezone(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def _short(params: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in params.items() if k not in ("blocks", "view"))
    return text if len(text) <= 80 else text[:77] + "..."


def _first_within(
    seen: Callable[[], list[Found]],
    predicate: Callable[[Found], bool] | None,
    timeout: float,
    failure: Callable[[], str],
) -> Found:
    """The first of what `seen` returns that matches `predicate`, polling until `timeout`;
    AssertionError saying `failure()` after it."""
    deadline = time.monotonic() + timeout
    while True:
        for item in seen():
            if predicate is None or predicate(item):
                return item
        if time.monotonic() >= deadline:
            raise AssertionError(failure())
        time.sleep(0.01)
