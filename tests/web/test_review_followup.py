"""After a review: what the reviewer compares a resubmission with, how the author acts on the
comment, and where an old link leads once its revision was replaced (issue 14, items 14-16)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kb.accounts.actors import SYSTEM
from kb.content import service as content
from kb.content.models import Revision
from kb.content.schemas import ArticleCreate, RevisionCreate
from tests.helpers import csrf_from, form_post, login, rows
from workflow.models import Action, Notification
from workflow.policy import designate_expert
from workflow.service import transition

V1 = "Refund within 30 days."
V2 = "Refund within 30 days, in 5 working days."
V3 = "Refund within 30 days, in 5 working days, to the card used."
COMMENT = "Say which card the refund goes to."


def _client(app, user) -> TestClient:
    client = TestClient(app)
    login(client, user.email)
    return client


def _revise(db, actor, entry, body):
    db.refresh(entry)
    return content.save_revision(session=db, actor=actor, entry=entry, data=RevisionCreate(
        title="Refunds for cancelled orders", body=body, tags=["refunds"], base_revision_id=entry.latest_revision_id))


def _act(db, actor, revision, action, comment=""):
    transition(session=db, actor=actor, revision_id=revision.id, action=action, comment=comment)
    db.commit()


@pytest.fixture
def story(db, make_user):
    """v1 certified (approved by Erin, certified by Cleo); v2 submitted, Erin asked for changes."""
    author, erin, cleo = make_user("author", name="Avery Author"), make_user("expert", name="Erin Expert"), \
        make_user("expert", name="Cleo Certifier")
    agent = make_user("agent", name="Alex Agent")
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Refunds for cancelled orders", body=V1, tags=["refunds"]))
    for expert in (erin, cleo):
        designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    db.commit()
    v1 = db.get(Revision, entry.latest_revision_id)
    _act(db, author, v1, Action.submit)
    _act(db, erin, v1, Action.approve)
    _act(db, cleo, v1, Action.certify)
    v2 = _revise(db, author, entry, V2)
    db.commit()
    _act(db, author, v2, Action.submit)
    _act(db, erin, v2, Action.request_changes, COMMENT)
    return {"author": author, "erin": erin, "cleo": cleo, "agent": agent, "entry": entry, "v1": v1, "v2": v2}


def _resubmit(db, story) -> Revision:
    v3 = _revise(db, story["author"], story["entry"], V3)
    db.commit()
    _act(db, story["author"], v3, Action.submit)
    return v3


def test_the_changes_requested_notification_opens_the_comment_first_with_an_edit_button(app, db, story):
    author = _client(app, story["author"])
    entry, v2 = story["entry"], story["v2"]
    [note] = rows(db, Notification, user_id=story["author"].id, kind="changes_requested")
    opened = author.post(f"/inbox/{note.id}/read", data={"csrf_token": csrf_from(author.get("/inbox").text)},
                         follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/review/{v2.id}"
    page = author.get(opened.headers["location"]).text
    panel = page.index('id="change-requests"')
    # The comment comes before everything else the page shows about the revision.
    assert panel < page.index(COMMENT) < page.index('id="changes"') < page.index("Reviews and events")
    assert re.search(rf'<a class="button primary" href="/entries/{entry.id}/edit">Edit the draft</a>',
                     page[panel:page.index('id="changes"')])
    # The reviewer sees the comment there too, without the author's Edit button.
    erin = _client(app, story["erin"]).get(f"/review/{v2.id}").text
    assert COMMENT in erin and 'id="change-requests"' in erin and "Edit the draft" not in erin


def test_the_editor_shows_the_open_change_requests_until_the_new_version_is_submitted(app, db, story):
    author = _client(app, story["author"])
    entry = story["entry"]
    editor = author.get(f"/entries/{entry.id}/edit").text
    panel = editor.index('id="change-requests"')
    assert panel < editor.index(COMMENT) < editor.index('id="editor-form"')
    assert "Erin Expert" in editor[panel:editor.index('id="editor-form"')]
    # Saving a draft keeps them open (the request is not answered yet); submitting answers them.
    base = re.search(r'name="base_revision_id" value="(\d+)"', editor).group(1)
    saved = form_post(author, f"/entries/{entry.id}/revisions", {"title": "Refunds for cancelled orders",
                      "body": V3, "tags": "refunds", "base_revision_id": base}, page=f"/entries/{entry.id}/edit")
    assert saved.status_code == 303
    assert COMMENT in author.get(f"/entries/{entry.id}/edit").text
    db.expire_all()
    v3 = rows(db, Revision, entry_id=entry.id, number=3)[0]
    _act(db, story["author"], v3, Action.submit)
    assert COMMENT not in author.get(f"/entries/{entry.id}/edit").text


def test_another_author_never_sees_change_requests_in_the_editor(app, db, story, make_user):
    # Another author may edit the wiki article, but not see a review of a revision in review.
    other = make_user("author", name="Olly Other")
    page = _client(app, other).get(f"/entries/{story['entry'].id}/edit")
    assert page.status_code == 200 and COMMENT not in page.text


def test_a_resubmission_is_compared_with_what_the_reviewer_last_saw(app, db, story):
    v3 = _resubmit(db, story)
    erin = _client(app, story["erin"])
    page = erin.get(f"/review/{v3.id}").text
    tabs = re.findall(r'<a href="/review/(\d+)\?against=(\d+)#changes" data-compare="([a-z-]+)"( aria-current="page")?>'
                      r'([^<]+)</a>', page)
    assert [(int(against), key, bool(current), label) for _, against, key, current, label in tabs] == [
        (story["v2"].id, "last-review", True, "Since your last review (revision 2)"),
        (story["v1"].id, "certified", False, "Since certified (revision 1)")]
    assert "Refund within 30 days, in 5 working days<ins>, to the card used</ins>." in page
    since_certified = erin.get(f"/review/{v3.id}?against={story['v1'].id}").text
    assert "Refund within 30 days<ins>, in 5 working days, to the card used</ins>." in since_certified
    assert re.search(rf'against={story["v1"].id}#changes" data-compare="certified" aria-current="page"', since_certified)


def test_other_revisions_cannot_be_compared_through_the_review_page(app, db, story):
    """``against`` only chooses among the comparisons offered: a private draft is never diffed."""
    v3 = _resubmit(db, story)
    draft = _revise(db, story["author"], story["entry"], "Private words nobody reviewed.")
    db.commit()
    page = _client(app, story["erin"]).get(f"/review/{v3.id}?against={draft.id}").text
    assert "Private words" not in page and "Since your last review (revision 2)" in page


def test_a_reviewer_who_never_reviewed_it_compares_with_the_certified_revision(app, db, story):
    v3 = _resubmit(db, story)
    page = _client(app, story["cleo"]).get(f"/review/{v3.id}").text
    assert "Since your last review" not in page and 'data-compare="certified"' in page
    assert "Since certified (revision 1)" in page


def test_without_review_or_certification_the_previous_version_is_offered(app, db, make_user):
    author, erin = make_user("author"), make_user("expert")
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Exchanges", body="Exchange within 14 days.", tags=["refunds"]))
    db.commit()
    v2 = _revise(db, author, entry, "Exchange within 30 days.")
    db.commit()
    _act(db, author, v2, Action.submit)  # v1 stays the author's private draft: Erin never saw it
    page = _client(app, author).get(f"/review/{v2.id}").text
    assert "Since the previous version (revision 1)" in page and "<del>14</del><ins>30</ins>" in page
    assert 'id="changes"' not in _client(app, erin).get(f"/review/{v2.id}").text


def test_a_stale_review_link_leads_to_the_current_state_with_a_note(app, db, story):
    v3 = _resubmit(db, story)  # v2 is withdrawn: Erin may no longer open it
    [stale] = rows(db, Notification, user_id=story["erin"].id, kind="review_requested", link=f"/review/{story['v2'].id}")
    erin = _client(app, story["erin"])
    followed = erin.get(stale.link, follow_redirects=False)
    assert followed.status_code == 303 and followed.headers["location"] == f"/review/{v3.id}?was=replaced"
    page = erin.get(followed.headers["location"]).text
    assert "This version was replaced by a newer one; here is the current state." in page
    assert "revision 3" in page


def test_a_withdrawn_revision_leads_to_the_certified_one(app, db, story):
    _act(db, story["author"], story["v2"], Action.withdraw)
    followed = _client(app, story["erin"]).get(f"/review/{story['v2'].id}", follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"] == f"/review/{story['v1'].id}?was=withdrawn"


def test_stale_links_stay_404_for_whoever_may_not_see_them(app, db, story, make_user):
    v3 = _resubmit(db, story)
    # An agent never could open the withdrawn revision: still 404, no hint that it exists.
    agent = _client(app, story["agent"])
    assert agent.get(f"/review/{story['v2'].id}", follow_redirects=False).status_code == 404
    # A private draft is not a stale link: 404 for the reviewer, as before.
    draft = _revise(db, story["author"], story["entry"], "Private words nobody reviewed.")
    db.commit()
    erin = _client(app, story["erin"])
    assert erin.get(f"/review/{draft.id}", follow_redirects=False).status_code == 404
    # An entry the reviewer may not see (never certified, nothing in review): 404.
    hidden = content.create_article(session=db, actor=story["author"], data=ArticleCreate(
        title="Hidden", body="Words.", tags=["refunds"]))
    db.commit()
    first = db.get(Revision, hidden.latest_revision_id)
    _act(db, story["author"], first, Action.submit)
    _act(db, story["author"], first, Action.withdraw)
    assert erin.get(f"/review/{first.id}", follow_redirects=False).status_code == 404
    assert v3.id  # the entry itself stays reachable for Erin
    assert erin.get(f"/review/{v3.id}").status_code == 200


def test_a_link_to_a_discarded_revision_leads_to_the_current_state(app, db, story):
    """Item 11: the author discards the revision Erin asked changes for; her link still leads somewhere."""
    from kb.content import removal

    removal.discard_draft(session=db, actor=story["author"], entry=story["entry"], revision=story["v2"])
    never_submitted = _revise(db, story["author"], story["entry"], "Private words nobody reviewed.")
    db.commit()
    removal.discard_draft(session=db, actor=story["author"], entry=story["entry"], revision=never_submitted)
    db.commit()
    erin = _client(app, story["erin"])
    followed = erin.get(f"/review/{story['v2'].id}", follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"] == f"/review/{story['v1'].id}?was=discarded"
    assert "Its author discarded this version; here is the current state." in erin.get(followed.headers["location"]).text
    # A discarded draft nobody was asked to review is no stale link: 404, as before.
    assert erin.get(f"/review/{never_submitted.id}", follow_redirects=False).status_code == 404
