"""storage.til on a real database: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage import til as til_store
from storage.db import BulkInsert
from storage.models import TIL_TABLE, TIL_TAG_TABLE, Til, TilSource
from storage.search import RANKED_MATCHES, matching_ids
from storage.types import utcnow

TEAM = "T1"
OTHER_TEAM = "T2"


def new_til(text: str, *, ts: str | None = "1700000000.000100", team: str = TEAM, tags=()):
    return til_store.NewTil(
        team_id=team,
        channel_id="C1",
        message_ts=ts,
        author_id="U1",
        captured_by="U1",
        source=TilSource.KEYWORD,
        text=text,
        tags=tuple(tags),
    )


def test_same_message_is_stored_once(session: Session) -> None:
    first = til_store.add_til(new_til("TIL one"), session=session)
    again = til_store.add_til(new_til("TIL one, again"), session=session)
    session.commit()
    assert first is not None and again is None, "a second insert of one message must be a no-op"
    assert til_store.count_tils(TEAM, session=session) == 1


def test_duplicate_leaves_the_transaction_usable(session: Session) -> None:
    til_store.add_til(new_til("TIL one"), session=session)
    til_store.add_til(new_til("TIL dup"), session=session)
    later = til_store.add_til(new_til("TIL two", ts="1700000000.000200"), session=session)
    session.commit()
    assert later is not None
    assert til_store.count_tils(TEAM, session=session) == 2


def test_tils_without_a_message_are_all_kept(session: Session) -> None:
    for text in ("TIL a", "TIL b"):
        assert til_store.add_til(new_til(text, ts=None), session=session) is not None
    session.commit()
    assert til_store.count_tils(TEAM, session=session) == 2


def test_a_batch_stores_each_message_once_and_maps_ids_to_their_tils(session: Session) -> None:
    """A group commit's batch: a message already stored, the same message twice (a retry that
    arrived with the first), TILs of two workspaces and /til ones without a message."""
    til_store.add_til(new_til("TIL stored before"), session=session)
    batch = [
        new_til("TIL stored before, retried"),
        new_til("TIL in T2 #a", team=OTHER_TEAM, tags=["a"]),
        new_til("TIL command one #b", ts=None, tags=["b", "b"]),
        new_til("TIL fresh #c", ts="1700000000.000300", tags=["c"]),
        new_til("TIL fresh, retried", ts="1700000000.000300", tags=["c"]),
        new_til("TIL command two", ts=None),
    ]
    ids = til_store.add_tils(batch, session=session)
    session.commit()
    assert [til_id is None for til_id in ids] == [True, False, False, False, True, False]
    texts = {til_id: til_store.get_til(til_id, session=session).text for til_id in ids if til_id}
    assert [texts.get(til_id) for til_id in ids] == [
        None,
        "TIL in T2 #a",
        "TIL command one #b",
        "TIL fresh #c",
        None,
        "TIL command two",
    ]
    assert [til_store.list_tags(til_id, session=session) for til_id in ids if til_id] == [
        ["a"],
        ["b"],
        ["c"],
        [],
    ]
    assert til_store.count_tils(TEAM, session=session) == 4
    assert til_store.count_tils(OTHER_TEAM, session=session) == 1


def test_each_til_of_a_large_batch_gets_its_own_id(session: Session) -> None:
    """/til TILs have no message to key them: their ids are matched to them by order alone."""
    batch = [new_til(f"TIL number {number}", ts=None, tags=[f"n{number}"]) for number in range(40)]
    ids = til_store.add_tils(batch, session=session)
    session.commit()
    assert [til_store.get_til(til_id, session=session).text for til_id in ids] == [
        new.text for new in batch
    ]
    assert [til_store.list_tags(til_id, session=session) for til_id in ids] == [
        [f"n{number}"] for number in range(40)
    ]


def test_tags_are_stored_and_replaced_on_update(session: Session) -> None:
    til = til_store.add_til(new_til("TIL x #python", tags=["python", "testing"]), session=session)
    assert til is not None and til.id is not None
    assert til_store.list_tags(til.id, session=session) == ["python", "testing"]
    til_store.update_til_text(til, "TIL y #sql", ["sql"], session=session)
    session.commit()
    assert til_store.list_tags(til.id, session=session) == ["sql"]
    assert til_store.get_til(til.id, session=session).text == "TIL y #sql"


def test_timestamps_round_trip_as_utc(session: Session) -> None:
    til = til_store.add_til(new_til("TIL time"), session=session)
    session.commit()
    session.expire_all()
    loaded = til_store.get_til(til.id, session=session)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize("microsecond", [0, 123456])
def test_a_batch_is_stored_at_the_time_given_and_found_by_time_ranges(
    session: Session, microsecond: int
) -> None:
    """The batch insert hands the driver its own text for times on SQLite: it must be the one
    SQLAlchemy writes, or ranges (what every summary counts on) would compare wrongly there."""
    stored_at = datetime(2026, 12, 7, 9, 30, 15, microsecond, tzinfo=UTC)
    til_store.add_tils([new_til("TIL when")], session=session, now=stored_at)
    orm_til = Til(
        team_id=TEAM,
        channel_id="C1",
        author_id="U1",
        captured_by="U1",
        source=TilSource.COMMAND,
        text="TIL through the ORM",
        created_at=stored_at,
        updated_at=stored_at,
    )
    session.add(orm_til)
    session.commit()
    session.expire_all()
    at = select(Til.text).where(Til.created_at == stored_at).order_by(Til.text)
    assert session.exec(at).all() == ["TIL through the ORM", "TIL when"]
    assert session.exec(select(Til).where(Til.created_at > stored_at)).all() == []
    later = stored_at + timedelta(microseconds=1)
    assert len(session.exec(select(Til).where(Til.created_at < later)).all()) == 2
    [loaded] = session.exec(select(Til).where(Til.text == "TIL when")).all()
    assert loaded.created_at == stored_at and loaded.updated_at == stored_at


def test_a_batch_keeps_any_text_exactly(session: Session) -> None:
    """PostgreSQL gets a batch as one JSON document: quotes, backslashes, markup, accents,
    emoji and line breaks come back as typed."""
    text = 'TIL "quotes", \\back\\slashes\\, <@U1|al> & café 🎉\nsecond line\t#tag'
    [til_id] = til_store.add_tils([new_til(text, tags=("tag",))], session=session)
    session.commit()
    session.expire_all()
    assert til_store.get_til(til_id, session=session).text == text
    assert til_store.list_tags(til_id, session=session) == ["tag"]


def test_a_bulk_insert_must_give_what_python_would_fill() -> None:
    """Columns SQLAlchemy fills by default (created_at, a status) are the caller's to give."""
    with pytest.raises(ValueError, match="created_at"):
        BulkInsert(TIL_TABLE, ("team_id", "channel_id", "author_id", "captured_by", "source"))


