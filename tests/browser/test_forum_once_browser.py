"""The forum in Chromium: Back and Post again does not post a question twice; the ask form suggests
similar questions and certified articles while the asker types."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.accounts.actors import SYSTEM
from kb.content import forum
from kb.content.models import Entry
from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content.service import create_article
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import PASSWORD, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition

pytestmark = pytest.mark.browser


def _questions(db) -> list[Entry]:
    return [e for e in rows(db, Entry) if e.kind == "question"]


def _not_stored(route):
    """The ask page as signed-in pages are served to shared desks: never kept by the browser, so
    Back fetches it again (with a new token) and only what the form held is restored."""
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "cache-control": "no-store"})


@pytest.mark.parametrize("stored", [True, False], ids=["page-kept", "no-store"])
def test_back_and_post_again_shows_the_question_already_posted(page, live_server, login_as, make_user, db, stored):
    asker = make_user("agent", name="Sam Agent")
    login_as(page, live_server, asker.email, PASSWORD)
    if not stored:
        page.route("**/questions/ask", _not_stored)
    page.goto(f"{live_server}/questions/ask")
    page.fill("#title", "Can a customer return an opened headset?")
    page.fill("#body", "The customer opened the box.")
    with page.expect_navigation():
        page.get_by_role("button", name="Post question").click()
    thread = re.sub(r"^https?://[^/]+", "", page.url)
    assert re.fullmatch(r"/questions/\d+", thread), page.url

    page.go_back()
    expect(page.locator("#title")).to_have_value("Can a customer return an opened headset?")
    with page.expect_navigation():
        page.get_by_role("button", name="Post question").click()
    assert re.sub(r"^https?://[^/]+", "", page.url) == f"{thread}?again=question"
    expect(page.locator(".flash.flash-info")).to_have_text("This question was already posted: here it is.")
    expect(page.locator("h1")).to_have_text("Can a customer return an opened headset?")
    assert len(_questions(db)) == 1


@pytest.fixture
def findable(db, engine, app, make_user):
    reset_backends()
    author, expert, colleague = make_user("author"), make_user("expert"), make_user("agent")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund a parcel that arrived late", body="Refund the shipping cost in full.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=article.latest_revision_id, action=action)
    forum.ask_question(session=db, actor=colleague, data=QuestionCreate(
        title="Late parcel: refund the shipping?", body="Customer asks.", tags=["refunds"]))
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield
    reset_backends()


def test_the_ask_form_suggests_what_exists_while_typing(page, live_server, login_as, make_user, findable):
    asker = make_user("agent")
    login_as(page, live_server, asker.email, PASSWORD)
    page.goto(f"{live_server}/questions/ask")
    similar = page.locator("#similar")
    expect(similar).not_to_contain_text("Already asked")
    page.locator("#title").press_sequentially("refund late parcel", delay=30)
    expect(similar.locator(".similar-articles")).to_contain_text("Refund a parcel that arrived late")
    expect(similar.locator(".similar-questions")).to_contain_text("Late parcel: refund the shipping?")
    with page.expect_navigation():
        similar.get_by_role("link", name=re.compile("Late parcel")).click()
    expect(page.locator("h1")).to_have_text("Late parcel: refund the shipping?")
