"""The helpdesk side panel (/panel): framing only for the configured helpdesks, cookies that work
inside their frame, answers only for a signed-in agent, certified only, and "Used to solve this
case" recorded once per ticket through the ratings service."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from expertise.models import Reuse
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from kb.settings import ConfigurationError, Settings, parse_origins
from search.factory import backend_for, reset_backends
from search.outbox import drain
from search.querylog import SearchLog
from search.service import TICKET_TEXT_CHARS, ticket_query
from tests.expertise.ratings_content import rated_content
from tests.helpers import TEST_SECRET, csrf_from, login, rows

ZENDESK = "https://acme.zendesk.com"
FRESHDESK = "https://acme.freshdesk.com"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, query_log_seconds=0, secure_cookies=True, panel_origins=f"{ZENDESK}, {FRESHDESK}/")


@pytest.fixture
def client(app):
    with TestClient(app, base_url="https://testserver") as c:  # the cookies are Secure
        yield c


@pytest.fixture
def content(db, engine, make_user, app):
    reset_backends()
    rated = rated_content(db, make_user)
    create_article(session=db, actor=rated.author, data=ArticleCreate(
        title="Zephyrine refund draft", body="A draft about cancelled order refunds.", tags=["refunds"]))
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield rated
    reset_backends()


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


TICKET = "/panel?subject=Refund+for+a+cancelled+order&text=Hello%2C+I+cancelled+my+order+last+week.&ticket=ZD-4711"


# --- framing ------------------------------------------------------------------------------------


def test_the_panel_may_be_framed_by_the_helpdesks_only(client):
    panel = client.get("/panel")
    assert panel.status_code == 200
    assert f"frame-ancestors {ZENDESK} {FRESHDESK}" in panel.headers["content-security-policy"]
    assert "x-frame-options" not in panel.headers
    assert "'none'" not in panel.headers["content-security-policy"].split("frame-ancestors")[1]
    for other in ("/login", "/search?q=x", "/no-such-page"):
        response = client.get(other)
        assert response.headers["x-frame-options"] == "DENY", other
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], other


def test_the_panel_cookies_are_kept_inside_the_helpdesks_frame(app):
    with TestClient(app, base_url="https://testserver") as fresh:
        seed = fresh.get("/panel").headers["set-cookie"]
        assert seed.startswith("kb_csrf=") and "SameSite=None" in seed and "Secure" in seed and "Partitioned" in seed
    with TestClient(app, base_url="https://testserver") as fresh:
        seed = fresh.get("/login").headers["set-cookie"]  # kb's own pages keep their cookies
        assert "SameSite=Lax" in seed and "Partitioned" not in seed


def test_without_helpdesks_no_page_may_be_framed(engine, db, tmp_path):
    from web.app import create_app

    plain = create_app(Settings(env="development", data_dir=tmp_path / "plain", secret_key=TEST_SECRET,
                                periodic_seconds=0, semantic=False), engine=engine)
    with TestClient(plain) as client:
        panel = client.get("/panel")
        assert panel.status_code == 200 and panel.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in panel.headers["content-security-policy"]
        assert "SameSite=Lax" in panel.headers["set-cookie"] and "Partitioned" not in panel.headers["set-cookie"]


@pytest.mark.parametrize(("value", "says"), [
    ("https://*.zendesk.com", "is not an origin"),
    ("https://acme.zendesk.com/agent", "is not an origin"),
    ("acme.zendesk.com", "is not an origin"),
    ("http://acme.zendesk.com", "is not HTTPS"),
    ("https://acme.zendesk.com:70000", "is not an origin"),
])
def test_a_wrong_helpdesk_origin_stops_kb_at_startup(tmp_path, value, says):
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        Settings(data_dir=tmp_path, secure_cookies=True, panel_origins=value)


def test_helpdesk_origins_need_secure_cookies(tmp_path):
    with pytest.raises(ConfigurationError, match="KB_PANEL_ORIGINS needs secure cookies"):
        Settings(data_dir=tmp_path, panel_origins=ZENDESK)
    assert parse_origins(" https://A.zendesk.com/ ,http://localhost:8001,, https://a.zendesk.com") == (
        "https://a.zendesk.com", "http://localhost:8001")


# --- answers -------------------------------------------------------------------------------------


def test_signed_out_the_panel_asks_to_sign_in_and_shows_no_answer(client, content):
    page = client.get(TICKET).text
    assert "Sign in to see answers" in page and 'action="/panel/login"' in page
    assert "Refund a cancelled order" not in page and "data-copy-answer" not in page
    # The sign-in leads back to this ticket (a long text only as far as it is searched).
    assert 'name="next" value="/panel?subject=Refund+for+a+cancelled+order&amp;' in page
    long_page = client.get("/panel", params={"subject": "Refund", "text": "x" * 15_000}).text
    next_url = html.unescape(re.search(r'name="next" value="([^"]*)"', long_page).group(1))
    assert next_url == f"/panel?subject=Refund&text={'x' * (TICKET_TEXT_CHARS + 1)}&ticket="


def test_an_agent_sees_the_certified_answers_for_a_ticket(client, content):
    login(client, content.agent.email)
    page = client.get(TICKET).text
    titles = result_titles(page)
    assert "Refund a cancelled order" in titles and "Re: Refund after ten days?" in titles
    assert not any("Zephyrine" in t for t in titles)  # a draft never appears
    assert f'data-copy-answer="{content.article.id}" data-source="panel" data-case-field="panel-case"' in page
    assert f'data-solved-case="{content.answer.id}"' in page  # a question: its accepted, certified answer
    assert 'id="panel-case" name="ticket" type="text" maxlength="100" autocomplete="off" value="ZD-4711"' in page
    assert 'target="_blank"' in page and f"/search/click?entry={content.article.id}" in page
    assert f'data-panel-origins="[&#34;{ZENDESK}&#34;, &#34;{FRESHDESK}&#34;]"' in page
    logged = rows(client.app.state.sessionmaker(), SearchLog)
    assert logged[-1].query == "Refund for a cancelled order\nHello, I cancelled my order last week."


def result_titles(page: str) -> list[str]:
    return [text_of(t) for t in re.findall(r'<a class="title"[^>]*>(.*?)</a>', page, re.S)]


def test_drafts_never_appear_even_for_their_author(client, content):
    login(client, content.author.email)
    assert "Zephyrine refund draft" in text_of(client.get("/search?q=zephyrine&drafts=true").text)  # the search page shows it
    page = client.get("/panel?subject=Zephyrine").text
    assert "No certified answer found for this ticket" in page
    titles = result_titles(client.get("/panel?subject=Zephyrine+refund+draft&text=cancelled+order").text)
    assert titles and not any("Zephyrine" in t for t in titles)


def test_a_long_ticket_text_is_searched_from_its_start(client, content):
    login(client, content.agent.email)
    long_text = "I cancelled my order and want a refund. " + "blah " * 1000
    page = client.get("/panel", params={"subject": "Refund", "text": long_text, "ticket": "ZD-1"}).text
    assert "its first 2,000 characters were searched" in page
    assert ticket_query(subject=" Refund ", text=long_text) == "Refund\n" + long_text.strip()[:TICKET_TEXT_CHARS]


@pytest.mark.parametrize(("params", "says"), [
    ({"ticket": "T" * 101}, "Ticket is too long: at most 100 characters."),
    ({"subject": "s" * 501}, "Subject is too long: at most 500 characters."),
    ({"text": "t" * 20_001}, "Text is too long: at most 20000 characters."),
])
def test_bad_input_is_a_sentence(client, content, params, says):
    login(client, content.agent.email)
    response = client.get("/panel", params=params)
    assert response.status_code == 422 and says in text_of(response.text)


def test_used_to_solve_this_case_records_the_ticket_once(client, db, content):
    login(client, content.agent.email)
    token = csrf_from(client.get(TICKET).text)
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    # "Copy answer" first (copy_answer.js sends the ticket), then "Used to solve this case": one case.
    for _ in range(2):
        recorded = client.post(f"/entries/{content.article.id}/reuse", headers=headers,
                               data={"case_ref": "ZD-4711", "source": "panel"})
        assert recorded.status_code == 201
        assert recorded.json()["message"] == "Recorded: used to solve case ZD-4711."
        assert recorded.json()["reuse_count"] == 1
    reuses = rows(db, Reuse, entry_id=content.article.id)
    assert [(r.case_ref, r.source, r.user_id) for r in reuses] == [("ZD-4711", "panel", content.agent.id)]
    refused = client.post(f"/entries/{content.article.id}/reuse", data={"case_ref": "ZD-4711", "source": "panel"},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 403  # no CSRF token


# --- signing in inside the frame ---------------------------------------------------------------------


def test_signing_in_inside_the_frame(client, content):
    page = client.get(TICKET).text
    next_url = html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))
    wrong = client.post("/panel/login", data={"email": content.agent.email, "password": "nope",
                                              "next": next_url, "csrf_token": csrf_from(page)})
    assert wrong.status_code == 401 and "Sign in to see answers" in wrong.text
    assert "x-frame-options" not in wrong.headers  # the answer still shows inside the frame
    signed = client.post("/panel/login", data={"email": content.agent.email, "password": "correct-horse-battery",
                                               "next": next_url, "csrf_token": csrf_from(page)},
                         follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == next_url
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("kb_session=") and "SameSite=none" in cookie and "Secure" in cookie
    assert "Partitioned" in cookie and "HttpOnly" in cookie
    assert "Refund a cancelled order" in text_of(client.get(next_url).text)
    signed_out = client.post("/panel/logout", data={"csrf_token": csrf_from(client.get("/panel").text)},
                             follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/panel"
    client.cookies.clear()
    assert "Sign in to see answers" in client.get(TICKET).text


@pytest.mark.parametrize("target", ["https://evil.example/panel", "//evil.example/panel", "/search?q=x", "/panelx"])
def test_the_panel_sign_in_only_leads_to_the_panel(client, content, target):
    page = client.get("/panel").text
    signed = client.post("/panel/login", data={"email": content.agent.email, "password": "correct-horse-battery",
                                               "next": target, "csrf_token": csrf_from(page)},
                         follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/panel"
