"""Page layout in a real Chromium: no main page is wider than the screen at phone (390 px) and desktop
(1280 px) widths, even with very long titles; the header stays on one line at 1280 px; on a phone the
navigation folds behind a Menu button (and without JavaScript stays a plain visible list).

Runs over the demo data (accounts, content, workflow history), plus an article, a question and an
inbox notification with very long titles, as the administrator (who may open every page) and as an
author (the editor).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from functools import partial

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from kb.accounts import groups
from kb.accounts import service as accounts
from kb.content import audiences
from kb.content.models import Entry, EntryKind, Revision, RevisionState
from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content.forum import ask_question
from kb.content.service import create_article
from kb.demo_accounts_and_content import DEMO_PASSWORD
from tests.helpers import load_demo_states, loaded_once
from kb.clock import utcnow
from kb.settings import Settings
from workflow import webhooks
from workflow.models import WebhookDelivery
from workflow.notify import notify
from search.factory import backend_for, reset_backends
from search.outbox import drain

pytestmark = pytest.mark.browser

PHONE, DESKTOP = 390, 1280
# What people paste: a sentence, a URL-like token with no place to break, and more sentence.
LONG_TITLE = ("Customer charged twice after changing plan mid-cycle: "
              "refund-the-duplicate-charge-then-credit-the-prorated-difference-to-the-original-card-"
              "not-the-new-one and tell them when it arrives")


@pytest.fixture
def world(db):
    loaded_once(db, "demo workflow", partial(load_demo_states, db))
    admin = accounts.find_user_by_email(session=db, email="admin@example.com")
    author = accounts.find_user_by_email(session=db, email="author@example.com")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title=LONG_TITLE[:200], body="Refund the duplicate charge first. " * 40, tags=["billing", "refunds"]))
    question = ask_question(session=db, actor=author, data=QuestionCreate(title=LONG_TITLE[:200],
                                                                           body="What do I tell the customer? " * 20))
    notify(session=db, users=[admin, author], kind="review_requested", entry_id=article.id,
           message=f"Please review “{LONG_TITLE}”", link=f"/articles/{article.id}")
    # A webhook with a long address, and a failed delivery whose receiver said a lot.
    hook = webhooks.create_webhook(session=db, actor=admin, settings=Settings(env="development", secret_key="x" * 40),
                                   url="http://127.0.0.1:9/" + LONG_TITLE.replace(" ", "-")[:300], events=list(webhooks.EVENTS))
    db.add(WebhookDelivery(webhook_id=hook.id, delivery_id=str(uuid.uuid4()), event="question.asked", payload={},
                           attempts=12, failed_at=utcnow(), last_status=500, last_error="The receiver answered 500: " + LONG_TITLE))
    # A group with a long name and description that the article is limited to (audiences).
    group = groups.create_group(session=db, actor=admin, name=LONG_TITLE[:80], description=LONG_TITLE[:300])
    groups.add_member(session=db, actor=admin, group=group, user=author)
    audiences.set_audience(session=db, actor=admin, entry=article, group_ids=[group.id])
    in_review = db.exec(select(Revision).join(Entry, Entry.id == Revision.entry_id)
                        .where(Revision.state == RevisionState.in_review.value,
                               Entry.kind == EntryKind.article.value)).first()
    db.commit()
    assert in_review is not None
    return {"article": article, "question": question, "review": in_review.id, "author": author, "admin": admin,
            "webhook": hook.id, "group": group.id}


def _admin_pages(world) -> list[str]:
    return ["/", "/search?q=refund", f"/articles/{world['article'].id}", "/articles", "/review",
            f"/review/{world['review']}", "/inbox", "/questions", f"/questions/{world['question'].id}", "/experts",
            "/knowledge-health", "/profile", f"/entries/{world['article'].id}/history",
            "/admin", "/admin/users", "/admin/topics", "/admin/routing", "/admin/synonyms", "/admin/audit",
            "/admin/webhooks", f"/admin/webhooks/{world['webhook']}", "/admin/groups", f"/admin/groups/{world['group']}",
            f"/admin/groups/{world['group']}/delete"]


def _author_pages(world) -> list[str]:
    return ["/articles/new", f"/entries/{world['article'].id}/edit", "/inbox"]


def _too_wide(page, base: str, paths: list[str], width: int) -> list[str]:
    page.set_viewport_size({"width": width, "height": 800})
    problems = []
    for path in paths:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            culprits = page.evaluate("""(inner) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > inner + 1 && e.getClientRects().length)
                .slice(-3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""", inner)
            problems.append(f"{path} at {width} px is {scroll} px wide ({', '.join(culprits)})")
    return problems


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_no_main_page_is_wider_than_the_screen(page, browser, live_server, login_as, world, width):
    login_as(page, live_server, "admin@example.com", DEMO_PASSWORD)
    problems = _too_wide(page, live_server, _admin_pages(world), width)
    context = browser.new_context()
    author = context.new_page()
    try:
        login_as(author, live_server, "author@example.com", DEMO_PASSWORD)
        problems += _too_wide(author, live_server, _author_pages(world), width)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


SIDEBAR = 350  # a helpdesk's ticket sidebar, where the side panel (/panel) lives


def test_the_side_panel_fits_a_helpdesk_sidebar(page, browser, app, engine, live_server, login_as, world):
    reset_backends()
    drain(engine=engine, backend=backend_for(app.state.settings))
    ticket = (f"/panel?subject={quote(LONG_TITLE)}&text={quote('My card was charged twice for one order. ' * 60)}"
              f"&ticket={'ZD-' + '9' * 97}")
    login_as(page, live_server, "agent@example.com", DEMO_PASSWORD)
    problems = []
    for width in (SIDEBAR, PHONE):
        problems += _too_wide(page, live_server, ["/panel", ticket], width)
        expect(page.locator(".panel-result").first).to_be_visible()  # answers, with their buttons
        expect(page.get_by_role("button", name="Used to solve this case").first).to_be_visible()
    context = browser.new_context()
    signed_out = context.new_page()
    try:
        problems += _too_wide(signed_out, live_server, [ticket], SIDEBAR)
        expect(signed_out.get_by_role("heading", name="Sign in to see answers")).to_be_visible()
    finally:
        context.close()
        reset_backends()
    assert not problems, "\n".join(problems)


def test_the_header_is_one_line_at_desktop_width(page, live_server, login_as, world):
    page.set_viewport_size({"width": DESKTOP, "height": 800})
    login_as(page, live_server, "admin@example.com", DEMO_PASSWORD)  # the admin has the longest menu
    for path in ("/", "/admin", "/inbox"):
        page.goto(live_server + path)
        expect(page.locator(".nav-toggle")).to_be_hidden()
        header = page.locator("header.topbar").bounding_box()
        tops = page.evaluate("""[...document.querySelectorAll('header.topbar a, header.topbar button')]
            .filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect().top)""")
        assert max(tops) - min(tops) < 8, f"{path}: the header's links sit on several lines ({sorted(set(tops))})"
        assert header["height"] < 64, f"{path}: the header is {header['height']} px high"


def test_on_a_phone_the_menu_folds_behind_a_button(page, live_server, login_as, world):
    page.set_viewport_size({"width": PHONE, "height": 800})
    login_as(page, live_server, "admin@example.com", DEMO_PASSWORD)
    page.goto(f"{live_server}/inbox")
    toggle = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(page.locator("header.topbar a.inbox")).to_be_visible()  # unread work stays in sight
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 800 / 8, f"the folded header takes {header['height']} px of an 800 px screen"

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Search", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    nav.get_by_role("link", name="Forum", exact=True).click()
    page.wait_for_url(f"{live_server}/questions")
    expect(nav).to_be_hidden()  # a new page starts folded

    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(page.get_by_role("button", name="Menu")).to_be_focused()


def test_without_javascript_the_menu_is_a_visible_list(browser, live_server, world):
    context = browser.new_context(java_script_enabled=False, viewport={"width": PHONE, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.fill("#email", "admin@example.com")
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Search", exact=True)).to_be_visible()
        expect(page.locator(".nav-toggle")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
