"""The pages agents and reviewers use most run a fixed number of SQL statements, however many
entries, reviews or audit events they show: no page assembles itself with a query per item.

Each test counts the statements of one GET (SQLAlchemy's ``before_cursor_execute`` event) with a
few items shown, adds more (authored and certified by other people, so a per-user lookup shows
too), and counts again."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.accounts.actors import SYSTEM
from kb.content.service import create_article
from kb.content import forum
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import login
from workflow import audit
from workflow.models import Action, Review
from workflow.policy import designate_expert
from workflow.service import transition


@contextmanager
def counted():
    """The SQL statements run inside the block, on any engine (the app's reader and writer)."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def statements_for(client, url: str) -> list[str]:
    client.get(url)  # warm up: one-off work (caches, synonym sync) is not what is measured
    with counted() as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.text[:500])
    return statements


def assert_bounded(few: list[str], many: list[str], what: str) -> None:
    assert len(many) <= len(few), (
        f"{what}: {len(few)} statements with few items shown, {len(many)} with many; "
        "something queries once per item:\n" + "\n".join(s for s in many if many.count(s) > few.count(s)))


class World:
    """Certified articles and open questions, each by people of their own."""

    def __init__(self, db, make_user):
        self.db, self.make_user = db, make_user
        self.articles = []

    def certified_article(self, topic: str = "billing"):
        n = len(self.articles) + 1
        author, expert = self.make_user("author", name=f"Author {n}"), self.make_user("expert", name=f"Expert {n}")
        entry = create_article(session=self.db, actor=author, data=ArticleCreate(
            title=f"Refund rule number {n}", body=f"Refunds of kind {n} take {n} days.", tags=[topic, f"topic{n}"]))
        designate_expert(session=self.db, actor=SYSTEM, topic=f"topic{n}", user=expert)
        for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
            transition(session=self.db, actor=who, revision_id=entry.latest_revision_id, action=action)
        self.db.commit()
        self.articles.append(entry)
        return entry

    def question(self):
        asker = self.make_user("agent")
        forum.ask_question(session=self.db, actor=asker, data=QuestionCreate(
            title=f"How do refunds work for {asker.display_name}?", body="Asking for a customer.", tags=["billing"]))
        self.db.commit()


@pytest.fixture
def world(db, make_user):
    return World(db, make_user)


@pytest.fixture
def agent_client(client, make_user):
    login(client, make_user("agent").email)
    return client


def test_home_page_and_lists(agent_client, world):
    pages = ("/", "/articles", "/questions")
    for _ in range(2):
        world.certified_article()
        world.question()
    few = {url: statements_for(agent_client, url) for url in pages}
    for _ in range(10):
        world.certified_article()
        world.question()
    many = {url: statements_for(agent_client, url) for url in pages}
    assert "Refund rule number 12" in agent_client.get("/").text
    for url in pages:
        assert_bounded(few[url], many[url], url)


def test_article_page(client, make_user, world):
    # An expert sees the most: certification, workflow buttons, rating panel.
    login(client, make_user("expert").email)
    article = world.certified_article()
    few = statements_for(client, f"/articles/{article.id}")
    for _ in range(10):
        world.certified_article()
    many = statements_for(client, f"/articles/{article.id}")
    assert_bounded(few, many, "article page")


def test_review_page(client, db, make_user, world):
    admin = make_user("admin")
    login(client, admin.email)
    author = make_user("author")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Exchanges", body="Exchange within 30 days.", tags=["billing"]))
    transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)
    db.commit()
    revision_id = entry.latest_revision_id

    def reviewed_by_another_expert():
        reviewer = make_user("expert")
        designate_expert(session=db, actor=SYSTEM, topic="billing", user=reviewer)
        db.add(Review(revision_id=revision_id, reviewer_id=reviewer.id, decision=Action.request_changes.value,
                      comment=f"{reviewer.display_name} would say more."))
        audit.record(session=db, entry_id=entry.id, revision_id=revision_id, actor=reviewer, action="comment",
                     comment="Looked at it.")
        db.commit()

    reviewed_by_another_expert()
    few = statements_for(client, f"/review/{revision_id}")
    for _ in range(5):
        reviewed_by_another_expert()
    many = statements_for(client, f"/review/{revision_id}")
    assert client.get(f"/review/{revision_id}").text.count("would say more") == 6
    assert_bounded(few, many, "review page")


@pytest.fixture
def search_index(app):
    reset_backends()
    yield lambda: drain(engine=app.state.engine, backend=backend_for(app.state.settings))
    reset_backends()


def test_search_page(agent_client, world, search_index):
    for _ in range(2):
        world.certified_article(topic="returns")
    search_index()
    few = statements_for(agent_client, "/search?q=refunds")
    for _ in range(10):
        world.certified_article(topic="returns")
    search_index()
    many = statements_for(agent_client, "/search?q=refunds")
    assert agent_client.get("/search?q=refunds").text.count('class="result') >= 12
    assert_bounded(few, many, "search page")
