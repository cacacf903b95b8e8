"""The author's day through the pages (issue 14, items 9 to 11): submitting and what the page says
after it, stale forms, two tabs on one draft, discarding and deleting drafts."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from expertise.routing import assign_reviewer
from kb.accounts.actors import SYSTEM
from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from tests.helpers import form_post, login
from workflow.policy import designate_expert


@pytest.fixture
def people(db, make_user):
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    entry = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refunds for cancelled orders", body="Refund within 30 days.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    return {"author": author, "expert": expert, "entry": entry}


def signed_in(app, user) -> TestClient:
    client = TestClient(app)
    assert login(client, user.email).status_code == 303
    return client


# --- item 9 and 12: after "Submit for review" ---------------------------------------------


def test_submitting_lands_on_the_article_that_says_what_happened(app, db, people):
    entry, author = people["entry"], signed_in(app, people["author"])
    revision_id = entry.latest_revision_id
    submitted = form_post(author, f"/revisions/{revision_id}/submit", page=f"/articles/{entry.id}")
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/articles/{entry.id}?done=submit"
    assign_reviewer(session=db, actor=people["author"], revision_id=revision_id, reviewer_id=people["expert"].id)
    db.commit()

    page = author.get(submitted.headers["location"])
    assert page.headers["cache-control"] == "no-store"
    text = re.sub(r"\s+", " ", page.text)
    assert "Submitted for review on " in text and "Reviewers: Erin Expert." in text
    assert "You can withdraw it to keep editing." in text
    assert 'data-action="submit"' not in text and 'class="danger"' not in text

    withdrawn = form_post(author, f"/revisions/{revision_id}/withdraw", page=f"/articles/{entry.id}")
    assert withdrawn.headers["location"] == f"/articles/{entry.id}?done=withdraw"
    assert "you can keep editing it" in author.get(withdrawn.headers["location"]).text


def test_the_editor_is_never_kept_by_the_browser(app, people):
    author = signed_in(app, people["author"])
    assert author.get(f"/entries/{people['entry'].id}/edit").headers["cache-control"] == "no-store"
    assert author.get("/articles/new").headers["cache-control"] == "no-store"


def test_a_stale_submit_button_says_it_was_already_submitted_and_links_to_now(app, people):
    """Back after "Submit for review" showed a live Submit button; pressing it gave an error string."""
    entry, author = people["entry"], signed_in(app, people["author"])
    stale_page = f"/articles/{entry.id}"
    assert form_post(author, f"/revisions/{entry.latest_revision_id}/submit", page=stale_page).status_code == 303
    again = form_post(author, f"/revisions/{entry.latest_revision_id}/submit", page=stale_page)
    assert again.status_code == 409
    assert "This revision was already submitted for review." in again.text
    assert "Nothing was changed" in again.text
    assert f'href="/articles/{entry.id}"' in again.text
    assert "cannot submit a revision" not in again.text


# --- item 10: one person, two tabs ----------------------------------------------------------


def _autosave(client, entry_id: int, body: str, seen: str, token: str):
    return client.post("/drafts/autosave", headers={"X-CSRF-Token": token, "Accept": "application/json"}, data={
        "entry_id": entry_id, "title": "Refunds for cancelled orders", "tags": "refunds", "body": body,
        "draft_seen": seen})


def _seen(page: str) -> str:
    return re.search(r'name="draft_seen" value="([^"]*)"', page).group(1)


def test_a_second_tab_is_told_the_draft_changed_in_the_other_tab_and_offered_the_merge_view(app, people):
    entry, author = people["entry"], signed_in(app, people["author"])
    tab1 = author.get(f"/entries/{entry.id}/edit").text
    tab2 = author.get(f"/entries/{entry.id}/edit").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', tab1).group(1)
    first = _autosave(author, entry.id, "Tab one text.", _seen(tab1), token)
    assert first.status_code == 200
    assert _autosave(author, entry.id, "Tab one, later.", first.json()["draft_seen"], token).status_code == 200

    second = _autosave(author, entry.id, "Tab two text.", _seen(tab2), token)
    assert second.status_code == 409
    assert second.json()["other_tab"] is True
    assert re.match(r"You changed this draft in another tab or window at \d\d:\d\d UTC\.", second.json()["detail"])

    merge = author.post(f"/entries/{entry.id}/edit/compare", follow_redirects=False, data={
        "csrf_token": token, "title": "Refunds for cancelled orders", "tags": "refunds", "body": "Tab two text.",
        "base_revision_id": entry.latest_revision_id})
    assert merge.status_code == 409
    shown = re.sub(r"<[^>]+>", "", merge.text)
    assert "You changed this in another tab or window" in shown
    assert "Tab one, later." in shown and "Tab two text." in shown
    assert ">Tab two text.</textarea>" in merge.text
    # From the merge view on, this tab's autosave builds on the other tab's version.
    assert _autosave(author, entry.id, "Merged text.", _seen(merge.text), token).status_code == 200


# --- item 11: discard a draft, delete a duplicate draft -----------------------------------------


def _certified_with_draft(db, people):
    from kb.content.schemas import RevisionCreate
    from kb.content.service import save_revision
    from workflow import service as workflow
    from workflow.models import Action

    entry, author, expert = people["entry"], people["author"], people["expert"]
    workflow.transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)
    for action in (Action.approve, Action.certify):
        workflow.transition(session=db, actor=expert, revision_id=entry.latest_revision_id, action=action)
    db.refresh(entry)
    draft = save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Refunds for cancelled orders", body="Refund within 45 days, maybe.", tags=["refunds"]))
    db.commit()
    return entry, draft


def test_the_author_discards_a_draft_edit_behind_a_confirmation_page(app, db, people):
    entry, draft = _certified_with_draft(db, people)
    author = signed_in(app, people["author"])
    page = author.get(f"/articles/{entry.id}").text
    assert f'href="/revisions/{draft.id}/discard">Discard this draft</a>' in page
    assert f"/entries/{entry.id}/delete" not in page  # certified once: archived, never deleted
    assert f'href="/revisions/{draft.id}/discard"' in author.get(f"/entries/{entry.id}/edit").text

    confirm = author.get(f"/revisions/{draft.id}/discard")
    assert confirm.status_code == 200 and confirm.headers["cache-control"] == "no-store"
    assert "Discard revision 2 of “Refunds for cancelled orders”?" in confirm.text
    assert "goes back to revision 1" in confirm.text and 'name="csrf_token"' in confirm.text
    assert author.post(f"/revisions/{draft.id}/discard", follow_redirects=False).status_code == 403  # no CSRF token

    done = form_post(author, f"/revisions/{draft.id}/discard", page=f"/revisions/{draft.id}/discard")
    assert done.status_code == 303 and done.headers["location"] == f"/articles/{entry.id}?discarded=1"
    after = author.get(done.headers["location"]).text
    assert "The draft is discarded: this is the version from before it." in after
    assert "Refund within 30 days." in after and "45 days" not in after and "Discard this draft" not in after
    audit = author.get(f"/entries/{entry.id}/audit").text
    assert "Discarded revision 2 “Refunds for cancelled orders”." in audit

    # Back and send it again: nothing changes, and the page says why.
    again = form_post(author, f"/revisions/{draft.id}/discard", page=f"/articles/{entry.id}")
    assert again.status_code == 409 and "This draft was already discarded." in again.text


def test_the_author_deletes_a_duplicate_draft_and_it_is_gone(app, db, people, make_user):
    entry, author_user = people["entry"], people["author"]
    author = signed_in(app, author_user)
    admin = signed_in(app, make_user("admin"))
    assert f'href="/entries/{entry.id}/delete">Delete this draft</a>' in author.get(f"/articles/{entry.id}").text
    confirm = author.get(f"/entries/{entry.id}/delete")
    assert "Delete the draft “Refunds for cancelled orders”?" in confirm.text
    assert "disappear for everyone" in confirm.text

    done = form_post(author, f"/entries/{entry.id}/delete", page=f"/entries/{entry.id}/delete")
    assert done.status_code == 303 and done.headers["location"] == "/articles?deleted=1"
    listing = author.get(done.headers["location"]).text
    assert "The draft is deleted: nobody sees it any more." in listing
    assert "Refunds for cancelled orders" not in listing
    for client in (author, admin):
        assert client.get(f"/articles/{entry.id}").status_code == 404
        assert client.get(f"/entries/{entry.id}/history").status_code == 404
        assert client.get(f"/revisions/{entry.latest_revision_id}").status_code == 404
        assert "Refunds for cancelled orders" not in client.get("/articles").text
    # Administrators still find the deletion in the audit trail, with the title.
    trail = admin.get(f"/admin/audit?entry={entry.id}").text
    assert "Deleted the draft article “Refunds for cancelled orders”." in trail


def test_a_certified_article_is_not_deleted_and_the_page_says_archive_it(app, db, people):
    entry, _ = _certified_with_draft(db, people)
    author = signed_in(app, people["author"])
    refused = author.get(f"/entries/{entry.id}/delete")
    assert refused.status_code == 409
    assert "A certified article cannot be deleted; archive it instead." in refused.text
    assert 'data-action="delete"' not in refused.text
    posted = form_post(author, f"/entries/{entry.id}/delete", page=f"/articles/{entry.id}")
    assert posted.status_code == 409 and author.get(f"/articles/{entry.id}").status_code == 200


def test_the_api_deletes_a_draft_and_discards_a_revision(app, db, people, bearer, make_user):
    from kb.content.schemas import ArticleCreate as Create

    entry, draft = _certified_with_draft(db, people)
    headers = bearer(people["author"])
    client = TestClient(app)
    discarded = client.post(f"/api/v1/revisions/{draft.id}/discard", headers=headers)
    assert discarded.status_code == 200
    assert discarded.json()["revision"]["number"] == 1 and discarded.json()["latest_revision_id"] != draft.id
    again = client.post(f"/api/v1/revisions/{draft.id}/discard", headers=headers)
    assert again.status_code == 409 and again.json()["detail"] == "This draft was already discarded."

    refused = client.delete(f"/api/v1/entries/{entry.id}", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "A certified article cannot be deleted; archive it instead."
    duplicate = create_article(session=db, actor=people["author"], data=Create(title="Copy", body="Copy.", tags=[]))
    db.commit()
    other = bearer(make_user("author"))
    assert client.delete(f"/api/v1/entries/{duplicate.id}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/entries/{duplicate.id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/entries/{duplicate.id}", headers=headers).status_code == 404
