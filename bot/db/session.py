"""Engines and sessions: one short transaction per unit of work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SessionFactory = sessionmaker[Session]
SQLITE_WRITER_WAIT_SECONDS = 30.0


def make_engine(database_url: str, *, pool_size: int = 10, threads: int = 0) -> Engine:
    """Create an engine tuned for the bot's many short transactions from many threads.

    ``threads`` is how many threads may hold a connection at once. SQLite keeps that many
    open (they are only file handles): a pool smaller than that closes a connection at every
    return beyond it and opens a new one, with its PRAGMAs, at the next checkout.
    """
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=max(pool_size, threads),
            max_overflow=10,
        )
        _serialise_sqlite_writes(engine)
        return engine
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        # A server that never answers fails in seconds, not after the OS's TCP timeout.
        connect_args={"connect_timeout": 10},
    )


def _serialise_sqlite_writes(engine: Engine) -> None:
    """Use WAL and BEGIN IMMEDIATE so concurrent writers queue instead of failing.

    Within the process, writers also queue on a lock, handed over the moment a transaction
    ends: SQLite's own busy handler would retry a locked database after sleeps growing to
    100 ms. Other processes on the same file still queue through ``busy_timeout``.
    """
    writer = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Bounded like busy_timeout: past it, BEGIN IMMEDIATE queues in SQLite as before.
        connection.info["holds_writer"] = writer.acquire(timeout=SQLITE_WRITER_WAIT_SECONDS)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release_writer(connection)
            raise

    def _release_writer(connection: Any) -> None:
        if connection.info.pop("holds_writer", False):
            writer.release()

    # Both events fire before SQLAlchemy ends the transaction: end it here (the DB-API's own
    # commit or rollback that follows finds no transaction and does nothing), then hand over.
    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        try:
            connection.connection.dbapi_connection.commit()
        finally:
            _release_writer(connection)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        try:
            connection.connection.dbapi_connection.rollback()
        finally:
            _release_writer(connection)


def make_session_factory(engine: Engine, *, info: dict[str, Any] | None = None) -> SessionFactory:
    """Sessions of ``engine``; ``info`` is copied into every session's ``Session.info``."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with factory.begin() as session:
        yield session


def database_answers(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True
