"""The content API: articles, revisions with conflict detection, diffs, forum."""

import pytest
from kb.accounts.actors import SYSTEM


@pytest.fixture
def author(make_user):
    return make_user("author", name="Avery Author")


def _article(client, headers, **fields):
    body = {"title": "Refunds after 30 days", "body": "Refunds are possible within **30 days**.",
            "tags": ["Refunds", "billing"], **fields}
    return client.post("/api/v1/articles", json=body, headers=headers)


def test_create_article_returns_the_entry_with_its_first_revision(client, author, bearer):
    response = _article(client, bearer(author))
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "article"
    assert body["revision"]["number"] == 1 and body["revision"]["state"] == "draft"
    assert body["revision"]["tags"] == ["refunds", "billing"]
    assert body["latest_revision_id"] == body["revision"]["id"]


def test_revisions_and_409_on_stale_base(client, author, bearer):
    headers = bearer(author)
    entry = _article(client, headers).json()
    base = entry["revision"]["id"]
    edit = {"title": "Refunds after 30 days", "body": "Refunds within 14 days for electronics.", "tags": ["refunds"],
            "base_revision_id": base}
    first = client.post(f"/api/v1/entries/{entry['id']}/revisions", json=edit, headers=headers)
    assert first.status_code == 201 and first.json()["number"] == 2 and first.json()["parent_id"] == base
    stale = client.post(f"/api/v1/entries/{entry['id']}/revisions", json={**edit, "body": "Other"}, headers=headers)
    assert stale.status_code == 409
    assert stale.json()["latest_revision_id"] == first.json()["id"]
    assert "newer version" in stale.json()["detail"]
    revisions = client.get(f"/api/v1/entries/{entry['id']}/revisions", headers=headers).json()
    assert [r["number"] for r in revisions] == [2, 1]
    diff = client.get(f"/api/v1/revisions/{first.json()['id']}/diff?against={base}", headers=headers).json()
    assert "<ins>" in diff["body"] and "<del>" in diff["body"]


def test_diff_of_large_revisions_is_bounded_and_says_so(client, author, bearer):
    # 110 s on main: the word diff of two 40 kB bodies made of the same two words.
    from kb.content.diff import TOO_LARGE_NOTICE
    from tests.helpers import cpu_budget

    headers = bearer(author)
    entry = _article(client, headers, body="a b " * 10_000).json()
    base = entry["revision"]["id"]
    edit = {"title": "Refunds after 30 days", "body": "b a " * 10_000, "tags": ["refunds"], "base_revision_id": base}
    second = client.post(f"/api/v1/entries/{entry['id']}/revisions", json=edit, headers=headers).json()
    with cpu_budget(5.0, "the diff API on two 40 kB revisions"):
        diff = client.get(f"/api/v1/revisions/{second['id']}/diff?against={base}", headers=headers)
    assert diff.status_code == 200
    assert TOO_LARGE_NOTICE in diff.json()["body"]


def test_drafts_are_404_for_others_over_the_api(client, author, make_user, bearer):
    entry = _article(client, bearer(author)).json()
    agent_headers = bearer(make_user("agent"))
    assert client.get(f"/api/v1/entries/{entry['id']}", headers=agent_headers).status_code == 404
    assert client.get(f"/api/v1/entries/{entry['id']}/revisions", headers=agent_headers).status_code == 404
    admin_headers = bearer(make_user("admin"))
    assert client.get(f"/api/v1/entries/{entry['id']}", headers=admin_headers).status_code == 200


def test_agents_cannot_create_articles(client, make_user, bearer):
    response = _article(client, bearer(make_user("agent")))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [({"title": ""}, 422, "title"), ({"body": ""}, 422, "body"), ({"tags": ["x" * 60]}, 422, "tags"),
     ({"body": "a" * 200_001}, 413, "body")],
)
def test_bad_articles_get_clear_errors(client, author, bearer, fields, status, field):
    response = _article(client, bearer(author), **fields)
    assert response.status_code == status
    body = response.json()
    assert body["detail"]
    assert field in body.get("errors", {}) or body.get("field") == field