def test_a_failed_bulk_insert_raises_sqlalchemys_error_and_the_session_goes_on(
    session: Session,
) -> None:
    """The batch goes to the driver's cursor, but its failure is what callers catch (a database
    hiccup is retried or reported by its kind), and a rollback leaves the session usable."""
    tags = BulkInsert(TIL_TAG_TABLE, ("team_id", "til_id", "tag"))
    with pytest.raises(IntegrityError):
        tags.run(session.connection(), [(TEAM, 424242, "no-such-til")])
    session.rollback()
    assert til_store.add_til(new_til("TIL after a failed batch"), session=session) is not None
    session.commit()
    assert til_store.count_tils(TEAM, session=session) == 1


def test_search_finds_all_words_in_the_team_only(session: Session) -> None:
    til_store.add_til(new_til("TIL pytest fixtures compose nicely", ts="1.1"), session=session)
    til_store.add_til(new_til("TIL fixtures in sopel are small", ts="1.2"), session=session)
    til_store.add_til(
        new_til("TIL pytest fixtures elsewhere", ts="1.3", team=OTHER_TEAM), session=session
    )
    session.commit()
    found = til_store.search_tils(TEAM, "pytest fixtures", session=session)
    assert [til.message_ts for til in found] == ["1.1"]
    assert {til.message_ts for til in til_store.search_tils(TEAM, "fixtures", session=session)} == {
        "1.1",
        "1.2",
    }


def test_search_ignores_query_syntax_and_stems_words(session: Session) -> None:
    til_store.add_til(new_til("TIL indexes speed up joins", ts="1.1"), session=session)
    session.commit()
    for query in ('index" OR "x', "indexes AND (", "NEAR(joins)", "*", "joins:"):
        til_store.search_tils(TEAM, query, session=session)  # must not raise
    assert til_store.search_tils(TEAM, "index", session=session), "stemming: index ~ indexes"
    assert til_store.search_tils(TEAM, "?!", session=session) == []


