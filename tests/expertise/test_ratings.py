"""Ratings: helpful votes (one per person, changeable, undoable, never on your own work), reuse
links, the entry's rating summary, the events other packages react to, and racing requests."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from collections.abc import Callable

import pytest
from expertise import ratings
from expertise.models import EntryRating, Reuse, ReuseSource, Vote
from kb import events
from kb.accounts import service as accounts
from kb.accounts.models import Role, User
from kb.accounts.schemas import UserCreate
from kb.clock import travel, utcnow
from kb.content.models import Entry
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb.content.service import create_article, save_revision
from kb.db import make_engine, session_factory, writer
from kb.errors import Forbidden, NotFound, ValidationFailed
from search import outbox
from search.documents import documents_for_entry
from search.models import SearchOutbox
from tests.expertise.ratings_content import certify, rated_content, reload
from tests.helpers import rows
from kb.accounts.actors import SYSTEM

RATING_EVENTS = ("vote.changed", "entry.reused")


@pytest.fixture
def content(db, make_user):
    return rated_content(db, make_user)


@pytest.fixture
def published():
    """Every rating event published during the test, in order."""
    seen: list[events.Event] = []

    def record(_session, event):
        seen.append(event)

    for name in RATING_EVENTS:
        events.subscribe(name, record)
    yield seen
    for name in RATING_EVENTS:
        events._handlers[name].remove(record)


def summary_row(db, entry_id: int) -> EntryRating:
    return rows(db, EntryRating, entry_id=entry_id)[0]


# --- Wilson lower bound ------------------------------------------------------------------------


def test_wilson_ranks_more_evidence_above_the_same_share():
    many, few = ratings.wilson_lower_bound(90, 100), ratings.wilson_lower_bound(9, 10)
    assert many > few > ratings.wilson_lower_bound(1, 1)
    assert many == pytest.approx(0.8256, abs=1e-4) and few == pytest.approx(0.5958, abs=1e-4)
    assert ratings.wilson_lower_bound(0, 0) == 0.0
    assert ratings.wilson_lower_bound(0, 5) == 0.0
    assert ratings.wilson_lower_bound(1, 2) < ratings.wilson_lower_bound(2, 2)


# --- votes -------------------------------------------------------------------------------------


def test_vote_change_and_undo_keep_one_vote_and_the_summary(db, content, published):
    article, agent = content.article, content.agent
    summary = ratings.vote(session=db, entry=article, actor=agent, value=1)
    assert (summary.helpful, summary.not_helpful, summary.my_vote) == (1, 0, 1)
    assert summary.wilson == pytest.approx(ratings.wilson_lower_bound(1, 1))

    summary = ratings.vote(session=db, entry=article, actor=agent, value=-1)  # changes its mind
    assert (summary.helpful, summary.not_helpful, summary.my_vote) == (0, 1, -1)
    db.commit()
    assert [v.value for v in rows(db, Vote, entry_id=article.id)] == [-1]
    assert (summary_row(db, article.id).helpful, summary_row(db, article.id).not_helpful) == (0, 1)

    same = ratings.vote(session=db, entry=article, actor=agent, value=-1)  # the same vote again: nothing changes
    assert (same.not_helpful, same.my_vote) == (1, -1)

    undone = ratings.clear_vote(session=db, entry=article, actor=agent)
    assert (undone.helpful, undone.not_helpful, undone.my_vote, undone.wilson) == (0, 0, 0, 0.0)
    ratings.clear_vote(session=db, entry=article, actor=agent)  # nothing left to undo: no error
    db.commit()
    assert rows(db, Vote, entry_id=article.id) == []
    assert [(e.data["previous"], e.data["value"]) for e in published] == [(0, 1), (1, -1), (-1, 0)]


def test_summary_counts_everyones_votes(db, content, make_user):
    article, answer = content.article, content.answer
    voters = [content.agent, content.colleague, content.expert] + [make_user("agent") for _ in range(2)]
    for voter, value in zip(voters, (1, 1, 1, -1, 1), strict=True):
        ratings.vote(session=db, entry=article, actor=voter, value=value)
    ratings.vote(session=db, entry=answer, actor=content.colleague, value=-1)
    db.commit()
    row = summary_row(db, article.id)
    assert (row.helpful, row.not_helpful) == (4, 1)
    assert row.wilson == pytest.approx(ratings.wilson_lower_bound(4, 5))
    assert (summary_row(db, answer.id).helpful, summary_row(db, answer.id).not_helpful) == (0, 1)

    seen = ratings.ratings_for(session=db, entry_ids=[article.id, answer.id, content.question.id], user=content.colleague)
    assert (seen[article.id].helpful, seen[article.id].my_vote) == (4, 1)
    assert seen[answer.id].my_vote == -1
    assert (seen[content.question.id].helpful, seen[content.question.id].my_vote) == (0, 0)  # never rated


def test_vote_events_name_the_rated_revision_and_its_author(db, content, published):
    ratings.vote(session=db, entry=content.answer, actor=content.agent, value=1)
    ratings.vote(session=db, entry=content.answer, actor=content.agent, value=-1)
    first, second = published
    assert first.name == second.name == "vote.changed"
    assert first.entry_id == content.answer.id and first.actor_id == content.agent.id
    assert first.revision_id == content.answer.certified_revision_id
    # Each carries the entry's new rating summary, which search ranks by.
    assert first.data == {"value": 1, "previous": 0, "author_id": content.author.id,
                          "helpful_score": ratings.wilson_lower_bound(1, 1), "reuse_count": 0}
    assert second.data == {"value": -1, "previous": 1, "author_id": content.author.id,
                           "helpful_score": 0.0, "reuse_count": 0}


def test_nobody_rates_their_own_work(db, content, make_user):
    with pytest.raises(Forbidden, match="your own work"):
        ratings.vote(session=db, entry=content.article, actor=content.author, value=1)
    with pytest.raises(Forbidden, match="your own work"):
        ratings.vote(session=db, entry=content.answer, actor=content.author, value=-1)
    # A wiki article: whoever wrote the certified revision may not rate it either.
    editor = make_user("author", name="Eddie Editor")
    revision = save_revision(session=db, actor=editor, entry=content.article, data=RevisionCreate(
        title="Refund a cancelled order", body="Refund the full amount within 30 days.", tags=["refunds"],
        base_revision_id=content.article.latest_revision_id))
    certify(db, revision.id, editor, content.expert)
    db.commit()
    article = reload(db, content.article)
    assert article.certified_revision_id == revision.id
    with pytest.raises(Forbidden, match="your own work"):
        ratings.vote(session=db, entry=article, actor=editor, value=1)
    db.rollback()
    assert rows(db, Vote) == []


def test_the_certified_revisions_author_cannot_rate_it_while_a_newer_one_is_in_review(db, content, make_user):
    """An admin or expert sees the newer revision in review; the vote is still about the certified
    text agents read, so its author may not cast it (and the credit goes to that author)."""
    from workflow import service as workflow
    from workflow.models import Action

    admin = make_user("admin", "author", name="Ada Admin")
    certified = save_revision(session=db, actor=admin, entry=content.article, data=RevisionCreate(
        title="Refund a cancelled order", body="Refund within 30 days.", tags=["refunds"],
        base_revision_id=content.article.latest_revision_id))
    certify(db, certified.id, admin, content.expert)
    newer = save_revision(session=db, actor=content.author, entry=reload(db, content.article), data=RevisionCreate(
        title="Refund a cancelled order", body="Refund within 45 days.", tags=["refunds"],
        base_revision_id=certified.id))
    workflow.transition(session=db, actor=content.author, revision_id=newer.id, action=Action.submit)
    db.commit()
    article = reload(db, content.article)
    assert article.certified_revision_id == certified.id and article.latest_revision_id == newer.id
    with pytest.raises(Forbidden, match="your own work"):
        ratings.vote(session=db, entry=article, actor=admin, value=1)
    db.rollback()
    seen: list = []

    def record(_session, event):
        seen.append(event)

    events.subscribe("vote.changed", record)
    try:
        ratings.vote(session=db, entry=article, actor=content.expert, value=1)
    finally:
        events._handlers["vote.changed"].remove(record)
    assert seen[-1].revision_id == certified.id and seen[-1].data["author_id"] == admin.id


def test_the_same_case_is_linked_once(db, content):
    first = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="CS-1",
                                 source=ReuseSource.entry)
    again = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="CS-1",
                                 source=ReuseSource.search)
    copied = [ratings.record_reuse(session=db, entry=content.article, actor=content.agent, source=ReuseSource.search)
              for _ in range(3)]
    other_case = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="CS-2",
                                      source=ReuseSource.entry)
    colleague = ratings.record_reuse(session=db, entry=content.article, actor=content.colleague, case_ref="CS-1",
                                     source=ReuseSource.entry)
    db.commit()
    # Copies right after linking CS-1 cannot be told apart from CS-1: the same case (they used to
    # count as a second case, the double count of issue 14).
    assert again.id == first.id and copied[0].id == copied[1].id == copied[2].id == first.id
    assert len({first.id, other_case.id, colleague.id}) == 3
    assert len(rows(db, Reuse)) == 3 and db.get(EntryRating, content.article.id).reuse_count == 3


def test_copy_answer_then_used_to_solve_the_case_is_one_reuse(db, content, published):
    copied = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, source=ReuseSource.search)
    solved = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="CS-7",
                                  source=ReuseSource.entry)
    db.commit()
    assert solved.id == copied.id
    assert [(r.case_ref, r.source) for r in rows(db, Reuse)] == [("CS-7", "search")]  # the copy, named
    assert db.get(EntryRating, content.article.id).reuse_count == 1
    assert [e.data["case_ref"] for e in published if e.name == "entry.reused"] == [""]  # credited once

    # Another case is a new reuse; a copy right after linking it is that case.
    ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="CS-8",
                         source=ReuseSource.entry)
    again = ratings.record_reuse(session=db, entry=content.article, actor=content.agent, source=ReuseSource.search)
    db.commit()
    assert again.case_ref == "CS-8"
    assert sorted(r.case_ref for r in rows(db, Reuse)) == ["CS-7", "CS-8"]

    # After the window, a copy is a new case.
    with travel(utcnow() + ratings.REPEAT_WINDOW + timedelta(minutes=1)):
        later = ratings.record_reuse(session=db, entry=content.article, actor=content.agent,
                                     source=ReuseSource.search)
    db.commit()
    assert later.id not in {copied.id, again.id} and db.get(EntryRating, content.article.id).reuse_count == 3


def test_questions_are_not_rated_and_votes_are_one_or_minus_one(db, content):
    with pytest.raises(Forbidden, match="Questions are not rated"):
        ratings.vote(session=db, entry=content.question, actor=content.colleague, value=1)
    for value in (0, 2, -2, True):
        with pytest.raises(ValidationFailed, match="1 \\(helpful\\) or -1"):
            ratings.vote(session=db, entry=content.article, actor=content.agent, value=value)


def test_only_content_you_can_see_is_rated(db, content):
    draft = create_article(session=db, actor=content.author, data=ArticleCreate(
        title="Unreleased refund policy", body="Not certified yet.", tags=["refunds"]))
    db.commit()
    with pytest.raises(NotFound):
        ratings.vote(session=db, entry=draft, actor=content.agent, value=1)
    with pytest.raises(NotFound):
        ratings.record_reuse(session=db, entry=draft, actor=content.agent, source="entry")
    db.rollback()
    assert rows(db, Vote) == [] and rows(db, Reuse) == []


# --- reuse -------------------------------------------------------------------------------------


def test_reuse_links_a_case_and_counts(db, content, published):
    reuse = ratings.record_reuse(session=db, entry=content.article, actor=content.agent,
                                 case_ref="  CASE-1042  ", source=ReuseSource.entry)
    ratings.record_reuse(session=db, entry=content.article, actor=content.colleague, source="search")
    ratings.record_reuse(session=db, entry=content.answer, actor=content.agent, source="api")
    db.commit()
    assert reuse.case_ref == "CASE-1042" and reuse.revision_id == content.article.certified_revision_id
    assert sorted(r.source for r in rows(db, Reuse, entry_id=content.article.id)) == ["entry", "search"]
    assert summary_row(db, content.article.id).reuse_count == 2
    assert summary_row(db, content.answer.id).reuse_count == 1
    first = published[0]
    assert (first.name, first.entry_id, first.revision_id, first.actor_id) == (
        "entry.reused", content.article.id, content.article.certified_revision_id, content.agent.id)
    assert first.data == {"reuse_id": reuse.id, "case_ref": "CASE-1042", "source": "entry",
                          "author_id": content.author.id, "helpful_score": 0.0, "reuse_count": 1}


def test_reuse_of_your_own_work_counts_too(db, content):
    # The KCS link rate counts every solved case, also those the author solved with their own article.
    ratings.record_reuse(session=db, entry=content.article, actor=content.author, source="entry")
    db.commit()
    assert summary_row(db, content.article.id).reuse_count == 1


def test_reuse_refusals(db, content):
    with pytest.raises(ValidationFailed, match="at most 100 characters") as too_long:
        ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="x" * 101,
                             source="entry")
    assert too_long.value.field == "case_ref"
    ratings.record_reuse(session=db, entry=content.article, actor=content.agent, case_ref="y" * 100, source="entry")
    with pytest.raises(ValidationFailed, match="Unknown source"):
        ratings.record_reuse(session=db, entry=content.article, actor=content.agent, source="email")
    with pytest.raises(Forbidden, match="record the answer you used"):
        ratings.record_reuse(session=db, entry=content.question, actor=content.agent, source="entry")


# --- search ------------------------------------------------------------------------------------


def test_votes_and_reuse_reach_the_search_documents(db, content):
    outbox.register()
    before = len(rows(db, SearchOutbox, entry_id=content.article.id))
    ratings.vote(session=db, entry=content.article, actor=content.agent, value=1)
    ratings.vote(session=db, entry=content.article, actor=content.colleague, value=1)
    ratings.record_reuse(session=db, entry=content.article, actor=content.agent, source="search")
    db.commit()
    # Each change schedules the entry for indexing in the same transaction.
    assert len(rows(db, SearchOutbox, entry_id=content.article.id)) == before + 3
    docs, _ = documents_for_entry(session=db, entry_id=content.article.id)
    assert docs and all(d.helpful_score == pytest.approx(ratings.wilson_lower_bound(2, 2)) for d in docs)
    assert all(d.reuse_count == 1 for d in docs)
    unrated, _ = documents_for_entry(session=db, entry_id=content.question.id)
    assert [(d.helpful_score, d.reuse_count) for d in unrated] == [(0.0, 0)]


# --- racing requests ---------------------------------------------------------------------------
# PostgreSQL runs the full race (20 requests at once); SQLite, whose writers queue for the
# database lock, a smaller one. Either way every request succeeds and the summary equals the rows.

JOIN_TIMEOUT = 60


def race_size(engine) -> int:
    return 20 if engine.dialect.name == "postgresql" else 8


@pytest.fixture
def racing_engine(engine, db):
    """A pool big enough for every thread to hold a connection at once (else the race is queued)."""
    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=22, max_overflow=4)
    yield eng
    eng.dispose()


def quick_agents(db, count: int) -> list[User]:
    """Agents without passwords (hashing 20 of them would only slow the test down)."""
    users = [accounts.create_user(session=db, actor=SYSTEM, data=UserCreate(
        email=f"racer-{uuid.uuid4().hex[:8]}@example.com", display_name=f"Racer {i}", roles=[Role.agent],
        password=None)) for i in range(count)]
    db.commit()
    return users


def race(eng, entry_id: int, jobs: list[tuple[int, Callable]]) -> list[str]:
    """Run each (user id, action) in its own thread and writing transaction, released together."""
    factory = session_factory(writer(eng))
    barrier = threading.Barrier(len(jobs))
    outcomes = ["not run"] * len(jobs)

    def worker(index: int, user_id: int, action) -> None:
        session = factory()
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            action(session, session.get(Entry, entry_id), session.get(User, user_id))
            session.commit()
            outcomes[index] = "ok"
        except BaseException as exc:  # noqa: BLE001 - any error is a finding
            session.rollback()
            outcomes[index] = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(i, uid, action)) for i, (uid, action) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racing request hung"
    return outcomes


def voting(value: int):
    def act(session, entry, user):
        if value == 0:
            ratings.clear_vote(session=session, entry=entry, actor=user)
        else:
            ratings.vote(session=session, entry=entry, actor=user, value=value)
    return act


def test_many_people_voting_at_once(engine, racing_engine, db, content):
    size = race_size(engine)
    voters = quick_agents(db, size)
    values = [1 if i % 3 else -1 for i in range(size)]
    outcomes = race(racing_engine, content.article.id, [(u.id, voting(v)) for u, v in zip(voters, values, strict=True)])
    assert outcomes == ["ok"] * size
    votes = rows(db, Vote, entry_id=content.article.id)
    assert len(votes) == size and len({v.user_id for v in votes}) == size
    row = summary_row(db, content.article.id)
    assert (row.helpful, row.not_helpful) == (values.count(1), values.count(-1))
    assert row.wilson == pytest.approx(ratings.wilson_lower_bound(values.count(1), size))

    # Everyone changes their mind at once, and a third takes their vote back.
    changed = [0 if i % 3 == 0 else -v for i, v in enumerate(values)]
    outcomes = race(racing_engine, content.article.id, [(u.id, voting(v)) for u, v in zip(voters, changed, strict=True)])
    assert outcomes == ["ok"] * size
    votes = rows(db, Vote, entry_id=content.article.id)
    assert sorted(v.value for v in votes) == sorted(v for v in changed if v)
    row = summary_row(db, content.article.id)
    assert (row.helpful, row.not_helpful) == (changed.count(1), changed.count(-1))


def test_one_person_double_clicking_keeps_one_vote(engine, racing_engine, db, content, published):
    size = race_size(engine)
    values = [(1, -1, 0)[i % 3] for i in range(size)]
    outcomes = race(racing_engine, content.answer.id, [(content.agent.id, voting(v)) for v in values])
    assert outcomes == ["ok"] * size
    votes = rows(db, Vote, entry_id=content.answer.id)
    assert len(votes) <= 1
    final = votes[0].value if votes else 0
    row = rows(db, EntryRating, entry_id=content.answer.id)
    assert [(r.helpful, r.not_helpful) for r in row] == [(int(final == 1), int(final == -1))]
    # The changes happened one after the other: each event starts where the previous one ended.
    chain = [(e.data["previous"], e.data["value"]) for e in published]
    assert chain and chain[0][0] == 0 and chain[-1][1] == final
    assert all(prev[1] == nxt[0] for prev, nxt in zip(chain, chain[1:], strict=False))


def test_reuse_recorded_at_once_is_all_counted(engine, racing_engine, db, content):
    size = race_size(engine)
    agents = quick_agents(db, size)

    def reuse(session, entry, user):
        ratings.record_reuse(session=session, entry=entry, actor=user, case_ref=f"C-{user.id}", source="search")

    outcomes = race(racing_engine, content.article.id, [(a.id, reuse) for a in agents])
    assert outcomes == ["ok"] * size
    assert len(rows(db, Reuse, entry_id=content.article.id)) == size
    assert summary_row(db, content.article.id).reuse_count == size


def test_first_ratings_of_an_entry_racing_create_one_summary(engine, racing_engine, db, content):
    """Nobody rated the entry yet: the racing requests all create its summary row at once."""
    size = race_size(engine)
    voters = quick_agents(db, size)
    assert rows(db, EntryRating, entry_id=content.answer.id) == []
    jobs = [(u.id, voting(1) if i % 2 else (lambda s, e, u: ratings.record_reuse(session=s, entry=e, actor=u,
                                                                                  source="entry")))
            for i, u in enumerate(voters)]
    assert race(racing_engine, content.answer.id, jobs) == ["ok"] * size
    summary = rows(db, EntryRating, entry_id=content.answer.id)
    assert [(r.helpful, r.reuse_count) for r in summary] == [(size // 2, size - size // 2)]
