"""An agent asks "who knows about refunds", sees the expert and opens an entry behind the answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from cli.bootstrap import bootstrap
from search.factory import backend_for, reset_backends
from search.service import reindex
from tests.helpers import PASSWORD
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.browser


@pytest.fixture
def refunds(db, engine, make_user, app):
    bootstrap()
    reset_backends()
    maria, erin, agent = (make_user("author", "expert", name="Maria Lopez"), make_user("expert", name="Erin Expert"),
                          make_user("agent", name="Alex Agent"))
    entries = [create_article(session=db, actor=maria, data=ArticleCreate(
        title=title, body="How to refund the customer, step by step.", tags=["refunds"]))
        for title in ("Refund to a closed card", "Goodwill refunds: agent limits")]
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=erin)
    for entry in entries:
        for who, action in ((maria, Action.submit), (erin, Action.approve), (erin, Action.certify)):
            transition(session=db, actor=who, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    reindex(engine=engine, backend=backend_for(app.state.settings))
    yield agent
    reset_backends()


def test_who_knows_about_refunds_leads_to_the_expert_and_her_entries(page, live_server, login_as, refunds):
    login_as(page, live_server, refunds.email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Experts").click()
    expect(page.get_by_role("heading", name="Experts by topic")).to_be_visible()
    page.get_by_role("searchbox", name="Who knows about…?").fill("who knows about refunds")
    page.get_by_role("button", name="Find experts").click()
    experts = page.locator("#expert-list .expert")
    expect(experts.first.locator(".expert-name")).to_have_text("Maria Lopez")
    expect(experts.first).to_contain_text("2 matching entries")
    expect(page.locator("#expert-list")).to_contain_text("Erin Expert")
    experts.first.get_by_role("link", name="Goodwill refunds: agent limits").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Goodwill refunds: agent limits")
    assert "/articles/" in page.url
