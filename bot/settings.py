"""Typed settings read from the environment: one source of truth for every knob."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.dates import zone

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///./learnloop.db"
DEFAULT_PORT = 3000
DEFAULT_CAPTURE_EMOJI = "bulb"
DEFAULT_WORKER_THREADS = 8
DEFAULT_EXPERTS_PER_QUESTION = 2
DEFAULT_ESCALATION_MINUTES = 60
DEFAULT_REFLECTION_GRACE_MINUTES = 60
DEFAULT_TIMEZONE = "UTC"
DEFAULT_SWEEP_SECONDS = 30
DEFAULT_WORKER_POLL_SECONDS = 0.2
# Where the follow-ups an acknowledged request promised run: in the serving process that stored
# them, or in `learnloop worker` processes (the web/worker split of a larger deployment).
FollowUps = Literal["serve", "worker"]
FOLLOW_UPS: tuple[FollowUps, ...] = ("serve", "worker")
OAUTH_INSTALL_PATH = "/slack/install"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"


@dataclass(frozen=True)
class HelpPolicy:
    """How questions are routed: people asked per round, escalation window, help channel."""

    experts_per_question: int
    escalation_window: timedelta
    help_channel: str | None


@dataclass(frozen=True)
class OAuthSettings:
    """Multi-workspace mode: Slack's OAuth flow installs the app, one bot token per workspace."""

    client_id: str
    client_secret: str = field(repr=False)
    # Where Slack sends the installer back; None lets Slack use the app's only redirect URL.
    redirect_uri: str | None = None


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to run, validated once at start-up."""

    # None with OAuth, where each workspace's token comes from its installation.
    slack_bot_token: str | None = field(repr=False)
    slack_signing_secret: str = field(repr=False)  # "" in Socket Mode, which needs none
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    port: int = DEFAULT_PORT
    capture_emoji: str = DEFAULT_CAPTURE_EMOJI
    worker_threads: int = DEFAULT_WORKER_THREADS
    # People who are community managers whatever Slack says (owners and admins are anyway).
    managers: frozenset[str] = frozenset()
    experts_per_question: int = DEFAULT_EXPERTS_PER_QUESTION
    escalation_minutes: int = DEFAULT_ESCALATION_MINUTES
    # Where unanswered questions go after the second escalation window; team leads otherwise.
    help_channel: str | None = None
    # A reflection run missed while the app was down is still sent within this much time.
    reflection_grace_minutes: int = DEFAULT_REFLECTION_GRACE_MINUTES
    # The zone whose ISO weeks summaries count in, unless a workspace's managers chose another.
    timezone: str = DEFAULT_TIMEZONE
    # How often the leader's scheduler looks for due work (prompts, digests, escalations,
    # follow-ups to replay).
    sweep_seconds: int = DEFAULT_SWEEP_SECONDS
    follow_ups: FollowUps = "serve"
    # How often `learnloop worker` looks for due follow-ups when the last look found few.
    worker_poll_seconds: float = DEFAULT_WORKER_POLL_SECONDS
    oauth: OAuthSettings | None = None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def follow_ups_by_workers(self) -> bool:
        """Serving processes only store follow-ups; `learnloop worker` runs and replays them."""
        return self.follow_ups == "worker"

    @property
    def help_policy(self) -> HelpPolicy:
        """The deployment's defaults; each workspace's managers can override them."""
        return HelpPolicy(
            experts_per_question=self.experts_per_question,
            escalation_window=timedelta(minutes=self.escalation_minutes),
            help_channel=self.help_channel,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raise SettingsError naming the culprit."""
        app_token = _optional(environ, "SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SettingsError(
                "SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' "
                "(Basic Information > App-Level Tokens, scope connections:write); "
                "unset it to use HTTP mode."
            )
        oauth = _oauth(environ)
        if oauth is not None and app_token is not None:
            raise SettingsError(
                "SLACK_CLIENT_ID (installing in many workspaces) needs HTTP mode: unset "
                "SLACK_APP_TOKEN, or unset SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for Socket Mode."
            )
        return cls(
            slack_bot_token=None if oauth else _bot_token(environ),
            # Socket Mode requests come over an authenticated WebSocket: nothing to verify.
            slack_signing_secret=(_optional(environ, "SLACK_SIGNING_SECRET") or "")
            if app_token
            else _required(
                environ,
                "SLACK_SIGNING_SECRET",
                "copy it from your app's Basic Information > App Credentials page",
            ),
            slack_app_token=app_token,
            slack_api_url=api_url_from_env(environ),
            database_url=database_url_from_env(environ),
            port=_port(environ.get("PORT"), "PORT"),
            capture_emoji=_emoji(environ),
            worker_threads=_positive_int(
                environ, "LEARNLOOP_WORKER_THREADS", DEFAULT_WORKER_THREADS
            ),
            managers=_user_ids(environ, "LEARNLOOP_MANAGERS"),
            experts_per_question=_positive_int(
                environ, "LEARNLOOP_EXPERTS_PER_QUESTION", DEFAULT_EXPERTS_PER_QUESTION
            ),
            escalation_minutes=_positive_int(
                environ, "LEARNLOOP_ESCALATION_MINUTES", DEFAULT_ESCALATION_MINUTES
            ),
            help_channel=_channel_id(environ, "LEARNLOOP_HELP_CHANNEL"),
            reflection_grace_minutes=_positive_int(
                environ, "LEARNLOOP_REFLECTION_GRACE_MINUTES", DEFAULT_REFLECTION_GRACE_MINUTES
            ),
            timezone=timezone_from_env(environ),
            sweep_seconds=_positive_int(environ, "LEARNLOOP_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS),
            follow_ups=_follow_ups(environ),
            worker_poll_seconds=_positive_seconds(
                environ, "LEARNLOOP_WORKER_POLL_SECONDS", DEFAULT_WORKER_POLL_SECONDS
            ),
            oauth=oauth,
        )


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _required(environ: Mapping[str, str], name: str, how: str) -> str:
    value = _optional(environ, name)
    if value is None:
        raise SettingsError(f"{name} is not set: {how}, then put it in .env or the environment.")
    return value


def bot_token_from_env(environ: Mapping[str, str]) -> str | None:
    """SLACK_BOT_TOKEN when set (checked), for commands that can do without Slack."""
    return _bot_token(environ) if _optional(environ, "SLACK_BOT_TOKEN") else None


def _bot_token(environ: Mapping[str, str]) -> str:
    token = _required(
        environ,
        "SLACK_BOT_TOKEN",
        "copy the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page "
        "(or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install in many workspaces)",
    )
    if not token.startswith("xoxb-"):
        raise SettingsError(
            "SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-' "
            "(OAuth & Permissions > Bot User OAuth Token)."
        )
    return token


def _oauth(environ: Mapping[str, str]) -> OAuthSettings | None:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET together, and then no SLACK_BOT_TOKEN."""
    client_id = _optional(environ, "SLACK_CLIENT_ID")
    client_secret = _optional(environ, "SLACK_CLIENT_SECRET")
    if client_id is None and client_secret is None:
        return None
    if client_id is None or client_secret is None:
        missing = "SLACK_CLIENT_ID" if client_id is None else "SLACK_CLIENT_SECRET"
        raise SettingsError(
            f"{missing} is not set: installing in many workspaces needs both SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (Basic Information > App Credentials); unset both to serve one "
            "workspace with SLACK_BOT_TOKEN."
        )
    if _optional(environ, "SLACK_BOT_TOKEN") is not None:
        raise SettingsError(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: with OAuth each workspace's token "
            "comes from its installation, so unset SLACK_BOT_TOKEN (or unset SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET to serve the one workspace of SLACK_BOT_TOKEN)."
        )
    public_url = _optional(environ, "LEARNLOOP_PUBLIC_URL")
    if public_url is None:
        return OAuthSettings(client_id, client_secret)
    parsed = urlparse(public_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
        raise SettingsError(
            "LEARNLOOP_PUBLIC_URL must be the server's public address such as "
            f"https://learnloop.example.com, got {public_url!r}."
        )
    return OAuthSettings(client_id, client_secret, public_url.rstrip("/") + OAUTH_REDIRECT_PATH)


def api_url_from_env(environ: Mapping[str, str]) -> str:
    url = _optional(environ, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(
            f"SLACK_API_URL must be an http(s) URL such as {DEFAULT_SLACK_API_URL}, got {url!r}."
        )
    return url if url.endswith("/") else url + "/"


def database_url_from_env(environ: Mapping[str, str]) -> str:
    """DATABASE_URL alone, for commands that need the database but no Slack credentials."""
    url = _optional(environ, "DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            f"DATABASE_URL is not a database URL: use e.g. {DEFAULT_DATABASE_URL} or "
            "postgresql+psycopg://user:password@host:5432/learnloop."
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(
            f"DATABASE_URL uses {parsed.get_backend_name()!r}: LearnLoop supports sqlite and "
            "postgresql (postgresql+psycopg://...)."
        )
    return url


def _port(raw: str | None, name: str) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_PORT
    if not raw.strip().isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name} must be a port number between 1 and 65535, got {raw!r}.")
    return int(raw)


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = _optional(environ, name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {raw!r}.")
    return int(raw)


def _positive_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = _optional(environ, name)
    if raw is None:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise SettingsError(f"{name} must be a number of seconds above 0 (e.g. 0.2), got {raw!r}.")
    return seconds


def _follow_ups(environ: Mapping[str, str]) -> FollowUps:
    raw = _optional(environ, "LEARNLOOP_FOLLOW_UPS") or "serve"
    for mode in FOLLOW_UPS:
        if raw.lower() == mode:
            return mode
    raise SettingsError(
        "LEARNLOOP_FOLLOW_UPS must be 'serve' (the serving process runs the Slack work its "
        "requests promise) or 'worker' (`learnloop worker` processes run it), got "
        f"{raw!r}."
    )


_EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+$")


def _emoji(environ: Mapping[str, str]) -> str:
    raw = _optional(environ, "LEARNLOOP_CAPTURE_EMOJI") or DEFAULT_CAPTURE_EMOJI
    name = raw.strip(":")
    if not _EMOJI_NAME.match(name):
        raise SettingsError(
            "LEARNLOOP_CAPTURE_EMOJI must be an emoji name such as 'bulb' or ':bulb:', "
            f"got {raw!r}."
        )
    return name


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _user_ids(environ: Mapping[str, str], name: str) -> frozenset[str]:
    raw = _optional(environ, name) or ""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    for user_id in ids:
        if not _USER_ID.match(user_id):
            raise SettingsError(
                f"{name} must be Slack user ids separated by commas (e.g. U012AB3CD,U045EF6GH), "
                f"got {user_id!r}: find an id in a profile's ⋯ menu > Copy member ID."
            )
    return frozenset(ids)


_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def _channel_id(environ: Mapping[str, str], name: str) -> str | None:
    value = _optional(environ, name)
    if value is not None and not _CHANNEL_ID.match(value):
        raise SettingsError(
            f"{name} must be a channel id such as C012AB3CD (channel details > About), "
            f"got {value!r}."
        )
    return value


def timezone_from_env(environ: Mapping[str, str]) -> str:
    """LEARNLOOP_TIMEZONE alone, for commands that need no Slack credentials."""
    name = _optional(environ, "LEARNLOOP_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        zone(name)
    except ValueError as error:
        raise SettingsError(f"LEARNLOOP_TIMEZONE: {error}.") from None
    return name
