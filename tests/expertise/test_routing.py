"""Reviewer suggestions and assignment, question routing and escalation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.clock import travel, utcnow
from kb.content import service as content
from kb.content.forum import answer_question, ask_question
from kb.content.models import Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from cli.bootstrap import bootstrap
from expertise import routing
from expertise.models import ExpertiseScore, QuestionRoute, ReviewAssignment, TopicRouting
from expertise.questions import MAX_ESCALATION_LEVEL, escalate_unanswered
from tests.helpers import rows, share_expertise_scores
from workflow import service as workflow
from workflow.models import Action, Notification, Policy, TopicExpert
from kb.accounts.actors import SYSTEM


@pytest.fixture(autouse=True)
def _reactions():
    bootstrap()  # as the app and the CLI do


def person(db, *roles: str, name: str):
    data = UserCreate(email=f"{name.lower().replace(' ', '.')}-{uuid.uuid4().hex[:6]}@example.com",
                      display_name=name, roles=[Role(r) for r in roles], password=None)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


def tag(db, name: str) -> Tag:
    found = db.exec(select(Tag).where(Tag.name == name)).first()
    if found is None:
        found = Tag(name=name)
        db.add(found)
        db.flush()
    return found


def designate(db, user, topic: str) -> None:
    db.add(TopicExpert(tag_id=tag(db, topic).id, user_id=user.id))
    db.flush()


def expertise(db, user, topic: str, score: float) -> None:
    db.add(ExpertiseScore(user_id=user.id, tag_id=tag(db, topic).id, score=score, components={}))
    share_expertise_scores(db, [user.id])


def submitted(db, author, *, title: str = "Refund windows", tags=("billing",)):
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title=title, body="Refunds are possible within 30 days.", tags=list(tags)))
    return workflow.transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)


def notified(db, kind: str) -> list[int]:
    return sorted(n.user_id for n in rows(db, Notification, kind=kind))


@pytest.fixture
def team(db):
    """Billing: two designated experts, one expert known by score only; shipping has its own."""
    people = {
        "author": person(db, "author", name="Avery Author"),
        "writing_expert": person(db, "expert", "author", name="Wren Writer"),
        "ann": person(db, "expert", name="Ann Designated"),
        "bob": person(db, "expert", name="Bob Designated"),
        "cy": person(db, "expert", name="Cy Scorer"),
        "shipping": person(db, "expert", name="Sid Shipping"),
        "agent": person(db, "agent", name="Alex Agent"),
    }
    for key in ("ann", "bob", "writing_expert"):
        designate(db, people[key], "billing")
    designate(db, people["shipping"], "shipping")
    expertise(db, people["bob"], "billing", 8.0)
    expertise(db, people["ann"], "billing", 3.0)
    expertise(db, people["cy"], "billing", 5.0)
    expertise(db, people["agent"], "billing", 9.0)  # knows a lot, but agents do not review
    db.commit()
    return people


# --- suggestions ---------------------------------------------------------------------------------


def test_suggestions_are_the_topic_experts_never_the_author(db, team):
    revision = submitted(db, team["writing_expert"])
    names = [s.user.display_name for s in routing.suggest_reviewers(session=db, revision=revision)]
    # Same (zero) load: designated experts first, the higher score first, then the expert by score.
    assert names == ["Bob Designated", "Ann Designated", "Cy Scorer"]
    assert "Wren Writer" not in names and "Sid Shipping" not in names and "Alex Agent" not in names


def test_inactive_experts_are_never_suggested(db, team):
    team["bob"].is_active = False
    db.commit()
    revision = submitted(db, team["author"])
    names = [s.user.display_name for s in routing.suggest_reviewers(session=db, revision=revision)]
    assert "Bob Designated" not in names and names[:2] == ["Ann Designated", "Wren Writer"]


def test_suggestions_are_balanced_by_open_review_load(db, team):
    busy = [submitted(db, team["author"], title=f"Busy {n}") for n in range(2)]
    for revision in busy:
        routing.assign_reviewer(session=db, actor=team["author"], revision_id=revision.id,
                                reviewer_id=team["bob"].id)
    # Assignments on revisions no longer in review are not load.
    done = submitted(db, team["author"], title="Done")
    routing.assign_reviewer(session=db, actor=team["author"], revision_id=done.id, reviewer_id=team["ann"].id)
    workflow.transition(session=db, actor=team["ann"], revision_id=done.id, action=Action.approve)
    db.commit()

    revision = submitted(db, team["author"], title="New one")
    suggestions = routing.suggest_reviewers(session=db, revision=revision)
    assert [(s.user.display_name, s.load) for s in suggestions] == [
        ("Ann Designated", 0), ("Wren Writer", 0), ("Cy Scorer", 0)]
    bob = next(s for s in routing.suggest_reviewers(session=db, revision=revision, limit=10)
               if s.user.id == team["bob"].id)
    assert bob.load == 2

    # Approving one of them takes it off Bob's load.
    workflow.transition(session=db, actor=team["bob"], revision_id=busy[0].id, action=Action.approve)
    assert routing.open_review_load(session=db, user_ids=[team["bob"].id]) == {team["bob"].id: 1}


def test_a_review_sent_back_to_review_is_owed_again(db, team):
    revision = submitted(db, team["author"])
    workflow.transition(session=db, actor=team["cy"], revision_id=revision.id, action=Action.request_changes,
                        comment="Say which form to use.")
    assert routing.open_review_load(session=db, user_ids=[team["cy"].id]) == {team["cy"].id: 0}  # with the author now
    workflow.transition(session=db, actor=team["author"], revision_id=revision.id, action=Action.resubmit)
    assert routing.open_review_load(session=db, user_ids=[team["cy"].id]) == {team["cy"].id: 1}


def test_without_topic_experts_the_expert_role_is_suggested(db, team):
    revision = submitted(db, team["author"], tags=("devices",))
    names = {s.user.display_name for s in routing.suggest_reviewers(session=db, revision=revision, limit=10)}
    assert names == {"Ann Designated", "Bob Designated", "Cy Scorer", "Sid Shipping", "Wren Writer"}


def test_experts_only_review_policy_leaves_only_designated_experts(db, team):
    db.add(Policy(tag_id=tag(db, "billing").id, experts_only_review=True))
    db.commit()
    revision = submitted(db, team["author"])
    names = [s.user.display_name for s in routing.suggest_reviewers(session=db, revision=revision)]
    assert names == ["Bob Designated", "Ann Designated", "Wren Writer"]


def test_experts_only_review_with_a_score_threshold_admits_experts_by_score(db, team):
    """Cy (score 5) reaches the topic's threshold of 4: an expert of billing by score."""
    db.add(Policy(tag_id=tag(db, "billing").id, experts_only_review=True, expert_min_score=4.0))
    db.commit()
    revision = submitted(db, team["author"])
    names = [s.user.display_name for s in routing.suggest_reviewers(session=db, revision=revision, limit=10)]
    assert names == ["Bob Designated", "Ann Designated", "Wren Writer", "Cy Scorer"]
    assert "Alex Agent" not in names  # a high score without the expert role is not enough


