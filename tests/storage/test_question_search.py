"""Searching resolved questions ("maybe already answered" on /ask) on a real database."""

from __future__ import annotations

import pytest
from sqlmodel import Session, SQLModel

from bot.help_requests import SUGGESTED_FROM
from storage import help_requests as help_store
from storage.models import HelpRequest, HelpStatus
from storage.search import matching_ids

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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_past_the_weighed_limit_resolved_questions_come_newest_first(session: Session) -> None:
    """A word in too many rows to weigh: the latest matches, newest first, only the resolved
    ones, and no further back than the latest `ranked` matches."""
    texts = ["deploys fail", "deploys are slow", "deploys again", "deploys, open"]
    questions = [
        help_store.add_help_request(TEAM, "C1", "U2", t, [], session=session) for t in texts
    ]
    help_store.add_help_request("T2", "C1", "U2", "deploys elsewhere", [], session=session)
    for question in questions[:3]:
        question.status = HelpStatus.RESOLVED
    session.add_all(questions)
    session.commit()

    def found(ranked: int) -> list[str]:
        ids = matching_ids(
            "help_request",
            TEAM,
            "deploys",
            session=session,
            limit=2,
            any_word=True,
            where=f"status = '{HelpStatus.RESOLVED.value}'",
            ranked=ranked,
            weighed_word_rows=2,
        )
        return [session.get(HelpRequest, question_id).text for question_id in ids]

    assert found(ranked=100) == ["deploys again", "deploys are slow"]
    assert found(ranked=2) == ["deploys again"], "the open one counts toward the latest 2"
