"""Shared fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

The schema is created once per backend by the Alembic migrations (never by create_all); after
each test every table is emptied, so tests are isolated even when the app commits, several
connections race, or a browser drives a server thread.
"""

from __future__ import annotations

import os
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from cli.bootstrap import bootstrap
from kb.accounts import security
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.db import make_engine, metadata, session_factory
from kb.migrate import upgrade
from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET, api_token_for, fresh_postgres_database
from kb.accounts.actors import SYSTEM

# Real argon2id, at a cost fit for thousands of test users: pwdlib's recommended parameters (kept in
# production, checked by tests/kb/test_security.py) take 0.1-1 s a hash on this machine, and hashing
# was a large part of the suite's run. Hashes record their parameters, so verification is unchanged.
security.use_hasher(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),)))

# As every entry point does: every table module loaded, every domain-event subscriber and periodic
# job registered (services publish events whose reactions the tests check).
bootstrap()

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'kb.sqlite3'}"
    else:
        url = fresh_postgres_database(request)
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()


def _empty_all_tables(eng) -> None:
    tables = [t for t in metadata.sorted_tables]
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE of every table (a new file
            # for each) cost 0.8 s per test against a few milliseconds. Replica mode skips triggers
            # (the append-only ones and the foreign-key checks) for this cleanup only; the sequences
            # restart at 1, as after TRUNCATE ... RESTART IDENTITY.
            deletes = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(tables))
            conn.exec_driver_sql(f"SET LOCAL session_replication_role = replica; {deletes}; "
                                 "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'")
            return
        # The append-only triggers refuse DELETE: set them aside for the cleanup, in the same transaction.
        triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        # entry <-> revision reference each other; SQLite checks keys per statement.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for table in reversed(tables):
            conn.execute(table.delete())
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


@pytest.fixture
def db(engine):
    """A session for arranging and checking data directly; tables are emptied afterwards."""
    session: Session = session_factory(engine)()
    yield session
    session.close()
    _empty_all_tables(engine)


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Periodic jobs off: tests run them explicitly, so nothing changes data behind their back.
    # Semantic search off: the app's indexer would load the embedding model and embed every test's
    # content; tests of hybrid search (tests/search) build their backends with it on.
    # The query log written as each search is made (tests read it at once; tests/search/test_querylog_writer.py
    # covers the batches).
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, query_log_seconds=0)


@pytest.fixture
def app(engine, db, settings):
    from web.app import create_app

    return create_app(settings=settings, engine=engine)


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def make_user(db):
    """Create a user directly through the service: make_user("author", "expert", email=...)."""
    from kb.accounts import service as accounts

    counter = {"n": 0}

    def _make(*roles: str, email: str | None = None, name: str | None = None, password: str = PASSWORD):
        counter["n"] += 1
        email = email or f"user{counter['n']}-{uuid.uuid4().hex[:6]}@example.com"
        data = UserCreate(
            email=email,
            display_name=name or f"User {counter['n']}",
            roles=[Role(r) for r in (roles or ("agent",))],
            password=password,
        )
        user = accounts.create_user(session=db, actor=SYSTEM, data=data)
        db.commit()
        return user

    return _make


@pytest.fixture
def bearer(db):
    def _headers(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_token_for(db, user)}"}

    return _headers

