"""The benchmark dataset (bench/dataset.py) at a tiny size: what the benchmarks rely on."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bench.dataset import ANCHOR, MARKER, TABLES, Sizes, ensure, first_day, generate, vocabulary
from storage.db import create_db_engine, upgrade
from storage.search import matching_ids

TINY = {"tils": 2_000, "help_requests": 400, "reflection_responses": 100, "workspaces": 3}
TEAMS = ["T0000", "T0001", "T0002"]


def count(engine: sa.Engine, table: str, *where: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(TABLES[table]).where(*where)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def teams_with_rows(engine: sa.Engine, table: str) -> list[str]:
    team_id = TABLES[table].c.team_id
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(team_id).distinct()).scalars())


def checksum(engine: sa.Engine) -> str:
    """A digest of the rows benchmarks read, through the column types, so it is the same
    whichever database holds them."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in ("til", "til_tag", "help_request", "reflection_run", "reflection_response"):
            columns = TABLES[table].c
            for row in connection.execute(sa.select(columns).order_by(columns.id)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def marker_generated_at(engine: sa.Engine) -> datetime:
    with engine.connect() as connection:
        return connection.execute(sa.select(MARKER.c.generated_at)).scalar_one()


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    """The test's own reading engine; unlike conftest's, it leaves the database unmigrated.

    No pool: a kept SQLite connection would go on reading a regenerated file's deleted inode.
    """
    return sa.create_engine(database_url, poolclass=NullPool)


def test_dataset_has_the_requested_sizes_and_shapes_in_every_workspace(
    database_url: str, engine: sa.Engine
) -> None:
    ensure(database_url, **TINY, progress=False)

    assert count(engine, "til") == 2_000
    assert count(engine, "help_request") == 400
    assert count(engine, "reflection_response") == 100
    assert 2_000 < count(engine, "til_tag") <= 6_000, "1 to 3 tags per TIL"
    assert 400 < count(engine, "help_request_tag") <= 800, "1 or 2 tags per question"
    for table in ("til", "help_request", "reflection_run", "reflection_response", "channel_info"):
        assert teams_with_rows(engine, table) == TEAMS, f"every workspace has {table} rows"
    channel = TABLES["channel_info"].c
    for team in TEAMS:
        assert count(engine, "channel_info", channel.team_id == team, channel.is_private) == 1
    til = TABLES["til"].c
    with engine.connect() as connection:
        reactions = connection.execute(sa.select(sa.func.sum(til.reaction_count))).scalar_one()
    assert count(engine, "til_reaction") == reactions, "reaction_count counts til_reaction rows"
    outside = sa.or_(til.created_at < first_day(Sizes(**TINY)), til.created_at >= ANCHOR)
    assert count(engine, "til", outside) == 0, "TILs fall in the weeks before the anchor"

    question = TABLES["help_request"].c
    answered = count(engine, "help_request", question.first_answer_at.is_not(None))
    resolved = count(engine, "help_request", question.status == "resolved")
    assert 0.6 < answered / 400 < 0.8 and 0.4 < resolved / 400 < 0.6, (answered, resolved)
    out_of_order = sa.or_(
        question.first_answer_at <= question.created_at,
        question.resolved_at < question.first_answer_at,
        question.first_answerer_id == question.asker_id,
    )
    assert count(engine, "help_request", out_of_order) == 0

    response, run = TABLES["reflection_response"], TABLES["reflection_run"]
    with engine.connect() as connection:
        early = connection.execute(
            sa.select(sa.func.count())
            .select_from(response.join(run, run.c.id == response.c.run_id))
            .where(
                sa.or_(response.c.created_at <= run.c.sent_at, response.c.team_id != run.c.team_id)
            )
        ).scalar_one()
    assert early == 0, "every answer comes after its prompt, in the prompt's workspace"

    # Production's full-text index was filled by production's triggers / generated columns.
    with Session(engine) as session:
        found = matching_ids("til", "T0000", vocabulary()[50], session=session, limit=5)
    assert len(found) == 5, "a common word is found through the search index"


def test_ensure_reuses_a_dataset_generated_with_the_same_sizes(
    database_url: str, engine: sa.Engine
) -> None:
    ensure(database_url, **TINY, progress=False)
    generated_at = marker_generated_at(engine)

    started = time.perf_counter()
    ensure(database_url, **TINY, progress=False)

    assert time.perf_counter() - started < 2, "reusing is a marker lookup, not a generation"
    assert marker_generated_at(engine) == generated_at, "the dataset was not regenerated"
    assert count(engine, "til") == 2_000


def test_same_seed_gives_the_same_rows_and_other_sizes_regenerate(
    database_url: str, engine: sa.Engine
) -> None:
    ensure(database_url, **TINY, progress=False)
    first = checksum(engine)

    ensure(database_url, **TINY, seed=8, progress=False)
    other_seed = checksum(engine)
    ensure(database_url, **{**TINY, "tils": 1_000}, progress=False)
    fewer = count(engine, "til")
    ensure(database_url, **TINY, progress=False)

    assert other_seed != first, "another seed gives other rows"
    assert fewer == 1_000, "other sizes regenerate the dataset"
    assert checksum(engine) == first, "the same seed and sizes give identical rows"


def test_generate_refuses_a_database_it_did_not_make(database_url: str) -> None:
    learnloop = create_db_engine(database_url, pool_size=1)
    upgrade(learnloop)
    learnloop.dispose()

    with pytest.raises(RuntimeError, match="refusing to wipe"):
        generate(database_url, **TINY, progress=False)
