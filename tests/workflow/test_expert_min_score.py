"""``Policy.expert_min_score``: when a topic's policy (or the global one) sets it, users with the
expert role whose expertise score in the topic reaches it are experts of the topic for review and
certification, besides the designated ones. The rule stays in one place (``allowed_actions``)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from expertise import people
from expertise.models import ExpertiseScore
from kb.content.models import Revision
from kb.errors import Forbidden
from tests.helpers import form_post, login, rows, share_expertise_scores
from workflow import policy
from workflow import service as wf_service
from workflow.models import Action, Notification, Policy
from kb.accounts.actors import SYSTEM

A = Action


def score(db, wf, user, value: float, tag: str | None = None) -> None:
    """Arrange ``user``'s expertise score in a topic (what ``expertise.scores`` would have computed,
    and handed to workflow with the user's other scores)."""
    db.add(ExpertiseScore(user_id=user.id, tag_id=wf.tag(db, tag or wf.TAG).id, score=value,
                          components={"reviews": value}))
    share_expertise_scores(db, [user.id])
    db.commit()


def approved(db, wf, cast, article) -> Revision:
    revision = db.get(Revision, article.latest_revision_id)
    wf.act(db, cast.author, revision, A.submit)
    wf.act(db, cast.topic_expert, revision, A.approve)
    db.commit()
    return revision


def may_certify(db, wf, actor, article, revision) -> bool:
    db.expire_all()
    entry = wf.entry(db, article.id)
    return A.certify in wf_service.actions_for(session=db, actor=actor, entry=entry, revision=db.get(Revision, revision.id))


# (policy rows, expert's score) -> may the expert (role, not designated) certify?
CASES = {
    "no threshold": ({"global": None}, 1000, False),
    "topic threshold reached": ({"topic": 30}, 35, True),
    "topic threshold reached exactly": ({"topic": 30}, 30, True),
    "topic threshold missed": ({"topic": 30}, 25, False),
    "global threshold reached": ({"global": 30}, 35, True),
    "topic override without threshold wins": ({"global": 30, "topic": None}, 1000, False),
    "topic threshold stricter than global": ({"global": 10, "topic": 50}, 35, False),
}


@pytest.mark.parametrize(("rows_", "value", "allowed"), CASES.values(), ids=CASES.keys())
def test_who_may_certify_by_score(db, wf, cast, article, set_policy, rows_, value, allowed):
    for where, threshold in rows_.items():
        set_policy(tag=None if where == "global" else wf.TAG, expert_min_score=threshold)
    score(db, wf, cast.expert, value)
    revision = approved(db, wf, cast, article)
    assert may_certify(db, wf, cast.expert, article, revision) is allowed
    if allowed:
        wf.act(db, cast.expert, revision, A.certify)
        db.commit()
        assert wf.state(db, revision.id) == wf.S.certified.value
        assert wf.events(db, revision_id=revision.id)[-1][8] == f"certified as expert of {wf.TAG}"
    else:
        with pytest.raises(Forbidden):
            wf.act(db, cast.expert, revision, A.certify)
        db.rollback()
        assert wf.state(db, revision.id) == wf.S.approved.value


def test_a_score_in_another_topic_does_not_count(db, wf, cast, article, set_policy):
    set_policy(expert_min_score=30)
    score(db, wf, cast.expert, 100, tag=wf.OTHER_TAG)
    revision = approved(db, wf, cast, article)
    assert not may_certify(db, wf, cast.expert, article, revision)


@pytest.mark.parametrize("role", ["author", "agent"])
def test_a_high_score_without_the_expert_role_is_not_enough(db, wf, cast, article, set_policy, role):
    set_policy(expert_min_score=30)
    user = getattr(cast, "other_author" if role == "author" else "agent")
    score(db, wf, user, 1000)
    revision = approved(db, wf, cast, article)
    assert not may_certify(db, wf, user, article, revision)


def test_a_deactivated_high_scorer_is_no_expert(db, wf, cast, set_policy):
    set_policy(expert_min_score=30)
    score(db, wf, cast.expert, 1000)
    tag_id = wf.tag(db, wf.TAG).id
    assert policy.expert_topics(session=db, user_id=cast.expert.id, tag_ids=[tag_id]) == [wf.TAG]
    cast.expert.is_active = False
    db.commit()
    assert policy.expert_topics(session=db, user_id=cast.expert.id, tag_ids=[tag_id]) == []


def test_the_author_never_certifies_their_own_work_whatever_their_score(db, wf, cast, set_policy):
    set_policy(expert_min_score=30)
    entry = wf.article(db, cast.expert)
    db.commit()
    score(db, wf, cast.expert, 1000)
    revision = db.get(Revision, entry.latest_revision_id)
    wf.act(db, cast.expert, revision, A.submit)
    wf.act(db, cast.topic_expert, revision, A.approve)
    db.commit()
    assert not may_certify(db, wf, cast.expert, entry, revision)


