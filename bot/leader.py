"""One replica does the scheduled sweeps: the holder of a PostgreSQL advisory lock.

The lock lives on a dedicated connection; if the leader dies, PostgreSQL drops its connection
and the lock, and another replica takes it at its next try (every sweep, 30 s). The sweeps are
safe to run twice anyway (unique run keys, conditional updates): the lease avoids the waste.
SQLite serves one host, so there the lease is always held.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica.
LEADER_LOCK_KEY = 4_242_002


class LeaderLease:
    def __init__(self, engine: Engine) -> None:
        self._always = engine.dialect.name != "postgresql"
        # Its own connection, outside the pool: the lock must outlive any request's session.
        self._engine = None if self._always else create_engine(engine.url, poolclass=NullPool)
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        """True while this process holds the lease; tries to take it when free."""
        if self._always:
            return True
        with self._lock:
            try:
                if self._connection is not None:
                    self._connection.execute(text("SELECT 1"))  # still alive, still ours
                    return True
                return self._try_acquire()
            except Exception:
                logger.warning("leader lease lost (database unreachable)", exc_info=True)
                self._drop()
                return False

    @property
    def held(self) -> bool:
        """Whether the last try (at start, then every sweep) left this process holding the lease;
        asks nothing of the database, so a readiness probe can read it."""
        return self._always or self._connection is not None

    def _try_acquire(self) -> bool:
        assert self._engine is not None
        connection = self._engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
        ).scalar_one()
        connection.commit()
        if got:
            self._connection = connection
            logger.info("this replica now leads the scheduled work")
            return True
        connection.close()
        return False

    def release(self) -> None:
        """Give the lease up at shutdown, so another replica takes over at its next sweep."""
        with self._lock:
            if self._connection is not None:
                logger.info("this replica no longer leads the scheduled work")
            self._drop()
        if self._engine is not None:
            self._engine.dispose()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                logger.debug("closing the lease connection failed", exc_info=True)
            self._connection = None
