"""Bad input gets a 4xx with a sentence, never a 500: huge ids, wrong types, NUL characters,
unknown values in forms, dates at the end of the calendar."""

from __future__ import annotations

import pytest

from tests.helpers import csrf_from, login

HUGE = [2**31, 2**63, 10**30]  # past PostgreSQL's INTEGER, past SQLite's and any driver's


@pytest.fixture
def author(make_user):
    return make_user("author", "expert", "admin")


@pytest.fixture
def signed_in(client, author):
    assert login(client, author.email).status_code == 303
    return client


def _article(client, headers, **fields):
    return client.post("/api/v1/articles", headers=headers,
                       json={"title": "Refunds", "body": "Within 30 days.", "tags": ["refunds"], **fields})


@pytest.mark.parametrize("number", HUGE)
def test_huge_ids_in_api_paths_and_queries_are_422(client, author, bearer, number):
    headers = bearer(author)
    for path in (f"/api/v1/entries/{number}", f"/api/v1/revisions/{number}",
                 f"/api/v1/revisions/1/diff?against={number}", f"/api/v1/questions/{number}/answers"):
        response = client.get(path, headers=headers)
        assert response.status_code == 422, path
        assert response.json()["errors"]
    edit = {"title": "t", "body": "b", "tags": [], "base_revision_id": number}
    entry = _article(client, headers).json()
    response = client.post(f"/api/v1/entries/{entry['id']}/revisions", json=edit, headers=headers)
    assert response.status_code == 422 and "base_revision_id" in response.json()["errors"]


@pytest.mark.parametrize("number", HUGE)
def test_huge_ids_in_pages_are_4xx_with_a_sentence(signed_in, number):
    for path in (f"/entries/{number}", f"/entries/{number}/edit", f"/review/{number}", f"/questions/{number}"):
        response = signed_in.get(path)
        assert 400 <= response.status_code < 500, path
        assert "Something went wrong" not in response.text


@pytest.mark.parametrize("tags", [5, [1, 2], None, {"a": 1}, [["x"]], True])
def test_tags_of_the_wrong_type_are_422(client, author, bearer, tags):
    response = _article(client, bearer(author), tags=tags)
    assert response.status_code == 422
    assert "list of words" in response.json()["errors"]["tags"]


def test_tags_as_a_comma_separated_string_are_documented_and_accepted(client, author, bearer):
    response = _article(client, bearer(author), tags="Refunds, billing")
    assert response.status_code == 201 and response.json()["revision"]["tags"] == ["refunds", "billing"]
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["ArticleCreate"]
    assert {"type": "string"} in schema["properties"]["tags"]["anyOf"]


@pytest.mark.parametrize("field", ["title", "body"])
def test_nul_characters_are_422_on_every_database(client, author, bearer, field):
    response = _article(client, bearer(author), **{field: "Refunds\x00 within 30 days"})
    assert response.status_code == 422
    assert "NUL character" in response.json()["detail"]


def test_nul_characters_in_queries_are_not_500(client, author, bearer):
    headers = bearer(author)
    for path in ("/api/v1/questions?tag=a%00b", "/api/v1/search?tag=a%00b&q=x", "/api/v1/experts?q=a%00b"):
        response = client.get(path, headers=headers)
        assert response.status_code < 500, path


def test_autosave_refuses_unknown_kinds_and_base_revisions(signed_in, client, author, bearer):
    token = csrf_from(signed_in.get("/articles/new").text)
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    response = signed_in.post("/drafts/autosave", data={"kind": "bogus", "body": "x"}, headers=headers)
    assert response.status_code == 422 and "bogus" in response.json()["detail"]
    entry = _article(client, bearer(author)).json()
    for base in (999_999, 2**63, entry["revision"]["id"]):
        data = {"kind": "article", "body": "x", "base_revision_id": str(base)}
        response = signed_in.post("/drafts/autosave", data=data, headers=headers)  # no entry: no base
        assert response.status_code == 422, base
    data = {"entry_id": str(entry["id"]), "body": "x", "base_revision_id": "999999"}
    response = signed_in.post("/drafts/autosave", data=data, headers=headers)
    assert response.status_code == 422 and response.json()["field"] == "base_revision_id"
    data["base_revision_id"] = str(entry["revision"]["id"])
    assert signed_in.post("/drafts/autosave", data=data, headers=headers).status_code == 200


def test_audit_export_to_the_last_day_of_the_calendar(signed_in):
    response = signed_in.get("/admin/audit.csv?start=2020-01-01&end=9999-12-31")
    assert 400 <= response.status_code < 500 or response.status_code == 200
    assert "Something went wrong" not in response.text
    export = signed_in.get("/admin/audit.csv?start=2020-01-01&end=2999-12-31")
    assert export.status_code == 200 and export.text.startswith('"')  # every cell quoted
