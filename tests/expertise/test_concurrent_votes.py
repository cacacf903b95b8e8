"""Votes and certifications at the same moment, crosswise between authors, never deadlock.

Each vote names its voter (a foreign key: the database locks the voter's row FOR KEY SHARE) and,
when it commits, recomputes the score of the rated entry's author (locking the author's row). Eight
authors voting on each other's articles in a ring, released together, deadlocked on PostgreSQL while
the score recompute took FOR UPDATE; it takes FOR NO KEY UPDATE, once per transaction, in id order."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from expertise import ratings
from expertise.models import ExpertiseScore, Vote
from kb.content.models import Entry
from kb.db import make_engine, session_factory, writer
from tests.expertise.people_world import article, certify, designate, person, reactions

pytestmark = pytest.mark.usefixtures("reactions")
assert reactions  # the fixture, used through pytestmark

AUTHORS = 8
ENTRIES_EACH = 3


@pytest.fixture
def ring(db):
    """Eight authors with three certified articles each; one expert certified them all."""
    expert = person(db, "expert", name="Erin Expert")
    authors = [person(db, "author", name=f"Author {n}") for n in range(AUTHORS)]
    db.commit()
    entries = {}
    for n, author in enumerate(authors):
        entries[author.id] = []
        for k in range(ENTRIES_EACH):
            entry = article(db, author, title=f"Refund case {n}-{k}")
            designate(db, expert, "refunds")  # once the topic exists
            certify(db, entry.latest_revision_id, author, expert)
            entries[author.id].append(entry.id)
    db.commit()
    return authors, entries


def test_authors_voting_on_each_other_at_once_all_get_through(engine, db, ring):
    authors, entries = ring
    racing = make_engine(engine.url.render_as_string(hide_password=False), pool_size=AUTHORS + 2, max_overflow=2)
    factory = session_factory(writer(racing))
    barrier = threading.Barrier(AUTHORS)
    errors: list[str] = []

    def voter(index: int) -> None:
        me, next_author = authors[index], authors[(index + 1) % AUTHORS]
        for entry_id in entries[next_author.id]:
            barrier.wait(timeout=60)  # every round starts together: the ring of waits, if any, closes
            session = factory()
            try:
                ratings.vote(session=session, entry=session.get(Entry, entry_id), actor=session.get(type(me), me.id),
                             value=ratings.HELPFUL)
                session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports whatever reached the caller
                session.rollback()
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                session.close()

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(AUTHORS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        racing.dispose()
    assert errors == []
    db.expire_all()
    assert len(db.exec(select(Vote)).all()) == AUTHORS * ENTRIES_EACH
    # Every author's score counts the three helpful votes their articles got.
    for author in authors:
        components = [row.components for row in db.exec(select(ExpertiseScore).where(ExpertiseScore.user_id == author.id))]
        assert any(c.get("helpful_votes") for c in components), author.display_name
