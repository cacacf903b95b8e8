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
from sqlalchemy import text
from sqlmodel import Session

from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.db import make_engine, metadata, session_factory
from kb.migrate import upgrade
from kb.schema import load_all_models
from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET, api_token_for, fresh_postgres_database

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request, tmp_path_factory):
    load_all_models()
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
            names = ", ".join(f'"{t.name}"' for t in tables)
            # The append-only triggers refuse TRUNCATE; replica mode skips triggers for this cleanup only.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
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
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False)


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
        user = accounts.create_user(session=db, actor=None, data=data)
        db.commit()
        return user

    return _make


@pytest.fixture
def bearer(db):
    def _headers(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_token_for(db, user)}"}

    return _headers

