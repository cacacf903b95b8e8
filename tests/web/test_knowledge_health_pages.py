"""The knowledge-health page and its CSV export, as experts, admins, agents and authors see them."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from expertise.health_export import TABLES
from expertise.models import ReputationEvent
from kb.clock import utcnow
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from search.factory import reset_backends
from search.models import SearchLog
from tests.helpers import login
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

QUERY = 'Refund & "lost" <parcel>'


def signed_in(app, user) -> TestClient:
    client = TestClient(app)
    login(client, user.email)
    return client


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture
def people(make_user):
    return {"agent": make_user("agent", name="Alex Agent"), "author": make_user("author", name="Avery Author"),
            "expert": make_user("expert", name="Erin Expert"), "admin": make_user("admin", name="Ada Admin")}


@pytest.fixture
def fresh_search_index():
    reset_backends()
    yield
    reset_backends()


def test_only_experts_and_admins_open_the_dashboard(app, people):
    for role in ("agent", "author"):
        client = signed_in(app, people[role])
        page = client.get("/knowledge-health")
        assert page.status_code == 403
        assert "for experts and administrators" in page.text
        assert client.get("/knowledge-health/flags.csv").status_code == 403
        assert "Knowledge health" not in client.get("/").text  # no nav item
    for role in ("expert", "admin"):
        client = signed_in(app, people[role])
        page = client.get("/knowledge-health")
        assert page.status_code == 200
        assert re.search(r'<a href="/knowledge-health" aria-current="page">Knowledge health</a>', page.text)
    anonymous = TestClient(app).get("/knowledge-health", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_period_selector_and_a_period_that_does_not_exist(app, people):
    client = signed_in(app, people["expert"])
    page = client.get("/knowledge-health?days=7").text
    assert '<a class="button" href="/knowledge-health?days=7" aria-current="page">Last 7 days</a>' in page
    assert 'href="/knowledge-health/flags.csv?days=7"' in page
    refused = client.get("/knowledge-health?days=365")
    assert refused.status_code == 422 and "Choose a period of 7, 30 or 90 days." in refused.text
    assert client.get("/knowledge-health/flags.csv?days=abc").status_code == 422


def test_a_failed_search_on_the_search_page_opens_a_prefilled_editor(app, people, fresh_search_index):
    agent = signed_in(app, people["agent"])
    assert agent.get("/search", params={"q": QUERY}).status_code == 200
    expert = signed_in(app, people["expert"])
    page = expert.get("/knowledge-health").text
    row = re.search(r'<tr>\s*<td class="query">(.*?)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>', page)
    assert row and html.unescape(row.group(1)) == QUERY
    assert row.groups()[1:] == ("1", "1", "0", "1")  # failed, no results, no click, people
    link = re.search(r'<a href="(/articles/new\?[^"]+)">Write an article</a>', page)
    assert link, "the failed search has a 'Write an article' link"
    editor = expert.get(html.unescape(link.group(1)))
    assert editor.status_code == 200
    value = re.search(r'<input id="title" name="title" type="text" maxlength="200" value="([^"]*)"', editor.text)
    assert value and html.unescape(value.group(1)) == QUERY  # escaped in the page, the same text in the field
    assert "<parcel>" not in editor.text
    ask = re.search(r'<a href="(/questions/ask\?[^"]+)">Ask the forum</a>', page)
    assert ask and QUERY in html.unescape(expert.get(html.unescape(ask.group(1))).text)


def test_the_page_draws_accessible_charts_without_inline_styles_or_scripts(app, people, db):
    db.add(SearchLog(user_id=people["agent"].id, query="gift card", normalised="gift card", result_count=0))
    entry = create_article(session=db, actor=people["author"], data=ArticleCreate(
        title="Gift cards", body="Balances never expire.", tags=["payments"]))
    designate_expert(session=db, actor=SYSTEM, topic="payments", user=people["expert"])
    for who, action in (("author", Action.submit), ("expert", Action.approve), ("expert", Action.certify)):
        transition(session=db, actor=people[who], revision_id=entry.latest_revision_id, action=action)
    db.commit()
    page = signed_in(app, people["admin"]).get("/knowledge-health").text
    for chart in ("chart-searches", "chart-time-to-certify", "chart-backlog"):
        svg = re.search(rf'<svg [^>]*id="{chart}"[^>]*>(.*?)</svg>', page, re.S)
        assert svg and 'role="img"' in svg.group(0) and f'aria-labelledby="{chart}-title {chart}-desc"' in svg.group(0)
        assert f'<title id="{chart}-title">' in svg.group(1) and f'<desc id="{chart}-desc">' in svg.group(1)
    assert "1 searches" in text_of(page) and "of which 1 failed (100%)" in text_of(page)
    assert "payments 0.0 h (p90 0.0 h)" in text_of(page)
    assert " style=" not in page and "<style" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # only scripts loaded from files
    for table in TABLES:
        assert f'href="/knowledge-health/{table}.csv?days=30"' in page


def test_csv_export_has_headers_numbers_and_no_formulas(app, people, db):
    now = utcnow()
    db.add(SearchLog(user_id=people["agent"].id, query='=HYPERLINK("http://evil.example","click")',
                     normalised="hyperlink http evil example click", result_count=0, created_at=now - timedelta(hours=2)))
    db.add(SearchLog(user_id=people["author"].id, query="=HYPERLINK(1)", normalised="hyperlink http evil example click",
                     result_count=0, created_at=now - timedelta(days=10)))
    people["author"].display_name = "@SUM(A1:A9)"
    db.add(people["author"])
    db.add(ReputationEvent(user_id=people["author"].id, kind="flag_upheld", points=-3, created_at=now - timedelta(days=1)))
    db.commit()
    client = signed_in(app, people["expert"])

    response = client.get("/knowledge-health/failed-searches.csv?days=7")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="knowledge-health-failed-searches-7d-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["content-disposition"])
    header, *data = list(csv.reader(io.StringIO(response.text)))
    assert header == ["query", "normalised_query", "failed_searches", "no_results", "results_but_no_click", "users",
                      "last_seen_utc"]
    assert len(data) == 1  # the older search is outside the 7 days
    assert data[0][:6] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "hyperlink http evil example click",
                           "1", "1", "0", "1"]
    # Over 30 days both searches count; numbers stay numbers, even negative ones.
    _, row = list(csv.reader(io.StringIO(client.get("/knowledge-health/failed-searches.csv?days=30").text)))
    assert row[2:6] == ["2", "2", "0", "2"]
    _, contributor = list(csv.reader(io.StringIO(client.get("/knowledge-health/top-contributors.csv").text)))
    assert contributor == ["'@SUM(A1:A9)", "-3", "1"]


def test_every_table_exports_and_an_unknown_one_is_not_found(app, people):
    client = signed_in(app, people["admin"])
    for table in TABLES:
        response = client.get(f"/knowledge-health/{table}.csv?days=90")
        assert response.status_code == 200, table
        assert f'filename="knowledge-health-{table}-90d-' in response.headers["content-disposition"]
        assert len(list(csv.reader(io.StringIO(response.text)))[0]) >= 2
    missing = client.get("/knowledge-health/passwords.csv")
    assert missing.status_code == 404 and "There is no knowledge-health table called" in missing.text


def test_a_long_failed_query_still_opens_the_editor_and_the_forum(app, people, db):
    long_query = "refund " * 60  # 420 characters: searches allow 500, titles 200
    db.add(SearchLog(user_id=people["agent"].id, query=long_query, normalised=long_query.strip(), result_count=0))
    db.commit()
    client = signed_in(app, people["expert"])
    page = client.get("/knowledge-health").text
    for label in ("Write an article", "Ask the forum"):
        link = re.search(rf'<a href="([^"]+)">{label}</a>', page)
        opened = client.get(html.unescape(link.group(1)))
        assert opened.status_code == 200, label
        assert long_query[:200].strip() in html.unescape(opened.text)


def test_a_search_log_formula_after_a_delimiter_is_neutralised_in_the_export(app, people, db):
    # Written as is on main: a spreadsheet splitting at ";" evaluated "=cmd|' /C calc'!A0".
    db.add(SearchLog(user_id=people["agent"].id, query="x;=cmd|' /C calc'!A0", normalised="x cmd c calc a0",
                     result_count=0, created_at=utcnow() - timedelta(hours=1)))
    db.commit()
    client = signed_in(app, people["expert"])
    text = client.get("/knowledge-health/failed-searches.csv?days=7").text
    assert "=cmd" not in text.replace("'=cmd", "")
    assert text.startswith('"query","normalised_query"')  # every cell quoted
    _, row = list(csv.reader(io.StringIO(text)))
    assert row[0] == "x;'=cmd|' /C calc'!A0"
