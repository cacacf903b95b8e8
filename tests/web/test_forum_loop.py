"""The forum loop through the pages: the asker is told, a form posts once, an answer turned into an
article stays its author's, questions speak the forum's words, and the ask form suggests answers."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from kb.content import forum
from kb.content.models import Entry
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import csrf_from, form_post, login, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def post_form(client: TestClient, page: str, path: str, data: dict, *, nth: int = 0):
    """Open ``page`` and post its ``nth`` create form with both tokens, the way a browser does;
    returns (response, the page's form token) so a test can post the same form again (Back, Post)."""
    html = client.get(page).text
    token = FORM_TOKEN.findall(html)[nth]
    return repost(client, path, data, html=html, token=token), token


def repost(client: TestClient, path: str, data: dict, *, html: str | None = None, token: str,
           page: str = "/") -> object:
    csrf = csrf_from(html or client.get(page).text)
    return client.post(path, data={**data, "csrf_token": csrf, "form_token": token}, follow_redirects=False)


@pytest.fixture
def people(make_user):
    return {"asker": make_user("agent", name="Alex Asker"), "answerer": make_user("author", name="Avery Answerer"),
            "expert": make_user("expert", name="Erin Expert"), "stranger": make_user("author", name="Sam Stranger")}


def browser(app, user) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    login(client, user.email)
    return client


# --- 18: notifications -----------------------------------------------------------------------


def test_the_asker_finds_answers_and_acceptance_in_the_inbox(app, people):
    with browser(app, people["asker"]) as alex, browser(app, people["answerer"]) as avery:
        thread = post_form(alex, "/questions/ask", "/questions", {"title": "Refund after ten days?",
                                                                  "body": "Details."})[0].headers["location"]
        post_form(avery, thread, f"{thread}/answers", {"body": "Yes, within 30 days."})
        inbox = alex.get("/inbox").text
        assert "Avery Answerer answered your question “Refund after ten days?”." in inbox
        answer_id = re.search(r'id="answer-(\d+)"', alex.get(thread).text).group(1)
        assert form_post(alex, f"/answers/{answer_id}/accept", page=thread).status_code == 303
        assert "Alex Asker accepted your answer to “Refund after ten days?”." in avery.get("/inbox").text
        assert "accepted your answer" not in alex.get("/inbox").text  # not told of their own doing


# --- 19: one-time form tokens ----------------------------------------------------------------


def test_back_and_post_again_does_not_duplicate_a_question(app, people, db):
    with browser(app, people["asker"]) as alex:
        data = {"title": "Parcel lost twice?", "body": "Details."}
        first, token = post_form(alex, "/questions/ask", "/questions", data)
        again = repost(alex, "/questions", data, token=token, page="/questions/ask")
        assert first.status_code == again.status_code == 303
        assert again.headers["location"] == first.headers["location"] + "?again=question"
        assert "This question was already posted" in alex.get(again.headers["location"]).text
        assert len([e for e in rows(db, Entry) if e.kind == "question"]) == 1
        # A new form (a new page) is a new question.
        assert post_form(alex, "/questions/ask", "/questions", data)[0].headers["location"] != first.headers["location"]


def test_back_and_post_again_does_not_duplicate_an_answer(app, people, db):
    with browser(app, people["asker"]) as alex, browser(app, people["answerer"]) as avery:
        thread = post_form(alex, "/questions/ask", "/questions", {"title": "Q?", "body": "D."})[0].headers["location"]
        first, token = post_form(avery, thread, f"{thread}/answers", {"body": "Yes."})
        again = repost(avery, f"{thread}/answers", {"body": "Yes."}, token=token, page=thread)
        assert again.headers["location"].startswith(f"{thread}?again=answer#answer-")
        assert again.headers["location"].endswith(first.headers["location"].rpartition("#")[2])
        assert "This answer was already posted" in avery.get(again.headers["location"]).text
        assert len([e for e in rows(db, Entry) if e.kind == "answer"]) == 1


def test_a_refused_post_keeps_its_token_for_the_corrected_one(app, people, db):
    with browser(app, people["asker"]) as alex:
        refused, token = post_form(alex, "/questions/ask", "/questions", {"title": "", "body": "D."})
        assert refused.status_code == 422
        fixed = repost(alex, "/questions", {"title": "Now with a title?", "body": "D."}, token=token,
                       page="/questions/ask")
        assert fixed.status_code == 303 and "again" not in fixed.headers["location"]


def test_a_forged_or_borrowed_token_is_refused_with_a_sentence(app, people, db):
    with browser(app, people["asker"]) as alex, browser(app, people["answerer"]) as avery:
        token = FORM_TOKEN.search(alex.get("/questions/ask").text).group(1)
        for client, bad in ((avery, token), (alex, token[:-2] + "00"), (alex, "not-a-token")):
            response = repost(client, "/questions", {"title": "T?", "body": "D."}, token=bad, page="/questions/ask")
            assert response.status_code == 422
            assert "Reload the page and send it again." in response.text
        assert rows(db, Entry) == []


def test_new_article_twice_creates_one(app, people, db):
    with browser(app, people["answerer"]) as avery:
        data = {"title": "Refund windows", "body": "Thirty days.", "tags": "refunds"}
        first, token = post_form(avery, "/articles/new", "/articles", data)
        again = repost(avery, "/articles", data, token=token, page="/articles/new")
        entry_id = first.headers["location"].split("/")[2].split("?")[0]
        assert again.headers["location"] == f"/articles/{entry_id}?again=article"
        assert "This article was already created" in avery.get(again.headers["location"]).text
        assert len([e for e in rows(db, Entry) if e.kind == "article"]) == 1


def _thread_with_answer(db, people):
    question = forum.ask_question(session=db, actor=people["asker"], data=QuestionCreate(
        title="Refund after ten days?", body="Details.", tags=["refunds"]))
    answer = forum.answer_question(session=db, actor=people["answerer"], question=question,
                                   data=AnswerCreate(body="Yes, within 30 days."))
    db.commit()
    return question, answer


def test_turn_into_an_article_twice_shows_the_article_made_first(app, people, db):
    question, answer = _thread_with_answer(db, people)
    thread = f"/questions/{question.id}"
    with browser(app, people["expert"]) as erin, browser(app, people["stranger"]) as sam:
        first, token = post_form(erin, thread, f"/answers/{answer.id}/promote", {})
        article_id = int(first.headers["location"].split("/")[2])
        assert first.headers["location"] == f"/entries/{article_id}/edit"
        replay = repost(erin, f"/answers/{answer.id}/promote", {}, token=token, page=thread)
        assert replay.headers["location"] == f"/articles/{article_id}?again=promotion"
        assert "This answer was already turned into an article" in erin.get(replay.headers["location"]).text
        # The thread now links to it instead of offering the button again.
        page = erin.get(thread).text
        assert f'Turned into an article: <a href="/articles/{article_id}">Refund after ten days?</a>' in page
        assert f"/answers/{answer.id}/promote" not in page
        # Someone who may not open the draft learns neither its title nor its address.
        page = sam.get(thread).text
        assert "Turned into an article (a draft, not published yet)." in page
        assert f"/articles/{article_id}" not in page and f"/answers/{answer.id}/promote" not in page
        # A post from an old page (no button any more) is refused by the service, not duplicated.
        stale = form_post(sam, f"/answers/{answer.id}/promote", page=thread)
        assert stale.status_code == 409 and "already turned into an article" in stale.text
        assert len([e for e in rows(db, Entry) if e.kind == "article"]) == 1


def test_the_api_refuses_a_second_promotion(app, people, db, bearer):
    _, answer = _thread_with_answer(db, people)
    headers = bearer(people["expert"])
    assert app and TestClient(app).post(f"/api/v1/answers/{answer.id}/promote", headers=headers).status_code == 201
    again = TestClient(app).post(f"/api/v1/answers/{answer.id}/promote", headers=headers)
    assert again.status_code == 409 and "already turned into an article" in again.json()["detail"]


# --- 20: promotion credit --------------------------------------------------------------------


def test_the_answers_author_sees_and_edits_the_article_made_from_their_answer(app, people, db):
    _, answer = _thread_with_answer(db, people)
    with browser(app, people["expert"]) as erin, browser(app, people["answerer"]) as avery, \
            browser(app, people["stranger"]) as sam:
        location = form_post(erin, f"/answers/{answer.id}/promote", page=f"/questions/{answer.parent_id}")
        article_id = int(location.headers["location"].split("/")[2])
        page = avery.get(f"/articles/{article_id}").text
        assert page.count("Avery Answerer") >= 1 and "Refund after ten days?" in page
        assert avery.get(f"/entries/{article_id}/edit").status_code == 200
        assert "Refund after ten days?" in avery.get("/articles").text
        assert erin.get(f"/entries/{article_id}/edit").status_code == 200
        assert sam.get(f"/articles/{article_id}").status_code == 404


# --- 21: forum words and suggestions ---------------------------------------------------------


def test_questions_and_answers_speak_the_forums_words(app, people, db):
    question = forum.ask_question(session=db, actor=people["asker"], data=QuestionCreate(title="Q?", body="D."))
    db.commit()
    thread = f"/questions/{question.id}"
    with browser(app, people["stranger"]) as sam, browser(app, people["expert"]) as erin:
        page = sam.get(thread).text
        assert 'badge-forum-open">open<' in page and "badge-draft" not in page and ">draft<" not in page
        assert 'badge-forum-open">open<' in sam.get("/questions").text
        post_form(erin, thread, f"{thread}/answers", {"body": "An expert's answer."})
        page = sam.get(thread).text
        assert 'badge-forum-answered">answered<' in page and "badge-draft" not in page and ">draft<" not in page
        answer_id = re.search(r'id="answer-(\d+)"', page).group(1)
        form_post(erin, f"/answers/{answer_id}/accept", page=thread)
        assert 'badge-forum-accepted">accepted<' in sam.get(thread).text
        assert 'badge-forum-accepted">accepted<' in sam.get("/questions").text


@pytest.fixture
def indexed(db, engine, app, people, make_user):
    reset_backends()
    expert = make_user("expert")
    certified = create_article(session=db, actor=people["answerer"], data=ArticleCreate(
        title="Refund a late parcel", body="Refund in full when the parcel is late.", tags=["refunds"]))
    create_article(session=db, actor=people["answerer"], data=ArticleCreate(
        title="Refund secret draft", body="Private refund notes.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    for who, action in ((people["answerer"], Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=certified.latest_revision_id, action=action)
    forum.ask_question(session=db, actor=people["stranger"], data=QuestionCreate(
        title="Refund for a parcel that arrived late?", body="Customer asks.", tags=["refunds"]))
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield
    reset_backends()


def test_the_ask_form_suggests_questions_and_certified_articles(app, people, indexed):
    with browser(app, people["asker"]) as alex:
        assert 'hx-get="/questions/similar"' in alex.get("/questions/ask").text
        response = alex.get("/questions/similar?title=refund+late+parcel", headers={"HX-Request": "true"})
        assert response.status_code == 200 and "HX-Request" in response.headers["vary"]
        text = re.sub(r"<[^>]+>", "", response.text)
        assert "Refund a late parcel" in text and "Refund for a parcel that arrived late?" in text
        assert "secret draft" not in text
        assert "Already asked" not in alex.get("/questions/similar?title=re").text  # too short to help


def test_the_drafts_author_is_not_offered_their_draft_either(app, people, indexed):
    with browser(app, people["answerer"]) as avery:
        text = avery.get("/questions/similar?title=refund+secret+draft").text
        assert "secret draft" not in text  # suggestions are certified articles only


def test_form_tokens_expire(app, people, monkeypatch):
    with browser(app, people["asker"]) as alex:
        html = alex.get("/questions/ask").text
        token = FORM_TOKEN.search(html).group(1)
        later = time.time() + 8 * 24 * 3600
        monkeypatch.setattr("web.forms.time", SimpleNamespace(time=lambda: later))
        response = repost(alex, "/questions", {"title": "T?", "body": "D."}, html=html, token=token)
        assert response.status_code == 422 and "more than a week old" in response.text


# --- Copy answer on the thread -------------------------------------------------------------------


def test_a_certified_answer_offers_copy_answer_on_its_thread(app, people, db):
    question, answer = _thread_with_answer(db, people)
    other = forum.answer_question(session=db, actor=people["stranger"], question=question,
                                  data=AnswerCreate(body="Not reviewed yet."))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=people["expert"])
    for who, action in ((people["answerer"], Action.submit), (people["expert"], Action.approve),
                        (people["expert"], Action.certify)):
        transition(session=db, actor=who, revision_id=answer.latest_revision_id, action=action)
    db.commit()
    with browser(app, people["asker"]) as alex:
        page = alex.get(f"/questions/{question.id}").text
        assert f'data-copy-answer="{answer.id}"' in page and f'data-copy-answer="{other.id}"' not in page
        assert "/static/copy_answer.js" in page
        copied = alex.get(f"/entries/{answer.id}/plain")
        assert copied.status_code == 200 and copied.text.strip() == "Yes, within 30 days."
        recorded = alex.post(f"/entries/{answer.id}/reuse", data={"source": "entry"},
                             headers={"X-CSRF-Token": csrf_from(page), "Accept": "application/json"})
        assert recorded.status_code == 201 and recorded.json()["reuse_count"] == 1
