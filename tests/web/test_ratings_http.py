"""Ratings through the pages (forms with and without htmx), "Copy answer", and the JSON API."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from expertise.models import EntryRating, Reuse, Vote
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb.content.service import create_article, save_revision
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.expertise.ratings_content import certify, rated_content
from tests.helpers import csrf_from, form_post, login, rows
from kb.accounts.actors import SYSTEM


@pytest.fixture
def content(db, make_user):
    return rated_content(db, make_user)


def signed_in(app, user) -> TestClient:
    client = TestClient(app)
    login(client, user.email)
    return client


def vote_buttons(page: str, entry_id: int) -> dict[str, str]:
    """The value each button of an entry's vote form sends (absent: no such button)."""
    found = {}
    for button in ("yes", "no", "undo"):
        match = re.search(rf'id="vote-{button}-{entry_id}"[^>]*value="(-?\d)"', page, re.S)
        found[button] = match.group(1) if match else "absent"
    return found


def my_vote(page: str, entry_id: int) -> str | None:
    """The sentence that says how the viewer voted, if they did."""
    match = re.search(rf'id="my-vote-{entry_id}">([^<]*)<', page)
    return html.unescape(match.group(1)).strip() if match else None


def htmx_post(client: TestClient, path: str, data: dict, *, page: str):
    token = csrf_from(client.get(page).text)
    return client.post(path, data=data, headers={"HX-Request": "true", "X-CSRF-Token": token})


# --- the entry page ----------------------------------------------------------------------------


def test_voting_on_an_article_without_javascript(app, db, content):
    agent = signed_in(app, content.agent)
    url = f"/articles/{content.article.id}"
    page = agent.get(url).text
    assert "Was this helpful?" in page and my_vote(page, content.article.id) is None
    assert vote_buttons(page, content.article.id) == {"yes": "1", "no": "-1", "undo": "absent"}

    voted = form_post(agent, f"/entries/{content.article.id}/votes", {"value": "1"}, page=url)
    assert voted.status_code == 303 and voted.headers["location"] == f"{url}#rating-{content.article.id}"
    page = agent.get(url).text
    # The vote in words, and one button that says what it does; no "Yes" that would take it back.
    assert my_vote(page, content.article.id) == "✓ You found this helpful."
    assert vote_buttons(page, content.article.id) == {"yes": "absent", "no": "absent", "undo": "0"}
    assert re.search(rf'id="vote-undo-{content.article.id}"[^>]*>Undo</button>', page)
    assert [v.value for v in rows(db, Vote)] == [1]

    # A second "Yes" (a stale tab, a double click) keeps the vote: Yes never takes it back.
    form_post(agent, f"/entries/{content.article.id}/votes", {"value": "1"}, page=url)
    assert [v.value for v in rows(db, Vote)] == [1]
    form_post(agent, f"/entries/{content.article.id}/votes", {"value": "-1"}, page=url)
    assert [v.value for v in rows(db, Vote)] == [-1]
    assert my_vote(agent.get(url).text, content.article.id) == "✓ You found this not helpful."
    form_post(agent, f"/entries/{content.article.id}/votes", {"value": "0"}, page=url)  # Undo
    assert rows(db, Vote) == []
    page = agent.get(url).text
    assert my_vote(page, content.article.id) is None
    assert vote_buttons(page, content.article.id) == {"yes": "1", "no": "-1", "undo": "absent"}


def test_htmx_swaps_the_rating_panel_and_says_what_happened(app, db, content):
    agent = signed_in(app, content.agent)
    url = f"/articles/{content.article.id}"
    answer = htmx_post(agent, f"/entries/{content.article.id}/votes", {"value": "1"}, page=url)
    assert answer.status_code == 200 and "<html" not in answer.text
    assert my_vote(answer.text, content.article.id) == "✓ You found this helpful."
    assert vote_buttons(answer.text, content.article.id)["undo"] == "0"
    assert re.search(r'Helpful <span class="count">1<', answer.text)
    assert 'hx-swap-oob="innerHTML"' in answer.text and "you marked this as helpful" in answer.text

    reused = htmx_post(agent, f"/entries/{content.article.id}/reuse", {"case_ref": " CASE-77 "}, page=url)
    assert reused.status_code == 200 and "Recorded: used to solve case CASE-77." in reused.text
    assert "Used to solve <span class=\"count\">1</span> case" in reused.text
    assert [(r.case_ref, r.source, r.user_id) for r in rows(db, Reuse)] == [("CASE-77", "entry", content.agent.id)]


