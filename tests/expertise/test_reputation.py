"""Reputation: points from one table of rules, written by reactions to domain events, append-only,
settled by compensating events when a vote or an acceptance changes, never counted twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from expertise import ratings, reputation
from expertise.models import ReputationEvent
from kb.clock import travel, utcnow
from kb.content import forum
from kb.db import session_factory, writer
from kb.events import Event, publish
from tests.expertise.people_world import (act, article, certify, designate, new_revision, person, reactions, reload,
                                          thread)
from tests.helpers import rows
from workflow import flags
from workflow import service as workflow
from workflow.models import Action, FlagReason

pytestmark = pytest.mark.usefixtures("reactions")
assert reactions  # the fixture, used through pytestmark


@pytest.fixture
def cast(db):
    people = {
        "author": person(db, "author", name="Avery Author"),
        "writer": person(db, "author", name="Wren Writer"),
        "expert": person(db, "expert", name="Erin Expert"),
        "agent": person(db, "agent", name="Alex Agent"),
        "colleague": person(db, "agent", name="Casey Colleague"),
    }
    db.commit()
    return people


def ledger(db, user) -> list[tuple[str, int]]:
    """The user's reputation events as (kind, points), oldest first."""
    return [(e.kind, e.points) for e in sorted(rows(db, ReputationEvent, user_id=user.id), key=lambda e: e.id)]


def total(db, user) -> int:
    db.expire_all()
    return reputation.reputation_total(session=db, user_id=user.id)


def certified_article(db, cast, **kwargs):
    entry = article(db, cast["author"], **kwargs)
    designate(db, cast["expert"], "refunds")
    certify(db, entry.latest_revision_id, cast["author"], cast["expert"])
    db.commit()
    return reload(db, entry)


# --- the rules -------------------------------------------------------------------------------


def test_the_rules_table_documents_every_kind():
    assert {kind: rule.points for kind, rule in reputation.RULES.items()} == {
        "answer_accepted": 15, "article_certified": 25, "answer_certified": 20, "helpful_vote": 5,
        "not_helpful_vote": -2, "reuse": 2, "review": 2, "reverification": 2, "flag_upheld": -5}
    for kind in [*reputation.RULES, *reputation.COMPENSATIONS]:
        assert f"``{kind}``" in reputation.__doc__, f"{kind} is not documented in the module"


def test_certifying_an_article_rewards_its_author_and_the_reviewer(db, cast):
    certified_article(db, cast)
    assert ledger(db, cast["author"]) == [("article_certified", 25)]
    assert ledger(db, cast["expert"]) == [("review", 2)]  # the approval; certifying is not a second review
    assert total(db, cast["author"]) == 25


def test_every_review_decision_counts_once(db, cast):
    entry = article(db, cast["author"])
    revision_id = entry.latest_revision_id
    act(db, cast["author"], revision_id, Action.submit)
    act(db, cast["expert"], revision_id, Action.request_changes, "Say which cards.")
    act(db, cast["author"], revision_id, Action.resubmit)
    act(db, cast["expert"], revision_id, Action.request_changes, "Still unclear.")  # same decision again
    act(db, cast["author"], revision_id, Action.resubmit)
    act(db, cast["expert"], revision_id, Action.reject, "Duplicate of another article.")
    db.commit()
    assert ledger(db, cast["expert"]) == [("review", 2), ("review", 2)]
    assert ledger(db, cast["author"]) == []


def test_a_certified_answer_earns_answer_points(db, cast):
    _, (answer,) = thread(db, cast["agent"], cast["author"])
    designate(db, cast["expert"], "refunds")
    certify(db, answer.latest_revision_id, cast["author"], cast["expert"])
    db.commit()
    assert ledger(db, cast["author"]) == [("answer_certified", 20)]


def test_an_article_turned_from_an_answer_credits_the_answers_author(db, cast):
    # The expert turns the writer's answer into an article and edits it; the words were the writer's.
    _, (answer,) = thread(db, cast["agent"], cast["writer"])
    promoted = forum.promote_answer(session=db, actor=cast["expert"], answer=answer)
    reviewer = person(db, "expert", name="Eli Expert")
    designate(db, reviewer, "refunds")
    edited = new_revision(db, cast["expert"], promoted)
    certify(db, edited.id, cast["expert"], reviewer)
    db.commit()
    assert ("article_certified", 25) in ledger(db, cast["writer"])
    assert "article_certified" not in [kind for kind, _ in ledger(db, cast["expert"])]


