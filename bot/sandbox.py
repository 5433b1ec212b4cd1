"""`learnloop sandbox`: LearnLoop in a browser, without a Slack workspace.

The local Slack emulator plays Slack, the real app runs on its own server wired to it, and a web
page (``bot/sandbox_page/``) lets a person act as any seeded user. The page's JSON API only calls
the emulator's user actions, which deliver signed requests to the app's Request URL as Slack
does; the app answers through the Web API, so no handler knows it is in a sandbox.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import signal
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.blocks import SAVE_TIL_SHORTCUT
from bot.emulator import TEAM_NAME, Channel, Delivery, DeliveryError, Message, SlackEmulator
from bot.serve import BackgroundServer, build_web_app
from bot.settings import DEFAULT_PORT, Settings

PAGE_DIR = Path(__file__).with_name("sandbox_page")
SANDBOX_DATABASE_URL = "sqlite:///./learnloop-sandbox.db"
CONNECT_A_WORKSPACE = (
    "To connect a real workspace instead: create a Slack app from manifest.yml, put its "
    "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in .env, then run `make run` (README: Quick start)."
)
MESSAGE_SHORTCUTS = {SAVE_TIL_SHORTCUT: "Save as TIL"}
"""Message shortcuts offered in a message's menu: callback_id -> name, as in manifest.yml."""
ESCAPED_COMMANDS = frozenset({"/ask", "/expert", "/reflect", "/summary", "/learnloop"})
"""Commands with ``should_escape: true`` in manifest.yml: Slack sends their mentions as ids."""

