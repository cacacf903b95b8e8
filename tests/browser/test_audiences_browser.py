"""Audiences in a real Chromium: the administrator makes a group and adds a member, the author
limits a certified article to it from the article page, the member sees "Visible to" and
someone outside the group is told the article does not exist (as for anything they may not open).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.accounts import service as accounts
from kb.demo_accounts_and_content import DEMO_PASSWORD, load_demo_accounts, load_demo_content
from workflow.demo_states import load_demo_workflow
from kb.content.models import Entry
from sqlmodel import select

pytestmark = pytest.mark.browser


@pytest.fixture
def certified(db):
    load_demo_accounts(session=db)
    load_demo_content(session=db)
    load_demo_workflow(session=db)
    author = accounts.find_user_by_email(session=db, email="author@example.com")
    entry = db.exec(select(Entry).where(Entry.author_id == author.id, Entry.kind == "article",
                                        Entry.certified_revision_id.is_not(None)).order_by(Entry.id)).first()
    db.commit()
    assert entry is not None
    return entry


def test_author_limits_an_article_to_a_group_the_admin_made(browser, live_server, login_as, certified):
    contexts = {who: browser.new_context(viewport={"width": 1280, "height": 800})
                for who in ("admin", "author", "agent", "expert")}
    admin, author, agent, expert = (contexts[w].new_page() for w in ("admin", "author", "agent", "expert"))
    try:
        login_as(admin, live_server, "admin@example.com", DEMO_PASSWORD)
        admin.goto(f"{live_server}/admin")
        admin.get_by_role("navigation", name="Administration").get_by_role("link", name="Groups", exact=True).click()
        admin.fill("#name", "Tier 2")
        admin.fill("#description", "Second-line support")
        admin.get_by_role("button", name="Create group").click()
        expect(admin.locator(".flash").first).to_contain_text("Group created")
        admin.fill("#email", "agent@example.com")
        admin.get_by_role("button", name="Add member").click()
        expect(admin.locator("table.list")).to_contain_text("agent@example.com")

        login_as(author, live_server, "author@example.com", DEMO_PASSWORD)
        author.goto(f"{live_server}/articles/{certified.id}")
        expect(author.locator("#audience")).to_contain_text("Visible to: Everyone")
        author.get_by_text("Change who sees it").click()
        author.get_by_label("Tier 2").check()
        author.get_by_role("button", name="Save who sees it").click()
        expect(author.locator("#audience .badge")).to_have_text("Visible to: Tier 2")

        login_as(agent, live_server, "agent@example.com", DEMO_PASSWORD)
        agent.goto(f"{live_server}/articles/{certified.id}")
        expect(agent.locator("#audience .badge")).to_have_text("Visible to: Tier 2")
        expect(agent.get_by_text("Change who sees it")).to_have_count(0)

        login_as(expert, live_server, "expert@example.com", DEMO_PASSWORD)
        response = expert.goto(f"{live_server}/articles/{certified.id}")
        assert response is not None and response.status == 404
    finally:
        for context in contexts.values():
            context.close()
