"""Searching resolved questions ("maybe already answered" on /ask) on a real database."""

from __future__ import annotations

from sqlmodel import Session, SQLModel

from bot.help_requests import SUGGESTED_FROM
from storage import help_requests as help_store
from storage.models import HelpRequest, HelpStatus

TEAM = "T1"
HELP_REQUEST_TABLE = SQLModel.metadata.tables[HelpRequest.__tablename__]


def test_a_busy_workspaces_questions_never_hide_a_quiet_workspaces_answer(
    session: Session,
) -> None:
    """On SQLite the workspace is matched inside the index (migration 0011) and only its latest
    matches are ranked, so thousands of another workspace's questions neither hide this one's
    nor cost a ranking each."""
    busy = [
        {
            "team_id": "T0BUSY",
            "channel_id": "C1",
            "asker_id": "U1",
            "text": f"how do deploys roll back, number {n}?",
            "status": HelpStatus.RESOLVED,
            "escalation_level": 0,
        }
        for n in range(SUGGESTED_FROM + 300)
    ]
    session.execute(HELP_REQUEST_TABLE.insert(), busy)
    ours = [
        help_store.add_help_request(TEAM, "C1", "U2", text, [], session=session)
        for text in ("Deploys roll back how?", "Why do deploys fail on Fridays?", "Lunch?")
    ]
    ours[0].status = ours[2].status = HelpStatus.RESOLVED
    session.add_all(ours)
    session.commit()

    found = help_store.search_resolved(
        TEAM, "do deploys roll back", session=session, limit=3, ranked=SUGGESTED_FROM
    )
    assert [question.text for question in found] == ["Deploys roll back how?"], (
        "this workspace's resolved match only: not the open one, not the neighbour's"
    )
    neighbours = help_store.search_resolved(
        "T0BUSY", "deploys", session=session, limit=3, ranked=SUGGESTED_FROM
    )
    assert len(neighbours) == 3 and all(q.team_id == "T0BUSY" for q in neighbours)
