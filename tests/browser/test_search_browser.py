"""Agents search as they type in a real Chromium; facets narrow the results."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.content.forum import ask_question
from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content.service import create_article
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import PASSWORD
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.browser


@pytest.fixture
def indexed(db, engine, make_user, app):
    reset_backends()
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund for a cancelled order", body="Refund the full amount within 30 days.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=article.latest_revision_id, action=action)
    ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Refund after the parcel was lost?", body="The refund was refused.", tags=["shipping"]))
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield agent
    reset_backends()


def test_results_appear_as_you_type_and_facets_narrow_them(page, live_server, login_as, indexed):
    login_as(page, live_server, indexed.email, PASSWORD)
    page.goto(f"{live_server}/search")
    page.locator("#q").press_sequentially("ref", delay=50)
    results = page.locator("#result-list .result")
    expect(results).to_have_count(2)
    expect(page.locator(".badge-certified")).to_have_count(1)
    page.locator(".facets").get_by_role("link", name="shipping").click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("parcel was lost")
    # Keyboard: ArrowDown focuses the first result.
    page.locator("#q").focus()
    page.keyboard.press("ArrowDown")
    expect(results.first.locator("a.title")).to_be_focused()


def test_opening_a_result_marks_the_query_words(page, live_server, login_as, indexed):
    login_as(page, live_server, indexed.email, PASSWORD)
    page.goto(f"{live_server}/search?q=refund+amount")
    page.locator("#result-list .result a.title").first.click()
    page.wait_for_load_state()
    assert "q=refund" in page.url
    expect(page.locator(".prose mark").first).to_be_visible()
    assert "amount" in [m.lower() for m in page.locator(".prose mark").all_inner_texts()]


def test_stop_words_are_not_marked_on_the_opened_page(page, live_server, login_as, indexed):
    login_as(page, live_server, indexed.email, PASSWORD)
    # "the" is in the body ("Refund the full amount"); "can" would mark "Cancelled"-like words.
    page.goto(f"{live_server}/search?q=can+you+refund+the+amount+for+me")
    page.locator("#result-list .result a.title").first.click()
    page.wait_for_load_state()
    expect(page.locator(".prose mark").first).to_be_visible()
    assert {m.lower() for m in page.locator(".prose mark").all_inner_texts()} <= {"refund", "amount"}


def test_the_home_page_searches_as_you_type(page, live_server, login_as, indexed):
    """Agents land on the home page: its search box shows results right there."""
    login_as(page, live_server, indexed.email, PASSWORD)
    page.goto(f"{live_server}/")
    expect(page.locator("#q")).to_be_focused()
    page.locator("#q").press_sequentially("refu", delay=50)
    expect(page.locator("#result-list .result")).to_have_count(2)
    expect(page.locator("#result-list")).to_contain_text("Refund for a cancelled order")
    page.locator("#q").press("ArrowDown")
    expect(page.locator("#result-list .result a.title").first).to_be_focused()