# --- assignment ----------------------------------------------------------------------------------


def test_no_assignment_on_submit_without_auto_assign(db, team):
    submitted(db, team["author"])
    assert rows(db, ReviewAssignment) == [] and notified(db, "review_assigned") == []


def test_auto_assign_assigns_the_best_suggestions_and_tells_them(db, team):
    db.add(TopicRouting(tag_id=tag(db, "billing").id, auto_assign=True))
    db.commit()
    revision = submitted(db, team["author"])
    [assignment] = rows(db, ReviewAssignment, revision_id=revision.id)  # one approval required: one reviewer
    assert (assignment.reviewer_id, assignment.automatic, assignment.assigned_by) == (team["bob"].id, True, None)
    assert notified(db, "review_assigned") == [team["bob"].id]
    assert [r.id for _, r, _ in routing.assigned_to(session=db, actor=team["bob"])] == [revision.id]

    # Two approvals required: the next submission goes to the two least busy.
    db.add(Policy(tag_id=tag(db, "billing").id, required_approvals=2))
    db.commit()
    second = submitted(db, team["author"], title="Second")
    assigned = {a.reviewer_id for a in rows(db, ReviewAssignment, revision_id=second.id)}
    assert assigned == {team["ann"].id, team["writing_expert"].id}  # Bob has one open review already