def test_accepting_switching_and_re_accepting_an_answer(db, cast):
    question, (first, second) = thread(db, cast["agent"], cast["author"], cast["writer"])
    forum.accept_answer(session=db, actor=cast["agent"], answer=first)
    db.commit()
    assert ledger(db, cast["author"]) == [("answer_accepted", 15)]

    forum.accept_answer(session=db, actor=cast["expert"], answer=second)  # an expert switches the choice
    db.commit()
    assert ledger(db, cast["author"]) == [("answer_accepted", 15), ("acceptance_withdrawn", -15)]
    assert ledger(db, cast["writer"]) == [("answer_accepted", 15)]

    forum.accept_answer(session=db, actor=cast["agent"], answer=second)  # accepting it again changes nothing
    forum.accept_answer(session=db, actor=cast["agent"], answer=first)
    db.commit()
    assert ledger(db, cast["author"]) == [("answer_accepted", 15), ("acceptance_withdrawn", -15),
                                          ("answer_accepted", 15)]
    assert ledger(db, cast["writer"]) == [("answer_accepted", 15), ("acceptance_withdrawn", -15)]
    assert (total(db, cast["author"]), total(db, cast["writer"])) == (15, 0)


def test_answering_your_own_question_earns_nothing_when_accepted(db, cast):
    _, (own,) = thread(db, cast["author"], cast["author"])
    forum.accept_answer(session=db, actor=cast["author"], answer=own)
    db.commit()
    assert ledger(db, cast["author"]) == []


def test_votes_are_settled_by_compensating_events_never_by_updates(db, cast):
    entry = certified_article(db, cast)
    voter = cast["agent"]
    ratings.vote(session=db, entry=entry, actor=voter, value=1)
    db.commit()
    first = rows(db, ReputationEvent, user_id=cast["author"].id)
    ratings.vote(session=db, entry=entry, actor=voter, value=-1)  # changed her mind
    ratings.vote(session=db, entry=entry, actor=cast["colleague"], value=1)
    db.commit()
    ratings.clear_vote(session=db, entry=entry, actor=voter)  # and took it back
    db.commit()
    assert ledger(db, cast["author"]) == [
        ("article_certified", 25), ("helpful_vote", 5), ("vote_withdrawn", -5), ("not_helpful_vote", -2),
        ("helpful_vote", 5), ("vote_withdrawn", 2)]
    assert total(db, cast["author"]) == 25 + 5  # only the colleague's helpful vote remains
    # The earlier rows are exactly as they were written.
    assert [(e.id, e.kind, e.points, e.key, e.created_at) for e in first] == [
        (e.id, e.kind, e.points, e.key, e.created_at) for e in rows(db, ReputationEvent, user_id=cast["author"].id)
        if e.id in {f.id for f in first}]


def test_reuse_rewards_the_author_but_not_self_reuse(db, cast):
    entry = certified_article(db, cast)
    ratings.record_reuse(session=db, entry=entry, actor=cast["agent"], case_ref="CASE-1", source="entry")
    ratings.record_reuse(session=db, entry=entry, actor=cast["agent"], case_ref="CASE-2", source="search")
    ratings.record_reuse(session=db, entry=entry, actor=cast["author"], case_ref="CASE-3", source="entry")
    db.commit()
    assert ledger(db, cast["author"]) == [("article_certified", 25), ("reuse", 2), ("reuse", 2)]


def test_a_flag_resolved_by_a_newer_certified_revision_is_upheld_against_the_author(db, cast):
    entry = certified_article(db, cast)
    flags.raise_flag(session=db, actor=cast["agent"], entry=entry, reason=FlagReason.outdated)
    fixed = new_revision(db, cast["writer"], entry)
    certify(db, fixed.id, cast["writer"], cast["expert"])
    db.commit()
    assert ledger(db, cast["author"]) == [("article_certified", 25), ("flag_upheld", -5)]
    assert ledger(db, cast["writer"]) == [("article_certified", 25)]


def test_dismissed_flags_cost_nothing(db, cast):
    entry = certified_article(db, cast)
    flag = flags.raise_flag(session=db, actor=cast["agent"], entry=entry, reason=FlagReason.incorrect)
    flags.dismiss_flag(session=db, actor=cast["expert"], flag=flag, reason="It is right: see the policy.")
    db.commit()
    assert ledger(db, cast["author"]) == [("article_certified", 25)]


def test_re_verification_is_review_work_and_archiving_takes_nothing_back(db, cast):
    entry = certified_article(db, cast)
    workflow.reverify(session=db, actor=cast["expert"], entry=entry)
    workflow.archive(session=db, actor=cast["expert"], entry=reload(db, entry))
    db.commit()
    assert ledger(db, cast["expert"]) == [("review", 2), ("reverification", 2)]
    assert ledger(db, cast["author"]) == [("article_certified", 25)]


# --- never twice, never changed --------------------------------------------------------------


