"""Writing, reading and editing articles through the pages, including conflicts."""

import re

import pytest

from kb.content.models import EditorDraft, Entry, Revision
from tests.helpers import csrf_from, form_post, login, rows
from kb.accounts.actors import SYSTEM


@pytest.fixture
def author_client(client, make_user):
    author = make_user("author", name="Avery Author")
    login(client, author.email)
    client.user = author
    return client


def _write(client, title="Refund windows", body="| Item | Days |\n| --- | --- |\n| Shoes | 30 |\n", tags="refunds, Billing"):
    return form_post(client, "/articles", {"title": title, "body": body, "tags": tags}, page="/articles/new")


def test_author_writes_an_article_and_sees_it_rendered(author_client, db):
    response = _write(author_client)
    assert response.status_code == 303
    page = author_client.get(response.headers["location"])
    assert "<table>" in page.text and "Refund windows" in page.text
    assert "Saved as a new revision." in page.text
    entry = rows(db, Entry)[0]
    revision = rows(db, Revision)[0]
    assert entry.latest_revision_id == revision.id and revision.state == "draft"
    assert 'class="tag" href="/questions?tag=refunds"' in page.text and ">billing<" in page.text


def test_preview_matches_the_saved_page(author_client):
    body = "# Steps\n\n1. Check the order\n2. Refund\n\n```python\nprint('hi')\n```\n"
    preview = form_post(author_client, "/preview", {"body": body}, page="/articles/new")
    location = _write(author_client, body=body).headers["location"]
    page = author_client.get(location).text
    content = re.search(r'<div class="prose" id="content">(.*?)</div>\n</article>', page, re.S).group(1)
    assert preview.text == content


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"title": "  "}, "Give it a title."), ({"body": " "}, "Write something in the body.")],
)
def test_bad_input_is_shown_in_the_form_and_keeps_the_text(author_client, db, fields, message):
    response = _write(author_client, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert rows(db, Entry) == []


def test_huge_body_gets_a_clear_413(author_client, db):
    response = _write(author_client, body="a" * 200_001)
    assert response.status_code == 413
    assert "The text is too long" in response.text
    assert rows(db, Entry) == []


def test_agents_cannot_write_articles(client, make_user):
    agent = make_user("agent")
    login(client, agent.email)
    assert client.get("/articles/new").status_code == 403
    response = form_post(client, "/articles", {"title": "x", "body": "y"})
    assert response.status_code == 403


def test_drafts_are_visible_only_to_their_author_and_admins(author_client, app, make_user):
    from fastapi.testclient import TestClient

    location = _write(author_client).headers["location"]
    for roles, status in ((("agent",), 404), (("author",), 404), (("admin",), 200)):
        with TestClient(app) as other:
            login(other, make_user(*roles).email)
            assert other.get(location).status_code == status, roles
            listing = other.get("/articles").text
            assert ("Refund windows" in listing) == (status == 200)


def test_edit_creates_a_new_revision_and_history_diffs(author_client, db):
    location = _write(author_client, body="Refunds take five days.").headers["location"]
    entry_id = int(location.split("/")[2].split("?")[0])
    edit = author_client.get(f"/entries/{entry_id}/edit").text
    base = re.search(r'name="base_revision_id" value="(\d+)"', edit).group(1)
    saved = form_post(author_client, f"/entries/{entry_id}/revisions",
                      {"title": "Refund windows", "body": "Refunds take three days.", "tags": "refunds",
                       "base_revision_id": base}, page=f"/entries/{entry_id}/edit")
    assert saved.status_code == 303
    revisions = rows(db, Revision)
    assert sorted(r.number for r in revisions) == [1, 2]
    first, second = sorted(revisions, key=lambda r: r.number)
    assert first.body == "Refunds take five days."  # never edited in place
    history = author_client.get(f"/entries/{entry_id}/history").text
    assert "Compare" in history
    for mode in ("inline", "side"):
        diff = author_client.get(f"/entries/{entry_id}/diff?old={first.id}&new={second.id}&mode={mode}").text
        assert "<del>five</del>" in diff and "<ins>three</ins>" in diff


def test_stale_save_returns_409_with_a_merge_view_and_loses_nothing(author_client, db):
    location = _write(author_client, body="Original text.").headers["location"]
    entry_id = int(location.split("/")[2].split("?")[0])
    edit_page = author_client.get(f"/entries/{entry_id}/edit").text
    base = re.search(r'name="base_revision_id" value="(\d+)"', edit_page).group(1)
    token = csrf_from(edit_page)

    def save(body):
        return author_client.post(f"/entries/{entry_id}/revisions", follow_redirects=False, data={
            "title": "Refund windows", "body": body, "tags": "refunds", "base_revision_id": base, "csrf_token": token})

    assert save("Text from tab one.").status_code == 303
    conflict = save("Text from tab two.")
    assert conflict.status_code == 409
    # Both tabs are this author's (issue 14, item 10): not "someone else".
    assert "You changed this in another tab or window" in conflict.text
    assert "You changed this draft in another tab or window at " in conflict.text
    shown = re.sub(r"<[^>]+>", "", conflict.text)  # the diff marks words with <ins>/<del>
    assert "Text from tab one." in shown and "Text from tab two." in shown
    assert ">Text from tab two.</textarea>" in conflict.text  # the editor keeps this tab's text
    new_base = re.search(r'name="base_revision_id" value="(\d+)"', conflict.text).group(1)
    assert new_base != base
    # The editor now holds tab two's text on top of the latest revision: saving merges.
    merged = author_client.post(f"/entries/{entry_id}/revisions", follow_redirects=False, data={
        "title": "Refund windows", "body": "Text from tab one.\n\nText from tab two.", "tags": "refunds",
        "base_revision_id": new_base, "csrf_token": token})
    assert merged.status_code == 303
    bodies = [r.body for r in sorted(rows(db, Revision), key=lambda r: r.number)]
    assert bodies == ["Original text.", "Text from tab one.", "Text from tab one.\n\nText from tab two."]


def test_autosave_keeps_the_text_until_saved(author_client, db):
    token = csrf_from(author_client.get("/articles/new").text)
    reply = author_client.post("/drafts/autosave", data={"kind": "article", "title": "Half", "body": "Half a thought",
                                                         "tags": "billing"}, headers={"X-CSRF-Token": token})
    assert reply.status_code == 200
    draft_id = reply.json()["draft_id"]
    again = author_client.post("/drafts/autosave", data={"kind": "article", "title": "Half", "body": "Half a thought, more",
                                                         "draft_id": draft_id}, headers={"X-CSRF-Token": token})
    assert again.json()["draft_id"] == draft_id
    assert "Half" in author_client.get("/articles").text
    restored = author_client.get(f"/articles/new?draft={draft_id}").text
    assert "Half a thought, more" in restored and "Restored your unsaved changes" in restored
    saved = form_post(author_client, "/articles", {"title": "Half", "body": "Whole", "draft_id": draft_id},
                      page="/articles/new")
    assert saved.status_code == 303
    assert rows(db, EditorDraft) == []


def test_autosave_of_someone_elses_draft_is_refused(author_client, app, make_user):
    from fastapi.testclient import TestClient

    token = csrf_from(author_client.get("/articles/new").text)
    draft_id = author_client.post("/drafts/autosave", data={"kind": "article", "body": "mine"},
                                  headers={"X-CSRF-Token": token}).json()["draft_id"]
    with TestClient(app) as other:
        login(other, make_user("author").email)
        other_token = csrf_from(other.get("/articles/new").text)
        response = other.post("/drafts/autosave", data={"kind": "article", "body": "stolen", "draft_id": draft_id},
                              headers={"X-CSRF-Token": other_token})
        assert response.status_code == 404
        assert other.get(f"/articles/new?draft={draft_id}").status_code == 404


def test_tag_suggestions_complete_the_last_tag(author_client):
    _write(author_client, tags="billing, refunds")
    options = author_client.get("/tags/suggest?tags=shipping, bil").text
    assert 'value="shipping, billing"' in options


def test_saving_when_the_draft_is_already_gone_still_saves(author_client, db):
    token = csrf_from(author_client.get("/articles/new").text)
    draft_id = author_client.post("/drafts/autosave", data={"kind": "article", "body": "x"},
                                  headers={"X-CSRF-Token": token}).json()["draft_id"]
    first = form_post(author_client, "/articles", {"title": "One", "body": "Body", "draft_id": draft_id},
                      page="/articles/new")
    second = form_post(author_client, "/articles", {"title": "Two", "body": "Body", "draft_id": draft_id},
                       page="/articles/new")  # the same draft, saved from a second tab
    assert first.status_code == 303 and second.status_code == 303
    assert len(rows(db, Entry)) == 2


def test_scripts_asking_for_json_get_json_errors(author_client):
    token = csrf_from(author_client.get("/articles/new").text)
    response = author_client.post("/drafts/autosave", data={"kind": "article", "body": "a" * 200_001},
                                  headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert response.status_code == 413 and "too long" in response.json()["detail"]


# --- someone else's private draft (issue 12, defect 5) ---------------------------------------

SECRET = "Zanzibarquokka"


@pytest.fixture
def certified_with_private_draft(db, make_user):
    """Avery's certified article, with Avery's private draft (the secret word) on top of it."""
    from kb.content import service as content
    from kb.content.schemas import ArticleCreate, RevisionCreate
    from workflow.models import Action
    from workflow.policy import designate_expert
    from workflow.service import transition

    owner, expert = make_user("author", name="Avery Owner"), make_user("expert")
    entry = content.create_article(session=db, actor=owner, data=ArticleCreate(
        title="Refund windows", body="Shoes: 30 days.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    certified = entry.latest_revision_id
    for who, action in ((owner, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=certified, action=action)
    db.refresh(entry)
    content.save_revision(session=db, actor=owner, entry=entry, data=RevisionCreate(
        title=f"Refund windows {SECRET}", body=f"Shoes: 60 days, {SECRET}.", tags=["refunds"],
        base_revision_id=certified))
    db.commit()
    return {"entry": entry, "owner": owner, "certified": certified}


def _base(page: str) -> int:
    return int(re.search(r'name="base_revision_id" value="(\d+)"', page).group(1))


def test_the_editor_prefills_the_newest_revision_its_user_may_see(client, make_user, db, certified_with_private_draft):
    """Regression: the editor showed the latest revision whoever wrote it, here Avery's private draft."""
    entry, certified = certified_with_private_draft["entry"], certified_with_private_draft["certified"]
    login(client, make_user("author").email)
    page = client.get(f"/entries/{entry.id}/edit")
    assert page.status_code == 200
    assert SECRET not in page.text
    assert "Shoes: 30 days." in page.text and _base(page.text) == certified
    # Building on what they could see is not a conflict; the new revision's parent is that base.
    saved = form_post(client, f"/entries/{entry.id}/revisions", {
        "title": "Refund windows", "body": "Shoes: 45 days.", "tags": "refunds", "base_revision_id": certified},
        page=f"/entries/{entry.id}/edit")
    assert saved.status_code == 303
    newest = max(rows(db, Revision), key=lambda r: r.number)
    assert (newest.body, newest.parent_id, newest.number) == ("Shoes: 45 days.", certified, 3)


def test_the_conflict_page_shows_only_revisions_its_user_may_see(client, make_user, db, certified_with_private_draft):
    """Regression: the 409 page compared the user's text with someone else's private draft."""
    from kb.content import service as content
    from kb.content.schemas import RevisionCreate

    entry, owner = certified_with_private_draft["entry"], certified_with_private_draft["owner"]
    certified = certified_with_private_draft["certified"]
    editor = make_user("author")
    login(client, editor.email)
    # Their own draft (from another tab) is newer than the base they now save from.
    content.save_revision(session=db, actor=editor, entry=entry, data=RevisionCreate(
        title="Refund windows", body="Shoes: 40 days.", tags=["refunds"], base_revision_id=certified))
    db.commit()
    db.refresh(entry)
    content.save_revision(session=db, actor=owner, entry=entry, data=RevisionCreate(
        title="Refund windows", body=f"Again {SECRET}.", tags=["refunds"], base_revision_id=entry.latest_revision_id))
    db.commit()
    conflict = form_post(client, f"/entries/{entry.id}/revisions", {
        "title": "Refund windows", "body": "Shoes: 50 days.", "tags": "refunds", "base_revision_id": certified},
        page=f"/entries/{entry.id}/edit")
    assert conflict.status_code == 409
    assert SECRET not in conflict.text
    assert "Shoes: 40" in re.sub(r"<[^>]+>", "", conflict.text)
    mine = max((r for r in rows(db, Revision) if r.author_id == editor.id), key=lambda r: r.number)
    assert _base(conflict.text) == mine.id