_USER_NAME = re.compile(r"(?<![\w<|])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL_NAME = re.compile(r"(?<![\w<|&])#([a-z0-9][a-z0-9_-]*)", re.IGNORECASE)
_COMMAND = re.compile(r"^(/[a-z0-9_-]+)(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
Handler = Callable[[Request], Awaitable[Response]]


def sandbox_settings(emulator: SlackEmulator, environ: Mapping[str, str]) -> Settings:
    """The app's settings from the environment, with Slack replaced by the emulator.

    Every LEARNLOOP_* knob and DATABASE_URL apply as in `serve`; the database defaults to its
    own SQLite file so a sandbox never writes into a real workspace's data.
    """
    # PORT is the page's; the app listens on a free port of its own.
    env = {k: v for k, v in environ.items() if not k.startswith("SLACK_") and k != "PORT"}
    env |= {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": emulator.signing_secret,
        "SLACK_API_URL": emulator.api_url,
    }
    if not env.get("DATABASE_URL", "").strip():
        env["DATABASE_URL"] = SANDBOX_DATABASE_URL
    return Settings.from_env(env)


class SandboxError(RuntimeError):
    """The sandbox could not start; the message says why."""


def run_sandbox(environ: Mapping[str, str], *, port: int = DEFAULT_PORT) -> None:
    """Serve the sandbox until SIGINT or SIGTERM; prints its address first.

    Raises SandboxError when the page cannot have its port.
    """
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, request_stop)
    # Stopped in reverse: the page first, so nobody acts on an app that is going away.
    with SlackEmulator(signing_secret=secrets.token_hex(16)) as emulator:
        settings = sandbox_settings(emulator, environ)
        with BackgroundServer(build_web_app(settings, scheduled=True)) as app:
            emulator.request_url = app.request_url
            try:
                page = BackgroundServer(page_app(emulator), port=port).start()
            except RuntimeError:
                raise SandboxError(f"port {port} of 127.0.0.1 is taken: try --port 0") from None
            try:
                print(f"LearnLoop sandbox: open {page.url}/ (Ctrl+C stops it)", flush=True)
                print(f"Its database: {settings.database_url}", flush=True)
                print(CONNECT_A_WORKSPACE, flush=True)
                stop.wait()
            finally:
                page.stop()


# -- the page's JSON API ----------------------------------------------------------------------


class ApiError(Exception):
    """Answered as ``{"ok": false, "error": ...}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SandboxApi:
    """What the page shows and does, for one acting user at a time; every action is a user
    action of the emulator, so it reaches the app as Slack would send it."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator

    def state(self, viewer: str, open_id: str, since: str) -> dict[str, Any]:
        """The workspace as ``viewer`` sees it, with the open conversation or App Home.

        An empty ``viewer`` is the first person, an empty ``open_id`` the first channel
        (#general). ``version`` changes whenever anything shown changes; asked ``since`` the
        current one, the answer is only the version, so polling an unchanged page is cheap.
        """
        people = [u for u in self.emulator.users() if not (u.is_bot or u.deleted)]
        viewer = viewer or people[0].id
        self._person(viewer)
        dm = self.emulator.open_im(viewer)
        conversations = [c for c in self.emulator.channels() if self._visible(c, viewer)]
        open_id = open_id or next(c.id for c in conversations if not c.is_im)
        state: dict[str, Any] = {
            "me": viewer,
            "team": TEAM_NAME,
            "bot": {"id": self.emulator.bot_user_id, "name": "LearnLoop"},
            "users": [
                {"id": u.id, "name": u.name, "real_name": u.real_name, "is_bot": u.is_bot}
                for u in self.emulator.users()
                if not u.deleted
            ],
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_private": c.is_private,
                    "is_member": viewer in c.members,
                }
                for c in conversations
                if not c.is_im
            ],
            "dm": dm.id,
            "shortcuts": [{"callback_id": k, "name": v} for k, v in MESSAGE_SHORTCUTS.items()],
            "latest": {c.id: self._latest(c.id, viewer) for c in conversations},
            "open": open_id,
        }
        if open_id == "home":
            state["home"] = self.emulator.home_view(viewer)
        else:
            state["messages"] = [
                _message_json(m, viewer, self._files())
                for m in self._thread_of(self._conversation(open_id, viewer).id, viewer)
            ]
        version = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:20]
        return {"version": version} if since == version else {"version": version, **state}

    def send(self, viewer: str, channel: str, text: str, thread_ts: str | None) -> str | None:
        """A message, a threaded reply, or a slash command (``/til ...``) typed in a composer."""
        self._person(viewer)
        ch = self._conversation(channel, viewer)
        text = text.strip()
        if not text:
            raise ApiError("Type a message first.")
        command = _COMMAND.match(text)
        if command:
            name, argument = command.group(1).lower(), command.group(2) or ""
            if name in ESCAPED_COMMANDS:
                argument = self.markup(argument, labelled=True)
            return _notice(
                self._deliver(self.emulator.slash_command, viewer, ch.id, name, argument)
            )
        if viewer not in ch.members:
            raise ApiError(f"Join #{ch.name} to post in it.")
        self._deliver(
            self.emulator.post_message,
            viewer,
            ch.id,
            self.markup(html.escape(text, quote=False), labelled=False),
            thread_ts=thread_ts or None,
        )
        return None

    def click(self, viewer: str, channel: str, ts: str, action: Mapping[str, Any]) -> str | None:
        self._person(viewer)
        ch = self._conversation(channel, viewer)
        delivery = self._deliver(
            self.emulator.click_button,
            viewer,
            ch.id,
            ts,
            str(action.get("action_id", "")),
            value=action.get("value"),
            block_id=action.get("block_id"),
        )
        return _notice(delivery)

    def react(self, viewer: str, channel: str, ts: str, name: str, add: bool) -> str | None:
        self._person(viewer)
        ch = self._conversation(channel, viewer)
        react = self.emulator.add_reaction if add else self.emulator.remove_reaction
        return _notice(self._deliver(react, viewer, ch.id, ts, name.strip(":")))

    def shortcut(self, viewer: str, channel: str, ts: str, callback_id: str) -> str | None:
        self._person(viewer)
        if callback_id not in MESSAGE_SHORTCUTS:
            raise ApiError(f"No message shortcut {callback_id!r}.")
        ch = self._conversation(channel, viewer)
        return _notice(
            self._deliver(self.emulator.message_shortcut, viewer, ch.id, ts, callback_id)
        )

    def open_home(self, viewer: str) -> str | None:
        self._person(viewer)
        return _notice(self._deliver(self.emulator.open_app_home, viewer))

    def join(self, viewer: str, channel: str) -> None:
        self._person(viewer)
        ch = self._conversation(channel, viewer)
        if ch.is_im or ch.is_private:
            raise ApiError("Only public channels can be joined.")
        self.emulator.join(ch.id, viewer)

    def markup(self, text: str, *, labelled: bool) -> str:
        """Slack's markup for what a person typed: @name and #channel as ids.

        Messages carry ``<@U…>``; commands with should_escape carry ``<@U…|name>``; a #word
        that is not a channel stays a word (a tag).
        """
        users = {u.name: u.id for u in self.emulator.users()}
        channels = {c.name: c.id for c in self.emulator.channels() if not c.is_im}

        def user(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in users:
                return match.group(0)
            return f"<@{users[name]}|{name}>" if labelled else f"<@{users[name]}>"

        def channel(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"<#{channels[name]}|{name}>" if name in channels else match.group(0)

        return _CHANNEL_NAME.sub(channel, _USER_NAME.sub(user, text))

    def file(self, file_id: str) -> bytes:
        for shared in self.emulator.shared_files():
            if shared.id == file_id and shared.data is not None:
                return shared.data
        raise ApiError(f"No file {file_id!r}.", 404)

    def _deliver(self, action: Callable[..., Delivery | Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except DeliveryError as error:
            raise ApiError(f"The app could not be reached: {error}", 502) from error
        except (LookupError, ValueError) as error:
            raise ApiError(str(error).strip("'\"")) from error

    def _person(self, user_id: str) -> None:
        try:
            user = self.emulator.user(user_id)
        except KeyError:
            raise ApiError(f"No user {user_id!r} in this workspace.") from None
        if user.is_bot or user.deleted:
            raise ApiError(f"You cannot act as {user.name}.")

    def _conversation(self, channel_id: str, viewer: str) -> Channel:
        try:
            ch = self.emulator.channel(channel_id)
        except KeyError:
            raise ApiError(f"No conversation {channel_id!r}.", 404) from None
        if not self._visible(ch, viewer):
            raise ApiError(f"{channel_id} is not visible to {viewer}.", 403)
        return ch

    def _visible(self, ch: Channel, viewer: str) -> bool:
        if ch.is_im or ch.is_private:
            return viewer in ch.members
        return True

    def _thread_of(self, channel_id: str, viewer: str) -> list[Message]:
        """The conversation's messages ``viewer`` may see: everyone's, and their ephemerals."""
        return [
            m
            for m in self.emulator.messages(channel_id, include_ephemeral=True)
            if m.ephemeral_to in (None, viewer)
        ]

    def _latest(self, channel_id: str, viewer: str) -> str | None:
        messages = self._thread_of(channel_id, viewer)
        return max((m.ts for m in messages), key=float, default=None)

    def _files(self) -> dict[str, str]:
        return {f.id: f.title or f.filename for f in self.emulator.shared_files()}


def _message_json(msg: Message, viewer: str, files: Mapping[str, str]) -> dict[str, Any]:
    bot = msg.bot_id is not None
    return {
        "ts": msg.ts,
        "user": msg.user,
        "bot": bot,
        "text": msg.text,
        # A person's rich_text block only repeats their text, which the page renders itself.
        "blocks": msg.blocks if bot else None,
        "thread_ts": msg.thread_ts,
        "edited": msg.edited,
        "ephemeral": msg.ephemeral_to is not None,
        "reactions": [
            {"name": name, "count": len(users), "mine": viewer in users}
            for name, users in msg.reactions.items()
        ],
        "files": [
            {"id": f, "title": files.get(f, f), "url": f"/api/files/{f}"}
            for f in msg.files
            if f in files
        ],
    }


def _notice(delivery: Delivery | None) -> str | None:
    """What Slack would tell the person when the app's answer was not a success."""
    if delivery is None or 200 <= delivery.status < 300:
        return None
    if delivery.status == 404:
        return "LearnLoop does not handle that (HTTP 404): check the command's name."
    return f"LearnLoop answered HTTP {delivery.status}; see the sandbox's log."


def page_app(emulator: SlackEmulator) -> Starlette:
    """The page and its JSON API. Writes need a JSON body (so a foreign page's form cannot
    post one) and every request must name 127.0.0.1 or localhost as its host."""
    api = SandboxApi(emulator)

    def endpoint(action: Callable[[dict[str, Any]], Any]) -> Handler:
        async def handle(request: Request) -> Response:
            if request.method == "POST":
                if not request.headers.get("content-type", "").startswith("application/json"):
                    return JSONResponse({"ok": False, "error": "Send JSON."}, status_code=415)
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    return JSONResponse({"ok": False, "error": "Send a JSON object."}, 400)
            else:
                body = dict(request.query_params) | dict(request.path_params)
            try:
                result = await run_in_threadpool(action, body)
            except ApiError as error:
                return JSONResponse({"ok": False, "error": str(error)}, status_code=error.status)
            if isinstance(result, Response):
                return result
            if isinstance(result, dict):
                return JSONResponse(result)
            return JSONResponse({"ok": True, "notice": result})

        return handle

    def text(body: Mapping[str, Any], key: str) -> str:
        value = body.get(key)
        if not isinstance(value, str):
            raise ApiError(f"{key} is missing.")
        return value

    routes = [
        Route("/", lambda _request: FileResponse(PAGE_DIR / "index.html")),
        Mount("/static", StaticFiles(directory=PAGE_DIR), name="static"),
        Route(
            "/api/state",
            endpoint(lambda b: api.state(b.get("as", ""), b.get("open", ""), b.get("since", ""))),
        ),
        Route(
            "/api/files/{file_id}",
            endpoint(lambda b: Response(api.file(text(b, "file_id")), media_type="image/png")),
        ),
        Route(
            "/api/send",
            endpoint(
                lambda b: api.send(
                    text(b, "as"), text(b, "channel"), text(b, "text"), b.get("thread_ts")
                )
            ),
            methods=["POST"],
        ),
        Route(
            "/api/click",
            endpoint(
                lambda b: api.click(
                    text(b, "as"), text(b, "channel"), text(b, "ts"), b.get("action") or {}
                )
            ),
            methods=["POST"],
        ),
        Route(
            "/api/react",
            endpoint(
                lambda b: api.react(
                    text(b, "as"),
                    text(b, "channel"),
                    text(b, "ts"),
                    text(b, "name"),
                    b.get("add", True) is not False,
                )
            ),
            methods=["POST"],
        ),
        Route(
            "/api/shortcut",
            endpoint(
                lambda b: api.shortcut(
                    text(b, "as"), text(b, "channel"), text(b, "ts"), text(b, "callback_id")
                )
            ),
            methods=["POST"],
        ),
        Route("/api/home", endpoint(lambda b: api.open_home(text(b, "as"))), methods=["POST"]),
        Route(
            "/api/join",
            endpoint(lambda b: api.join(text(b, "as"), text(b, "channel"))),
            methods=["POST"],
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])],
    )
