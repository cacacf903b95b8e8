"""An agent's day in a real Chromium, where the stumbles were: Back after opening a search result,
Back after signing out on a shared desk, "Copy answer" on the article page (the part for the
customer; a copy and "Used to solve a case" for one case count once), and "/" to search from any
page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.accounts.actors import SYSTEM
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from expertise.models import Reuse
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import PASSWORD, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition

pytestmark = pytest.mark.browser
BODY = """Check in the back office that the order was cancelled.

## What to tell the customer

We refund the **full amount** within 30 days.

## Notes for agents

Never promise a date.
"""


@pytest.fixture
def indexed(db, engine, make_user, app):
    """One certified article, indexed; yields (agent, article)."""
    reset_backends()
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund for a cancelled order", body=BODY, tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=article.latest_revision_id, action=action)
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield agent, article
    reset_backends()


def test_back_after_opening_a_search_result_shows_the_full_page_with_the_results(page, live_server, login_as,
                                                                               indexed):
    agent, _ = indexed
    login_as(page, live_server, agent.email, PASSWORD)
    page.goto(f"{live_server}/search")
    page.locator("#q").press_sequentially("refund", delay=50)
    results = page.locator("#result-list .result")
    expect(results).to_have_count(1)
    expect(page).to_have_url(f"{live_server}/search?q=refund")  # htmx pushed the address of the results

    results.first.locator("a.title").click()
    expect(page.locator("h1")).to_have_text("Refund for a cancelled order")

    page.go_back()
    expect(page).to_have_url(f"{live_server}/search?q=refund")
    # The whole page (header, stylesheet, search box), not the results fragment alone.
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("#q")).to_have_value("refund")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Refund for a cancelled order")
    assert page.evaluate("document.styleSheets.length") >= 1


def test_back_after_signing_out_does_not_show_the_signed_in_page(page, live_server, login_as, indexed):
    agent, article = indexed
    login_as(page, live_server, agent.email, PASSWORD)
    page.goto(f"{live_server}/articles/{article.id}")
    expect(page.locator("h1")).to_have_text("Refund for a cancelled order")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")

    page.go_back()
    # The browser asks the server again (nothing was stored), which wants a sign-in.
    expect(page).to_have_url(f"{live_server}/login?next=/articles/{article.id}")
    expect(page.locator("body")).not_to_contain_text("full amount")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_copy_answer_on_the_article_page_copies_the_part_for_the_customer_and_counts_one_case(
        page, live_server, login_as, db, indexed):
    agent, article = indexed
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    login_as(page, live_server, agent.email, PASSWORD)
    page.goto(f"{live_server}/articles/{article.id}")
    copy = page.locator("article").get_by_role("button", name="Copy answer")
    expect(page.locator(".copy-answer-page")).to_contain_text("Copies the section “What to tell the customer”.")
    copy.click()
    expect(page.locator(".copy-answer-page").get_by_role("status")).to_have_text("Copied — recorded as used")
    assert page.evaluate("navigator.clipboard.readText()") == "We refund the full amount within 30 days."
    panel = page.locator(f"#rating-{article.id}")
    expect(panel.locator(".reuse-count")).to_have_text("Used to solve 1 case")

    # Then the agent links the same case: still one case, now with its reference.
    panel.get_by_label("Case reference").fill("ZD-4711")
    panel.get_by_role("button", name="Used to solve a case").click()
    expect(panel.get_by_role("status")).to_have_text("Recorded: used to solve case ZD-4711.")
    expect(panel.locator(".reuse-count")).to_have_text("Used to solve 1 case")
    assert [(r.entry_id, r.case_ref) for r in rows(db, Reuse)] == [(article.id, "ZD-4711")]


def test_slash_opens_search_from_any_page_but_not_while_typing(page, live_server, login_as, indexed):
    agent, article = indexed
    login_as(page, live_server, agent.email, PASSWORD)
    page.goto(f"{live_server}/articles/{article.id}")
    # Typing "/" in a field types it.
    page.locator("summary", has_text="Something wrong").click()
    comment = page.get_by_label("What is wrong?")
    comment.fill("")
    comment.press_sequentially("a/b")
    expect(comment).to_have_value("a/b")
    assert page.url.endswith(f"/articles/{article.id}")

    # Anywhere else on a page without a search box: the search page, ready to type.
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page).to_have_url(f"{live_server}/search")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("refund")
    expect(page).to_have_url(f"{live_server}/search?q=refund")
    expect(page.locator("#result-list .result")).to_have_count(1)
    page.wait_for_load_state("networkidle")

    # On a page with a search box (the results): back into the box, its text selected.
    page.locator("#result-list .result a.title").first.focus()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    assert page.evaluate("document.activeElement.selectionEnd - document.activeElement.selectionStart") == 6
