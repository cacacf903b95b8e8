"""Ratings in a real Chromium: voting on an article (htmx, no reload), "Used to solve a case", and
"Copy answer" in the search results putting the certified text on the clipboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from expertise.models import Reuse, Vote
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.expertise.ratings_content import rated_content
from tests.helpers import PASSWORD, rows

pytestmark = pytest.mark.browser


@pytest.fixture
def content(db, make_user):
    return rated_content(db, make_user)


def test_voting_on_an_article_says_how_you_voted_and_undoes(page, live_server, login_as, db, content):
    login_as(page, live_server, content.agent.email, PASSWORD)
    page.goto(f"{live_server}/articles/{content.article.id}")
    panel = page.locator(f"#rating-{content.article.id}")
    yes, no = panel.get_by_role("button", name="Yes"), panel.get_by_role("button", name="No")
    undo = panel.get_by_role("button", name="Undo")
    expect(undo).to_have_count(0)

    yes.click()
    # The vote in words and a button that says what it does (no faint pressed "Yes" that undoes).
    expect(panel.locator(f"#my-vote-{content.article.id}")).to_have_text("✓ You found this helpful.")
    expect(yes).to_have_count(0)
    expect(undo).to_be_visible()
    expect(panel.locator(".vote-counts")).to_have_text("Helpful 1 · Not helpful 0")
    expect(panel.get_by_role("status")).to_have_text("Thank you: you marked this as helpful.")
    assert page.url.endswith(f"/articles/{content.article.id}")  # swapped in place, no reload
    assert [v.value for v in rows(db, Vote)] == [1]

    undo.click()
    expect(panel.get_by_role("status")).to_have_text("Your vote was taken back.")
    expect(undo).to_have_count(0)
    expect(yes.locator(".count")).to_have_text("0")
    assert rows(db, Vote) == []

    no.click()  # after Undo, the other answer
    expect(panel.locator(f"#my-vote-{content.article.id}")).to_have_text("✓ You found this not helpful.")
    expect(panel.locator(".vote-counts")).to_have_text("Helpful 0 · Not helpful 1")
    assert [v.value for v in rows(db, Vote)] == [-1]


def test_used_to_solve_a_case_with_a_case_reference(page, live_server, login_as, db, content):
    login_as(page, live_server, content.colleague.email, PASSWORD)
    page.goto(f"{live_server}/questions/{content.question.id}")
    panel = page.locator(f"#rating-{content.answer.id}")
    panel.get_by_label("Case reference").fill("ZD-4711")
    panel.get_by_role("button", name="Used to solve a case").click()
    expect(panel.get_by_role("status")).to_have_text("Recorded: used to solve case ZD-4711.")
    expect(panel.locator(".reuse-count")).to_have_text("Used to solve 1 case")
    assert [(r.entry_id, r.case_ref, r.source) for r in rows(db, Reuse)] == [(content.answer.id, "ZD-4711", "entry")]


@pytest.fixture
def indexed(content, engine, app):
    reset_backends()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield content
    reset_backends()


def test_copy_answer_puts_the_text_on_the_clipboard_and_records_a_reuse(page, live_server, login_as, db, indexed):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    login_as(page, live_server, indexed.agent.email, PASSWORD)
    page.goto(f"{live_server}/search?q=refund+a+cancelled")
    result = page.locator("#result-list .result").filter(has_text="Refund a cancelled order")
    result.get_by_role("button", name="Copy answer").click()
    expect(result.get_by_role("status")).to_have_text("Copied — recorded as used")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Refund the full amount when the order was cancelled within 30 days.\n\n")
    assert "1. Open the order in the back office (https://backoffice.example.com/orders).\n2. Press Refund." in copied
    assert "**" not in copied and "](" not in copied
    assert [(r.entry_id, r.source, r.revision_id) for r in rows(db, Reuse)] == [
        (indexed.article.id, "search", indexed.article.certified_revision_id)]

    # Copying again copies, but the same result shown once counts as one case.
    result.get_by_role("button", name="Copy answer").click()
    expect(result.get_by_role("status")).to_have_text("Copied again")
    assert len(rows(db, Reuse)) == 1

    # A question's result copies its accepted, certified answer (recorded on the answer).
    question = page.locator("#result-list .result").filter(
        has=page.get_by_role("button", name="Copy accepted answer"))
    question.get_by_role("button", name="Copy accepted answer").click()
    expect(question.get_by_role("status")).to_have_text("Copied — recorded as used")
    assert page.evaluate("navigator.clipboard.readText()").startswith("Yes. Refund it as store credit first.")
    assert {(r.entry_id, r.source) for r in rows(db, Reuse)} == {(indexed.article.id, "search"),
                                                                 (indexed.answer.id, "search")}
