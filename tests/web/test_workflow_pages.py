"""The review workflow through the pages and the API, as authors, experts and agents see it."""

import re

import pytest
from fastapi.testclient import TestClient

from kb.content.models import Revision
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import form_post, login, rows
from workflow.models import TopicExpert, WorkflowEvent
from workflow.policy import designate_expert
from kb.accounts.actors import SYSTEM


@pytest.fixture
def people(db, make_user):
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    agent = make_user("agent", name="Alex Agent")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refunds for cancelled orders", body="Refund within 30 days.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    return {"author": author, "expert": expert, "agent": agent, "entry": entry}


def browser(app, user):
    client = TestClient(app)
    login(client, user.email)
    return client


def test_author_to_certified_as_seen_by_everyone(app, db, people):
    entry = people["entry"]
    author, expert, agent = browser(app, people["author"]), browser(app, people["expert"]), browser(app, people["agent"])
    page = author.get(f"/articles/{entry.id}").text
    assert 'data-action="submit"' in page
    rev1 = entry.latest_revision_id
    assert form_post(author, f"/revisions/{rev1}/submit", page=f"/articles/{entry.id}").status_code == 303

    board = expert.get("/review").text
    assert "Refunds for cancelled orders" in board
    review = expert.get(f"/review/{rev1}").text
    assert 'data-action="approve"' in review and 'data-action="request-changes"' in review
    no_comment = form_post(expert, f"/revisions/{rev1}/request-changes", {"comment": ""}, page=f"/review/{rev1}")
    assert no_comment.status_code == 422 and "Say what should change." in no_comment.text
    asked = form_post(expert, f"/revisions/{rev1}/request-changes", {"comment": "Mention the 14-day rule."},
                      page=f"/review/{rev1}")
    assert asked.status_code == 303

    # The author edits (a new revision) and submits it.
    edit = author.get(f"/entries/{entry.id}/edit").text
    base = re.search(r'name="base_revision_id" value="(\d+)"', edit).group(1)
    form_post(author, f"/entries/{entry.id}/revisions", {"title": "Refunds for cancelled orders", "tags": "refunds",
              "body": "Refund within 30 days; 14 days for opened electronics.", "base_revision_id": base},
              page=f"/entries/{entry.id}/edit")
    db.expire_all()
    rev2 = rows(db, Revision, entry_id=entry.id, number=2)[0].id
    assert form_post(author, f"/revisions/{rev2}/submit", page=f"/articles/{entry.id}").status_code == 303
    # The author sees no review buttons on their own work.
    own = author.get(f"/review/{rev2}").text
    assert 'data-action="approve"' not in own and 'data-action="certify"' not in own
    assert form_post(expert, f"/revisions/{rev2}/approve", page=f"/review/{rev2}").status_code == 303
    assert form_post(expert, f"/revisions/{rev2}/certify", page=f"/review/{rev2}").status_code == 303

    seen = agent.get(f"/articles/{entry.id}").text
    assert "14 days for opened electronics" in seen
    assert "Certified" in seen and "Erin Expert" in seen and 'class="valid-until"' in seen
    events = [e.action for e in rows(db, WorkflowEvent, entry_id=entry.id)]
    # Submitting revision 2 closes revision 1 (changes requested) as withdrawn, "replaced by revision 2".
    assert events == ["submit", "request-changes", "withdraw", "submit", "approve", "certify"]
    audit = author.get(f"/entries/{entry.id}/audit").text
    assert "certified as expert of refunds" in audit and "Mention the 14-day rule." in audit


def test_author_cannot_approve_or_certify_own_work_over_the_api(client, db, people, bearer, make_user):
    author = people["author"]
    headers = bearer(author)
    rev = people["entry"].latest_revision_id
    assert client.post(f"/api/v1/revisions/{rev}/submit", headers=headers).json()["state"] == "in_review"
    assert client.get(f"/api/v1/revisions/{rev}/actions", headers=headers).json() == ["withdraw"]
    refused = client.post(f"/api/v1/revisions/{rev}/approve", headers=headers)
    assert refused.status_code == 403 and "your own work" in refused.json()["detail"]
    expert_headers = bearer(people["expert"])
    assert client.post(f"/api/v1/revisions/{rev}/approve", headers=expert_headers).json()["state"] == "approved"
    assert client.post(f"/api/v1/revisions/{rev}/certify", headers=headers).status_code == 403
    again = client.post(f"/api/v1/revisions/{rev}/approve", headers=expert_headers)
    assert again.status_code == 409
    certified = client.post(f"/api/v1/revisions/{rev}/certify", headers=expert_headers).json()
    assert certified["state"] == "certified" and certified["certified_revision_id"] == rev


