"""Audiences through the app: an administrator makes a group on /admin/groups and fills it, the
author limits an article to it on the article page, and then only members (and the author and
admins) open it, find it or read it through the API."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from kb.accounts.actors import SYSTEM
from kb.accounts.models import UserGroup
from kb.content import service as content
from kb.content.schemas import ArticleCreate
from search.factory import backend_for
from search.outbox import drain
from tests.helpers import form_post, login, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def browse(app):
    clients = []

    def _as(user) -> TestClient:
        client = TestClient(app, base_url="http://testserver")
        clients.append(client)
        assert login(client, user.email).status_code == 303
        return client

    yield _as
    for client in clients:
        client.close()


@pytest.fixture
def world(db, make_user):
    people = {"author": make_user("author"), "member": make_user("agent", email="member@example.com"),
              "outsider": make_user("agent"), "expert": make_user("expert"), "admin": make_user("admin")}
    entry = content.create_article(session=db, actor=people["author"], data=ArticleCreate(
        title="Chargeback escalation", body="Forward Zebracode disputes to the bank.", tags=["disputes"]))
    designate_expert(session=db, actor=SYSTEM, topic="disputes", user=people["expert"])
    for actor, action in ((people["author"], Action.submit), (people["expert"], Action.approve),
                          (people["expert"], Action.certify)):
        transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    return people, entry


def test_admin_makes_a_group_and_the_author_limits_an_article_to_it(db, world, browse, settings, engine):
    people, entry = world
    admin = browse(people["admin"])
    created = form_post(admin, "/admin/groups", {"name": "Tier 2", "description": "Second line"}, page="/admin/groups")
    assert created.status_code == 303
    [group] = rows(db, UserGroup)
    again = form_post(admin, "/admin/groups", {"name": "tier 2"}, page="/admin/groups")
    assert again.status_code == 409 and "There is already a group called “Tier 2”." in text_of(again.text)
    nobody = form_post(admin, f"/admin/groups/{group.id}/members", {"email": "nobody@example.com"},
                       page=f"/admin/groups/{group.id}")
    assert nobody.status_code == 404 and "There is no account with that email address" in text_of(nobody.text)
    added = form_post(admin, f"/admin/groups/{group.id}/members", {"email": "member@example.com"},
                      page=f"/admin/groups/{group.id}")
    assert added.status_code == 303
    assert "member@example.com" in admin.get(f"/admin/groups/{group.id}").text

    author = browse(people["author"])
    page = author.get(f"/articles/{entry.id}").text
    assert "Visible to: Everyone" in text_of(page) and f'value="{group.id}"' in page
    saved = form_post(author, f"/entries/{entry.id}/audience", {"groups": [str(group.id)]},
                      page=f"/articles/{entry.id}")
    assert saved.status_code == 303
    page = author.get(saved.headers["location"]).text
    assert "Saved: visible to Tier 2." in text_of(page) and "Visible to: Tier 2" in text_of(page)
    assert "Visible to: Tier 2." in text_of(author.get(f"/entries/{entry.id}/audit").text)

    drain(engine=engine, backend=backend_for(settings))
    member, outsider, expert = browse(people["member"]), browse(people["outsider"]), browse(people["expert"])
    assert "Visible to: Tier 2" in text_of(member.get(f"/articles/{entry.id}").text)
    assert "Zebracode" in member.get("/search?q=zebracode").text
    for other in (outsider, expert):
        assert other.get(f"/articles/{entry.id}").status_code == 404
        assert "Zebracode" not in other.get("/search?q=zebracode").text
    refused = form_post(member, f"/entries/{entry.id}/audience", {"groups": []}, page="/")
    assert refused.status_code == 403


def test_the_api_reads_and_sets_the_audience_by_group_name(client, db, world, bearer):
    people, entry = world
    admin, author, outsider = bearer(people["admin"]), bearer(people["author"]), bearer(people["outsider"])
    made = client.post("/api/v1/groups", json={"name": "Billing team"}, headers=admin)
    assert made.status_code == 201 and made.json()["name"] == "Billing team"
    assert [g["name"] for g in client.get("/api/v1/groups", headers=author).json()] == ["Billing team"]
    assert client.get("/api/v1/groups", headers=outsider).status_code == 403

    unknown = client.put(f"/api/v1/entries/{entry.id}/audience", json={"groups": ["Tier 9"]}, headers=author)
    assert unknown.status_code == 422 and "There is no group called “tier 9”" in unknown.json()["detail"]
    limited = client.put(f"/api/v1/entries/{entry.id}/audience", json={"groups": ["billing TEAM"]}, headers=author)
    assert limited.status_code == 200
    assert limited.json()["audience"] == ["Billing team"] and limited.json()["limited_to_groups"] is True
    assert client.get(f"/api/v1/entries/{entry.id}", headers=outsider).status_code == 404

    new = client.post("/api/v1/articles", headers=author,
                      json={"title": "Night rota", "body": "Call Ann.", "audience": ["Billing team"]})
    assert new.status_code == 201 and new.json()["audience"] == ["Billing team"]
    opened = client.put(f"/api/v1/entries/{entry.id}/audience", json={"groups": []}, headers=author)
    assert opened.json()["audience"] == [] and opened.json()["limited_to_groups"] is False
    assert client.get(f"/api/v1/entries/{entry.id}", headers=outsider).status_code == 200


def test_deleting_a_group_asks_first_and_says_what_happens_to_its_entries(db, world, browse):
    people, entry = world
    admin = browse(people["admin"])
    form_post(admin, "/admin/groups", {"name": "Old team"}, page="/admin/groups")
    [group] = rows(db, UserGroup)
    form_post(admin, f"/entries/{entry.id}/audience", {"groups": [str(group.id)]}, page="/")
    confirm = text_of(admin.get(f"/admin/groups/{group.id}/delete").text)
    assert "1 entry is limited to this group" in confirm and "never shows anything to more people" in confirm
    deleted = form_post(admin, f"/admin/groups/{group.id}/delete", page="/admin/groups")
    assert deleted.status_code == 303 and rows(db, UserGroup) == []
    assert "Deleted the group “Old team”." in text_of(admin.get(deleted.headers["location"]).text)
    page = text_of(admin.get(f"/articles/{entry.id}").text)
    assert "Visible to: Only its authors and administrators" in page
    assert browse(people["member"]).get(f"/articles/{entry.id}").status_code == 404