def test_forum_flow_over_the_api(client, make_user, bearer):
    asker, first, second = make_user("agent"), make_user("author"), make_user("expert")
    asker_h, first_h, second_h = bearer(asker), bearer(first), bearer(second)
    question = client.post("/api/v1/questions", json={"title": "Refund after 10 days?", "body": "Customer cancelled.",
                                                       "tags": ["refunds"]}, headers=asker_h)
    assert question.status_code == 201
    qid = question.json()["id"]
    a1 = client.post(f"/api/v1/questions/{qid}/answers", json={"body": "Yes, within 30 days."}, headers=first_h)
    a2 = client.post(f"/api/v1/questions/{qid}/answers", json={"body": "Check the order state."}, headers=second_h)
    assert a1.status_code == 201 and a2.status_code == 201
    assert a1.json()["revision"]["tags"] == ["refunds"]
    # An agent asks but does not answer; only the asker (or an expert) accepts.
    assert client.post(f"/api/v1/questions/{qid}/answers", json={"body": "me too"}, headers=asker_h).status_code == 403
    assert client.post(f"/api/v1/answers/{a1.json()['id']}/accept", headers=first_h).status_code == 403
    accepted = client.post(f"/api/v1/answers/{a1.json()['id']}/accept", headers=asker_h)
    assert accepted.status_code == 200 and accepted.json()["accepted_answer_id"] == a1.json()["id"]
    answers = client.get(f"/api/v1/questions/{qid}/answers", headers=asker_h).json()
    assert [a["id"] for a in answers] == [a1.json()["id"], a2.json()["id"]]
    promoted = client.post(f"/api/v1/answers/{a1.json()['id']}/promote", headers=second_h)
    assert promoted.status_code == 201
    article = promoted.json()
    assert article["kind"] == "article" and article["promoted_from_id"] == a1.json()["id"]
    assert article["revision"]["state"] == "draft"
    assert f"/questions/{qid}#answer-{a1.json()['id']}" in article["revision"]["body"]
    assert first.display_name in article["revision"]["body"]
    listed = client.get("/api/v1/questions?status=answered", headers=asker_h).json()
    assert [q["id"] for q in listed] == [qid]
    assert client.get("/api/v1/questions?status=unanswered", headers=asker_h).json() == []


def test_openapi_lists_the_content_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/articles", "/api/v1/entries/{entry_id}", "/api/v1/entries/{entry_id}/revisions",
                 "/api/v1/revisions/{revision_id}/diff", "/api/v1/questions", "/api/v1/questions/{question_id}/answers",
                 "/api/v1/answers/{answer_id}/accept", "/api/v1/answers/{answer_id}/promote"):
        assert path in paths, path



def test_a_private_draft_of_someone_else_is_no_conflict_and_never_named(client, db, author, make_user, bearer):
    """Issue 12, defect 5 over the API: writers build on the newest revision they may see. Someone
    else's private draft on top is neither a conflict nor named in a 409."""
    from workflow.policy import designate_expert

    expert, other = make_user("expert"), make_user("author")
    entry = _article(client, bearer(author)).json()
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    certified = entry["revision"]["id"]
    for who, action in ((author, "submit"), (expert, "approve"), (expert, "certify")):
        assert client.post(f"/api/v1/revisions/{certified}/{action}", headers=bearer(who)).status_code == 200
    private = client.post(f"/api/v1/entries/{entry['id']}/revisions", headers=bearer(author), json={
        "title": "Secret", "body": "Private plan.", "tags": ["refunds"], "base_revision_id": certified}).json()
    mine = client.post(f"/api/v1/entries/{entry['id']}/revisions", headers=bearer(other), json={
        "title": "Refunds after 30 days", "body": "Clearer text.", "tags": ["refunds"], "base_revision_id": certified})
    assert mine.status_code == 201, mine.text
    assert mine.json()["parent_id"] == certified and mine.json()["number"] == private["number"] + 1
    stale = client.post(f"/api/v1/entries/{entry['id']}/revisions", headers=bearer(other), json={
        "title": "Refunds after 30 days", "body": "Again.", "tags": ["refunds"], "base_revision_id": certified})
    assert stale.status_code == 409
    assert stale.json()["latest_revision_id"] == mine.json()["id"] != private["id"]
