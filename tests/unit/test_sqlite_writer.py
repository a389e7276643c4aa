"""SQLite writers in one process queue on a lock that every way out of a transaction frees."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from bot.db import session as db_session
from bot.db.session import make_engine


def test_writer_lock_is_freed_by_commit_rollback_and_close(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lock left held would make the next BEGIN wait this long, failing the test's timeout.
    monkeypatch.setattr(db_session, "SQLITE_WRITER_WAIT_SECONDS", 20.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    started = time.monotonic()
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))

        def fail_inside() -> None:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            fail_inside()
        with engine.connect() as connection:  # closed with its transaction still open
            connection.execute(text("SELECT 1"))

        def write(n: int) -> None:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

        threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert count == 20  # every writer got in; the rolled-back row is not there
        assert time.monotonic() - started < 10, "a writer waited for a lock nobody held"
    finally:
        engine.dispose()


def test_sqlite_pool_keeps_a_connection_per_thread(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}", pool_size=8, threads=72)
    try:
        assert engine.pool.size() == 72  # type: ignore[attr-defined]  # QueuePool.size()
    finally:
        engine.dispose()
