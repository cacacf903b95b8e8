"""The review diff in Chromium: it wraps (the page is never wider than the window, at 1280 and
390 px) and shows the change where the reader looks, unchanged paragraphs folded (issue 14, item 13)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb.accounts.actors import SYSTEM
from kb.content import service as content
from kb.content.models import Revision
from kb.content.schemas import ArticleCreate, RevisionCreate
from tests.helpers import PASSWORD
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition

pytestmark = pytest.mark.browser

LONG_LINE = "Paste this link for the customer: https://support.example.com/refunds/" + "x" * 300
PARAGRAPHS = [f"Rule {i}: agents check the order history before promising anything to the customer."
              for i in range(30)]
OLD = "# Refunds\n\n" + "\n\n".join(PARAGRAPHS + ["Refunds are possible within 30 days of delivery.", LONG_LINE])
NEW = OLD.replace("within 30 days", "within 14 days").replace("x" * 300, "y" * 300)


@pytest.fixture
def submitted(db, make_user):
    author, erin, cleo = make_user("author"), make_user("expert", name="Erin Expert"), make_user("expert")
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Refunds after delivery", body=OLD, tags=["refunds"]))
    for expert in (erin, cleo):
        designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    for actor, action in ((author, Action.submit), (cleo, Action.approve), (cleo, Action.certify)):
        transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
        db.commit()
    db.refresh(entry)
    v2 = content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Refunds after delivery", body=NEW, tags=["refunds"], base_revision_id=entry.latest_revision_id))
    db.commit()
    transition(session=db, actor=author, revision_id=v2.id, action=Action.submit)
    db.commit()
    return {"erin": erin, "entry": entry, "v1": db.get(Revision, v2.parent_id), "v2": v2}


def _fits(page) -> None:
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    for box in page.locator("#changes ins, #changes del, .blockdiff ins, .blockdiff del").evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })"):
        assert 0 <= box[0] and box[1] <= width + 1, f"a marked change lies outside the window: {box}"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_review_diff_wraps_and_shows_the_change(browser, live_server, login_as, submitted, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        login_as(page, live_server, submitted["erin"].email, PASSWORD)
        page.goto(f"{live_server}/review/{submitted['v2'].id}")
        changes = page.locator("#changes")
        expect(changes.locator(".diff-changed").first).to_contain_text("Refunds are possible within")
        expect(changes.locator("ins", has_text="14")).to_be_visible()
        expect(changes.locator("del", has_text="30")).to_be_visible()
        # Thirty unchanged paragraphs before the change are folded; opening the fold shows them.
        fold = changes.locator("details.diff-fold summary")
        expect(fold).to_contain_text("unchanged")
        expect(changes.get_by_text("Rule 5:", exact=False)).to_be_hidden()
        _fits(page)
        fold.click()
        expect(changes.get_by_text("Rule 5:", exact=False)).to_be_visible()
        _fits(page)
        # The same in History's comparison, inline and side by side.
        for mode in ("inline", "side"):
            page.goto(f"{live_server}/entries/{submitted['entry'].id}/diff?old={submitted['v1'].id}"
                      f"&new={submitted['v2'].id}&mode={mode}")
            expect(page.locator(".blockdiff ins", has_text="14").first).to_be_visible()
            _fits(page)
    finally:
        context.close()
