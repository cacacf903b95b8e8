"""The helpdesk side panel in a real Chromium, framed by a test "helpdesk" served from another site
(kb at http://127.0.0.1:P, the helpdesk at http://localhost:H: different sites, so kb is a third
party in the frame, as in Zendesk or Freshdesk). From the allowed helpdesk: sign in inside the frame,
the answers for the ticket, "Copy answer" and "Used to solve this case" recorded for the ticket, and
a ticket sent by postMessage. From a helpdesk that is not allowed: the browser refuses the frame."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from expertise.models import Reuse
from kb.settings import Settings
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.browser.conftest import CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS  # noqa: F401 - the same browser setup
from tests.expertise.ratings_content import rated_content
from tests.helpers import PASSWORD, TEST_SECRET, rows, serving

pytestmark = pytest.mark.browser

SUBJECT = "Refund for a cancelled order"
TEXT = "Hello, I cancelled my order last week and I still have no refund. " * 3


def _helpdesk_app(kb: dict) -> Starlette:
    """A stand-in helpdesk: a ticket page framing the panel (the ticket in the address), one that
    sends the ticket by postMessage when the panel says it is ready, and a page of another site
    that tries to send a ticket too (framed beside the panel)."""

    def ticket_page(request):
        src = f"{kb['url']}/panel?subject={quote(SUBJECT)}&text={quote(TEXT)}&ticket=ZD-4711"
        return HTMLResponse(f"<!doctype html><link rel=icon href=\"data:,\"><title>Ticket ZD-4711</title><h1>Ticket ZD-4711</h1>"
                            f"<iframe id=kb src='{src}' width=360 height=700 allow='clipboard-write'></iframe>")

    def messaging_page(request):
        sender = request.query_params.get("sender", "")
        return HTMLResponse(
            "<!doctype html><link rel=icon href=\"data:,\"><title>Ticket ZD-5000</title><h1>Ticket ZD-5000</h1>"
            f"<iframe id=kb src='{kb['url']}/panel' width=360 height=700></iframe>"
            + (f"<iframe id=other src='{sender}/sender'></iframe>" if sender else "")
            + "<script>window.addEventListener('message', (event) => {"
            f"  if (event.origin !== {json.dumps(kb['url'])} || event.data.type !== 'kb:ready') return;"
            "  document.body.dataset.ready = (Number(document.body.dataset.ready || 0) + 1).toString();"
            "  event.source.postMessage({type: 'kb:ticket', subject: 'Refund after ten days', "
            "    text: 'The customer cancelled after ten days and asks for a refund.', ticket: 'ZD-5000'}, event.origin);"
            "});</script>")

    def sender_page(request):  # another site, framed beside the panel: its messages must be ignored
        return HTMLResponse("<!doctype html><link rel=icon href=\"data:,\"><script>window.sendTicket = () => window.parent.frames[0].postMessage("
                            "{type: 'kb:ticket', subject: 'Zephyrine', text: '', ticket: 'EVIL-1'}, '*');</script>")

    return Starlette(routes=[Route("/ticket", ticket_page), Route("/messaging", messaging_page),
                             Route("/sender", sender_page)])


@pytest.fixture
def kb_address():
    return {}


@pytest.fixture
def helpdesk(kb_address):
    with serving(_helpdesk_app(kb_address)) as url:
        yield url.replace("127.0.0.1", "localhost")


@pytest.fixture
def other_site(kb_address):
    with serving(_helpdesk_app(kb_address)) as url:
        yield url.replace("127.0.0.1", "localhost")


@pytest.fixture
def settings(tmp_path, helpdesk) -> Settings:
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, secure_cookies=True, panel_origins=helpdesk)


@pytest.fixture
def content(db, engine, make_user, app, live_server, kb_address):
    reset_backends()
    rated = rated_content(db, make_user)
    drain(engine=engine, backend=backend_for(app.state.settings))
    kb_address["url"] = live_server
    yield rated
    reset_backends()


def _sign_in_inside(frame, email: str) -> None:
    expect(frame.get_by_role("heading", name="Sign in to see answers")).to_be_visible()
    frame.get_by_label("Email").fill(email)
    frame.get_by_label("Password").fill(PASSWORD)
    frame.get_by_role("button", name="Sign in").click()


def test_the_panel_in_an_allowed_helpdesk_shows_answers_and_records_the_case(page, helpdesk, live_server, db, content):
    for origin in (live_server, helpdesk):  # copied inside the frame, read back by the helpdesk page
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page.goto(f"{helpdesk}/ticket")
    panel = page.frame_locator("#kb")
    _sign_in_inside(panel, content.agent.email)  # kb's cookies work inside the helpdesk's frame

    article = panel.locator(".panel-result", has_text="Refund a cancelled order")
    expect(article).to_be_visible()
    expect(panel.get_by_label("Ticket (case reference)")).to_have_value("ZD-4711")
    assert "Sign in" not in panel.locator("main").inner_text()

    article.get_by_role("button", name="Copy answer").click()
    expect(article.get_by_role("status")).to_have_text("Copied — recorded as used")
    assert "full amount" in page.evaluate("navigator.clipboard.readText()")
    article.get_by_role("button", name="Used to solve this case").click()
    expect(article.get_by_role("status")).to_have_text("Recorded: used to solve case ZD-4711.")
    # One case is one reuse: the copy and the button are the same case, named after the ticket.
    reuses = rows(db, Reuse, entry_id=content.article.id)
    assert [(r.case_ref, r.source, r.user_id) for r in reuses] == [("ZD-4711", "panel", content.agent.id)]

    # The full article opens in a new tab: kb's own window, whose cookies are not the frame's
    # (partitioned), so it asks for kb's own sign-in on the way to the article.
    with page.context.expect_page() as opened:
        article.get_by_role("link", name="Refund a cancelled order").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.startswith(f"{live_server}/login?next=") and "/search/click" in tab.url, tab.url
    tab.close()


def test_a_ticket_sent_by_postmessage_updates_the_panel(page, helpdesk, other_site, db, content):
    page.goto(f"{helpdesk}/messaging?sender={quote(other_site)}")
    panel = page.frame_locator("#kb")
    _sign_in_inside(panel, content.agent.email)
    # Signed in, the panel says it is ready; the helpdesk sends the ticket; the panel shows its answers.
    expect(panel.get_by_label("Ticket (case reference)")).to_have_value("ZD-5000")
    expect(panel.locator(".panel-result", has_text="Refund after ten days?")).to_be_visible()
    expect(panel.get_by_label("Ticket subject")).to_have_value("Refund after ten days")

    # A message from a site that is not an allowed helpdesk changes nothing.
    # (The helpdesk answers every "kb:ready" with its ticket: the panel must not even reload.)
    loads = page.locator("body").get_attribute("data-ready")
    page.frame_locator("#other").locator("html").evaluate("() => window.sendTicket()")
    page.wait_for_timeout(1500)
    assert page.locator("body").get_attribute("data-ready") == loads
    expect(panel.get_by_label("Ticket (case reference)")).to_have_value("ZD-5000")
    expect(panel.get_by_label("Ticket subject")).to_have_value("Refund after ten days")


def test_a_helpdesk_that_is_not_allowed_cannot_frame_the_panel(browser, other_site, live_server, content):
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text))
        answered: list[int] = []
        page.on("response", lambda response: answered.append(response.status) if "/panel" in response.url else None)
        page.goto(f"{other_site}/ticket")
        page.wait_for_timeout(1000)
        frame = page.frames[1]
        assert answered == [200]  # kb answered; the browser refused to show it
        assert not frame.url.startswith(live_server)  # Chromium put its error page in the frame
        assert frame.evaluate("() => document.querySelector('.panel-main')") is None
        assert any("frame-ancestors" in text for text in messages), messages
    finally:
        context.close()