def test_search_follows_edits_and_deletes(session: Session) -> None:
    til = til_store.add_til(new_til("TIL about kafka", ts="1.1"), session=session)
    session.commit()
    til_store.update_til_text(til, "TIL about rabbitmq", [], session=session)
    session.commit()
    assert til_store.search_tils(TEAM, "kafka", session=session) == []
    assert til_store.search_tils(TEAM, "rabbitmq", session=session)
    til_store.delete_til(til, session=session)
    session.commit()
    assert til_store.search_tils(TEAM, "rabbitmq", session=session) == []


def test_deleting_a_til_deletes_its_tags(session: Session) -> None:
    til = til_store.add_til(new_til("TIL x #a #b", tags=["a", "b"]), session=session)
    session.commit()
    til_store.delete_til(til, session=session)
    session.commit()
    assert til_store.list_tags(til.id, session=session) == []


def test_iter_tils_streams_every_record_in_batches(session: Session) -> None:
    for index in range(7):
        til_store.add_til(
            new_til(f"TIL {index}", ts=f"1.{index}", tags=[f"t{index}"]), session=session
        )
    til_store.add_til(new_til("TIL other", ts="2.0", team=OTHER_TEAM), session=session)
    session.commit()
    rows = list(til_store.iter_tils(session=session, team_id=TEAM, batch_size=3))
    assert [til.text for til, _ in rows] == [f"TIL {index}" for index in range(7)]
    assert [tags for _, tags in rows] == [[f"t{index}"] for index in range(7)]
    assert len(list(til_store.iter_tils(session=session))) == 8


def test_a_word_in_thousands_of_another_workspaces_tils_still_finds_this_workspaces(
    session: Session,
) -> None:
    """On SQLite the workspace is matched inside the search index, and only the latest
    RANKED_MATCHES of its matches are ranked: a busy neighbour never hides a quiet team's TILs."""
    busy = [
        {
            "team_id": "T0BUSY",
            "channel_id": "C1",
            "message_ts": f"1700000000.{n:06d}",
            "author_id": "U1",
            "captured_by": "U1",
            "source": TilSource.KEYWORD,
            "text": f"TIL deploys are common, number {n}",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for n in range(RANKED_MATCHES + 500)
    ]
    session.execute(TIL_TABLE.insert(), busy)
    for n, text in enumerate(("TIL common deploys", "TIL deploys, deploys, deploys are common")):
        til_store.add_til(new_til(text, ts=f"1800000000.{n:06d}"), session=session)
    session.commit()
    found = til_store.search_tils(TEAM, "deploys", session=session, limit=5)
    assert [til.text for til in found] == [
        "TIL deploys, deploys, deploys are common",
        "TIL common deploys",
    ], "this workspace's two, best first, none of the busy workspace's"
    assert len(til_store.search_tils("T0BUSY", "deploys", session=session, limit=5)) == 5


def _texts_found(session: Session, query: str, *, weighed_word_rows: int) -> list[str]:
    ids = matching_ids(
        "til", TEAM, query, session=session, limit=5, weighed_word_rows=weighed_word_rows
    )
    return [session.get(Til, til_id).text for til_id in ids]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_word_in_too_many_rows_does_not_weigh_in_the_ranking(
    session: Session,
) -> None:
    """bm25 weighs a word by a pass over all its rows; past `weighed_word_rows` rows the word
    still has to match but no longer orders the results: the other words do, or recency."""
    texts = [
        "TIL common common common, rare",  # the most of the common word
        "TIL rare rare and common",  # the most of the rare word
        "TIL common is everywhere today",
        "TIL a common thing, newest of all",
    ]
    for n, text in enumerate(texts):
        til_store.add_til(new_til(text, ts=f"1.{n}"), session=session)
    session.commit()
    assert _texts_found(session, "common", weighed_word_rows=100)[0] == texts[0], "bm25 (tf)"
    assert _texts_found(session, "common", weighed_word_rows=3) == texts[::-1], "newest first"
    assert _texts_found(session, "common rare", weighed_word_rows=3) == [texts[1], texts[0]]
    assert _texts_found(session, "rare common", weighed_word_rows=3) == [texts[1], texts[0]]