@pytest.mark.parametrize("action", [A.approve, A.request_changes, A.reject], ids=lambda a: a.value)
def test_experts_only_review_admits_high_scorers(db, wf, cast, article, set_policy, action):
    set_policy(tag=wf.TAG, experts_only_review=True, expert_min_score=30)
    score(db, wf, cast.expert, 40)
    low = wf.user(db, "expert", name="low-scorer")
    db.commit()
    score(db, wf, low, 10)
    revision = db.get(Revision, article.latest_revision_id)
    wf.act(db, cast.author, revision, A.submit)
    db.commit()
    comment = "A reason." if action is not A.approve else ""
    with pytest.raises(Forbidden):
        wf.act(db, low, revision, action, comment)
    db.rollback()
    wf.act(db, cast.expert, revision, action, comment)
    db.commit()
    assert wf.reviews(db, revision.id) == [(cast.expert.id, action.value)]


def test_high_scorers_are_asked_to_review_like_designated_experts(db, wf, cast, article, set_policy):
    set_policy(tag=wf.TAG, expert_min_score=30)
    score(db, wf, cast.expert, 40)
    wf.act(db, cast.author, db.get(Revision, article.latest_revision_id), A.submit)
    db.commit()
    asked = {n.user_id for n in rows(db, Notification, kind="review_requested")}
    assert asked == {cast.topic_expert.id, cast.topic_expert2.id, cast.expert.id}


def test_high_scorers_may_re_verify_and_archive(db, wf, cast, article, set_policy):
    revision = approved(db, wf, cast, article)
    wf.act(db, cast.topic_expert, revision, A.certify)
    db.commit()
    with pytest.raises(Forbidden):
        wf_service.reverify(session=db, actor=cast.expert, entry=wf.entry(db, article.id))
    db.rollback()
    set_policy(tag=wf.TAG, expert_min_score=30)
    score(db, wf, cast.expert, 30)
    cert = wf_service.reverify(session=db, actor=cast.expert, entry=wf.entry(db, article.id))
    db.commit()
    assert cert.reverified_by == cast.expert.id
    assert wf.events(db, entry_id=article.id)[-1][8] == f"re-verified as expert of {wf.TAG}"


def test_a_score_earned_from_real_evidence_counts(db, wf, cast, article, set_policy):
    """Endorsements by two colleagues (3 points each) reach a threshold of 5."""
    from kb.content.forum import ask_question
    from kb.content.schemas import QuestionCreate

    set_policy(tag=wf.TAG, expert_min_score=5)
    revision = approved(db, wf, cast, article)
    # Colleagues endorse for a topic they can see in use (a topic only unpublished work carries is
    # as private as that work, issue 12 defect 16): a forum question carries it in the open.
    ask_question(session=db, actor=cast.agent, data=QuestionCreate(title="Billing?", body="In the open.",
                                                                   tags=[wf.TAG]))
    people.endorse(session=db, actor=cast.agent, user=cast.expert, topic=wf.TAG)
    db.commit()
    assert not may_certify(db, wf, cast.expert, article, revision)
    people.endorse(session=db, actor=cast.other_author, user=cast.expert, topic=wf.TAG)
    db.commit()
    assert may_certify(db, wf, cast.expert, article, revision)


# --- setting it (administrators) --------------------------------------------------------------


@pytest.fixture
def admin_and_topic(db, make_user, wf):
    admin = make_user("admin")
    author = make_user("author")
    wf.article(db, author, tags=("shipping",))
    db.commit()
    return admin


def test_admins_set_the_threshold_on_the_topics_page(client, db, admin_and_topic):
    login(client, admin_and_topic.email)
    page = client.get("/admin/topics").text
    assert 'name="expert_min_score"' in page
    saved = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 1, "validity_days": 90,
                                                 "reminder_days": 14, "expert_min_score": "30"}, page="/admin/topics")
    assert saved.status_code == 303
    assert [(p.tag_id is not None, p.expert_min_score) for p in rows(db, Policy)] == [(True, 30.0)]
    assert "experts by score ≥ 30" in client.get("/admin/topics").text
    cleared = form_post(client, "/admin/policy", {"topic": "shipping", "required_approvals": 1,
                                                   "validity_days": 90, "reminder_days": 14, "expert_min_score": ""},
                        page="/admin/topics")
    assert cleared.status_code == 303
    assert [p.expert_min_score for p in rows(db, Policy)] == [None]


@pytest.mark.parametrize(("value", "message"), [("lots", "is not a number"), ("-5", "must be above 0"),
                                                ("0", "must be above 0"), ("1e9", "at most 100,000")])
def test_bad_thresholds_are_explained(client, db, admin_and_topic, value, message):
    login(client, admin_and_topic.email)
    response = form_post(client, "/admin/policy", {"topic": "", "required_approvals": 1, "validity_days": 90,
                                                    "reminder_days": 14, "expert_min_score": value},
                         page="/admin/topics")
    assert response.status_code == 422 and message in response.text
    assert rows(db, Policy) == []


def test_set_policy_keeps_the_threshold_it_is_given(db, wf):
    wf.tag(db, wf.TAG)
    saved = policy.set_policy(session=db, actor=SYSTEM, topic=wf.TAG, required_approvals=1, validity_days=90,
                              reminder_days=14, approval_certifies=False, experts_only_review=False,
                              expert_min_score=12.5)
    db.commit()
    assert db.exec(select(Policy.expert_min_score).where(Policy.id == saved.id)).one() == 12.5
    assert policy.expert_score_thresholds(session=db, tag_ids=[saved.tag_id]) == {saved.tag_id: 12.5}
