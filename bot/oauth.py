"""Installing LearnLoop in many workspaces: Bolt's OAuth flow over slack_sdk's SQLAlchemy
installation and state stores, whose tables live in the app's own database (migration 0006).

The stores are synchronous; Bolt's async side reaches them on the runtime's request threads,
so the event loop never waits on the database.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Generic, TypeVar
from urllib.parse import urljoin

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot import workspaces
from bot.runtime import Runtime
from bot.settings import OAUTH_INSTALL_PATH, OAUTH_REDIRECT_PATH
from bot.workspaces import InstalledTokens

logger = logging.getLogger(__name__)

# What the bot asks for at installation: the same list as manifest.yml (a test keeps them so).
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "groups:history",
    "groups:read",
    "chat:write",
    "commands",
    "dnd:read",
    "files:write",
    "im:history",
    "im:write",
    "mpim:write",
    "users:read",
    "reactions:read",
    "reactions:write",
)
Store = TypeVar("Store", SQLAlchemyInstallationStore, SQLAlchemyOAuthStateStore)
# How long an installer has between /slack/install and coming back from Slack.
STATE_EXPIRATION_SECONDS = 600


class _OnWorkerThreads(Generic[Store]):
    """A synchronous slack_sdk store, for Bolt's async side."""

    def __init__(self, store: Store, runtime: Runtime) -> None:
        self._store: Store = store
        self._runtime = runtime

    @property
    def logger(self) -> logging.Logger:
        return logger


class _Installations(_OnWorkerThreads[SQLAlchemyInstallationStore], AsyncInstallationStore):
    """The two things Bolt asks of the installation store: save what the OAuth flow got (and
    serve the workspace again if it had uninstalled), and find a request's bot."""

    async def async_save(self, installation: Installation) -> None:
        team_id = installation.team_id
        if team_id is None:  # an Enterprise Grid org-wide install; the manifest allows none
            raise ValueError("LearnLoop is installed per workspace, not per organisation")
        # Served first: a crash in between leaves a served workspace without a token, which
        # the sweeps log, rather than an installed one they silently skip.
        await self._runtime.call(workspaces.installed, team_id=team_id)
        await self._runtime.run(self._store.save, installation)
        logger.info("LearnLoop installed in workspace %s", team_id)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        find = partial(
            self._store.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return await self._runtime.run(find)


class _States(_OnWorkerThreads[SQLAlchemyOAuthStateStore], AsyncOAuthStateStore):
    """OAuth states: issued at /slack/install, consumed once by the redirect, expiring."""

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        return await self._runtime.run(self._store.issue)

    async def async_consume(self, state: str) -> bool:
        return await self._runtime.run(self._store.consume, state)


def oauth_settings(runtime: Runtime) -> AsyncOAuthSettings | None:
    """Bolt's OAuth settings when the app installs in many workspaces, else None."""
    oauth = runtime.settings.oauth
    if oauth is None:
        return None
    assert isinstance(runtime.tokens, InstalledTokens), "OAuth settings make installed tokens"
    states = SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS, engine=runtime.engine, logger=logger
    )
    settings = AsyncOAuthSettings(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=oauth.redirect_uri,
        install_path=OAUTH_INSTALL_PATH,
        redirect_uri_path=OAUTH_REDIRECT_PATH,
        # /slack/install sends the browser straight to Slack: it is the "Add to Slack" link.
        install_page_rendering_enabled=False,
        # Slack's authorize page sits beside its Web API (slack.com/api/, slack-gov.com/api/).
        authorization_url=urljoin(runtime.settings.slack_api_url, "../oauth/v2/authorize"),
        installation_store=_Installations(runtime.tokens.store, runtime),
        installation_store_bot_only=True,
        state_store=_States(states, runtime),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        logger=logging.getLogger("slack_bolt"),
    )
    # Without the cache Bolt calls auth.test before every request; a token is cached only
    # while the store has it, and an uninstalled workspace's token is deleted from the store.
    assert isinstance(settings.authorize, AsyncInstallationStoreAuthorize)
    settings.authorize.cache_enabled = True
    return settings
