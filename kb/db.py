"""Engine and sessions. SQLite (WAL, foreign keys) by default, PostgreSQL via KB_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel, create_engine

from kb.errors import ValidationFailed

# Stable constraint names, so Alembic migrations are the same on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def _configure_sqlite(dbapi_connection, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite): pysqlite's own deferred BEGIN
    # breaks SAVEPOINTs and would let two writers interleave.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_sqlite(connection) -> None:
    # Writers take the write lock up front: a deferred transaction that read first could not
    # upgrade later ("database is locked") when another writer committed in between.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_nul, retval=True)
    return engine


def _refuse_nul(conn, cursor, statement, parameters, context, executemany):
    """PostgreSQL refuses NUL characters in text; refuse them on every database alike, as the
    person's input error it is (a 422), instead of a driver error (a 500)."""
    if _has_nul(parameters):
        raise ValidationFailed("The text contains a NUL character (\\0), which cannot be stored. "
                               "Remove it and try again.")
    return statement, parameters


def _has_nul(value) -> bool:
    """Whether any text in the (possibly nested: executemany, insertmanyvalues) parameters has a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    if url is None:
        from kb.settings import get_settings

        url = get_settings().sqlalchemy_url
    return make_engine(url)


def writer(engine: Engine) -> Engine:
    """The engine for transactions that will write (SQLite: BEGIN IMMEDIATE; others: unchanged)."""
    return engine.execution_options(sqlite_immediate=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One writing transaction: commit when the block succeeds, roll back when it raises."""
    session = session_factory(writer(engine))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def append_only(model, error: type[Exception], message: str) -> None:
    """Make ``model``'s table append-only at the ORM level: updating or deleting a row raises
    ``error(message)`` (audit trail, reputation ledger)."""
    def refuse(_mapper, _connection, _target) -> None:
        raise error(message)

    event.listen(model, "before_update", refuse)
    event.listen(model, "before_delete", refuse)
