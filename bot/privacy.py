"""A person's own data: everything about them sent to them (export-me), or forgotten
(forget-me, `learnloop forget`). The rules per table are in storage.privacy and the README."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot import blocks
from bot.export import personal_records
from bot.replies import dm_channel, tell_privately
from storage.privacy import Changes, forget_user
from storage.types import utcnow

# Slack user ids: U… or, on Enterprise Grid, W…
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")


@dataclass(frozen=True)
class ForgetReport:
    """What forgetting someone changed, per table."""

    changes: dict[str, Changes]

    def lines(self) -> list[str]:
        """One line a table, `til: 3 deleted, 1 anonymised`; none when nothing was stored."""
        return [
            f"{table}: "
            + ", ".join(
                f"{count} {what}"
                for count, what in ((c.deleted, "deleted"), (c.anonymised, "anonymised"))
                if count
            )
            for table, c in self.changes.items()
        ]


def forget(team_id: str, user_id: str, *, session: Session) -> ForgetReport:
    """Delete or anonymise everything stored about the person in the workspace, in one
    transaction: all of it, or (on any failure) nothing."""
    if not USER_ID.match(user_id):
        raise ValueError(f"{user_id!r} is not a Slack user id (U… or W…)")
    changes = forget_user(team_id, user_id, session=session)
    session.commit()
    return ForgetReport(changes)


def send_export(
    team_id: str, user_id: str, response_url: str, *, session: Session, client: WebClient
) -> int:
    """DM the person a JSON file of every record about them, then tell them privately (or that
    it failed); returns how many records it holds."""
    try:
        exported = list(personal_records(team_id, user_id, session=session))
        document = {
            "team_id": team_id,
            "user_id": user_id,
            "exported_at": utcnow().isoformat(),
            "records": exported,
        }
        client.files_upload_v2(
            channel=dm_channel(client, user_id),
            content=json.dumps(document, ensure_ascii=False, indent=2).encode(),
            filename=f"learnloop-{user_id}.json",
            title="Everything LearnLoop stores about you",
        )
    except (SQLAlchemyError, SlackClientError):
        tell_privately(response_url, blocks.notice("export_me_failed"))
        raise
    tell_privately(response_url, blocks.notice("export_me_sent", count=str(len(exported))))
    return len(exported)
