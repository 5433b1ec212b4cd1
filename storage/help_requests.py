"""Help requests and who was asked about them. Functions flush and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from storage.db import BulkInsert
from storage.models import (
    HELP_REQUEST_TABLE,
    HELP_REQUEST_TAG_TABLE,
    HelpRequest,
    HelpRequestTag,
    HelpRoute,
    HelpStatus,
    RouteAnswer,
)
from storage.search import matching_ids
from storage.types import utcnow
from storage.workspaces import served


@dataclass(frozen=True)
class NewQuestion:
    """A question as its path knows it: from /ask (posted later), or a message mentioning the
    bot (`message_ts`: the message is the question)."""

    team_id: str
    channel_id: str
    asker_id: str
    text: str
    tags: list[str]
    message_ts: str | None = None


_INSERT_QUESTIONS = BulkInsert(
    HELP_REQUEST_TABLE,
    (
        "team_id",
        "channel_id",
        "asker_id",
        "text",
        "message_ts",
        "status",
        "escalation_level",
        "created_at",
    ),
    returning=("id",),
)
_INSERT_TAGS = BulkInsert(HELP_REQUEST_TAG_TABLE, ("team_id", "help_request_id", "tag"))


def add_help_requests(questions: list[NewQuestion], *, session: Session) -> list[int]:
    """Insert questions and their tags (two statements however many; no ORM flush: /ask's
    ack waits on this); returns their ids in order."""
    if not questions:
        return []
    connection = session.connection()
    asked_at = _INSERT_QUESTIONS.bind(connection, "created_at", utcnow())
    request_ids = _INSERT_QUESTIONS.ids(
        connection,
        [
            (
                question.team_id,
                question.channel_id,
                question.asker_id,
                question.text,
                question.message_ts,
                HelpStatus.OPEN.value,
                0,
                asked_at,
            )
            for question in questions
        ],
    )
    _INSERT_TAGS.run(
        connection,
        [
            (question.team_id, request_id, tag)
            for question, request_id in zip(questions, request_ids, strict=True)
            for tag in dict.fromkeys(question.tags)
        ],
    )
    return request_ids


def add_help_request(
    team_id: str,
    channel_id: str,
    asker_id: str,
    text: str,
    tags: Iterable[str],
    *,
    session: Session,
    message_ts: str | None = None,
) -> HelpRequest:
    """One question, read back as a row of the session (for callers that change it)."""
    [request_id] = add_help_requests(
        [NewQuestion(team_id, channel_id, asker_id, text, list(tags), message_ts)], session=session
    )
    request = session.get(HelpRequest, request_id)
    assert request is not None
    return request


def get_help_request(request_id: int, *, session: Session) -> HelpRequest | None:
    return session.get(HelpRequest, request_id)


def get_help_request_by_message(
    team_id: str, channel_id: str, message_ts: str, *, session: Session
) -> HelpRequest | None:
    return session.exec(
        select(HelpRequest).where(
            HelpRequest.team_id == team_id,
            HelpRequest.channel_id == channel_id,
            HelpRequest.message_ts == message_ts,
        )
    ).one_or_none()


def tags_of(request_id: int, *, session: Session) -> list[str]:
    return list(
        session.exec(
            select(HelpRequestTag.tag)
            .where(HelpRequestTag.help_request_id == request_id)
            .order_by(col(HelpRequestTag.id))
        )
    )


def add_route(
    request: HelpRequest, expert_id: str, round_: int, when: datetime, *, session: Session
) -> HelpRoute | None:
    """Record that an expert is being asked; None when they already were (never ask twice)."""
    assert request.id is not None
    if get_route(request.id, expert_id, session=session) is not None:
        return None
    route = HelpRoute(
        team_id=request.team_id,
        help_request_id=request.id,
        expert_id=expert_id,
        round=round_,
        routed_at=when,
    )
    session.add(route)
    session.flush()
    return route


def get_route(request_id: int, expert_id: str, *, session: Session) -> HelpRoute | None:
    return session.exec(
        select(HelpRoute).where(
            HelpRoute.help_request_id == request_id, HelpRoute.expert_id == expert_id
        )
    ).one_or_none()


def routes_of(request_id: int, *, session: Session) -> list[HelpRoute]:
    return list(
        session.exec(
            select(HelpRoute)
            .where(HelpRoute.help_request_id == request_id)
            .order_by(col(HelpRoute.id))
        )
    )


def recent_route_counts(
    team_id: str, user_ids: Iterable[str], since: datetime, *, session: Session
) -> dict[str, int]:
    """How many questions each person was asked since `since` (routing load)."""
    rows = session.exec(
        select(HelpRoute.expert_id, func.count())
        .where(
            HelpRoute.team_id == team_id,
            col(HelpRoute.expert_id).in_(list(user_ids)),
            HelpRoute.routed_at >= since,
        )
        .group_by(col(HelpRoute.expert_id))
    )
    return {expert_id: int(count) for expert_id, count in rows}


def set_route_answer(
    route: HelpRoute, answer: RouteAnswer, when: datetime, *, session: Session
) -> None:
    route.answer = answer
    route.answered_at = when
    session.add(route)
    session.flush()


def set_route_message(route: HelpRoute, channel_id: str, ts: str, *, session: Session) -> None:
    route.dm_channel_id = channel_id
    route.dm_ts = ts
    session.add(route)
    session.flush()


def search_resolved(
    team_id: str, query: str, *, session: Session, limit: int, ranked: int
) -> list[HelpRequest]:
    """Resolved questions sharing words with `query`, best first, of the latest `ranked`
    questions that do (on SQLite)."""
    ids = matching_ids(
        "help_request",
        team_id,
        query,
        session=session,
        limit=limit,
        any_word=True,
        where=f"status = '{HelpStatus.RESOLVED.value}'",
        ranked=ranked,
    )
    found = {r.id: r for r in session.exec(select(HelpRequest).where(col(HelpRequest.id).in_(ids)))}
    return [found[request_id] for request_id in ids if request_id in found]


def unrouted(team_id: str, *, session: Session, limit: int = 20) -> list[HelpRequest]:
    """Open questions nobody was asked about (no expert for their tags), newest first."""
    asked = select(HelpRoute.help_request_id).where(HelpRoute.team_id == team_id)
    return list(
        session.exec(
            select(HelpRequest)
            .where(
                HelpRequest.team_id == team_id,
                HelpRequest.status == HelpStatus.OPEN,
                col(HelpRequest.route_at).is_(None),
                col(HelpRequest.id).not_in(asked),
            )
            .order_by(col(HelpRequest.created_at).desc())
            .limit(limit)
        )
    )


def due_for_routing(now: datetime, *, session: Session) -> list[HelpRequest]:
    """Open questions whose suggestion hold has passed."""
    return list(
        session.exec(
            select(HelpRequest)
            .where(
                col(HelpRequest.route_at) <= now,
                HelpRequest.status == HelpStatus.OPEN,
                served(HelpRequest.team_id),
            )
            .order_by(col(HelpRequest.route_at))
        )
    )


def claim_routing(request_id: int, *, session: Session) -> bool:
    """Take a held question for routing; False when another run already took it."""
    result = session.execute(
        update(HelpRequest)
        .where(col(HelpRequest.id) == request_id, col(HelpRequest.route_at).is_not(None))
        .values(route_at=None)
    )
    return getattr(result, "rowcount", 0) == 1


def due_for_escalation(now: datetime, *, session: Session) -> list[HelpRequest]:
    """Open questions (nobody took or answered them) whose escalation time has come."""
    return list(
        session.exec(
            select(HelpRequest)
            .where(
                col(HelpRequest.escalate_at) <= now,
                HelpRequest.status == HelpStatus.OPEN,
                served(HelpRequest.team_id),
            )
            .order_by(col(HelpRequest.escalate_at))
        )
    )


def claim_escalation(
    request_id: int, level: int, next_at: datetime | None, *, session: Session
) -> bool:
    """Move a question from `level` to the next; False when someone else already did."""
    result = session.execute(
        update(HelpRequest)
        .where(col(HelpRequest.id) == request_id, col(HelpRequest.escalation_level) == level)
        .values(escalation_level=level + 1, escalate_at=next_at)
    )
    return getattr(result, "rowcount", 0) == 1


def link_answer_til(request_id: int, til_id: int | None, *, session: Session) -> None:
    session.execute(
        update(HelpRequest).where(col(HelpRequest.id) == request_id).values(answer_til_id=til_id)
    )


def iter_help_requests(
    *,
    session: Session,
    team_id: str | None = None,
    asker_id: str | None = None,
    batch_size: int = 500,
) -> Iterator[tuple[HelpRequest, list[str], list[HelpRoute]]]:
    """Every help request (of one workspace and asker, if given) with its tags and routes,
    oldest first, in batches."""
    last_id = 0
    while True:
        statement = (
            select(HelpRequest)
            .where(col(HelpRequest.id) > last_id)
            .order_by(col(HelpRequest.id))
            .limit(batch_size)
        )
        if team_id is not None:
            statement = statement.where(HelpRequest.team_id == team_id)
        if asker_id is not None:
            statement = statement.where(HelpRequest.asker_id == asker_id)
        batch = list(session.exec(statement))
        if not batch:
            return
        for request in batch:
            assert request.id is not None
            yield (
                request,
                tags_of(request.id, session=session),
                routes_of(request.id, session=session),
            )
        session.expunge_all()
        last_id = batch[-1].id or last_id
