"""The author's stumbles of issue 14 (items 8 to 12) in a real Chromium: an upload refusal that
stays, Back after "Submit for review", two tabs of one person, the editor's toolbar, and deleting a
duplicate draft."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.accounts.actors import SYSTEM
from kb.content import service as content
from kb.content.schemas import ArticleCreate
from tests.browser.test_editor_browser import _autosaved, _watch
from tests.helpers import PASSWORD
from workflow.policy import designate_expert

pytestmark = pytest.mark.browser


def _article(db, author, body="Refunds take five days."):
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund times", body=body, tags="refunds"))
    db.commit()
    return entry


def _tab(page, expected=()):
    """A page of the fixture's context that tolerates the refusals a test provokes on purpose."""
    tab = page.context.new_page()
    return tab, _watch(tab, expected=expected)


def test_an_upload_refusal_stays_until_dismissed_while_autosave_goes_on(page, live_server, login_as, make_user, db):
    author = make_user("author")
    entry = _article(db, author)
    tab, problems = _tab(page, expected=(("/attachments", 415),))
    login_as(tab, live_server, author.email, PASSWORD)
    tab.goto(f"{live_server}/entries/{entry.id}/edit")
    tab.locator("#file-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"<html><script>alert(1)</script>"}])
    error = tab.locator("#editor-error")
    expect(error).to_contain_text('Upload refused: "notes.png" is not an allowed file type')
    with _autosaved(tab, "Refunds take three days."):
        tab.fill("#body", "Refunds take three days.")
    tab.wait_for_timeout(600)
    expect(error).to_be_visible()  # the autosave line changed; the refusal did not go away
    expect(error).to_contain_text("Upload refused")
    error.get_by_role("button", name="Dismiss").click()
    expect(error).to_be_hidden()
    assert not problems, problems


def test_a_failing_autosave_does_not_hide_an_upload_refusal(page, live_server, login_as, make_user, db):
    """Two problems at once (an upload refused, then every autosave refused): both stay on screen;
    fixing one takes only that one away."""
    author = make_user("author")
    entry = _article(db, author)
    tab, problems = _tab(page, expected=(("/attachments", 415), ("/drafts/autosave", 422)))
    login_as(tab, live_server, author.email, PASSWORD)
    tab.goto(f"{live_server}/entries/{entry.id}/edit")
    tab.locator("#file-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"<html><script>alert(1)</script>"}])
    error = tab.locator("#editor-error")
    expect(error).to_contain_text("Upload refused")
    # The server refuses every autosave from now on (answered in the browser, as a refusal would be).
    refuse = lambda route: route.fulfill(status=422, content_type="application/json",  # noqa: E731
                                         body='{"detail": "The draft is over a limit."}')
    tab.route("**/drafts/autosave", refuse)
    tab.fill("#body", "Refunds take two days.")
    expect(error).to_contain_text("could not be autosaved", timeout=10_000)
    expect(error).to_contain_text("Upload refused")
    assert error.locator(".editor-error-line").count() == 2
    tab.unroute("**/drafts/autosave", refuse)
    with _autosaved(tab, "Refunds take three days."):
        tab.fill("#body", "Refunds take three days.")
    expect(error).not_to_contain_text("could not be autosaved")  # fixed: that one goes
    expect(error).to_contain_text("Upload refused")  # the other stays until dismissed
    error.get_by_role("button", name="Dismiss").click()
    expect(error).to_be_hidden()
    assert not problems, problems


def test_the_toolbar_reads_as_buttons_and_link_asks_for_the_address(page, live_server, login_as, make_user, db):
    author = make_user("author")
    entry = _article(db, author, body="See the refund policy.")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/entries/{entry.id}/edit")
    chooser = page.get_by_text("Image or file")
    expect(chooser).to_be_visible()
    box = page.locator("#file-input").bounding_box()
    assert box is None or (box["width"] <= 1 and box["height"] <= 1), box  # no raw "Choose File" control
    page.get_by_role("button", name="Table").focus()
    page.keyboard.press("Tab")  # the file chooser is still reachable from the keyboard
    assert page.evaluate("document.activeElement.id") == "file-input"

    page.locator("#body").evaluate("el => el.setSelectionRange(8, 21)")  # "refund policy"
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept("https://example.com/policy")

    page.on("dialog", answer)
    page.get_by_role("button", name="Link").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^See the \[refund policy\]\(https://example\.com/policy\)\.\s*$"))
    assert asked and "refund policy" in asked[0]


def test_back_after_submitting_shows_the_article_as_it_is_now(page, live_server, login_as, make_user, db):
    author, expert = make_user("author"), make_user("expert", name="Erin Expert")
    entry = _article(db, author)
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    tab, problems = _tab(page)
    login_as(tab, live_server, author.email, PASSWORD)
    tab.goto(f"{live_server}/entries/{entry.id}/edit")
    tab.fill("#body", "Refunds take three days.")
    with tab.expect_navigation():
        tab.get_by_role("button", name="Save").click()
    with tab.expect_navigation():
        tab.get_by_role("button", name="Submit for review").click()
    panel = tab.locator("#submission")
    expect(panel).to_contain_text("Submitted for review on")
    expect(panel.get_by_role("button", name="Withdraw to keep editing")).to_be_visible()
    expect(tab.get_by_role("button", name="Submit for review")).to_have_count(0)

    tab.go_back()  # the article as it was before submitting: asked again, not from the cache
    expect(tab.locator("#submission")).to_contain_text("Submitted for review on")
    expect(tab.get_by_role("button", name="Submit for review")).to_have_count(0)
    tab.go_back()  # the editor: the server's current text, no stale form
    expect(tab.locator("#body")).to_have_value("Refunds take three days.")
    assert not problems, problems


def test_a_second_tab_offers_the_merge_view_of_the_other_tabs_draft(page, live_server, login_as, make_user, db):
    author = make_user("author")
    entry = _article(db, author)
    tab1, problems1 = _tab(page)
    tab2, problems2 = _tab(page, expected=(("/drafts/autosave", 409),))
    login_as(tab1, live_server, author.email, PASSWORD)
    for tab in (tab1, tab2):
        tab.bring_to_front()
        tab.goto(f"{live_server}/entries/{entry.id}/edit")
    tab1.bring_to_front()
    with _autosaved(tab1, "Tab one: five working days."):
        tab1.fill("#body", "Tab one: five working days.")
    tab2.bring_to_front()
    tab2.fill("#body", "Tab two: three days.")
    error = tab2.locator("#editor-error")
    expect(error).to_contain_text(re.compile(r"You changed this draft in another tab or window at \d\d:\d\d UTC"))
    with tab2.expect_navigation():
        error.get_by_role("button", name="Compare and merge").click()
    conflict = tab2.locator("#conflict")
    expect(conflict.get_by_role("heading", name="You changed this in another tab or window")).to_be_visible()
    expect(conflict).to_contain_text("Your other tab's draft")
    expect(conflict).to_contain_text("Tab one: five working days.")
    expect(tab2.locator("#body")).to_have_value("Tab two: three days.")
    with _autosaved(tab2, "Tab one: five working days. Tab two: three days."):
        tab2.fill("#body", "Tab one: five working days. Tab two: three days.")
    assert not problems1 and not problems2, problems1 + problems2


def test_the_author_deletes_a_duplicate_draft_and_it_leaves_their_articles(page, live_server, login_as, make_user,
                                                                             db):
    author = make_user("author")
    original = _article(db, author, body="Refunds take five days.")
    duplicate = _article(db, author, body="Refunds take five days (copy).")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/articles")
    expect(page.locator(f'a[href="/articles/{duplicate.id}"]')).to_have_count(1)
    page.goto(f"{live_server}/articles/{duplicate.id}")
    page.get_by_role("link", name="Delete this draft").click()
    expect(page.get_by_role("heading", name="Delete the draft “Refund times”?")).to_be_visible()
    page.get_by_role("button", name="Delete this draft").click()
    page.wait_for_url(re.compile(r"/articles\?deleted=1$"))
    expect(page.get_by_role("status").filter(has_text="The draft is deleted")).to_be_visible()
    expect(page.locator(f'a[href="/articles/{duplicate.id}"]')).to_have_count(0)
    expect(page.locator(f'a[href="/articles/{original.id}"]').first).to_be_visible()
    response = page.goto(f"{live_server}/articles/{duplicate.id}")
    assert response is not None and response.status == 404
