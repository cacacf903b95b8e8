"""The review workflow in a real Chromium: submit, request changes, resubmit, approve, certify."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import PASSWORD, api_token_for
from workflow.policy import designate_expert
from kb.accounts.actors import SYSTEM

pytestmark = pytest.mark.browser


@pytest.fixture
def cast(db, make_user):
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    agent = make_user("agent", name="Alex Agent")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Exchanging a faulty Home Hub", body="Offer a replacement within 30 days.", tags=["devices"]))
    designate_expert(session=db, actor=SYSTEM, topic="devices", user=expert)
    db.commit()
    return {"author": author, "expert": expert, "agent": agent, "entry": entry}


def _as(browser, live_server, login_as, user):
    context = browser.new_context()
    page = context.new_page()
    login_as(page, live_server, user.email, PASSWORD)
    return page


def test_submit_review_resubmit_certify_and_what_agents_see(page, browser, live_server, login_as, cast):
    entry_url = f"{live_server}/articles/{cast['entry'].id}"
    login_as(page, live_server, cast["author"].email, PASSWORD)  # `page` is the author's
    page.goto(entry_url)
    page.locator('button[data-action="submit"]').click()
    expect(page.locator("div.flash-success")).to_have_text("Submitted for review.")

    expert = _as(browser, live_server, login_as, cast["expert"])
    expert.goto(f"{live_server}/review")
    expert.get_by_role("link", name="Exchanging a faulty Home Hub").first.click()
    expert.fill("#comment", "Say that the customer keeps the old hub until the new one arrives.")
    expert.locator('button[data-action="request-changes"]').click()
    expect(expert.locator("div.flash-success")).to_contain_text("Changes requested: the author has been told.")

    # The author sees the request, edits (a new revision) and submits it again.
    page.goto(entry_url)
    page.get_by_role("link", name="Edit").click()
    page.fill("#body", "Offer a replacement within 30 days. The customer keeps the old hub until the new one arrives.")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    page.locator('button[data-action="submit"]').click()
    expect(page.locator("div.flash-success")).to_have_text("Submitted for review.")
    # No approve or certify button on your own work, and the API refuses too.
    assert page.locator('button[data-action="approve"], button[data-action="certify"]').count() == 0
    # The author stays on the article page (POST/redirect/GET); the expert finds the revision in the queue.
    expect(page).to_have_url(re.compile(rf"/articles/{cast['entry'].id}\?done=submit$"))

    expert.goto(f"{live_server}/review")
    expert.locator("#awaiting_review").get_by_role("link", name="Exchanging a faulty Home Hub").click()
    expect(expert.locator("h1")).to_contain_text("revision 2")
    expect(expert.locator(".diff")).to_contain_text("keeps the old hub")
    expert.locator('button[data-action="approve"]').click()
    expect(expert.locator("div.flash-success")).to_have_text("Approved.")
    expert.locator('button[data-action="certify"]').click()
    expect(expert.locator("div.flash-success")).to_have_text("Certified: agents now find this version.")

    agent = _as(browser, live_server, login_as, cast["agent"])
    agent.goto(entry_url)
    certification = agent.locator(".certification")
    expect(certification).to_contain_text("Certified")
    expect(certification).to_contain_text("Erin Expert")
    expect(certification.locator(".valid-until")).to_have_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(agent.locator("#content")).to_contain_text("keeps the old hub")
    for other in (expert, agent):
        other.context.close()


def test_author_gets_403_from_the_api_when_approving_own_work(page, live_server, db, cast):
    token = api_token_for(db, cast["author"])
    revision_id = cast["entry"].latest_revision_id
    headers = {"Authorization": f"Bearer {token}"}
    assert page.request.post(f"{live_server}/api/v1/revisions/{revision_id}/submit", headers=headers).ok
    for action in ("approve", "certify"):
        response = page.request.post(f"{live_server}/api/v1/revisions/{revision_id}/{action}", headers=headers)
        assert response.status in (403, 409)
    assert page.request.post(f"{live_server}/api/v1/revisions/{revision_id}/approve", headers=headers).status == 403
