"""Expertise per user x topic: weighted evidence with time decay, kept up to date by domain events,
equal to a full recompute, and the ``kb expertise recompute`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import select

from expertise import people, ratings, scores
from expertise.models import ExpertiseScore
from kb.clock import travel, utcnow
from kb.content import forum
from kb.errors import Conflict, Forbidden, NotFound
from tests.expertise.people_world import (act, article, certify, designate, new_revision, person, reactions, reload,
                                          tag_id, thread)
from workflow import policy
from workflow import service as workflow
from workflow.models import Action
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.usefixtures("reactions")
assert reactions  # the fixture, used through pytestmark
KB = str(Path(sys.executable).parent / "kb")


@pytest.fixture
def cast(db):
    people_ = {
        "author": person(db, "author", name="Avery Author"),
        "writer": person(db, "author", name="Wren Writer"),
        "expert": person(db, "expert", name="Erin Expert"),
        "expert2": person(db, "expert", name="Eli Expert"),
        "agent": person(db, "agent", name="Alex Agent"),
        "colleague": person(db, "agent", name="Casey Colleague"),
    }
    db.commit()
    return people_


def table(db) -> dict[tuple[str, str], tuple[float, dict]]:
    """The expertise table as {(user name, topic): (score, components)}."""
    from kb.accounts.models import User
    from kb.content.models import Tag

    db.commit()
    db.expire_all()
    result = {}
    for row, name, topic in db.exec(select(ExpertiseScore, User.display_name, Tag.name)
                                    .join(User, User.id == ExpertiseScore.user_id)
                                    .join(Tag, Tag.id == ExpertiseScore.tag_id)):
        result[name, topic] = (row.score, row.components)
    return result


def certified(db, cast, author="author", *, title="Refund a cancelled order", tags=("refunds",)):
    entry = article(db, cast[author], title=title, tags=tags)
    for topic in tags:
        designate(db, cast["expert"], topic)
    certify(db, entry.latest_revision_id, cast[author], cast["expert"])
    db.commit()
    return reload(db, entry)


# --- the score -------------------------------------------------------------------------------


def test_decay_halves_evidence_every_half_life():
    now = utcnow()
    assert scores.decay(now, now) == 1.0
    assert scores.decay(now - timedelta(days=scores.HALF_LIFE_DAYS), now) == pytest.approx(0.5)
    assert scores.decay(now - timedelta(days=2 * scores.HALF_LIFE_DAYS), now) == pytest.approx(0.25)
    assert scores.decay(None, now) == 1.0  # declarations do not age


def test_certification_and_review_give_weighted_components(db, cast):
    certified(db, cast)
    assert table(db) == {
        ("Avery Author", "refunds"): (10.0, {"certified_articles": 10.0}),
        ("Erin Expert", "refunds"): (22.0, {"designated": 20.0, "reviews": 2.0}),
    }


def test_every_kind_of_evidence_counts_in_its_topic(db, cast):
    entry = certified(db, cast, tags=("refunds", "billing"))
    _, (answer,) = thread(db, cast["agent"], cast["author"], tags=("billing",))
    certify(db, answer.latest_revision_id, cast["author"], cast["expert"])
    forum.accept_answer(session=db, actor=cast["agent"], answer=answer)
    ratings.vote(session=db, entry=entry, actor=cast["agent"], value=1)
    ratings.vote(session=db, entry=entry, actor=cast["colleague"], value=-1)  # not helpful: no expertise
    people.endorse(session=db, actor=cast["colleague"], user=cast["author"], topic="billing")
    people.declare_interest(session=db, actor=cast["author"], topic="billing")
    db.commit()
    got = table(db)
    assert got["Avery Author", "refunds"] == (11.0, {"certified_articles": 10.0, "helpful_votes": 1.0})
    assert got["Avery Author", "billing"] == (27.0, {
        "accepted_answers": 5.0, "certified_answers": 6.0, "certified_articles": 10.0, "endorsements": 3.0,
        "helpful_votes": 1.0, "interest": 2.0})
    assert got["Erin Expert", "billing"] == (24.0, {"designated": 20.0, "reviews": 4.0})
    assert ("Alex Agent", "billing") not in got  # asking a question is evidence of nothing


def test_old_evidence_counts_less(db, cast):
    with travel(utcnow() - timedelta(days=scores.HALF_LIFE_DAYS)):
        certified(db, cast)
    assert table(db)["Avery Author", "refunds"] == (10.0, {"certified_articles": 10.0})  # as of then
    scores.recompute_all(session=db)
    assert table(db)["Avery Author", "refunds"] == (5.0, {"certified_articles": 5.0})  # as of now
    assert table(db)["Erin Expert", "refunds"] == (21.0, {"designated": 20.0, "reviews": 1.0})


def test_several_certified_revisions_of_one_article_are_one_piece_of_evidence(db, cast):
    entry = certified(db, cast)
    newer = new_revision(db, cast["author"], entry)
    certify(db, newer.id, cast["author"], cast["expert"])
    db.commit()
    assert table(db)["Avery Author", "refunds"] == (10.0, {"certified_articles": 10.0})
    assert scores.evidence_counts(session=db, user_id=cast["author"].id)[tag_id(db, "refunds")] == {"certified_articles": 1}


def test_archiving_retires_certified_authorship(db, cast):
    entry = certified(db, cast)
    workflow.archive(session=db, actor=cast["expert"], entry=entry)
    db.commit()
    assert ("Avery Author", "refunds") not in table(db)  # the row goes with its last evidence


def test_designation_and_its_removal_update_the_score(db, cast):
    article(db, cast["author"], tags=("shipping",))
    policy.designate_expert(session=db, actor=SYSTEM, topic="shipping", user=cast["expert2"])
    db.commit()
    assert table(db)["Eli Expert", "shipping"] == (20.0, {"designated": 20.0})
    policy.remove_expert(session=db, actor=SYSTEM, topic="shipping", user=cast["expert2"])
    db.commit()
    assert ("Eli Expert", "shipping") not in table(db)


def test_votes_follow_the_author_of_the_revision_agents_see(db, cast):
    entry = certified(db, cast)
    ratings.vote(session=db, entry=entry, actor=cast["agent"], value=1)
    db.commit()
    assert table(db)["Avery Author", "refunds"][1]["helpful_votes"] == 1.0
    rewrite = new_revision(db, cast["writer"], entry)
    certify(db, rewrite.id, cast["writer"], cast["expert"])
    db.commit()
    got = table(db)
    assert got["Wren Writer", "refunds"] == (11.0, {"certified_articles": 10.0, "helpful_votes": 1.0})
    assert got["Avery Author", "refunds"] == (10.0, {"certified_articles": 10.0})


# --- endorsements and interests --------------------------------------------------------------


def topics_in_the_open(db, cast, *tags: str) -> None:
    """Topics anyone may name: a forum question carries them (it gives nobody expertise). A topic
    only a draft carries is as private as the draft (issue 12, defect 16)."""
    from kb.content.schemas import QuestionCreate

    forum.ask_question(session=db, actor=cast["agent"], data=QuestionCreate(
        title="Which topic?", body="Asking in the open.", tags=list(tags)))


def test_endorsements_are_one_per_colleague_and_topic_never_for_yourself(db, cast):
    topics_in_the_open(db, cast, "refunds")
    author, colleague = cast["author"], cast["colleague"]
    people.endorse(session=db, actor=colleague, user=author, topic="Refunds")  # names are normalised
    people.endorse(session=db, actor=colleague, user=author, topic="refunds")  # again: nothing more
    people.endorse(session=db, actor=cast["agent"], user=author, topic="refunds")
    db.commit()
    assert table(db)["Avery Author", "refunds"] == (6.0, {"endorsements": 6.0})
    with pytest.raises(Forbidden, match="cannot endorse yourself"):
        people.endorse(session=db, actor=author, user=author, topic="refunds")
    with pytest.raises(NotFound, match="no topic called “astrology”"):
        people.endorse(session=db, actor=colleague, user=author, topic="astrology")
    people.withdraw_endorsement(session=db, actor=colleague, user=author, topic="refunds")
    db.commit()
    assert table(db)["Avery Author", "refunds"] == (3.0, {"endorsements": 3.0})
    assert [n.display_name for n in people.endorsers(session=db, user_id=author.id)[tag_id(db, "refunds")]] == ["Alex Agent"]


def test_deactivated_colleagues_cannot_be_endorsed(db, cast):
    from kb.accounts import service as accounts

    article(db, cast["author"], tags=("refunds",))
    admin = person(db, "admin", name="Ada Admin")
    accounts.deactivate_user(session=db, actor=admin, user=cast["writer"])
    with pytest.raises(Conflict, match="deactivated"):
        people.endorse(session=db, actor=cast["colleague"], user=cast["writer"], topic="refunds")


def test_interests_are_declared_and_removed(db, cast):
    topics_in_the_open(db, cast, "refunds", "billing")
    people.declare_interest(session=db, actor=cast["agent"], topic="billing")
    people.declare_interest(session=db, actor=cast["agent"], topic="billing")
    people.declare_interest(session=db, actor=cast["agent"], topic="refunds")
    db.commit()
    assert people.interests(session=db, user_id=cast["agent"].id) == ["billing", "refunds"]
    assert table(db)["Alex Agent", "billing"] == (2.0, {"interest": 2.0})
    people.remove_interest(session=db, actor=cast["agent"], topic="billing")
    db.commit()
    assert people.interests(session=db, user_id=cast["agent"].id) == ["refunds"]
    assert ("Alex Agent", "billing") not in table(db)


# --- incremental == full ---------------------------------------------------------------------


def test_incremental_updates_and_a_full_recompute_give_the_same_table(db, cast):
    """A busy history, each step through the services (the table follows the events); then the
    whole table is rebuilt from the evidence at once: nothing changes."""
    first = certified(db, cast, tags=("refunds", "billing"))
    second = certified(db, cast, "writer", title="Express refunds", tags=("shipping", "refunds"))
    rewrite = new_revision(db, cast["writer"], first, tags=("refunds",))
    certify(db, rewrite.id, cast["writer"], cast["expert"])
    _, (a1, a2) = thread(db, cast["agent"], cast["author"], cast["writer"], tags=("billing",))
    forum.accept_answer(session=db, actor=cast["agent"], answer=a1)
    forum.accept_answer(session=db, actor=cast["agent"], answer=a2)
    certify(db, a1.latest_revision_id, cast["author"], cast["expert"])
    draft = article(db, cast["author"], title="Chargebacks", tags=("billing",))
    act(db, cast["author"], draft.latest_revision_id, Action.submit)
    act(db, cast["expert2"], draft.latest_revision_id, Action.request_changes, "Add the deadline.")
    for voter, value in ((cast["agent"], 1), (cast["colleague"], 1), (cast["expert2"], -1)):
        ratings.vote(session=db, entry=reload(db, second), actor=voter, value=value)
    ratings.vote(session=db, entry=reload(db, first), actor=cast["colleague"], value=1)
    ratings.clear_vote(session=db, entry=reload(db, second), actor=cast["colleague"])
    people.endorse(session=db, actor=cast["colleague"], user=cast["writer"], topic="shipping")
    people.endorse(session=db, actor=cast["expert"], user=cast["expert2"], topic="billing")
    people.declare_interest(session=db, actor=cast["agent"], topic="refunds")
    policy.designate_expert(session=db, actor=SYSTEM, topic="billing", user=cast["expert2"])
    workflow.archive(session=db, actor=cast["expert"], entry=reload(db, second))
    db.commit()
    incremental = table(db)
    assert len(incremental) >= 8

    assert scores.recompute_all(session=db) == len(incremental)
    assert table(db) == incremental
    db.exec(delete(ExpertiseScore))  # from nothing, too
    scores.recompute_all(session=db)
    assert table(db) == incremental


def test_recomputing_some_topics_gives_the_full_recompute_there_and_leaves_the_others(db, cast):
    """What an event recomputes (its entry's topics) is exactly what a full recompute gives there."""
    from kb.content.models import Tag

    first = certified(db, cast, tags=("refunds", "billing"))
    certified(db, cast, title="Express shipping", tags=("shipping",))
    ratings.vote(session=db, entry=reload(db, first), actor=cast["colleague"], value=1)
    db.commit()
    full = table(db)
    assert ("Avery Author", "billing") in full and ("Avery Author", "shipping") in full
    db.exec(delete(ExpertiseScore))
    billing = db.exec(select(Tag.id).where(Tag.name == "billing")).one()
    scores.recompute_users(session=db, user_ids=[cast["author"].id, cast["expert"].id], tag_ids=[billing])
    assert table(db) == {pair: value for pair, value in full.items() if pair[1] == "billing"}
    scores.recompute_users(session=db, user_ids=[cast["author"].id], tag_ids=[])  # no topic: nothing to do
    assert table(db) == {pair: value for pair, value in full.items() if pair[1] == "billing"}


def test_recompute_all_reports_progress(db, cast):
    certified(db, cast)
    seen = []
    assert scores.recompute_all(session=db, progress=lambda done, total: seen.append((done, total))) == 2
    assert seen == [(len(cast), len(cast))]


# --- reading ---------------------------------------------------------------------------------


def test_top_experts_by_topic(db, cast):
    certified(db, cast, tags=("refunds",))
    certified(db, cast, "writer", title="Parcel lost", tags=("shipping",))
    people.endorse(session=db, actor=cast["agent"], user=cast["writer"], topic="refunds")
    db.commit()
    refunds, shipping = tag_id(db, "refunds"), tag_id(db, "shipping")
    best = scores.top_experts(session=db, tag_ids=[refunds], limit=5)
    assert [(u.display_name, s) for u, s in best] == [("Erin Expert", 22.0), ("Avery Author", 10.0),
                                                      ("Wren Writer", 3.0)]
    both = scores.top_experts(session=db, tag_ids=[refunds, shipping], limit=2, exclude_user_ids=[cast["expert"].id])
    assert [(u.display_name, s) for u, s in both] == [("Wren Writer", 13.0), ("Avery Author", 10.0)]
    assert scores.top_experts(session=db, tag_ids=[], limit=5) == []


def test_deactivated_users_are_not_top_experts(db, cast):
    from kb.accounts import service as accounts

    certified(db, cast)
    admin = person(db, "admin", name="Ada Admin")
    accounts.deactivate_user(session=db, actor=admin, user=cast["expert"])
    db.commit()
    assert [u.display_name for u, _ in scores.top_experts(session=db, tag_ids=[tag_id(db, "refunds")], limit=5)] == [
        "Avery Author"]


# --- the command line ------------------------------------------------------------------------


def test_kb_expertise_recompute(tmp_path):
    environment = {**os.environ, "KB_DATA_DIR": str(tmp_path), "KB_ENV": "development"}
    environment.pop("KB_DATABASE_URL", None)

    def kb(*args):
        return subprocess.run([KB, *args], capture_output=True, text=True, env=environment, timeout=300)

    assert kb("init").returncode == 0
    assert kb("demo").returncode == 0
    result = kb("expertise", "recompute")
    assert result.returncode == 0, result.stderr
    assert "Expertise recomputed:" in result.stdout and "user and topic scores" in result.stdout
    assert "Usage" in kb("expertise", "--help").stdout


def test_the_periodic_job_recomputes_scores_once_a_day_so_decay_reaches_everyone(db, cast):
    from expertise.scores import recompute_when_due

    with travel(utcnow() - timedelta(days=400)):
        entry = article(db, cast["author"])
        designate(db, cast["expert"], "refunds")
        certify(db, entry.latest_revision_id, cast["author"], cast["expert"])
        db.commit()
    fresh_score = table(db)["Avery Author", "refunds"][0]  # computed 400 days ago, undecayed then
    assert recompute_when_due(session=db) is True
    db.commit()
    assert table(db)["Avery Author", "refunds"][0] < fresh_score  # time decay reached the old evidence
    assert recompute_when_due(session=db) is False  # done for today
