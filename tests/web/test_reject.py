"""An expert rejects a revision they may no longer see afterwards: the rejection stands (API and form)."""

from kb.content.models import Revision
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import form_post, login, rows
from workflow.models import Review, WorkflowEvent
from workflow.policy import designate_expert
from kb.accounts.actors import SYSTEM


def _submitted(db, make_user, client, bearer):
    author, expert = make_user("author"), make_user("expert", name="Erin Expert")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refunds for cancelled orders", body="Refund within 30 days.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    rev = entry.latest_revision_id
    assert client.post(f"/api/v1/revisions/{rev}/submit", headers=bearer(author)).status_code == 200
    return entry, rev, expert


def test_expert_rejects_over_the_api(client, db, make_user, bearer):
    """Before: 404 and the rejection rolled back (the answer re-read the revision as the expert)."""
    entry, rev, expert = _submitted(db, make_user, client, bearer)
    response = client.post(f"/api/v1/revisions/{rev}/reject", headers=bearer(expert),
                           json={"comment": "This contradicts the refund policy."})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "rejected" and body["revision_id"] == rev and body["entry_id"] == entry.id
    assert body["actions"] == []
    assert rows(db, Revision, id=rev)[0].state == "rejected"
    assert [e.action for e in rows(db, WorkflowEvent, revision_id=rev)] == ["submit", "reject"]
    assert [r.decision for r in rows(db, Review, revision_id=rev)] == ["reject"]


def test_expert_rejects_with_the_form_and_lands_on_a_page(app, client, db, make_user, bearer):
    """Before: the form redirected to the review page of a revision the expert can no longer see (404)."""
    _, rev, expert = _submitted(db, make_user, client, bearer)
    login(client, expert.email)
    response = form_post(client, f"/revisions/{rev}/reject", {"comment": "Wrong policy."}, page=f"/review/{rev}")
    assert response.status_code == 303
    landing = client.get(response.headers["location"])
    assert landing.status_code == 200, (response.headers["location"], landing.status_code)
    assert "Rejected: the author has been told." in landing.text
    assert rows(db, Revision, id=rev)[0].state == "rejected"
