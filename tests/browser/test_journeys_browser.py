"""The four people's days and the forum loop, end to end in a real Chromium, over the demo data as
``kb demo`` loads it (issue 14): an agent (at desktop and phone width), an author and an expert
(one review loop, each in their own browser), an administrator, and a question from asking to
"Turned into an article".

Each journey goes through the pages only: after the fixture, no service is called; the search
outbox is drained (what ``kb serve``'s indexer does) where a step needs search to see a change.
Each one asserts what the person would notice, including that the main pages are no wider than
the screen.

The demo takes many seconds to load, so the journeys share one demo database (loaded once per
module, emptied afterwards); each journey works on its own demo entries or creates its own, so
they do not depend on each other or on their order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import pytest
from playwright.sync_api import expect

from cli.demo import load_demo
from kb.db import session_factory
from kb.demo_accounts_and_content import DEMO_PASSWORD
from kb.settings import Settings
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.conftest import _empty_all_tables
from tests.helpers import TEST_SECRET, serving

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Demo:
    url: str
    index: Callable[[], None]  # drain the search outbox, as the indexer of ``kb serve`` does


@pytest.fixture(scope="module")
def demo(engine, tmp_path_factory):
    """The demo data as ``kb demo`` loads it, indexed, served by the app on a free port."""
    from web.app import create_app

    reset_backends()
    settings = Settings(env="development", data_dir=tmp_path_factory.mktemp("journeys") / "data",
                        secret_key=TEST_SECRET, periodic_seconds=0, semantic=False)
    app = create_app(settings=settings, engine=engine)
    db = session_factory(engine)()
    try:
        load_demo(session=db)
        db.commit()
    finally:
        db.close()

    def index() -> None:
        drain(engine=engine, backend=backend_for(app.state.settings))

    index()
    try:
        with serving(app) as url:
            yield Demo(url=url, index=index)
    finally:
        reset_backends()
        _empty_all_tables(engine)


@pytest.fixture
def people(browser):
    """``people(email, viewport=..., clipboard=...)``: a page in a browser context of its own (one
    person at their own desk), signed in through the real form. Every page must run without
    script errors; the contexts are closed at the end."""
    contexts, problems = [], []

    def open_as(base_url: str, email: str | None, *, viewport=DESKTOP, clipboard=False):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        if clipboard:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"{email}: page error: {error}"))
        page.on("response", lambda r: r.status >= 400 and r.request.resource_type != "document"
                and problems.append(f"{email}: {r.request.resource_type} {r.url} answered {r.status}"))
        if email is not None:
            sign_in(page, base_url, email)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not problems, "the pages had errors:\n" + "\n".join(problems)


def sign_in(page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator('form[action="/logout"]')).to_have_count(1)  # signed in (on a phone, behind Menu)


def fits(page) -> None:
    """The page is no wider than the screen (no sideways scrolling)."""
    page.wait_for_load_state()
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} is {scroll} px wide on a {inner} px screen"


def open_menu_if_folded(page) -> None:
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")


# --- the agent ----------------------------------------------------------------------------------

# Certified demo articles that the demo agent has not rated yet, each with a part for the customer.
AGENT_CASES = {
    "desktop": (DESKTOP, "factory reset hub", "Factory resetting and deregistering a Home Hub before resale",
                "none of your information will be on it", "ZD-1001"),
    "phone": (PHONE, "refund never arrived", "Customer says the refund never arrived",
              "your bank can trace it", "ZD-1002"),
}


@pytest.mark.parametrize("screen", AGENT_CASES)
def test_agent_finds_rates_copies_and_signs_out(demo, people, screen):
    viewport, query, title, customer_words, case = AGENT_CASES[screen]
    agent = people(demo.url, "agent@example.com", viewport=viewport, clipboard=True)
    expect(agent).to_have_url(f"{demo.url}/")
    fits(agent)

    # "/" (not typing in a field) goes to the search box; results come as the agent types.
    agent.locator("h1").click()
    agent.keyboard.press("/")
    expect(agent.locator("#q")).to_be_focused()
    agent.keyboard.type(query, delay=30)
    results = agent.locator("#result-list .result")
    expect(results.first.locator("a.title")).to_have_text(title)
    expect(results.first.locator(".badge-certified")).to_be_visible()
    expect(agent).to_have_url(re.compile(r"/search\?q="))
    fits(agent)
    shown = results.count()

    results.first.locator("a.title").click()
    expect(agent.locator("h1")).to_have_text(title)
    expect(agent.locator(".certification")).to_contain_text("Certified")
    fits(agent)
    article_url = agent.url.split("?")[0]

    # Back: the whole search page with its results, not a bare fragment.
    agent.go_back()
    expect(agent.locator("header.topbar")).to_be_visible()
    expect(agent.locator("#q")).to_have_value(query)
    expect(results).to_have_count(shown)
    expect(results.first.locator("a.title")).to_have_text(title)
    assert agent.evaluate("document.styleSheets.length") >= 1
    agent.go_forward()
    expect(agent.locator("h1")).to_have_text(title)

    # A helpful vote: unmistakably recorded, with Undo (not a pressed "Yes" that takes it back).
    rating = agent.locator("section.rating")
    rating.get_by_role("button", name=re.compile(r"^Yes")).click()
    expect(rating.locator(".my-vote")).to_have_text(re.compile("You found this helpful"))
    expect(rating.get_by_role("button", name="Undo")).to_be_visible()
    expect(rating.get_by_role("button", name=re.compile(r"^Yes"))).to_have_count(0)

    # Copy answer takes the part for the customer; then the same case linked counts once.
    cases_before = int(rating.locator(".reuse-count .count").inner_text())
    copy_panel = agent.locator(".copy-answer-page")
    expect(copy_panel).to_contain_text("Copies the section “What to tell the customer”.")
    copy_panel.get_by_role("button", name="Copy answer").click()
    expect(copy_panel.get_by_role("status")).to_have_text("Copied — recorded as used")
    copied = agent.evaluate("navigator.clipboard.readText()")
    assert customer_words in copied
    assert "Edge cases" not in copied and "##" not in copied  # the agents' notes stay out
    expect(rating.locator(".reuse-count .count")).to_have_text(str(cases_before + 1))
    rating.get_by_label("Case reference").fill(case)
    rating.get_by_role("button", name="Used to solve a case").click()
    expect(rating.get_by_role("status")).to_have_text(f"Recorded: used to solve case {case}.")
    expect(rating.locator(".reuse-count .count")).to_have_text(str(cases_before + 1))
    agent.reload()  # the server agrees: one case
    expect(agent.locator("section.rating .reuse-count .count")).to_have_text(str(cases_before + 1))
    expect(agent.locator("section.rating .my-vote")).to_have_text(re.compile("You found this helpful"))
    fits(agent)

    # A shared desk: after signing out, Back must not show the article from the browser's cache.
    open_menu_if_folded(agent)
    with agent.expect_navigation():
        agent.get_by_role("button", name="Sign out").click()
    expect(agent).to_have_url(re.compile(r"/login"))
    agent.go_back()
    expect(agent).to_have_url(re.compile(r"/login\?next="))
    expect(agent.locator("body")).not_to_contain_text(title)
    expect(agent.locator('form[action="/logout"]')).to_have_count(0)
    assert article_url.startswith(demo.url)


# --- the author and the expert: one review loop ---------------------------------------------------

NEW_TITLE = "Replacing a cracked Watch S screen"
# Enough paragraphs for the review's diff to fold the unchanged ones, and a long line that must wrap.
NEW_BODY = "\n\n".join([
    "A cracked Watch S screen is not covered by the warranty, but we repair it at a fixed price.",
    "Check the order history for the purchase date and the serial number on the back of the watch.",
    "Book the repair in the service console under Devices, Repairs, and choose Screen.",
    "The customer sends the watch with the prepaid label; the repair takes about five working days.",
    "Never promise a replacement watch: only Device Support decides that, after the inspection. " * 4,
    "## What to tell the customer",
    "We repair the screen for EUR 89 and send the watch back within five working days.",
    "See the repair form.",
])
CHANGED_PARAGRAPH = ("The customer sends the watch with the prepaid label; the repair takes about five working days.",
                     "The customer sends the watch with the prepaid label and keeps the strap; the repair takes "
                     "about five working days.")
EXPERT_COMMENT = "Please say that the customer keeps the strap: we do not return straps."


def test_author_and_expert_review_loop_until_agents_find_the_new_article(demo, people):
    author = people(demo.url, "author@example.com")

    # A new article in the editor; the toolbar's Link asks for the address.
    author.get_by_role("navigation", name="Main").get_by_role("link", name="Write").click()
    expect(author.locator("h1")).to_have_text("New article")
    fits(author)
    author.fill("#title", NEW_TITLE)
    author.fill("#tags", "devices")
    author.fill("#body", NEW_BODY)
    author.locator("#body").evaluate("t => { const i = t.value.indexOf('repair form'); t.setSelectionRange(i, i + 11); }")
    asked = []
    author.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept("https://repairs.example.com/form")))
    author.locator(".editor-toolbar").get_by_role("button", name="Link").click()
    assert asked == ["Link “repair form” to which address?"]
    expect(author.locator("#body")).to_have_value(re.compile(r"See the \[repair form\]\(https://repairs\.example\.com/form\)\."))
    expect(author.locator("#preview a", has_text="repair form")).to_have_attribute("href", "https://repairs.example.com/form")
    with author.expect_navigation():
        author.get_by_role("button", name="Save").click()
    expect(author.locator("h1")).to_have_text(NEW_TITLE)
    article_url = author.url.split("?")[0]

    # Another tab of the same author, opened before submitting: it still offers Submit.
    other_tab = author.context.new_page()
    other_tab.goto(article_url)
    expect(other_tab.locator('button[data-action="submit"]')).to_be_visible()

    author.locator('button[data-action="submit"]').click()
    expect(author.locator(".flash-success")).to_have_text("Submitted for review.")
    submission = author.locator("#submission")
    expect(submission).to_contain_text("Submitted for review on")
    expect(submission.get_by_role("button", name="Withdraw to keep editing")).to_be_visible()
    expect(author.get_by_role("link", name="Review this revision")).to_have_count(0)  # the author's panel
    expect(author.locator('button[data-action="approve"], button[data-action="certify"]')).to_have_count(0)
    fits(author)
    # Back: the page is asked for again, so it shows the submission, not a live Submit button.
    author.go_back()
    expect(author.locator("#submission")).to_contain_text("Submitted for review on")
    expect(author.locator('button[data-action="submit"]')).to_have_count(0)
    # The stale tab's Submit says what happened instead of failing.
    other_tab.locator('button[data-action="submit"]').click()
    expect(other_tab.locator("#stale-action")).to_contain_text("Nothing was changed")
    expect(other_tab.locator("#stale-action")).to_contain_text(re.compile("already submitted", re.I))
    other_tab.locator("#stale-action").get_by_role("link", name=re.compile("as it is now")).click()
    expect(other_tab.locator("#submission")).to_contain_text("Submitted for review on")
    other_tab.close()

    # The expert finds the submission on the review dashboard and asks for a change.
    expert = people(demo.url, "expert@example.com")
    expert.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    expect(expert.locator("h1")).to_have_text("Review dashboard")
    fits(expert)
    expert.locator("#awaiting_review").get_by_role("link", name=NEW_TITLE).click()
    expect(expert.locator("h1")).to_contain_text(NEW_TITLE)
    fits(expert)
    expert.fill("#comment", EXPERT_COMMENT)
    expert.locator('button[data-action="request-changes"]').click()
    expect(expert.locator("div.flash-success")).to_contain_text("Changes requested: the author has been told.")

    # The author's notification leads to the comment and "Edit the draft"; the editor shows it too.
    author.goto(f"{demo.url}/inbox")
    fits(author)
    notification = author.locator(".inbox-list .unread", has_text=NEW_TITLE)
    expect(notification).to_have_count(1)
    notification.get_by_role("button").click()
    requests = author.locator("#change-requests")
    expect(requests).to_contain_text(EXPERT_COMMENT)
    requests.get_by_role("link", name="Edit the draft").click()
    expect(author.locator("h1")).to_have_text("Edit article")
    expect(author.locator("#change-requests")).to_contain_text(EXPERT_COMMENT)
    fits(author)
    body = author.locator("#body")
    body.fill(body.input_value().replace(*CHANGED_PARAGRAPH))
    with author.expect_navigation():
        author.get_by_role("button", name="Save").click()
    author.locator('button[data-action="submit"]').click()
    expect(author.locator(".flash-success")).to_have_text("Submitted for review.")
    expect(author.locator("#submission")).to_contain_text("revision 2")

    # The expert compares with what they last saw: the changed words, the rest folded; then certifies.
    expert.goto(f"{demo.url}/review")
    expert.locator("#awaiting_review").get_by_role("link", name=NEW_TITLE).click()
    changes = expert.locator("#changes")
    expect(changes).to_contain_text("Since your last review (revision 1)")
    expect(changes.locator(".diff-changed ins")).to_contain_text("keeps the strap")
    expect(changes.locator("details.diff-fold").first).to_contain_text("unchanged")
    fits(expert)
    expert.locator('button[data-action="approve"]').click()
    expect(expert.locator("div.flash-success")).to_have_text("Approved.")
    expert.locator('button[data-action="certify"]').click()
    expect(expert.locator("div.flash-success")).to_have_text("Certified: agents now find this version.")
    expect(expert.locator("p.certification")).to_contain_text("Certified by Erin Expert")

    # An agent now finds the certified article, with the change.
    demo.index()
    agent = people(demo.url, "agent@example.com")
    agent.goto(f"{demo.url}/search")
    agent.locator("#q").press_sequentially("cracked watch screen", delay=30)
    hit = agent.locator("#result-list .result", has_text=NEW_TITLE)
    expect(hit.locator(".badge-certified")).to_be_visible()
    hit.locator("a.title").click()
    expect(agent.locator(".certification")).to_contain_text("Erin Expert")
    expect(agent.locator("#content")).to_contain_text("keeps the strap")
    expect(agent.locator("#content a", has_text="repair form")).to_have_attribute("href", "https://repairs.example.com/form")


# --- the administrator ----------------------------------------------------------------------------

NEWCOMER = ("nora.new@example.com", "Nora New", "nora-chose-this-one")


def test_admin_invites_a_colleague_reads_the_audit_trail_and_sets_a_policy(demo, people):
    admin = people(demo.url, "admin@example.com")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True).click()
    expect(admin.locator("h1")).to_have_text("Administration")
    sections = admin.locator(".admin-index")
    for section in ("Users", "Topics and experts", "Audit trail"):
        expect(sections.get_by_role("link", name=section, exact=True)).to_be_visible()
    for menu_card in ("Home", "Search", "Forum", "Write"):  # the admin sections, not the main menu's cards
        expect(sections.get_by_role("link", name=menu_card, exact=True)).to_have_count(0)
    fits(admin)

    # A new colleague without a password: no mail server here, so the page shows the invitation link.
    email, name, password = NEWCOMER
    sections.get_by_role("link", name="Users", exact=True).click()
    fits(admin)
    admin.fill("#email", email)
    admin.fill("#display_name", name)
    admin.get_by_label("author", exact=True).check()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Add user").click()
    expect(admin.locator(".flash-info")).to_contain_text(f"give {name} this link yourself")
    expect(admin.get_by_role("row", name=re.compile(name))).to_contain_text("invited (no password yet)")
    link = admin.get_by_label("Invitation link").input_value()
    path = re.sub(r"^https?://[^/]+", "", link)  # the link names the configured address; this server's port differs
    assert path.startswith("/password/set?token=")
    fits(admin)

    newcomer = people(demo.url, None)
    newcomer.goto(demo.url + path)
    expect(newcomer.locator("h1")).to_have_text(f"Welcome to kb, {name}")
    fits(newcomer)
    newcomer.fill("#password", password)
    newcomer.fill("#password_again", password)
    with newcomer.expect_navigation():
        newcomer.get_by_role("button", name="Set my password").click()
    expect(newcomer.locator(".flash-success")).to_have_text("Your password is set. Sign in with it.")
    expect(newcomer.locator("#email")).to_have_value(email)
    newcomer.fill("#password", password)
    with newcomer.expect_navigation():
        newcomer.get_by_role("button", name="Sign in").click()
    expect(newcomer.locator("h1")).to_have_text(f"Welcome, {name}")
    expect(newcomer.locator(".topbar .user-name")).to_have_text(name)

    # The audit trail, filtered by who did it: the invitation is there, with its target.
    admin.get_by_role("navigation", name="Administration").get_by_role("link", name="Audit trail").click()
    admin.get_by_label("Who").fill("admin@example.com")
    admin.get_by_label("What").select_option(label="Users, roles and API tokens")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Show events").click()
    trail = admin.locator("table.audit-trail")
    invitation = trail.locator("tbody tr", has_text="Invitation shown")
    expect(invitation).to_have_count(1)
    expect(invitation).to_contain_text(email)
    expect(invitation).to_contain_text("Ada Admin")
    expect(trail.locator("tbody tr", has_text="Roles: agent, author.")).to_contain_text(email)
    fits(admin)

    # A topic's own policy: the summary names the option that was ticked.
    admin.get_by_role("navigation", name="Administration").get_by_role("link", name="Topics and experts").click()
    fits(admin)
    topic = admin.locator("#topic-subscriptions")
    expect(topic.locator(".policy-summary")).to_have_text("default")
    topic.locator("summary").click()
    topic.get_by_label("The approver may not also certify").check()
    with admin.expect_navigation():
        topic.get_by_role("button", name="Save policy for subscriptions").click()
    expect(admin.locator("#topic-subscriptions .policy-summary")).to_have_text(
        "Own policy: the approver may not also certify")
    fits(admin)


# --- the forum loop -------------------------------------------------------------------------------

QUESTION = "Charged for Plus after cancelling the renewal"
ANSWER = ("Refund the renewal in full when the customer cancelled before the renewal date; "
          "the cancellation confirmation email shows the date.")


def test_forum_loop_from_a_question_to_an_article(demo, people):
    asker = people(demo.url, "agent@example.com")
    asker.get_by_role("navigation", name="Main").get_by_role("link", name="Forum", exact=True).click()
    fits(asker)
    asker.get_by_role("link", name="Ask a question").first.click()
    expect(asker.locator("h1")).to_have_text("Ask a question")
    # While the title is typed, what already exists is suggested: certified articles and questions.
    asker.locator("#title").press_sequentially(QUESTION, delay=20)
    similar = asker.locator("#similar")
    expect(similar.locator(".similar-articles")).to_contain_text("Cancelling Northwind Plus and prorated refunds")
    expect(similar.locator(".similar-questions li").first).to_be_visible()
    fits(asker)
    asker.fill("#body", "She cancelled two days before the renewal and was still charged EUR 59.")
    asker.fill("#tags", "subscriptions")
    with asker.expect_navigation():
        asker.get_by_role("button", name="Post question").click()
    expect(asker.locator("h1")).to_have_text(QUESTION)
    expect(asker.locator(".question .badge-forum-open")).to_have_text("open")
    thread_url = asker.url.split("?")[0].split("#")[0]

    # Back and Post again: the question that was posted, not a second one.
    asker.go_back()
    expect(asker.locator("#title")).to_have_value(QUESTION)
    with asker.expect_navigation():
        asker.get_by_role("button", name="Post question").click()
    expect(asker.locator(".flash.flash-info")).to_have_text("This question was already posted: here it is.")
    assert asker.url.split("?")[0] == thread_url
    asker.goto(f"{demo.url}/questions?show=unanswered")
    expect(asker.locator("main").get_by_role("link", name=QUESTION, exact=True)).to_have_count(1)

    # The expert answers from the forum's unanswered questions.
    expert = people(demo.url, "expert@example.com")
    expert.get_by_role("navigation", name="Main").get_by_role("link", name="Forum", exact=True).click()
    expert.locator("main").get_by_role("link", name=QUESTION, exact=True).click()
    expert.fill("#answer-body", ANSWER)
    with expert.expect_navigation():
        expert.get_by_role("button", name="Post answer").click()
    expect(expert.locator(".answers")).to_contain_text("Refund the renewal in full")

    # The asker is told; the notification leads to the answer; they accept it.
    asker.goto(f"{demo.url}/inbox")
    answered = asker.locator(".inbox-list .unread", has_text=f"Erin Expert answered your question “{QUESTION}”.")
    expect(answered).to_have_count(1)
    fits(asker)
    answered.get_by_role("button").click()
    expect(asker.locator("h1")).to_have_text(QUESTION)
    expect(asker.locator(".question .badge-forum-answered")).to_have_text("answered")
    answer = asker.locator("article.answer", has_text="Refund the renewal in full")
    expect(answer.locator(".badge-draft, .badge-in_review")).to_have_count(0)  # forum words, not workflow ones
    with asker.expect_navigation():
        answer.get_by_role("button", name="Accept this answer").click()
    expect(asker.locator(".question .badge-forum-accepted")).to_have_text("accepted")
    expect(asker.locator("article.answer.accepted")).to_contain_text("Accepted answer")
    fits(asker)

    # The expert is told the answer was accepted, and turns it into an article.
    expert.goto(f"{demo.url}/inbox")
    accepted = expert.locator(".inbox-list .unread", has_text=f"Alex Agent accepted your answer to “{QUESTION}”.")
    expect(accepted).to_have_count(1)
    accepted.get_by_role("button").click()
    expect(expert.locator("h1")).to_have_text(QUESTION)
    with expert.expect_navigation():
        expert.locator("article.answer.accepted").get_by_role("button", name="Turn into an article").click()
    # The new draft opens in the editor, with the answer's text and a link back to the thread.
    expect(expert.locator("h1")).to_have_text("Edit article")
    article_title = expert.locator("#title").input_value()
    assert article_title
    expect(expert.locator("#body")).to_have_value(re.compile("Refund the renewal in full"))
    expect(expert.locator("#preview")).to_contain_text("Based on the answer by Erin Expert")
    fits(expert)
    expert.goto(thread_url)
    expect(expert.locator("article.answer.accepted .promoted")).to_have_text(f"Turned into an article: {article_title}")
    expect(expert.get_by_role("button", name="Turn into an article")).to_have_count(0)

    # The asker sees that it became an article (a draft they may not open yet, so no title).
    asker.goto(thread_url)
    expect(asker.locator("article.answer.accepted .promoted")).to_have_text(
        "Turned into an article (a draft, not published yet).")