def test_global_auto_assign_applies_to_topics_without_their_own_rules(db, team):
    db.add(TopicRouting(tag_id=None, auto_assign=True))
    db.add(TopicRouting(tag_id=tag(db, "shipping").id, auto_assign=False))
    db.commit()
    billing = submitted(db, team["author"])
    shipping = submitted(db, team["author"], title="Parcel", tags=("shipping",))
    assert len(rows(db, ReviewAssignment, revision_id=billing.id)) == 1
    assert rows(db, ReviewAssignment, revision_id=shipping.id) == []


def test_assign_reviewer_checks_who_and_when(db, team):
    revision = submitted(db, team["author"])
    row = routing.assign_reviewer(session=db, actor=team["author"], revision_id=revision.id,
                                  reviewer_id=team["cy"].id)
    assert (row.assigned_by, row.automatic) == (team["author"].id, False)
    assert notified(db, "review_assigned") == [team["cy"].id]
    with pytest.raises(Conflict, match="already assigned"):
        routing.assign_reviewer(session=db, actor=team["ann"], revision_id=revision.id, reviewer_id=team["cy"].id)
    with pytest.raises(ValidationFailed, match="wrote this"):
        routing.assign_reviewer(session=db, actor=team["ann"], revision_id=revision.id,
                                reviewer_id=team["author"].id)
    with pytest.raises(ValidationFailed, match="cannot review"):
        routing.assign_reviewer(session=db, actor=team["ann"], revision_id=revision.id,
                                reviewer_id=team["agent"].id)
    with pytest.raises(NotFound):  # agents cannot even see an article in review
        routing.assign_reviewer(session=db, actor=team["agent"], revision_id=revision.id,
                                reviewer_id=team["bob"].id)
    workflow.transition(session=db, actor=team["cy"], revision_id=revision.id, action=Action.approve)
    with pytest.raises(InvalidTransition, match="only while the revision is in review"):
        routing.assign_reviewer(session=db, actor=team["author"], revision_id=revision.id,
                                reviewer_id=team["bob"].id)


# --- questions -----------------------------------------------------------------------------------


def ask(db, asker, *, title: str = "Refund to a closed card?", tags=("billing",)):
    return ask_question(session=db, actor=asker, data=QuestionCreate(
        title=title, body="The customer's card was closed last week.", tags=list(tags)))


def test_a_new_question_notifies_the_top_experts_of_its_tags_never_the_asker(db, team):
    db.add(TopicRouting(tag_id=None, notify_experts=2))
    db.commit()
    question = ask(db, team["bob"])  # the best billing expert asks
    routes = rows(db, QuestionRoute, question_id=question.id)
    assert sorted((r.user_id, r.level) for r in routes) == sorted([(team["ann"].id, 0), (team["writing_expert"].id, 0)])
    assert notified(db, "question_routed") == sorted([team["ann"].id, team["writing_expert"].id])
    [message] = [n for n in rows(db, Notification, kind="question_routed") if n.user_id == team["ann"].id]
    assert message.link == f"/questions/{question.id}" and "Refund to a closed card?" in message.message


def test_topic_rules_decide_how_many_experts_a_question_notifies(db, team):
    db.add(TopicRouting(tag_id=tag(db, "billing").id, notify_experts=0))
    db.commit()
    ask(db, team["agent"])
    assert rows(db, QuestionRoute) == [] and notified(db, "question_routed") == []


def test_an_unanswered_question_escalates_after_the_waiting_time(db, team):
    db.add(TopicRouting(tag_id=None, notify_experts=1, escalate_after_hours=24))
    db.commit()
    start = utcnow()
    with travel(start):
        question = ask(db, team["agent"])
        answered = ask(db, team["agent"], title="Answered one")
        answer_question(session=db, actor=team["ann"], question=answered, data=AnswerCreate(body="Use store credit."))
    db.commit()
    assert {r.user_id for r in rows(db, QuestionRoute, question_id=question.id)} == {team["bob"].id}

    assert escalate_unanswered(session=db, now=start + timedelta(hours=23)) == 0
    assert escalate_unanswered(session=db, now=start + timedelta(hours=25)) == 1  # not the answered one
    db.commit()
    level_one = [r for r in rows(db, QuestionRoute, question_id=question.id) if r.level == 1]
    assert [r.user_id for r in level_one] == [team["ann"].id]
    assert notified(db, "question_escalated") == [team["ann"].id]
    assert rows(db, QuestionRoute, question_id=answered.id)[0].level == 0

    # The wait counts from the last routing.
    assert escalate_unanswered(session=db, now=start + timedelta(hours=48)) == 0
    with travel(start + timedelta(hours=50)):  # the clock, as kb serve's periodic job uses it
        assert escalate_unanswered(session=db) == 1
    db.commit()
    assert {r.user_id for r in rows(db, QuestionRoute, question_id=question.id) if r.level == 2} == {
        team["writing_expert"].id}


