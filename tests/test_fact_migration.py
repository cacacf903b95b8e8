"""Migration 7c3a9e51d2b4 fills workflow's ``reviewer_score`` and search's ``search_entry_facts``
from the tables they copy: what it writes equals what the services' events keep afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlmodel import Session, select

from cli.bootstrap import bootstrap
from expertise import ratings
from kb.accounts.actors import SYSTEM
from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.content import service as content
from kb.content.schemas import ArticleCreate
from kb.db import make_engine
from kb.migrate import alembic_config, upgrade
from search.models import SearchEntryFacts
from tests.conftest import BACKENDS
from tests.helpers import fresh_postgres_database
from workflow import policy
from workflow import service as workflow
from workflow.expiry import as_utc, sweep
from workflow.models import Action, Certification, ReviewerScore

BEFORE = "b1d5e7a0c3f2"


@pytest.fixture(params=BACKENDS)
def fresh_engine(request, tmp_path):
    """A database of its own: the test migrates it down and up again."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'facts.sqlite3'}"
    else:
        url = fresh_postgres_database(request, prefix="kb_facts")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _user(session: Session, role: str, name: str):
    return accounts.create_user(session=session, actor=SYSTEM, data=UserCreate(
        email=f"{name}@example.com", display_name=name, roles=[Role(role)], password=None))


def _certified(session: Session, author, expert, title: str):
    entry = content.create_article(session=session, actor=author,
                                   data=ArticleCreate(title=title, body="Body.", tags=["billing"]))
    for actor, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        workflow.transition(session=session, actor=actor, revision_id=entry.latest_revision_id, action=action)
    session.refresh(entry)
    return entry


def _facts(engine) -> tuple[list, list]:
    with Session(engine) as session:
        scores = [(r.user_id, r.tag_id, r.score) for r in session.exec(
            select(ReviewerScore).order_by(ReviewerScore.user_id, ReviewerScore.tag_id))]
        facts = [(r.entry_id, r.needs_reverification, r.helpful_score, r.reuse_count) for r in session.exec(
            select(SearchEntryFacts).order_by(SearchEntryFacts.entry_id))]
    return scores, facts


def _migrate(engine, step, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_the_backfill_equals_what_the_events_keep(fresh_engine):
    bootstrap()  # every package's reactions (idempotent; conftest has called it already)
    with Session(fresh_engine) as session:
        author, expert = _user(session, "author", "author"), _user(session, "expert", "expert")
        agent, colleague = _user(session, "agent", "agent"), _user(session, "agent", "colleague")
        # A draft brings the topic into being, so the expert can be designated for it.
        content.create_article(session=session, actor=author, data=ArticleCreate(title="Draft", body="B",
                                                                                  tags=["billing"]))
        policy.designate_expert(session=session, actor=SYSTEM, topic="billing", user=expert)
        stale = _certified(session, author, expert, "Stale")
        rated = _certified(session, author, expert, "Rated")
        archived = _certified(session, author, expert, "Archived")
        plain = _certified(session, author, expert, "Plain")
        until = session.get(Certification, stale.id).valid_until
        for later in (rated, archived, plain):
            session.get(Certification, later.id).valid_until = as_utc(until) + timedelta(days=30)
        session.flush()
        assert sweep(session=session, now=as_utc(until) + timedelta(minutes=1)).expired == [stale.id]
        ratings.vote(session=session, entry=rated, actor=agent, value=1)
        ratings.vote(session=session, entry=rated, actor=colleague, value=-1)
        ratings.record_reuse(session=session, entry=rated, actor=agent, source="search")
        workflow.archive(session=session, actor=expert, entry=archived)
        session.commit()
        ids = stale.id, rated.id, archived.id
        authors = {author.id, expert.id}

    kept = _facts(fresh_engine)
    scores, facts = kept
    assert {user_id for user_id, _, _ in scores} == authors
    by_entry = {entry_id: rest for entry_id, *rest in facts}
    assert by_entry[ids[0]] == [True, 0.0, 0] and by_entry[ids[2]] == [False, 0.0, 0]
    assert by_entry[ids[1]] == [False, ratings.wilson_lower_bound(1, 2), 1]
    assert len(facts) == 4  # every certified entry; the draft has nothing to rank by yet

    _migrate(fresh_engine, command.downgrade, BEFORE)
    _migrate(fresh_engine, command.upgrade, "head")
    assert _facts(fresh_engine) == kept
