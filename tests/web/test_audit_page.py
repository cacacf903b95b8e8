"""The audit trail page (/admin/audit) and its CSV: filters, pages, entry titles, administrators only."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import login
from workflow.models import Action
from workflow.policy import set_policy
from workflow.service import transition


@pytest.fixture
def world(db, make_user):
    admin = make_user("admin", name="Ada Admin")
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    entries = []
    for title in ("Parcel lost in transit", "Refund a <b>double</b> charge"):
        entry = create_article(session=db, actor=author, data=ArticleCreate(title=title, body="Text.",
                                                                           tags=["billing"]))
        transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)
        entries.append(entry)
    transition(session=db, actor=expert, revision_id=entries[1].latest_revision_id, action=Action.approve,
               comment="Clear steps.")
    db.commit()
    return {"admin": admin, "author": author, "expert": expert, "parcel": entries[0], "refund": entries[1]}


@pytest.fixture
def admin(client, world):
    login(client, world["admin"].email)
    return client


def _rows(page_html: str) -> list[str]:
    body = page_html.split('<table class="list audit-trail">', 1)
    return re.findall(r'<tr data-action="([^"]+)">', body[1]) if len(body) == 2 else []


def test_the_page_shows_who_what_when_and_the_entry_title_linked(admin, world):
    response = admin.get("/admin/audit")
    assert response.status_code == 200
    page = response.text
    assert _rows(page)[:3] == ["approve", "submit", "submit"]  # newest first
    refund = world["refund"].id
    assert f'<a href="/articles/{refund}">Refund a &lt;b&gt;double&lt;/b&gt; charge</a>' in page
    assert "Erin Expert" in page and world["expert"].email in page and "Clear steps." in page
    assert "in review → approved" in page
    # What happened, in words; its code filters the page.
    assert re.search(r'<a href="/admin/audit\?action=approve" title="Only this action \(approve\)">Approved</a>', page)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', page)
    assert "command line" in page  # the fixture's users were created there
    assert "6 events." in page


@pytest.mark.parametrize(("query", "expected"), [
    ("who=erin", ["approve"]),
    ("who=Avery", ["submit", "submit"]),
    ("kind=review&entry=parcel", ["submit"]),
    ("kind=admin", ["user.create"] * 3),
    ("action=approve", ["approve"]),
    ("start=2020-01-01&end=2020-12-31", []),
    ("kind=&who=&entry=&start=&end=", ["approve", "submit", "submit"] + ["user.create"] * 3),  # an empty form
])
def test_filters(admin, query, expected):
    response = admin.get(f"/admin/audit?{query}")
    assert response.status_code == 200
    assert _rows(response.text) == expected
    if not expected:
        assert "No events match these filters." in response.text


def test_filter_by_entry_number_and_the_form_keeps_the_values(admin, world):
    refund = world["refund"].id
    page = admin.get(f"/admin/audit?entry={refund}&who=erin").text
    assert _rows(page) == ["approve"]
    assert f'name="entry" type="search" value="{refund}"' in page and 'name="who" type="search" value="erin"' in page
    # The CSV link carries the same filters.
    link = html.unescape(re.search(r'href="(/admin/audit\.csv[^"]*)"', page).group(1))
    assert f"entry={refund}" in link and "who=erin" in link


def test_pages_with_a_bounded_size(admin, db, world):
    for n in range(30):
        set_policy(session=db, actor=world["admin"], topic="billing", required_approvals=1 + n % 2,
                   validity_days=30, reminder_days=7, approval_certifies=False, experts_only_review=False)
    db.commit()
    first = admin.get("/admin/audit?kind=policy&size=25").text
    assert len(_rows(first)) == 25 and "30 events; page 1 of 2." in first
    older = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert "kind=policy" in older and "size=25" in older and older.endswith("page=2")
    second = admin.get(older).text
    assert len(_rows(second)) == 5 and 'rel="prev"' in second and 'rel="next"' not in second
    for bad in ("size=100000", "page=100000"):
        response = admin.get(f"/admin/audit?{bad}")
        assert response.status_code == 422 and 'class="form-errors"' in response.text, bad
    assert "narrow the filters" in admin.get("/admin/audit?page=100000").text


@pytest.mark.parametrize(("query", "message"), [
    ("start=yesterday", "is not a date"),
    ("start=2026-02-01&end=2026-01-01", "The end date must not be before the start date."),
    ("kind=everything", "Choose a kind of event from the list."),
])
def test_bad_filters_are_explained_on_the_page(admin, query, message):
    response = admin.get(f"/admin/audit?{query}")
    assert response.status_code == 422 and message in response.text
    assert 'aria-invalid="true"' in response.text


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_only_administrators(client, make_user, world, role):
    login(client, make_user(role).email)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit?who=erin").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403


def test_the_csv_has_entry_titles_and_the_page_filters(admin, world):
    response = admin.get("/admin/audit.csv?kind=review")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="kb-audit-all.csv"' in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["action"], r["entry_title"], r["actor"]) for r in table] == [
        ("submit", "Parcel lost in transit", world["author"].email),
        ("submit", "Refund a <b>double</b> charge", world["author"].email),
        ("approve", "Refund a <b>double</b> charge", world["expert"].email)]
    ranged = admin.get("/admin/audit.csv?start=2026-01-01&end=2026-01-31")
    assert 'filename="kb-audit-2026-01-01-2026-01-31.csv"' in ranged.headers["content-disposition"]