def test_agents_keep_seeing_the_certified_revision_while_a_newer_one_is_in_review(client, db, people, bearer):
    headers = {k: bearer(people[k]) for k in ("author", "expert", "agent")}
    entry_id, rev1 = people["entry"].id, people["entry"].latest_revision_id
    for who, action in (("author", "submit"), ("expert", "approve"), ("expert", "certify")):
        assert client.post(f"/api/v1/revisions/{rev1}/{action}", headers=headers[who]).status_code == 200
    new = client.post(f"/api/v1/entries/{entry_id}/revisions", headers=headers["author"], json={
        "title": "Refunds for cancelled orders", "body": "New rules coming.", "tags": ["refunds"],
        "base_revision_id": rev1}).json()
    client.post(f"/api/v1/revisions/{new['id']}/submit", headers=headers["author"])
    assert client.get(f"/api/v1/entries/{entry_id}", headers=headers["agent"]).json()["revision"]["id"] == rev1
    assert client.get(f"/api/v1/entries/{entry_id}", headers=headers["expert"]).json()["revision"]["id"] == new["id"]
    client.post(f"/api/v1/revisions/{new['id']}/approve", headers=headers["expert"])
    client.post(f"/api/v1/revisions/{new['id']}/certify", headers=headers["expert"])
    seen = client.get(f"/api/v1/entries/{entry_id}", headers=headers["agent"]).json()
    assert seen["revision"]["id"] == new["id"] and seen["certified_revision_id"] == new["id"]
    states = {r["id"]: r["state"] for r in client.get(f"/api/v1/entries/{entry_id}/revisions",
                                                      headers=headers["author"]).json()}
    assert states == {rev1: "superseded", new["id"]: "certified"}


def test_only_topic_experts_or_admins_certify(client, db, people, bearer, make_user):
    other_expert = make_user("expert")  # an expert, but not of "refunds"
    rev = people["entry"].latest_revision_id
    client.post(f"/api/v1/revisions/{rev}/submit", headers=bearer(people["author"]))
    assert client.post(f"/api/v1/revisions/{rev}/approve", headers=bearer(other_expert)).status_code == 200
    refused = client.post(f"/api/v1/revisions/{rev}/certify", headers=bearer(other_expert))
    assert refused.status_code == 403 and "experts of this topic" in refused.json()["detail"]
    assert len(rows(db, TopicExpert)) == 1


def test_agent_flags_and_expert_dismisses_from_the_dashboard(app, db, people, bearer):
    from workflow.models import Flag

    entry = people["entry"]
    rev = entry.latest_revision_id
    client = TestClient(app)
    for who, action in (("author", "submit"), ("expert", "approve"), ("expert", "certify")):
        client.post(f"/api/v1/revisions/{rev}/{action}", headers=bearer(people[who]))
    agent, expert = browser(app, people["agent"]), browser(app, people["expert"])
    flagged = form_post(agent, f"/entries/{entry.id}/flags", {"reason": "outdated", "comment": "Form changed."},
                        page=f"/articles/{entry.id}")
    assert flagged.status_code == 303
    assert "the topic experts have been told" in agent.get(flagged.headers["location"]).text
    board = expert.get("/review").text
    assert "outdated: Form changed." in board
    flag_id = rows(db, Flag)[0].id
    no_reason = form_post(expert, f"/flags/{flag_id}/dismiss", {"reason": ""}, page="/review")
    assert no_reason.status_code == 422
    dismissed = form_post(expert, f"/flags/{flag_id}/dismiss", {"reason": "Still correct."}, page="/review")
    assert dismissed.status_code == 303 and rows(db, Flag)[0].status == "dismissed"
    assert "Still correct." in agent.get("/inbox").text


# --- what reviewers and agents may learn (issue 12, defects 6 and 7) --------------------------

SECRET = "Quetzalmarmot"


