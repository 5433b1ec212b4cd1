"""The workspaces LearnLoop serves and each one's bot token: the one place that knows whether
tokens come from SLACK_BOT_TOKEN (one workspace) or from OAuth installations (many)."""

from __future__ import annotations

import logging
from typing import Protocol

import sqlalchemy as sa
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine
from sqlmodel import Session

from bot.settings import Settings
from storage import workspaces as store

logger = logging.getLogger(__name__)


class BotTokens(Protocol):
    def bot_token(self, team_id: str, *, session: Session) -> str | None:
        """The workspace's bot token; None when LearnLoop is not installed there."""

    def forget(self, team_id: str, *, session: Session) -> None:
        """Drop the workspace's credentials in the caller's transaction (it was uninstalled)."""


class ConfiguredToken:
    """Single-token mode: SLACK_BOT_TOKEN, the one workspace's token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def bot_token(self, team_id: str, *, session: Session) -> str:
        return self._token

    def forget(self, team_id: str, *, session: Session) -> None:
        """Nothing is stored: Slack revoked SLACK_BOT_TOKEN, the operator replaces it."""


class InstalledTokens:
    """OAuth mode: each workspace's bot token from slack_sdk's installation store, kept in the
    app's database.

    Read and deleted through the caller's session, not the store's own connections: SQLite
    has one connection per process, which a sweep's session is already holding.
    """

    def __init__(self, store: SQLAlchemyInstallationStore) -> None:
        self.store = store

    def bot_token(self, team_id: str, *, session: Session) -> str | None:
        bots = self.store.bots.c
        latest = (
            sa.select(bots.bot_token)
            .where(
                bots.client_id == self.store.client_id,
                bots.enterprise_id.is_(None),
                bots.team_id == team_id,
                bots.bot_token.is_not(None),
            )
            .order_by(bots.installed_at.desc())
            .limit(1)
        )
        return session.execute(latest).scalar_one_or_none()

    def forget(self, team_id: str, *, session: Session) -> None:
        for table in (self.store.bots, self.store.installations):
            session.execute(
                table.delete().where(
                    table.c.client_id == self.store.client_id, table.c.team_id == team_id
                )
            )


def bot_tokens(settings: Settings, engine: Engine) -> BotTokens:
    if settings.oauth is None:
        assert settings.slack_bot_token is not None, "Settings holds a token or OAuth"
        return ConfiguredToken(settings.slack_bot_token)
    return InstalledTokens(
        SQLAlchemyInstallationStore(
            client_id=settings.oauth.client_id, engine=engine, logger=logger
        )
    )


def installed(team_id: str, *, session: Session) -> None:
    """A successful installation: the workspace is served again if it had uninstalled."""
    store.set_active(team_id, True, session=session)
    session.commit()


def uninstalled(team_id: str, *, session: Session, tokens: BotTokens) -> None:
    """Slack revoked the bot's token or the app was removed: in one transaction, the workspace
    is no longer served (its due work waits, nothing is sent) and its credentials are gone."""
    store.set_active(team_id, False, session=session)
    tokens.forget(team_id, session=session)
    session.commit()
    logger.info("workspace %s uninstalled LearnLoop: nothing more is sent there", team_id)
