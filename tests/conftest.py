"""Fixtures that compose: database -> emulator -> settings -> app server -> a Slack user.

The whole suite runs on SQLite and, when it is reachable, on PostgreSQL (a fresh schema per
test). CI sets LEARNLOOP_REQUIRE_POSTGRES=1 so an unreachable PostgreSQL fails, not skips.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import hypothesis
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, col, select

from bot.emulator import APP_TOKEN, BOT_TOKEN, Channel, SlackEmulator
from bot.serve import BackgroundServer, build_web_app
from bot.settings import OAUTH_INSTALL_PATH, OAUTH_REDIRECT_PATH, OAuthSettings, Settings
from storage.db import create_db_engine, create_session_factory, upgrade
from storage.models import Til

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
POSTGRES_URL = os.environ.get(
    "DATABASE_URL_TEST", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T = TypeVar("T")


class SecretWatch(logging.Handler):
    """Keeps every log record whose text (message and traceback) holds one of the secrets."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + record.stack_info
        if any(secret in text for secret in self.secrets):
            self.leaks.append(f"{record.levelname} {record.name}: {text}")


@pytest.fixture(autouse=True)
def no_secrets_in_logs() -> Iterator[None]:
    """Fail any test during which a token or the signing secret was logged, at any level, by
    any thread: the app, Bolt, slack_sdk, uvicorn or the database."""
    root = logging.getLogger()
    watch = SecretWatch((BOT_TOKEN, APP_TOKEN, SIGNING_SECRET))
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(watch)
    try:
        yield
    finally:
        root.removeHandler(watch)
        root.setLevel(level)
    assert not watch.leaks, "secrets in the logs:\n" + "\n".join(watch.leaks)


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
    except (OperationalError, ImportError):
        return False
    return True


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_available()


def require_postgres(available: bool) -> None:
    """Skip the test without PostgreSQL, or fail it where CI requires PostgreSQL."""
    if not available:
        if os.environ.get("LEARNLOOP_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but {POSTGRES_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")


@contextmanager
def fresh_postgres_schema(available: bool) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards."""
    require_postgres(available)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: bool
) -> Iterator[str]:
    """A fresh, empty database per test: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'learnloop.db'}"
        return
    with fresh_postgres_schema(postgres_available) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """For tests about PostgreSQL itself (a database server that can go away)."""
    with fresh_postgres_schema(postgres_available) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The test's own connection to the database, migrated like the app's."""
    engine = create_db_engine(database_url, pool_size=2)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with create_session_factory(engine)() as session:
        yield session


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator(signing_secret=SIGNING_SECRET) as emulator:
        yield emulator


def settings_for(emulator: SlackEmulator, database_url: str) -> Settings:
    """Settings as an operator would write them, with Slack's Web API at the emulator."""
    return Settings(
        slack_bot_token=emulator.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=emulator.api_url,
        database_url=database_url,
        worker_threads=4,
    )


@pytest.fixture
def settings(database_url: str, emulator: SlackEmulator) -> Settings:
    return settings_for(emulator, database_url)


@pytest.fixture
def server(settings: Settings, emulator: SlackEmulator) -> Iterator[BackgroundServer]:
    """LearnLoop on the production server stack, with Slack (the emulator) pointed at it."""
    with BackgroundServer(build_web_app(settings)) as server:
        emulator.request_url = server.request_url
        yield server


OTHER_TEAM = "T0OTHER01"


@pytest.fixture
def other_workspace(emulator: SlackEmulator) -> Iterator[SlackEmulator]:
    """A second workspace the same Slack (the emulator) serves, for the same app."""
    with SlackEmulator(
        signing_secret=SIGNING_SECRET,
        team_id=OTHER_TEAM,
        team_domain="other-team",
        team_name="Other Team",
        bot_token="xoxb-emulator-other",
    ) as other:
        yield emulator.add_workspace(other)


@pytest.fixture
def oauth_settings(settings: Settings, emulator: SlackEmulator) -> Settings:
    """Installing in many workspaces: OAuth credentials instead of SLACK_BOT_TOKEN."""
    oauth = OAuthSettings(emulator.client_id, emulator.client_secret)
    return replace(settings, slack_bot_token=None, oauth=oauth)


@pytest.fixture
def oauth_server(
    oauth_settings: Settings, emulator: SlackEmulator, other_workspace: SlackEmulator
) -> Iterator[BackgroundServer]:
    """LearnLoop in OAuth mode, installed nowhere yet; both workspaces deliver to it."""
    with BackgroundServer(build_web_app(oauth_settings)) as server:
        emulator.request_url = other_workspace.request_url = server.request_url
        emulator.redirect_url = server.url + OAUTH_REDIRECT_PATH
        yield server


@dataclass(frozen=True)
class Page:
    status: int
    location: str
    body: str


class Browser:
    """An installer's browser: keeps the app's cookies and follows redirects only when told."""

    class _Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), self._Stay())

    def get(self, url: str) -> Page:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
        try:
            with self._opener.open(request, timeout=10) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
        for set_cookie in headers.get_all("Set-Cookie") or []:
            name, _, value = set_cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return Page(status, headers.get("Location", ""), body.decode())

    def consent(self, app_url: str, team_id: str) -> str:
        """/slack/install, then Allow on Slack's page: the redirect back, with code and state."""
        to_slack = self.get(f"{app_url}{OAUTH_INSTALL_PATH}?team={team_id}")
        assert to_slack.status == 302, f"/slack/install sends the installer to Slack: {to_slack}"
        back = self.get(to_slack.location)
        assert back.status == 302, f"Slack's authorize page sends them back: {back}"
        return back.location


def install(app_url: str, team_id: str) -> Page:
    """The whole installation, as an admin of `team_id` clicking through it."""
    browser = Browser()
    return browser.get(browser.consent(app_url, team_id))


def stored_tils(engine: Engine) -> list[Til]:
    """What the database holds, read through the test's own connection."""
    with Session(engine) as session:
        return list(session.exec(select(Til).order_by(col(Til.id))))


def rows_naming(engine: Engine, needle: str) -> dict[str, list[dict[str, object]]]:
    """Every row of every table with a column whose value contains `needle`, by table."""
    found: dict[str, list[dict[str, object]]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                if any(needle in str(value) for value in row.values() if value is not None):
                    found.setdefault(table.name, []).append(dict(row))
    return found


def eventually(check: Callable[[], T | None], *, timeout: float = 5.0, what: str) -> T:
    """Poll, don't sleep: the first truthy result of check(), or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


# Property tests (tests/test_bad_input.py) talk to a live server: no per-example deadline, and
# in CI a fixed sequence of examples so a run can be repeated exactly.
hypothesis.settings.register_profile(
    "learnloop",
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
    print_blob=True,
)
hypothesis.settings.load_profile("learnloop")


def fresh_channel(emulator: SlackEmulator, *members: str) -> str:
    """A new channel with these members and the bot. Slack's allowance of posts per channel is
    the process's (bot.slack_client.PACER), not a test's: a test that posts several times in a
    row starts with all of it here."""
    channel = f"C0NEW{uuid.uuid4().hex[:6].upper()}"
    emulator.add_channel(
        Channel(channel, channel.lower(), members=frozenset({*members, emulator.bot_user_id}))
    )
    return channel
