"""The leader lease: one replica at a time does the scheduled sweeps; another takes over when
the leader goes away."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from bot.leader import LEADER_LOCK_KEY, LeaderLease


def test_on_postgresql_one_replica_leads_and_another_takes_over(postgres_url: str) -> None:
    engines = [create_engine(postgres_url), create_engine(postgres_url)]
    first, second = (LeaderLease(engine) for engine in engines)
    try:
        assert first.is_leader() and not second.is_leader()
        assert first.is_leader(), "the leader keeps the lease"
        first.release()  # the leader stops (or dies: PostgreSQL drops its connection)
        assert second.is_leader(), "the other replica takes over at its next try"
        assert not LeaderLease(engines[0]).is_leader()
    finally:
        second.release()
        for engine in engines:
            engine.dispose()


def test_on_sqlite_the_single_host_always_leads(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert LeaderLease(engine).is_leader() and LeaderLease(engine).is_leader()


def test_when_the_leaders_connection_dies_another_replica_takes_over(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    first, second = LeaderLease(engine), LeaderLease(engine)
    try:
        assert first.is_leader() and not second.is_leader()
        with engine.begin() as admin:  # the leader's host vanishes: its backend is killed
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key"
                ),
                {"key": LEADER_LOCK_KEY},
            )
        assert second.is_leader(), "the lock went with the dead connection"
        assert not first.is_leader(), "the old leader notices it lost the lease"
    finally:
        first.release()
        second.release()
        engine.dispose()