def test_escalation_widens_to_every_expert_and_stops_at_the_maximum_level(db, team):
    db.add(TopicRouting(tag_id=None, notify_experts=2, escalate_after_hours=1))
    db.commit()
    start = utcnow()
    with travel(start):
        question = ask(db, team["agent"])
    for hours in range(1, MAX_ESCALATION_LEVEL + 3):
        escalate_unanswered(session=db, now=start + timedelta(hours=hours * 2))
    db.commit()
    routes = rows(db, QuestionRoute, question_id=question.id)
    levels: dict[int, set[int]] = {}
    for r in routes:
        levels.setdefault(r.level, set()).add(r.user_id)
    assert levels[0] == {team["bob"].id, team["ann"].id}
    # Then the rest of billing's experts, then experts of other topics; never the asker, never twice.
    assert levels[1] == {team["writing_expert"].id, team["cy"].id}
    assert levels[2] == {team["shipping"].id}
    assert max(levels) <= MAX_ESCALATION_LEVEL and len(routes) == len({r.user_id for r in routes})
    assert team["agent"].id not in {r.user_id for r in routes}


def test_kb_expire_escalates_unanswered_questions(tmp_path):
    """``kb expire`` (cron) escalates too, as of ``--now``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kb.db import make_engine, session_factory

    def run_kb(*args):
        environment = {**os.environ, "KB_DATA_DIR": str(tmp_path), "KB_ENV": "development", "COLUMNS": "200"}
        environment.pop("KB_DATABASE_URL", None)
        return subprocess.run([str(Path(sys.executable).parent / "kb"), *args], capture_output=True, text=True,
                              env=environment, timeout=120)

    assert run_kb("init").returncode == 0
    engine = make_engine(f"sqlite:///{(tmp_path / 'kb.sqlite3').resolve()}")
    with session_factory(engine)() as session:
        asker, expert, other = (person(session, "agent", name="Asker"), person(session, "expert", name="First"),
                                person(session, "expert", name="Second"))
        designate(session, expert, "billing")
        session.add(TopicRouting(tag_id=None, notify_experts=1, escalate_after_hours=24))
        session.commit()
        question_id, expert_id, other_id = ask(session, asker).id, expert.id, other.id
        session.commit()
        asked_at = rows(session, QuestionRoute)[0].created_at
    engine.dispose()

    early = run_kb("expire", "--now", (asked_at + timedelta(hours=2)).isoformat())
    assert early.returncode == 0, early.stderr
    assert "Escalated 0 unanswered questions to more experts." in early.stdout
    due = run_kb("expire", "--now", (asked_at + timedelta(hours=25)).isoformat())
    assert due.returncode == 0, due.stderr
    assert "Escalated 1 unanswered question to more experts." in due.stdout
    with session_factory(engine)() as session:
        told = {(r.user_id, r.level) for r in rows(session, QuestionRoute, question_id=question_id)}
        assert told == {(expert_id, 0), (other_id, 1)}
    engine.dispose()


def test_imported_questions_notify_nobody(db, engine, team, tmp_path):
    """``kb import`` loads history: routing its questions would flood experts' inboxes."""
    from kb.content.transfer import format_document, import_folder

    db.add(TopicRouting(tag_id=None, notify_experts=2))
    db.commit()
    (tmp_path / "q.md").write_text(format_document(
        {"title": "Refund to a closed card?", "kind": "question", "tags": ["billing"]}, "The card is closed."))
    report = import_folder(engine=engine, path=tmp_path, actor_email=team["agent"].email)
    assert report.questions == 1, report
    assert rows(db, QuestionRoute) == [] and notified(db, "question_routed") == []
