"""The experts pages and API, reviewer suggestions on the review page, and the routing admin page."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from functools import cache

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from kb.clock import travel, utcnow
from kb.content import service as content
from kb.content.forum import ask_question
from kb.content.models import Tag
from kb.content.schemas import ArticleCreate, QuestionCreate
from cli.bootstrap import bootstrap
from expertise.models import QuestionRoute, ReviewAssignment, TopicRouting
from search.factory import backend_for, reset_backends
from search.service import reindex
from tests.helpers import PASSWORD, form_post, login, rows
from workflow.models import Action, Notification
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM


@cache
def _password_hash() -> str:
    from kb.accounts.security import hash_password

    return hash_password(PASSWORD)  # argon2 takes a while: hash the test password once


def text_of(page: str) -> str:
    """What a person reads: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def world(db, engine, make_user, app):
    """Maria wrote two refunds articles (one certified, one a draft) and is designated for
    refunds; Erin reviews; an agent asks."""
    bootstrap()
    reset_backends()
    people = {key: make_user(*roles, name=name, password=None) for key, roles, name in (
        ("maria", ("author", "expert"), "Maria Lopez"), ("erin", ("expert",), "Erin Expert"),
        ("agent", ("agent",), "Alex Agent"), ("admin", ("admin",), "Ada Admin"),
        ("author", ("author",), "Avery Author"))}
    for user in people.values():
        user.password_hash = _password_hash()
    certified = content.create_article(session=db, actor=people["maria"], data=ArticleCreate(
        title="Refund to a closed card", body="The bank forwards the refund to the new card.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=people["erin"])
    for who, action in ((people["maria"], Action.submit), (people["erin"], Action.approve),
                        (people["erin"], Action.certify)):
        transition(session=db, actor=who, revision_id=certified.latest_revision_id, action=action)
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=people["maria"])
    draft = content.create_article(session=db, actor=people["maria"], data=ArticleCreate(
        title="Zephyr refunds draft", body="Refund rules not yet reviewed.", tags=["refunds"]))
    db.commit()
    reindex(engine=engine, backend=backend_for(app.state.settings))
    yield {**people, "certified": certified, "draft": draft}
    reset_backends()


def test_everyone_finds_the_experts_page_in_the_navigation(client, world):
    login(client, world["agent"].email)
    page = client.get("/experts")
    assert page.status_code == 200 and '<a href="/experts" aria-current="page">Experts</a>' in page.text
    assert "/admin/routing" not in page.text  # the Routing item is for admins
    directory = text_of(page.text)
    assert "Experts by topic" in directory and "Who knows about" in page.text
    # Designated experts of refunds, with their badge.
    row = re.search(r'<tr id="topic-refunds">(.*?)</tr>', page.text, re.S).group(1)
    assert "Maria Lopez" in row and "Erin Expert" in row and row.count("designated") == 2


def test_who_knows_about_refunds_shows_experts_with_evidence_an_agent_may_see(client, world):
    login(client, world["agent"].email)
    page = client.get("/experts", params={"q": "Who knows about refunds?"})
    assert page.status_code == 200
    readable = text_of(page.text)
    assert readable.index("Maria Lopez") < readable.index("Erin Expert")
    assert "1 matching entry, expert of refunds" in readable
    assert f'href="/articles/{world["certified"].id}"' in page.text and "Refund to a closed card" in readable
    # The draft counts in the ranking, but an agent is neither shown it nor told it exists.
    assert "Zephyr" not in page.text and f"/articles/{world['draft'].id}" not in page.text
    assert "you cannot see" not in readable
    assert "certified by them" in readable  # Erin's evidence: the article she certified


def test_the_author_sees_her_draft_as_evidence(client, world):
    login(client, world["maria"].email)
    page = client.get("/experts?q=refunds").text
    assert "Zephyr refunds draft" in page and f'href="/articles/{world["draft"].id}"' in page


def test_a_question_without_a_subject_is_explained_in_the_form(client, world):
    login(client, world["agent"].email)
    page = client.get("/experts", params={"q": "who knows about?"})
    assert page.status_code == 422 and 'aria-invalid="true"' in page.text
    assert "Say what the expert should know about" in page.text


def test_experts_api(client, world, bearer):
    headers = bearer(world["agent"])
    response = client.get("/api/v1/experts", params={"q": "refunds"}, headers=headers)
    assert response.status_code == 200
    experts = response.json()["experts"]
    assert [e["name"] for e in experts][:2] == ["Maria Lopez", "Erin Expert"]
    maria = experts[0]
    assert set(maria) == {"user_id", "name", "score", "evidence"}
    assert maria["user_id"] == world["maria"].id and maria["evidence"] == [world["certified"].id]
    assert maria["score"] == pytest.approx(1.0) and 0 < experts[1]["score"] < 1
    for q in ("", "  "):
        empty = client.get("/api/v1/experts", params={"q": q}, headers=headers)
        assert empty.status_code == 422 and "Say what the expert should know about" in empty.json()["detail"]
    assert client.get("/api/v1/experts?q=refunds").status_code == 401
    assert "/experts" in str(client.get("/api/v1/openapi.json").json()["paths"])


# --- reviewer suggestions on the review page ----------------------------------------------------


def test_the_author_assigns_a_suggested_reviewer_who_sees_it_on_the_dashboard(client, db, world):
    entry = content.create_article(session=db, actor=world["author"], data=ArticleCreate(
        title="Refund after 60 days", body="Only with a manager's approval.", tags=["refunds"]))
    revision = transition(session=db, actor=world["author"], revision_id=entry.latest_revision_id,
                          action=Action.submit)
    db.commit()
    login(client, world["author"].email)
    page = client.get(f"/review/{revision.id}").text
    suggested = re.search(r'<ul id="suggested-reviewers">(.*?)</ul>', page, re.S).group(1)
    assert "Maria Lopez" in suggested and "Erin Expert" in suggested and "Avery Author" not in suggested
    assert "topic expert" in suggested and 'aria-label="Assign Erin Expert"' in suggested

    assigned = form_post(client, f"/review/{revision.id}/assign", {"reviewer_id": world["erin"].id},
                         page=f"/review/{revision.id}")
    assert assigned.status_code == 303 and assigned.headers["location"] == f"/review/{revision.id}?assigned=1"
    assert [(a.reviewer_id, a.assigned_by) for a in rows(db, ReviewAssignment)] == [
        (world["erin"].id, world["author"].id)]
    assert "Reviewer assigned" in client.get(assigned.headers["location"]).text
    again = form_post(client, f"/review/{revision.id}/assign", {"reviewer_id": world["erin"].id},
                      page=f"/review/{revision.id}")
    assert again.status_code == 409 and "already assigned" in again.text

    client.cookies.clear()
    login(client, world["erin"].email)
    board = client.get("/review").text
    mine = re.search(r'<section class="card" id="assigned">(.*?)</section>', board, re.S).group(1)
    assert "Refund after 60 days" in mine and f'href="/review/{revision.id}"' in mine
    assert [n.kind for n in rows(db, Notification, user_id=world["erin"].id)].count("review_assigned") == 1


def test_agents_see_no_suggestions_and_cannot_assign(client, db, world, make_user):
    from kb.content.forum import answer_question
    from kb.content.schemas import AnswerCreate

    question = ask_question(session=db, actor=world["agent"], data=QuestionCreate(
        title="Refund twice?", body="Charged twice.", tags=["refunds"]))
    answer = answer_question(session=db, actor=world["author"], question=question,
                             data=AnswerCreate(body="Refund the second charge."))
    revision = transition(session=db, actor=world["author"], revision_id=answer.latest_revision_id,
                          action=Action.submit)
    db.commit()
    login(client, world["agent"].email)  # forum answers in review are visible to agents
    page = client.get(f"/review/{revision.id}")
    assert page.status_code == 200 and "Suggested reviewers" not in page.text
    refused = form_post(client, f"/review/{revision.id}/assign", {"reviewer_id": world["erin"].id},
                        page=f"/review/{revision.id}")
    assert refused.status_code == 403 and "Only the author, experts and administrators" in refused.text
    assert rows(db, ReviewAssignment) == []


# --- routing administration ---------------------------------------------------------------------


def test_admin_sets_routing_rules_globally_and_per_topic(client, db, world):
    login(client, world["admin"].email)
    page = client.get("/admin/routing")
    assert page.status_code == 200 and '<a href="/admin/routing" aria-current="page">Routing</a>' in page.text
    saved = form_post(client, "/admin/routing", {"topic": "", "auto_assign": "true", "notify_experts": "2",
                                                  "escalate_after_hours": "12"}, page="/admin/routing")
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/routing?saved=1"
    topic = form_post(client, "/admin/routing", {"topic": "Refunds", "notify_experts": "5",
                                                  "escalate_after_hours": "4"}, page="/admin/routing")
    assert topic.status_code == 303
    refunds_id = db.exec(select(Tag.id).where(Tag.name == "refunds")).one()
    stored = {r.tag_id: (r.auto_assign, r.notify_experts, r.escalate_after_hours) for r in rows(db, TopicRouting)}
    assert stored == {None: (True, 2, 12), refunds_id: (False, 5, 4)}
    listed = text_of(client.get("/admin/routing").text)
    assert "5 experts, escalate after 4 h" in listed

    removed = form_post(client, "/admin/routing/refunds/remove", page="/admin/routing")
    assert removed.status_code == 303 and [r.tag_id for r in rows(db, TopicRouting)] == [None]


@pytest.mark.parametrize(("data", "message"), [
    ({"notify_experts": "50", "escalate_after_hours": "24"}, "between 0 and 20 experts"),
    ({"notify_experts": "three", "escalate_after_hours": "24"}, "must be a whole number"),
    ({"notify_experts": "3", "escalate_after_hours": "0"}, "Escalate after 1 to 720 hours"),
    ({"topic": "teleportation", "notify_experts": "3", "escalate_after_hours": "24"}, "no topic called"),
])
def test_bad_routing_rules_are_explained_in_the_form(client, db, world, data, message):
    login(client, world["admin"].email)
    response = form_post(client, "/admin/routing", {"topic": "", **data}, page="/admin/routing")
    assert response.status_code in (404, 422) and message in html.unescape(response.text)
    assert 'class="form-errors"' in response.text and rows(db, TopicRouting) == []


def test_routing_admin_is_for_admins_only(client, world):
    login(client, world["erin"].email)
    assert client.get("/admin/routing").status_code == 403
    refused = form_post(client, "/admin/routing", {"notify_experts": "1", "escalate_after_hours": "1"},
                        page="/experts")
    assert refused.status_code == 403


def test_serve_escalates_unanswered_questions_on_its_timer(engine, db, settings, world):
    from web.app import create_app

    db.add(TopicRouting(tag_id=None, notify_experts=1, escalate_after_hours=1))
    db.commit()
    with travel(utcnow() - timedelta(hours=2)):
        question = ask_question(session=db, actor=world["agent"], data=QuestionCreate(
            title="Refund in cash?", body="The customer insists.", tags=["refunds"]))
    db.commit()
    assert [r.level for r in rows(db, QuestionRoute, question_id=question.id)] == [0]
    app = create_app(settings=settings.model_copy(update={"periodic_seconds": 1}), engine=engine)
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(rows(db, QuestionRoute, question_id=question.id)) < 2:
            time.sleep(0.2)
    assert sorted(r.level for r in rows(db, QuestionRoute, question_id=question.id)) == [0, 1]
    assert len(rows(db, Notification, kind="question_escalated")) == 1