def test_replaying_events_counts_nothing_twice(db, cast):
    question, (answer,) = thread(db, cast["agent"], cast["author"])
    forum.accept_answer(session=db, actor=cast["agent"], answer=answer)
    entry = certified_article(db, cast)
    ratings.vote(session=db, entry=entry, actor=cast["agent"], value=1)
    db.commit()
    before = ledger(db, cast["author"])
    revision_id = entry.certified_revision_id
    for event in (Event("revision.transition", entry_id=entry.id, revision_id=revision_id,
                        actor_id=cast["expert"].id, data={"action": "certify"}),
                  Event("answer.accepted", entry_id=answer.id, actor_id=cast["agent"].id,
                        data={"question_id": question.id}),
                  Event("vote.changed", entry_id=entry.id, revision_id=revision_id, actor_id=cast["agent"].id,
                        data={"value": 1, "previous": 0, "author_id": cast["author"].id})):
        publish(session=db, event=event)
    db.commit()
    assert ledger(db, cast["author"]) == before


def test_the_ledger_refuses_updates_and_deletes(db, cast):
    certified_article(db, cast)
    row = db.exec(select(ReputationEvent).where(ReputationEvent.user_id == cast["author"].id)).one()
    row.points = 1000
    with pytest.raises(reputation.ReputationIsAppendOnly):
        db.flush()
    db.rollback()
    db.delete(db.get(ReputationEvent, row.id))
    with pytest.raises(reputation.ReputationIsAppendOnly):
        db.flush()
    db.rollback()
    assert ledger(db, cast["author"]) == [("article_certified", 25)]


def test_two_transactions_awarding_the_same_fact_count_it_once(engine, db, cast):
    """The second writer waits for the first (row lock or SQLite's write lock), then finds the key taken."""
    factory = session_factory(writer(engine))
    first = factory()
    assert reputation.award(session=first, user_id=cast["author"].id, kind="reuse", key="reuse:test") is not None
    outcome = {}

    def second_writer():
        with factory() as second:
            outcome["row"] = reputation.award(session=second, user_id=cast["author"].id, kind="reuse", key="reuse:test")
            second.commit()

    thread_ = threading.Thread(target=second_writer)
    thread_.start()
    thread_.join(0.5)  # it is waiting for the first transaction
    first.commit()
    first.close()
    thread_.join(15)
    assert not thread_.is_alive() and outcome["row"] is None
    assert ledger(db, cast["author"]) == [("reuse", 2)]


# --- reading ---------------------------------------------------------------------------------


def test_reputation_by_topic_follows_the_tags_of_the_entry(db, cast):
    two_topics = article(db, cast["author"], title="Refund to a gift card", tags=("refunds", "gift-cards"))
    one_topic = article(db, cast["author"], title="Express delivery", tags=("shipping",))
    designate(db, cast["expert"], "refunds")
    designate(db, cast["expert"], "shipping")
    certify(db, two_topics.latest_revision_id, cast["author"], cast["expert"])
    certify(db, one_topic.latest_revision_id, cast["author"], cast["expert"])
    ratings.vote(session=db, entry=reload(db, one_topic), actor=cast["agent"], value=-1)
    db.commit()
    assert reputation.reputation_by_topic(session=db, user_id=cast["author"].id) == [
        ("gift-cards", 25), ("refunds", 25), ("shipping", 23)]
    assert total(db, cast["author"]) == 48


def test_recent_activity_never_shows_the_title_of_a_draft_to_who_cannot_see_it(db, cast):
    draft = article(db, cast["author"], title="Secret pricing plan")
    act(db, cast["author"], draft.latest_revision_id, Action.submit)
    act(db, cast["expert"], draft.latest_revision_id, Action.request_changes, "Add the prices.")
    certified = certified_article(db, cast, title="Public refund rules")
    db.commit()

    seen_by_agent = reputation.recent_activity(session=db, user_id=cast["expert"].id, viewer=cast["agent"])
    assert [(a.says, a.title, a.what, a.entry is not None) for a in seen_by_agent] == [
        ("Review done", "Public refund rules", "an article", True),
        ("Review done", "", "an article", False)]
    seen_by_author = reputation.recent_activity(session=db, user_id=cast["expert"].id, viewer=cast["author"])
    assert [a.title for a in seen_by_author] == ["Public refund rules", "Secret pricing plan"]
    assert seen_by_agent[0].entry.id == certified.id


def test_top_contributors_since_a_moment(db, cast):
    with travel(utcnow() - timedelta(days=40)):
        old = article(db, cast["writer"], title="Old news")
        designate(db, cast["expert"], "refunds")
        certify(db, old.latest_revision_id, cast["writer"], cast["expert"])  # writer +25, expert +2, long ago
    certified_article(db, cast)  # author +25, expert +2 today
    entry = article(db, cast["writer"], title="Recent")
    certify(db, entry.latest_revision_id, cast["writer"], cast["expert"])  # writer +25, expert +2 today
    db.commit()
    recent = reputation.top_contributors(session=db, since=utcnow() - timedelta(days=30))
    assert [(u.display_name, p) for u, p in recent] == [("Avery Author", 25), ("Wren Writer", 25),
                                                       ("Erin Expert", 4)]
    everything = reputation.top_contributors(session=db, since=utcnow() - timedelta(days=60), limit=1)
    assert [(u.display_name, p) for u, p in everything] == [("Wren Writer", 50)]