def test_own_work_shows_counts_but_no_buttons(app, db, content):
    colleague = signed_in(app, content.colleague)
    form_post(colleague, f"/entries/{content.article.id}/votes", {"value": "1"}, page="/")
    author = signed_in(app, content.author)
    page = author.get(f"/articles/{content.article.id}").text
    assert "Was this helpful?" in page and vote_buttons(page, content.article.id) == {
        "yes": "absent", "no": "absent", "undo": "absent"}
    assert re.search(r'class="vote-counts">Yes <span class="count">1</span>', page)
    refused = form_post(author, f"/entries/{content.article.id}/votes", {"value": "1"}, page="/",
                        headers={"Accept": "text/html"})
    assert refused.status_code == 403 and "You cannot rate your own work" in html.unescape(refused.text)


def test_thread_rates_each_answer_not_the_question(app, db, content):
    page = signed_in(app, content.colleague).get(f"/questions/{content.question.id}").text
    assert f'id="rating-{content.answer.id}"' in page and f'id="rating-{content.question.id}"' not in page
    voted = form_post(signed_in(app, content.colleague), f"/entries/{content.answer.id}/votes", {"value": "-1"},
                      page="/")
    assert voted.headers["location"] == f"/questions/{content.question.id}#answer-{content.answer.id}"
    assert rows(db, EntryRating, entry_id=content.answer.id)[0].not_helpful == 1


def test_form_errors_are_sentences(app, db, content):
    agent = signed_in(app, content.agent)
    too_long = form_post(agent, f"/entries/{content.article.id}/reuse", {"case_ref": "x" * 101}, page="/",
                         headers={"Accept": "text/html"})
    assert too_long.status_code == 422 and "at most 100 characters" in too_long.text
    question = form_post(agent, f"/entries/{content.question.id}/votes", {"value": "1"}, page="/")
    assert question.status_code == 403 and "Questions are not rated" in question.text
    bad_value = form_post(agent, f"/entries/{content.article.id}/votes", {"value": "5"}, page="/")
    assert bad_value.status_code == 422 and "1 (helpful) or -1 (not helpful)" in bad_value.text
    assert form_post(agent, "/entries/999999/votes", {"value": "1"}, page="/").status_code == 404
    assert rows(db, Vote) == [] and rows(db, Reuse) == []


