"""Queries and writes for TILs. Functions add/flush and never commit: the caller owns the
transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from storage.db import BulkInsert, insert_once
from storage.models import TIL_TABLE, TIL_TAG_TABLE, Til, TilReaction, TilSource, TilTag
from storage.search import RANKED_MATCHES, matching_ids
from storage.types import utcnow


@dataclass(frozen=True)
class NewTil:
    """What a capture path knows about a message it wants to keep."""

    team_id: str
    channel_id: str
    message_ts: str | None
    author_id: str
    captured_by: str
    source: TilSource
    text: str
    tags: tuple[str, ...]
    thread_ts: str | None = None
    permalink: str | None = None


_TIL_COLUMNS = (
    "team_id",
    "channel_id",
    "message_ts",
    "thread_ts",
    "author_id",
    "captured_by",
    "source",
    "text",
    "permalink",
    "created_at",
    "updated_at",
)
# Keyword TILs may already be stored: a message's rows come back with their key, the others
# are skipped. /til TILs have no message yet, so nothing collides and rows come back in order.
_INSERT_MESSAGE_TILS = BulkInsert(
    TIL_TABLE,
    _TIL_COLUMNS,
    unique=("team_id", "channel_id", "message_ts"),
    returning=("id", "team_id", "channel_id", "message_ts"),
)
_INSERT_UNPOSTED_TILS = BulkInsert(TIL_TABLE, _TIL_COLUMNS, returning=("id",))
_INSERT_TAGS = BulkInsert(TIL_TAG_TABLE, ("team_id", "til_id", "tag"))


def add_til(new: NewTil, *, session: Session) -> Til | None:
    """Insert a TIL and its tags; None when that message is already stored (idempotent)."""
    now = utcnow()
    [til_id] = add_tils([new], session=session, now=now)
    if til_id is None:
        return None
    return Til.model_validate(
        {"id": til_id, **dict(zip(_TIL_COLUMNS, _row(new, now), strict=True))}
    )


def add_tils(
    batch: Sequence[NewTil], *, session: Session, now: datetime | None = None
) -> list[int | None]:
    """Insert TILs and their tags, one statement for each table whatever the batch's size;
    for each TIL its new id, or None when its message is already stored (idempotent).

    This is the ingestion hot path (a group commit's worth of messages): no ORM, no flush, and
    a duplicate costs no exception, so the caller's transaction stays usable. All get the same
    `now` as their created and updated time (this moment unless given).
    """
    connection = session.connection()
    stored_at = _INSERT_UNPOSTED_TILS.bind(connection, "created_at", now or utcnow())
    ids: list[int | None] = [None] * len(batch)
    first_of_message: dict[tuple[str, str, str], int] = {}
    unposted: list[int] = []
    for index, new in enumerate(batch):
        if new.message_ts is None:
            unposted.append(index)
        else:  # the same message twice in one batch (a retry) is stored once
            first_of_message.setdefault((new.team_id, new.channel_id, new.message_ts), index)
    if first_of_message:
        rows = _INSERT_MESSAGE_TILS.run(
            connection, [_row(batch[index], stored_at) for index in first_of_message.values()]
        )
        for til_id, team_id, channel_id, message_ts in rows:
            ids[first_of_message[(team_id, channel_id, message_ts)]] = til_id
    if unposted:
        unposted_ids = _INSERT_UNPOSTED_TILS.ids(
            connection, [_row(batch[index], stored_at) for index in unposted]
        )
        for index, til_id in zip(unposted, unposted_ids, strict=True):
            ids[index] = til_id
    _add_tags(
        [
            row
            for new, til_id in zip(batch, ids, strict=True)
            if til_id is not None
            for row in _tag_rows(new.team_id, til_id, new.tags)
        ],
        session=session,
    )
    return ids


def _row(new: NewTil, stored_at: object) -> tuple[object, ...]:
    """A TIL's values in _TIL_COLUMNS order, with `stored_at` as created and updated time (as
    the driver takes it for an insert; add_til passes the datetime to build its model)."""
    return (
        new.team_id,
        new.channel_id,
        new.message_ts,
        new.thread_ts,
        new.author_id,
        new.captured_by,
        new.source.value,
        new.text,
        new.permalink,
        stored_at,
        stored_at,
    )


def get_til(til_id: int, *, session: Session) -> Til | None:
    return session.get(Til, til_id)


def get_til_by_message(
    team_id: str, channel_id: str, message_ts: str, *, session: Session
) -> Til | None:
    return session.exec(
        select(Til).where(
            Til.team_id == team_id, Til.channel_id == channel_id, Til.message_ts == message_ts
        )
    ).one_or_none()


def update_til_text(til: Til, text_: str, tags: Iterable[str], *, session: Session) -> None:
    """New text and tags for a stored TIL (`til` as returned by add_til or a query)."""
    assert til.id is not None
    session.execute(
        update(TIL_TABLE).where(TIL_TABLE.c.id == til.id).values(text=text_, updated_at=utcnow())
    )
    session.execute(delete(TIL_TAG_TABLE).where(TIL_TAG_TABLE.c.til_id == til.id))
    _add_tags(_tag_rows(til.team_id, til.id, tags), session=session)


def set_til_message(til_id: int, message_ts: str, permalink: str, *, session: Session) -> None:
    """Link a TIL to its Slack message; a single UPDATE, no read first."""
    session.execute(
        update(Til).where(col(Til.id) == til_id).values(message_ts=message_ts, permalink=permalink)
    )


def delete_til(til: Til, *, session: Session) -> None:
    """Remove a TIL; its tags go with it (ON DELETE CASCADE)."""
    session.execute(delete(TIL_TABLE).where(TIL_TABLE.c.id == til.id))


def list_tags(til_id: int, *, session: Session) -> list[str]:
    return list(
        session.exec(select(TilTag.tag).where(TilTag.til_id == til_id).order_by(col(TilTag.tag)))
    )


def count_tils(team_id: str, *, session: Session) -> int:
    return session.exec(select(func.count()).select_from(Til).where(Til.team_id == team_id)).one()


def search_tils(
    team_id: str,
    query: str,
    *,
    session: Session,
    limit: int = 5,
    any_word: bool = False,
    ranked: int = RANKED_MATCHES,
) -> list[Til]:
    """The best matches for the words of `query` (all of them, or any), best first."""
    ids = matching_ids(
        "til", team_id, query, session=session, limit=limit, any_word=any_word, ranked=ranked
    )
    tils = {til.id: til for til in session.exec(select(Til).where(col(Til.id).in_(ids)))}
    return [tils[til_id] for til_id in ids if til_id in tils]


def iter_tils(
    *,
    session: Session,
    team_id: str | None = None,
    author_id: str | None = None,
    batch_size: int = 500,
) -> Iterator[tuple[Til, list[str]]]:
    """Every TIL (of one workspace and author, if given) with its tags, oldest first, fetched
    in batches so memory stays flat."""
    last_id = 0
    while True:
        statement = select(Til).where(col(Til.id) > last_id).order_by(col(Til.id)).limit(batch_size)
        if team_id is not None:
            statement = statement.where(Til.team_id == team_id)
        if author_id is not None:
            statement = statement.where(Til.author_id == author_id)
        batch = list(session.exec(statement))
        if not batch:
            return
        tags: dict[int | None, list[str]] = {til.id: [] for til in batch}
        rows = session.exec(
            select(TilTag.til_id, TilTag.tag)
            .where(col(TilTag.til_id).in_(list(tags)))
            .order_by(col(TilTag.tag))
        )
        for til_id, tag in rows:
            tags[til_id].append(tag)
        for til in batch:
            yield til, tags[til.id]
        session.expunge_all()
        last_id = batch[-1].id or last_id


def _tag_rows(team_id: str, til_id: int, tags: Iterable[str]) -> list[tuple[str, int, str]]:
    return [(team_id, til_id, tag) for tag in dict.fromkeys(tags)]


def _add_tags(rows: list[tuple[str, int, str]], *, session: Session) -> None:
    _INSERT_TAGS.run(session.connection(), rows)


def record_reaction(
    team_id: str,
    channel_id: str,
    message_ts: str,
    user_id: str,
    reaction: str,
    *,
    added: bool,
    session: Session,
) -> bool:
    """Count a reaction to a TIL's message, or un-count one taken back; False when the message
    is no TIL or nothing changed (a retried event). Flushes, never commits."""
    til = get_til_by_message(team_id, channel_id, message_ts, session=session)
    if til is None or til.id is None:
        return False
    if added:
        row = TilReaction(team_id=team_id, til_id=til.id, user_id=user_id, reaction=reaction)
        changed = insert_once(row, session=session)
    else:
        removed = session.execute(
            delete(TilReaction).where(
                col(TilReaction.til_id) == til.id,
                col(TilReaction.user_id) == user_id,
                col(TilReaction.reaction) == reaction,
            )
        )
        changed = bool(removed.rowcount)  # type: ignore[attr-defined]
    if changed:
        session.execute(
            update(Til)
            .where(col(Til.id) == til.id)
            .values(reaction_count=col(Til.reaction_count) + (1 if added else -1))
        )
    return changed
