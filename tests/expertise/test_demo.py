"""`kb demo` gives the expertise features something real to show on first start: votes, case
links, failed searches, endorsements and computed scores, in the dashboard and the profiles."""

from __future__ import annotations

from functools import partial

import pytest
from sqlmodel import select

from expertise import health, reputation
from expertise.demo_ratings import GAP_SEARCHES, load_demo_expertise
from expertise.models import EntryRating, ExpertiseScore, Reuse, Vote
from kb.accounts import service as accounts
from tests.helpers import load_demo_with_ratings, loaded_once, rows
from workflow.demo_states import TOPIC_EXPERTS
from workflow.models import Notification


@pytest.fixture
def demo(db):
    from cli.bootstrap import bootstrap

    bootstrap()  # as `kb demo` does
    return loaded_once(db, "demo with ratings", partial(load_demo_with_ratings, db))


def test_the_demo_has_votes_case_links_and_a_rating_summary_that_matches_them(db, demo):
    votes, reuses = rows(db, Vote), rows(db, Reuse)
    assert demo.votes == len(votes) > 100 and demo.reuses == len(reuses) > 30
    assert {v.value for v in votes} == {1, -1}
    for rating in rows(db, EntryRating):
        assert rating.helpful == sum(1 for v in votes if v.entry_id == rating.entry_id and v.value == 1)
        assert rating.reuse_count == sum(1 for r in reuses if r.entry_id == rating.entry_id)
    assert any(r.case_ref.startswith("CS-") for r in reuses)


def test_the_dashboard_shows_failed_searches_reuse_and_contributors(db, demo):
    expert = accounts.find_user_by_email(session=db, email="expert@example.com")
    board = health.dashboard(session=db, actor=expert, days=30)
    failed = {f.normalised: f.no_results for f in board.failed_searches}
    for query, times in GAP_SEARCHES:
        assert failed[query] == times, query
    assert board.top_searches and board.time_to_certify is not None
    assert board.reuse.reuses > 0 and board.reuse.searches > 0
    assert board.contributors and board.contributors[0].points > 0


def test_each_topic_specialist_leads_reputation_and_expertise_in_their_topics(db, demo):
    tag_names = {}
    from kb.content.models import Tag

    for tag in db.exec(select(Tag)):
        tag_names[tag.id] = tag.name
    best: dict[str, tuple[float, int]] = {}
    for score in rows(db, ExpertiseScore):
        topic = tag_names[score.tag_id]
        if topic not in best or score.score > best[topic][0]:
            best[topic] = (score.score, score.user_id)
    for email, topics in TOPIC_EXPERTS.items():
        specialist = accounts.find_user_by_email(session=db, email=email)
        assert reputation.reputation_total(session=db, user_id=specialist.id) > 0
        leading = [t for t in topics if best[t][1] == specialist.id]
        assert len(leading) >= 2, (email, {t: best[t] for t in topics})


def test_old_demo_notifications_are_read_so_inboxes_start_small(db, demo):
    unread = [n for n in rows(db, Notification) if n.read_at is None]
    assert 0 < len(unread) < 40


def test_loading_twice_adds_nothing(db, demo):
    again = load_demo_expertise(session=db)
    assert again.skipped and len(rows(db, Vote)) == demo.votes