def test_forms_need_the_csrf_token(app, db, content):
    agent = signed_in(app, content.agent)
    agent.get("/")
    for path, data in ((f"/entries/{content.article.id}/votes", {"value": "1"}),
                       (f"/entries/{content.article.id}/reuse", {"source": "search"})):
        assert agent.post(path, data=data).status_code == 403
        assert agent.post(path, data=data, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert rows(db, Vote) == [] and rows(db, Reuse) == []


# --- "Copy answer" -----------------------------------------------------------------------------


def test_plain_answer_is_the_certified_text(app, db, content):
    agent = signed_in(app, content.agent)
    plain = agent.get(f"/entries/{content.article.id}/plain")
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/plain")
    assert plain.text.startswith("Refund the full amount when the order was cancelled within 30 days.\n\n1. Open")
    assert "• Card payments: 3 to 5 working days.\n• Gift cards: at once." in plain.text
    assert "**" not in plain.text and "](" not in plain.text and "`" not in plain.text
    accepted = agent.get(f"/entries/{content.question.id}/plain")  # a question: its accepted answer
    assert accepted.text == "Yes. Refund it as store credit first.\n\nThen tell the customer it takes a day."
    db.rollback()  # end the test session's read snapshot before it writes (SQLite)
    draft = create_article(session=db, actor=content.author, data=ArticleCreate(
        title="Secret plan", body="Not certified.", tags=["refunds"]))
    db.commit()
    assert agent.get(f"/entries/{draft.id}/plain").status_code == 404
    mine = signed_in(app, content.author).get(f"/entries/{draft.id}/plain")
    assert mine.status_code == 404 and "no certified answer" in mine.text


def test_copy_answer_records_a_reuse_from_search(app, db, content):
    agent = signed_in(app, content.agent)
    token = csrf_from(agent.get("/search").text)
    recorded = agent.post(f"/entries/{content.answer.id}/reuse", data={"source": "search"},
                          headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert recorded.status_code == 201
    assert recorded.json() == {"id": rows(db, Reuse)[0].id, "entry_id": content.answer.id, "reuse_count": 1,
                               "message": "Recorded: used to solve a case."}
    assert [(r.source, r.revision_id) for r in rows(db, Reuse)] == [("search", content.answer.certified_revision_id)]


def test_the_article_page_copies_the_certified_part_for_the_customer(app, db, content):
    agent = signed_in(app, content.agent)
    page = agent.get(f"/articles/{content.article.id}").text
    assert f'data-copy-answer="{content.article.id}" data-source="entry">Copy answer<' in page
    assert "Copies the section" not in page  # nothing marked: the whole answer
    assert '<script src="/static/copy_answer.js"' in page

    db.rollback()
    body = "Check the order first.\n\n## What to tell the customer\n\nWe refund it **in full**.\n\n## Notes\n\nInternal."
    revision = save_revision(session=db, actor=content.author, entry=content.article, data=RevisionCreate(
        title="Refund a cancelled order", body=body, tags=["refunds"],
        base_revision_id=content.article.latest_revision_id))
    db.commit()
    # While the new text is in draft, "Copy answer" still copies the certified one.
    assert agent.get(f"/entries/{content.article.id}/plain").text.startswith("Refund the full amount")
    author_page = signed_in(app, content.author).get(f"/articles/{content.article.id}").text
    assert "data-copy-answer" not in author_page  # the author sees the draft, which is not what is copied
    certify(db, revision.id, content.author, content.expert)
    db.commit()
    page = agent.get(f"/articles/{content.article.id}").text
    assert "Copies the section “What to tell the customer”." in html.unescape(page)
    assert agent.get(f"/entries/{content.article.id}/plain").text == "We refund it in full."


@pytest.fixture
def indexed(content, db, engine, app):
    reset_backends()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield content
    reset_backends()


def test_search_results_offer_copy_answer_only_with_certified_text(app, db, indexed, make_user):
    agent = signed_in(app, indexed.agent)
    page = agent.get("/search?q=refund").text
    assert f'data-copy-answer="{indexed.article.id}"' in page
    # The question's result copies its accepted answer.
    assert f'data-copy-answer="{indexed.answer.id}">Copy accepted answer<' in page
    assert 'class="copy-status" role="status"' in page


# --- JSON API ----------------------------------------------------------------------------------


def test_api_vote_change_undo(client, db, content, bearer):
    headers = bearer(content.agent)
    path = f"/api/v1/entries/{content.article.id}/votes"
    voted = client.post(path, json={"value": 1}, headers=headers)
    assert voted.status_code == 200
    assert voted.json() == {"entry_id": content.article.id, "helpful": 1, "not_helpful": 0,
                            "wilson": pytest.approx(0.2065, abs=1e-4), "my_vote": 1}
    changed = client.post(path, json={"value": -1}, headers=headers).json()
    assert (changed["helpful"], changed["not_helpful"], changed["my_vote"]) == (0, 1, -1)
    undone = client.delete(path, headers=headers)
    assert undone.status_code == 200 and undone.json()["my_vote"] == 0 and undone.json()["not_helpful"] == 0
    assert rows(db, Vote) == []


def test_api_reuse(client, db, content, bearer):
    path = f"/api/v1/entries/{content.answer.id}/reuse"
    first = client.post(path, json={"case_ref": " ZD-1001 "}, headers=bearer(content.agent))
    assert first.status_code == 201
    assert first.json() == {"id": rows(db, Reuse)[0].id, "entry_id": content.answer.id, "case_ref": "ZD-1001",
                            "reuse_count": 1}
    second = client.post(path, json={}, headers=bearer(content.colleague)).json()
    assert second["case_ref"] == "" and second["reuse_count"] == 2
    assert {r.source for r in rows(db, Reuse)} == {"api"}


def test_api_errors(client, db, content, bearer):
    agent, author = bearer(content.agent), bearer(content.author)
    votes = f"/api/v1/entries/{content.article.id}/votes"
    for body in ({"value": 0}, {"value": 2}, {"value": "1"}, {}):
        bad = client.post(votes, json=body, headers=agent)
        assert bad.status_code == 422, body
        assert bad.json()["detail"]
    assert "1 (helpful) or -1" in client.post(votes, json={"value": 3}, headers=agent).json()["detail"]
    own = client.post(votes, json={"value": 1}, headers=author)
    assert own.status_code == 403 and "own work" in own.json()["detail"]
    question = client.post(f"/api/v1/entries/{content.question.id}/votes", json={"value": 1}, headers=agent)
    assert question.status_code == 403 and "Questions are not rated" in question.json()["detail"]
    assert client.post("/api/v1/entries/999999/votes", json={"value": 1}, headers=agent).status_code == 404
    long_ref = client.post(f"/api/v1/entries/{content.article.id}/reuse", json={"case_ref": "c" * 101},
                           headers=agent)
    assert long_ref.status_code == 422 and long_ref.json()["field"] == "case_ref"
    assert client.post(votes, json={"value": 1}).status_code == 401
    assert rows(db, Vote) == [] and rows(db, Reuse) == []


def test_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert {"post", "delete"} <= set(spec["paths"]["/api/v1/entries/{entry_id}/votes"])
    assert "post" in spec["paths"]["/api/v1/entries/{entry_id}/reuse"]


def test_twenty_concurrent_vote_requests_keep_votes_unique(engine, db, settings, content):
    """20 HTTP requests at once through a real server (PostgreSQL: 20; SQLite: 8): many people
    voting, and one person's burst of clicks. Every request succeeds, each person has one vote,
    and the summary equals the rows."""
    import threading
    import uuid

    import httpx

    from kb.accounts import service as accounts
    from kb.accounts.models import Role
    from kb.accounts.schemas import UserCreate
    from kb.db import make_engine
    from tests.helpers import api_token_for, serving
    from web.app import create_app

    size = 20 if engine.dialect.name == "postgresql" else 8
    voters = [accounts.create_user(session=db, actor=SYSTEM, data=UserCreate(
        email=f"burst-{uuid.uuid4().hex[:8]}@example.com", display_name=f"Voter {i}", roles=[Role.agent]))
        for i in range(size)]
    db.commit()
    tokens = [api_token_for(db, user) for user in voters]
    # A pool big enough for every request to hold a connection at once (else they queue).
    racing = make_engine(engine.url.render_as_string(hide_password=False), pool_size=size + 4, max_overflow=4)
    entry_id = content.article.id

    def storm(base_url: str, jobs: list[tuple[str, int]]) -> list[int]:
        barrier = threading.Barrier(len(jobs))
        statuses = [0] * len(jobs)

        def send(index: int, token: str, value: int) -> None:
            with httpx.Client(base_url=base_url, timeout=60) as http:
                barrier.wait(timeout=30)
                statuses[index] = http.post(f"/api/v1/entries/{entry_id}/votes", json={"value": value},
                                            headers={"Authorization": f"Bearer {token}"}).status_code

        threads = [threading.Thread(target=send, args=(i, t, v)) for i, (t, v) in enumerate(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        return statuses

    try:
        with serving(create_app(settings=settings, engine=racing)) as base_url:
            values = [1 if i % 4 else -1 for i in range(size)]
            assert storm(base_url, list(zip(tokens, values, strict=True))) == [200] * size
            burst = [(tokens[0], 1 if i % 2 else -1) for i in range(size)]  # one person, many clicks
            assert storm(base_url, burst) == [200] * size
    finally:
        racing.dispose()
    db.expire_all()
    votes = rows(db, Vote, entry_id=entry_id)
    assert len(votes) == size and len({v.user_id for v in votes}) == size
    summary = db.get(EntryRating, entry_id)
    assert (summary.helpful, summary.not_helpful) == (sum(v.value == 1 for v in votes), sum(v.value == -1 for v in votes))


def test_a_vote_that_loses_a_lock_race_says_try_again_and_saves_nothing(app, db, content, monkeypatch, bearer):
    """SQLite's busy timeout or a PostgreSQL deadlock rolls the transaction back: the person is told
    to try again (503, Retry-After), not shown an error page, and nothing was half-written."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from expertise import ratings

    def busy(**_kwargs):
        raise OperationalError("INSERT INTO vote ...", {}, sqlite3.OperationalError("database is locked"))

    headers = bearer(content.agent)
    monkeypatch.setattr(ratings, "vote", busy)
    agent = signed_in(app, content.agent)
    url = f"/articles/{content.article.id}"
    page = form_post(agent, f"/entries/{content.article.id}/votes", {"value": "1"}, page=url)
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "kb is busy with other changes right now, so nothing was saved" in html.unescape(page.text)
    api = TestClient(app).post(f"/api/v1/entries/{content.article.id}/votes", json={"value": 1},
                               headers=headers)
    assert api.status_code == 503 and api.json()["detail"].startswith("kb is busy")
    assert rows(db, Vote) == []
    monkeypatch.undo()  # the next try goes through: nothing was left locked
    assert form_post(agent, f"/entries/{content.article.id}/votes", {"value": "1"}, page=url).status_code == 303
    assert [v.value for v in rows(db, Vote)] == [1]
