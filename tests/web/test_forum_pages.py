"""The forum through the pages: ask, answer twice, accept, promote."""

import re

from fastapi.testclient import TestClient

from kb.content.models import Entry
from tests.helpers import form_post, login, rows


def test_question_answers_accept_and_promote(app, make_user, db):
    asker, answerer1, answerer2 = make_user("agent", name="Alex"), make_user("author", name="Avery"), make_user(
        "expert", name="Erin")
    with TestClient(app) as alex, TestClient(app) as avery, TestClient(app) as erin:
        for browser, user in ((alex, asker), (avery, answerer1), (erin, answerer2)):
            login(browser, user.email)
        asked = form_post(alex, "/questions", {"title": "Refund after ten days?", "body": "Customer wants money back.",
                                                "tags": "refunds"}, page="/questions/ask")
        assert asked.status_code == 303
        thread = asked.headers["location"]
        assert "Your answer" not in alex.get(thread).text  # agents ask; writers answer
        for browser, text in ((avery, "Yes: refunds within 30 days."), (erin, "Only if unopened.")):
            assert form_post(browser, f"{thread}/answers", {"body": text}, page=thread).status_code == 303
        page = alex.get(thread).text
        assert "2 answers" in page and "Accept this answer" in page
        first_answer = re.search(r'id="answer-(\d+)"', page).group(1)
        assert form_post(alex, f"/answers/{first_answer}/accept", page=thread).status_code == 303
        assert "Accepted answer" in alex.get(thread).text
        listing = alex.get("/questions?status=answered").text
        assert "Refund after ten days?" in listing and "accepted" in listing
        promoted = form_post(erin, f"/answers/{first_answer}/promote", page=thread)
        assert promoted.status_code == 303 and promoted.headers["location"].endswith("/edit")
        article = [e for e in rows(db, Entry) if e.kind == "article"][0]
        page = erin.get(f"/articles/{article.id}").text
        assert "Based on" in page and "an answer by Avery" in page


def test_empty_answer_is_explained_and_nothing_is_saved(client, make_user, db):
    asker = make_user("author")
    login(client, asker.email)
    thread = form_post(client, "/questions", {"title": "Q?", "body": "Details"}, page="/questions/ask").headers["location"]
    response = form_post(client, f"{thread}/answers", {"body": "   "}, page=thread)
    assert response.status_code == 422 and "Write something in the body." in response.text
    assert [e.kind for e in rows(db, Entry)] == ["question"]


def test_question_filters_and_tags(client, make_user):
    user = make_user("author")
    login(client, user.email)
    for title, tags in (("Parcel lost?", "shipping"), ("Charged twice?", "billing")):
        form_post(client, "/questions", {"title": title, "body": "Help", "tags": tags}, page="/questions/ask")
    page = client.get("/questions?tag=shipping").text
    assert "Parcel lost?" in page and "Charged twice?" not in page
    assert "Charged twice?" in client.get("/questions?status=unanswered").text
    assert "No questions here yet." in client.get("/questions?status=answered").text