def test_the_review_diff_never_compares_with_a_revision_the_reviewer_may_not_see(client, db, people, bearer):
    """Regression: /review/{id} diffed with ``parent_id`` unchecked, showing the author's unsubmitted draft."""
    headers = {k: bearer(people[k]) for k in ("author", "expert")}
    entry_id, draft = people["entry"].id, people["entry"].latest_revision_id
    client.post(f"/api/v1/entries/{entry_id}/revisions", headers=headers["author"], json={
        "title": "Refunds for cancelled orders", "body": f"Private thoughts {SECRET}.", "tags": ["refunds"],
        "base_revision_id": draft})
    private = max(rows(db, Revision), key=lambda r: r.number)
    submitted = client.post(f"/api/v1/entries/{entry_id}/revisions", headers=headers["author"], json={
        "title": "Refunds for cancelled orders", "body": "Refund within 14 days.", "tags": ["refunds"],
        "base_revision_id": private.id}).json()
    assert client.post(f"/api/v1/revisions/{submitted['id']}/submit", headers=headers["author"]).status_code == 200

    expert = browser(client.app, people["expert"])
    page = expert.get(f"/review/{submitted['id']}")
    assert page.status_code == 200 and "Refund within 14 days." in page.text
    assert SECRET not in page.text
    # The diff API refuses the invisible side too (404, as if it did not exist).
    api = client.get(f"/api/v1/revisions/{submitted['id']}/diff?against={private.id}", headers=headers["expert"])
    assert api.status_code == 404 and SECRET not in api.text
    # The author still sees the diff with their own draft.
    mine = browser(client.app, people["author"]).get(f"/review/{submitted['id']}")
    assert SECRET in mine.text


def test_a_reviewer_sees_what_changed_since_they_asked_for_changes(client, db, people, make_user, bearer):
    """The revision a reviewer asked changes to is withdrawn when its successor is submitted; that
    reviewer read it, so the review page compares with it. Another expert, who never saw it, does not."""
    headers = {k: bearer(people[k]) for k in ("author", "expert")}
    entry_id, first = people["entry"].id, people["entry"].latest_revision_id
    assert client.post(f"/api/v1/revisions/{first}/submit", headers=headers["author"]).status_code == 200
    assert client.post(f"/api/v1/revisions/{first}/request-changes", headers=headers["expert"],
                       json={"comment": "Say how long it takes."}).status_code == 200
    second = client.post(f"/api/v1/entries/{entry_id}/revisions", headers=headers["author"], json={
        "title": "Refunds for cancelled orders", "body": "Refund within 30 days, in 5 working days.",
        "tags": ["refunds"], "base_revision_id": first}).json()
    assert client.post(f"/api/v1/revisions/{second['id']}/submit", headers=headers["author"]).status_code == 200

    page = browser(client.app, people["expert"]).get(f"/review/{second['id']}")
    assert page.status_code == 200 and 'class="diff' in page.text
    # The words added since, marked in the text (the old text is the rest of it).
    assert "Refund within 30 days<ins>, in 5 working days</ins>." in page.text
    assert "Since your last review (revision 1)" in page.text
    other = make_user("expert", name="Olga Other")
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=other)
    db.commit()
    theirs = browser(client.app, other).get(f"/review/{second['id']}")
    assert theirs.status_code == 200 and 'class="diff' not in theirs.text


def test_the_audit_page_shows_only_events_of_revisions_the_viewer_may_see(client, db, people, bearer):
    """Regression: agents read reviewers' comments on a revision in review on /entries/{id}/audit."""
    headers = {k: bearer(people[k]) for k in ("author", "expert")}
    entry_id, rev1 = people["entry"].id, people["entry"].latest_revision_id
    for who, action in (("author", "submit"), ("expert", "approve"), ("expert", "certify")):
        assert client.post(f"/api/v1/revisions/{rev1}/{action}", headers=headers[who]).status_code == 200
    new = client.post(f"/api/v1/entries/{entry_id}/revisions", headers=headers["author"], json={
        "title": "Refunds for cancelled orders", "body": "New rules.", "tags": ["refunds"],
        "base_revision_id": rev1}).json()
    client.post(f"/api/v1/revisions/{new['id']}/submit", headers=headers["author"])
    assert client.post(f"/api/v1/revisions/{new['id']}/request-changes", headers=headers["expert"],
                       json={"comment": f"Do not mention {SECRET}."}).status_code == 200

    agent_page = browser(client.app, people["agent"]).get(f"/entries/{entry_id}/audit")
    assert agent_page.status_code == 200
    assert "certified as expert of refunds" in agent_page.text  # the certified revision's history
    assert SECRET not in agent_page.text and "requested changes" not in agent_page.text
    for who in ("author", "expert"):
        assert SECRET in browser(client.app, people[who]).get(f"/entries/{entry_id}/audit").text
