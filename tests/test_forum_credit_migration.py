"""Migration e5a1c9f3b7d2: articles already turned from forum answers get the answer's author as
author and the promoter as co-author; duplicates the double-post bug made keep no link to the answer
(one article per answer from now on), and the way back down works."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from kb.accounts.actors import SYSTEM
from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.db import make_engine
from kb.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS
from tests.helpers import fresh_postgres_database

BEFORE = "e6b2f4a81c37"  # the migration just before this one
entry = sa.table("entry", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("parent_id", sa.Integer), sa.column("author_id", sa.Integer),
                 sa.column("promoted_from_id", sa.Integer), sa.column("created_at", sa.DateTime),
                 sa.column("activity_at", sa.DateTime))


@pytest.fixture(params=BACKENDS)
def fresh_engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'credit.sqlite3'}" if request.param == "sqlite" else fresh_postgres_database(
        request, prefix="kb_credit")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _migrate(engine, step, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_promoted_articles_credit_the_answers_author_and_duplicates_lose_the_link(fresh_engine):
    with Session(fresh_engine) as session:
        asker, answerer, promoter = (accounts.create_user(session=session, actor=SYSTEM, data=UserCreate(
            email=f"{name}@example.com", display_name=name, roles=[Role(role)], password=None)).id
            for name, role in (("asker", "agent"), ("answerer", "author"), ("promoter", "expert")))
        session.commit()
    _migrate(fresh_engine, command.downgrade, BEFORE)
    now = sa.func.now()
    rows = [  # (id, kind, parent, author, promoted from)
        (1, "question", None, asker, None), (2, "answer", 1, answerer, None), (3, "answer", 1, promoter, None),
        (10, "article", None, promoter, 2), (11, "article", None, promoter, 2),  # the double post
        (12, "article", None, promoter, 3),  # the promoter's own answer: nothing to change
    ]
    with fresh_engine.begin() as connection:
        for id_, kind, parent, author, promoted in rows:
            connection.execute(entry.insert().values(id=id_, kind=kind, parent_id=parent, author_id=author,
                                                     promoted_from_id=promoted, created_at=now, activity_at=now))
    _migrate(fresh_engine, command.upgrade, "head")
    with fresh_engine.connect() as connection:
        got = {r.id: (r.author_id, r.co_author_id, r.promoted_from_id) for r in connection.execute(
            sa.text("SELECT id, author_id, co_author_id, promoted_from_id FROM entry WHERE kind = 'article'"))}
    assert got == {10: (answerer, promoter, 2), 11: (promoter, None, None), 12: (promoter, None, 3)}
    assert _entry_ids(fresh_engine) == [1, 2, 3, 10, 11, 12]  # nothing lost on the way (answers!)
    _migrate(fresh_engine, command.downgrade, BEFORE)
    assert _entry_ids(fresh_engine) == [1, 2, 3, 10, 11, 12]
    _migrate(fresh_engine, command.upgrade, "head")


def _entry_ids(engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT id FROM entry ORDER BY id")).scalars())
