"""The forum in a real Chromium: ask, answer from other browsers, accept, turn an answer into an article.

Runs on every ``engine`` backend (SQLite, and PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000  # as the ``page`` fixture's

QUESTION_TITLE = "Can a customer return an opened headset?"
ADA_ANSWER = "Only if it is faulty: opened headsets are **hygiene items**."
EVE_ANSWER = "Yes, within 14 days, if it is returned with all its parts.\n\n- Check the ear pads\n- Refund by card"


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture
def someone_else(browser, live_server, login_as):
    """``someone_else(user)``: that person signed in in their own browser context (closed after the test).

    Like the ``page`` fixture, the test fails if such a page had JS errors or failed loads.
    """
    contexts = []
    problems: list[str] = []

    def _open(user):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        who = user.display_name
        page.on("pageerror", lambda error: problems.append(f"{who}: page error: {error}"))
        page.on("console", lambda m: problems.append(f"{who}: console error: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("response", lambda r: problems.append(f"{who}: {r.request.resource_type} {r.url} answered {r.status}")
                if r.status >= 400 else None)
        login_as(page, live_server, user.email, PASSWORD)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not problems, "other people's pages had errors:\n" + "\n".join(problems)


def _answer(page, live_server, question_path: str, text: str, shown: str) -> int:
    page.goto(f"{live_server}{question_path}")
    page.fill("#answer-body", text)
    with page.expect_navigation():
        page.get_by_role("button", name="Post answer").click()
    match = re.fullmatch(re.escape(question_path) + r"#answer-(\d+)", _path(page.url))
    assert match, page.url
    answer_id = int(match.group(1))
    expect(page.locator(f"#answer-{answer_id} .prose")).to_contain_text(shown)
    return answer_id


def test_question_answers_accepted_answer_becomes_a_credited_article(page, live_server, login_as, someone_else,
                                                                       make_user):
    asker = make_user("agent", name="Sam Agent")
    ada = make_user("author", name="Ada Author")
    eve = make_user("expert", name="Eve Expert")

    # The agent asks.
    login_as(page, live_server, asker.email, PASSWORD)
    page.goto(f"{live_server}/questions/ask")
    page.fill("#title", QUESTION_TITLE)
    page.fill("#body", "The customer opened the box and tried it once.")
    page.fill("#tags", "returns, headsets")
    with page.expect_navigation():
        page.get_by_role("button", name="Post question").click()
    question_path = _path(page.url)
    assert re.fullmatch(r"/questions/\d+", question_path), page.url
    question_id = int(question_path.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_have_text(QUESTION_TITLE)
    expect(page.locator(".answers h2")).to_have_text("0 answers")
    expect(page.get_by_role("heading", name="Your answer")).to_have_count(0)  # agents ask, they do not answer

    # Two people answer, each in their own browser.
    ada_page, eve_page = someone_else(ada), someone_else(eve)
    ada_answer = _answer(ada_page, live_server, question_path, ADA_ANSWER, "opened headsets are hygiene items.")
    eve_answer = _answer(eve_page, live_server, question_path, EVE_ANSWER, "Refund by card")
    assert eve_answer != ada_answer

    # The agent sees both, oldest first, and accepts the second one.
    page.reload()
    answers = page.locator("article.answer")
    expect(page.locator(".answers h2")).to_have_text("2 answers")
    expect(answers).to_have_count(2)
    expect(answers.nth(0)).to_have_id(f"answer-{ada_answer}")
    expect(answers.nth(0)).to_contain_text("answered by Ada Author")
    expect(answers.nth(1)).to_have_id(f"answer-{eve_answer}")
    expect(page.get_by_text("Accepted answer")).to_have_count(0)
    expect(page.get_by_role("button", name="Turn into an article")).to_have_count(0)  # agents write no articles
    with page.expect_navigation():
        page.locator(f"#answer-{eve_answer}").get_by_role("button", name="Accept this answer").click()
    assert _path(page.url) == f"{question_path}#answer-{eve_answer}"
    expect(answers.nth(0)).to_have_id(f"answer-{eve_answer}")
    expect(answers.nth(0)).to_have_class(re.compile(r"\baccepted\b"))
    expect(answers.nth(0).locator(".badge", has_text="Accepted answer")).to_be_visible()
    expect(answers.nth(0)).to_contain_text("answered by Eve Expert")
    expect(answers.nth(1)).to_have_id(f"answer-{ada_answer}")
    expect(answers.nth(1)).not_to_contain_text("Accepted answer")
    expect(page.locator(f"#answer-{eve_answer}").get_by_role("button", name="Accept this answer")).to_have_count(0)
    expect(page.locator(f"#answer-{ada_answer}").get_by_role("button", name="Accept this answer")).to_have_count(1)

    # An author (Ada, still signed in in her browser) turns the accepted answer into an article.
    ada_page.goto(f"{live_server}{question_path}")
    accepted = ada_page.locator("article.answer").first
    expect(accepted).to_have_id(f"answer-{eve_answer}")
    expect(accepted).to_contain_text("Accepted answer")
    with ada_page.expect_navigation():
        accepted.get_by_role("button", name="Turn into an article").click()
    match = re.fullmatch(r"/entries/(\d+)/edit", _path(ada_page.url))
    assert match, ada_page.url
    article_id = int(match.group(1))
    expect(ada_page.locator("h1")).to_have_text("Edit article")
    expect(ada_page.locator("#title")).to_have_value(QUESTION_TITLE)
    expect(ada_page.locator("#tags")).to_have_value("returns, headsets")
    back_link = f"/questions/{question_id}#answer-{eve_answer}"
    body = ada_page.locator("#body").input_value()
    assert body.startswith(EVE_ANSWER), body
    assert "Eve Expert" in body
    assert f"[{QUESTION_TITLE}]({back_link})" in body
    preview = ada_page.locator("#preview")
    expect(preview).to_contain_text("Based on the answer by Eve Expert")
    expect(preview.get_by_role("link", name=QUESTION_TITLE)).to_have_attribute("href", back_link)

    with ada_page.expect_navigation():
        ada_page.get_by_role("button", name="Save").click()
    assert _path(ada_page.url) == f"/articles/{article_id}?saved=1"
    expect(ada_page.locator(".flash.flash-success")).to_have_text("Saved as a new revision.")
    expect(ada_page.locator("h1")).to_have_text(QUESTION_TITLE)
    credit = ada_page.locator(".flash.flash-info")
    expect(credit).to_have_text("Based on an answer by Eve Expert in the forum.")
    expect(credit.get_by_role("link", name="an answer by Eve Expert")).to_have_attribute("href", back_link)
    content = ada_page.locator(".prose#content")
    expect(content.locator("li")).to_have_text(["Check the ear pads", "Refund by card"])
    expect(content.get_by_role("link", name=QUESTION_TITLE)).to_have_attribute("href", back_link)

    # The credit leads back to the answer in its thread.
    with ada_page.expect_navigation():
        credit.get_by_role("link").click()
    assert _path(ada_page.url) == f"{question_path}#answer-{eve_answer}"
    expect(ada_page.locator(f"#answer-{eve_answer}")).to_contain_text("Accepted answer")
