"""People's profiles in a real Chromium: from an article to its author's profile, endorse her for a
topic, and see the endorsement on her profile; declare an interest on your own page.

Runs on every ``engine`` backend (SQLite, and PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import PASSWORD
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.browser


@pytest.fixture
def people(app, db, make_user):
    """Avery wrote a certified article about refunds; Alex is an agent who read it."""
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    agent = make_user("agent", name="Alex Agent")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund a cancelled order", body="Refund the full amount.", tags=["refunds", "billing"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    return {"author": author, "agent": agent, "entry": entry}


def test_endorse_a_colleague_and_see_it_on_her_profile(page, live_server, login_as, people):
    login_as(page, live_server, people["agent"].email, PASSWORD)
    page.goto(f"{live_server}/articles/{people['entry'].id}")
    with page.expect_navigation():
        page.get_by_role("link", name="Avery Author").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Avery Author")
    expect(page.locator("#reputation-total")).to_have_text("25")
    refunds = page.locator("#topic-refunds")
    expect(refunds).to_contain_text("1 certified article")

    with page.expect_navigation():
        refunds.get_by_role("button", name="Endorse for refunds").click()
    expect(page.get_by_role("status")).to_have_text("Your endorsement is saved.")
    refunds = page.locator("#topic-refunds")
    expect(refunds.locator(".endorsers")).to_have_text("Alex Agent")
    expect(refunds).to_contain_text("endorsed by 1 colleague")
    expect(refunds.get_by_role("button", name="Withdraw my endorsement for refunds")).to_be_visible()

    # A topic without evidence yet, typed in the form.
    page.fill("#endorse-topic", "Billing")
    with page.expect_navigation():
        page.get_by_role("button", name="Endorse", exact=True).click()
    expect(page.locator("#topic-billing .endorsers")).to_have_text("Alex Agent")

    # Avery sees it on her own page, where she cannot endorse herself.
    page.context.clear_cookies()
    login_as(page, live_server, people["author"].email, PASSWORD)
    page.goto(f"{live_server}/people/me")
    expect(page.locator("#topic-refunds .endorsers")).to_have_text("Alex Agent")
    expect(page.get_by_role("button", name="Endorse for refunds")).to_have_count(0)


def test_declare_an_interest_on_your_own_page(page, live_server, login_as, people):
    login_as(page, live_server, people["agent"].email, PASSWORD)
    page.goto(f"{live_server}/people/me")
    expect(page.get_by_role("heading", name="Your interests")).to_be_visible()
    page.fill("#interest-topic", "astrology")
    with page.expect_navigation():
        page.get_by_role("button", name="Add interest").click()
    expect(page.get_by_role("alert")).to_contain_text("There is no topic called “astrology”")
    page.fill("#interest-topic", "refunds")
    with page.expect_navigation():
        page.get_by_role("button", name="Add interest").click()
    expect(page.locator("#interests .tag")).to_have_text(["refunds"])
    expect(page.locator("#topic-refunds")).to_contain_text("declared interest")
    with page.expect_navigation():
        page.get_by_role("button", name="Remove your interest in refunds").click()
    expect(page.locator("#interests")).to_contain_text("You have not declared any interests yet.")
