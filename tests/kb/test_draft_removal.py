"""Discarding a draft revision and deleting a draft article (issue 14, item 11): who may, in which
states, what the entry looks like afterwards, the audit trail, and that a deleted draft is gone from
every channel (pages' lookups, lists, search on the embedded backend, attachments, the dashboard)."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.content import attachments, drafts, forum, removal
from kb.content import service as content
from kb.content.models import EditorDraft, Entry, EntryKind, Revision, RevisionState, Tag
from kb.content.schemas import ArticleCreate, QuestionCreate, RevisionCreate
from kb.errors import Conflict, Forbidden, NotFound
from search import outbox
from search import service as search_service
from search.embedded import EmbeddedBackend
from workflow import audit, audit_trail
from workflow import service as workflow
from workflow.models import Action, TopicExpert

S = RevisionState
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def user(db, *roles):
    data = UserCreate(email=f"{'-'.join(roles)}-{uuid.uuid4().hex[:8]}@example.com", display_name="-".join(roles),
                      roles=[Role(r) for r in roles], password=None)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


@pytest.fixture
def people(db):
    cast = {name: user(db, role) for name, role in (("author", "author"), ("other", "author"), ("agent", "agent"),
                                                     ("expert", "expert"), ("admin", "admin"))}
    db.commit()
    return cast


@pytest.fixture
def index(tmp_path):
    backend = EmbeddedBackend(tmp_path / "search")
    yield backend
    backend.close()


def article(db, author, title="Refund to a closed card", body="The bank forwards the refund.") -> Entry:
    return content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body,
                                                                                 tags=["refunds"]))


def revise(db, actor, entry, body="A draft edit.", title="Refund to a closed card (edit)") -> Revision:
    db.refresh(entry)
    return content.save_revision(session=db, actor=actor, entry=entry, data=RevisionCreate(
        title=title, body=body, tags=["refunds"], base_revision_id=None))


def act(db, actor, revision_id, *actions, comment=""):
    for action in actions:
        workflow.transition(session=db, actor=actor, revision_id=revision_id, action=action, comment=comment)


def certify(db, entry, author, expert):
    tag = db.exec(select(Tag).where(Tag.name == "refunds")).one()
    if db.get(TopicExpert, (tag.id, expert.id)) is None:
        db.add(TopicExpert(tag_id=tag.id, user_id=expert.id))
        db.flush()
    act(db, author, entry.latest_revision_id, Action.submit)
    act(db, expert, entry.latest_revision_id, Action.approve, Action.certify)
    db.refresh(entry)


def events(db, entry):
    return [(e.action, e.actor_id, e.revision_id, e.to_state, e.comment) for e in audit.history(session=db, entry_id=entry.id)]


# --- discarding a draft revision ---------------------------------------------------------------


def test_author_discards_a_draft_edit_of_a_certified_article(db, people):
    author = people["author"]
    entry = article(db, author)
    certify(db, entry, author, people["expert"])
    certified_id = entry.certified_revision_id
    draft = revise(db, author, entry)
    drafts.autosave(session=db, actor=author, kind=EntryKind.article, title="Typing", body="More", tags="",
                    entry=entry, base_revision_id=draft.id)
    db.commit()

    latest = removal.discard_draft(session=db, actor=author, entry=entry, revision=draft)
    db.commit()

    db.refresh(entry)
    assert latest.id == entry.latest_revision_id == certified_id == entry.certified_revision_id
    assert db.get(Revision, draft.id).state == S.discarded.value  # kept for the audit trail
    assert db.exec(select(EditorDraft).where(EditorDraft.entry_id == entry.id)).all() == []
    assert events(db, entry)[-1] == ("discard", author.id, draft.id, "discarded",
                                     f"Discarded revision 2 “{draft.title}”.")
    # The editor builds on the certified revision again; the next revision takes a new number.
    assert content.latest_visible_revision(session=db, actor=author, entry=entry).id == certified_id
    again = revise(db, author, entry, body="Another try.")
    assert (again.number, again.parent_id) == (3, certified_id)
    # Still in the author's history, marked discarded; never shown to agents.
    assert S.discarded.value in [r.state for r in content.list_revisions(session=db, actor=author, entry=entry)]
    with pytest.raises(NotFound):
        content.get_revision(session=db, actor=people["agent"], revision_id=draft.id)


def test_a_duplicate_draft_revision_is_discarded_and_the_previous_draft_stays(db, people):
    author = people["author"]
    entry = article(db, author)
    first = db.get(Revision, entry.latest_revision_id)
    duplicate = revise(db, author, entry, body="The bank forwards the refund.")
    removal.discard_draft(session=db, actor=author, entry=entry, revision=duplicate)
    db.refresh(entry)
    assert entry.latest_revision_id == first.id and first.state == S.draft.value


@pytest.mark.parametrize("who", ["author", "co_author", "admin"])
def test_who_may_discard(db, people, who):
    author = people["author"]
    entry = article(db, author)
    if who == "co_author":
        entry.co_author_id = people["other"].id
        db.flush()
    draft = revise(db, author, entry)
    actor = people["other"] if who == "co_author" else people[who]
    removal.discard_draft(session=db, actor=actor, entry=entry, revision=draft)
    assert db.get(Revision, draft.id).state == S.discarded.value


@pytest.mark.parametrize("who", ["other", "agent", "expert"])
def test_others_may_not_discard(db, people, who):
    author = people["author"]
    entry = article(db, author)
    certify(db, entry, author, people["expert"])
    draft = revise(db, author, entry)
    with pytest.raises(Forbidden, match="Only the authors of this draft or an administrator can discard it."):
        removal.discard_draft(session=db, actor=people[who], entry=entry, revision=draft)
    assert db.get(Revision, draft.id).state == S.draft.value


def test_withdrawn_and_changes_requested_drafts_may_be_discarded(db, people):
    author, expert = people["author"], people["expert"]
    entry = article(db, author)
    certify(db, entry, author, expert)
    withdrawn = revise(db, author, entry)
    act(db, author, withdrawn.id, Action.submit, Action.withdraw)
    removal.discard_draft(session=db, actor=author, entry=entry, revision=withdrawn)
    sent_back = revise(db, author, entry, body="Second try.")
    act(db, author, sent_back.id, Action.submit)
    act(db, expert, sent_back.id, Action.request_changes, comment="Say which bank.")
    removal.discard_draft(session=db, actor=author, entry=entry, revision=sent_back)
    db.refresh(entry)
    assert entry.latest_revision_id == entry.certified_revision_id


def test_states_and_revisions_that_cannot_be_discarded(db, people):
    author, expert = people["author"], people["expert"]
    entry = article(db, author)
    only = db.get(Revision, entry.latest_revision_id)
    with pytest.raises(Conflict, match="first version of this entry.*Delete the draft instead"):
        removal.discard_draft(session=db, actor=author, entry=entry, revision=only)
    certify(db, entry, author, expert)
    with pytest.raises(Conflict, match="Only a draft can be discarded; this revision is “certified”."):
        removal.discard_draft(session=db, actor=author, entry=entry, revision=db.get(Revision, only.id))
    in_review = revise(db, author, entry)
    act(db, author, in_review.id, Action.submit)
    with pytest.raises(Conflict, match="in review: withdraw it from review first"):
        removal.discard_draft(session=db, actor=author, entry=entry, revision=db.get(Revision, in_review.id))
    assert db.get(Revision, in_review.id).state == S.in_review.value


def test_a_search_document_follows_the_discard(engine, db, people, index):
    author = people["author"]
    entry = article(db, author, body="The bank forwards the refund.")
    certify(db, entry, author, people["expert"])
    draft = revise(db, author, entry, body="Draft words okapiword.")
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, author, "okapiword") == [entry.id]
    removal.discard_draft(session=db, actor=author, entry=entry, revision=draft)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, author, "okapiword") == []
    assert found(index, people["agent"], "forwards", include_drafts=False) == [entry.id]


# --- deleting a draft article ------------------------------------------------------------------


def found(backend, viewer, text, include_drafts=True):
    results = search_service.search(backend=backend, viewer_user=viewer, text=text, include_drafts=include_drafts)
    return [hit.entry_id for hit in results.hits]


def test_a_deleted_draft_is_gone_from_every_channel(engine, db, people, index, tmp_path):
    author, admin = people["author"], people["admin"]
    entry = article(db, author, title="Duplicate about zebuword", body="Zebuword refunds.")
    upload = attachments.store_upload(session=db, actor=author, stream=io.BytesIO(PNG), filename="shot.png",
                                      data_dir=tmp_path, max_bytes=1 << 20, entry=entry)
    revise(db, author, entry, body=f"Zebuword. ![shot]({attachments.attachment_url(upload)})",
           title="Duplicate about zebuword")
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, author, "zebuword") == found(index, admin, "zebuword") == [entry.id]

    title = removal.delete_draft_entry(session=db, actor=author, entry=entry)
    db.commit()
    outbox.drain(engine=engine, backend=index)

    assert title == "Duplicate about zebuword"
    for viewer in (author, admin):
        with pytest.raises(NotFound):
            content.get_entry(session=db, actor=viewer, entry_id=entry.id)
        with pytest.raises(NotFound):
            content.get_revision(session=db, actor=viewer, revision_id=entry.latest_revision_id)
        with pytest.raises(NotFound):
            attachments.get_attachment(session=db, actor=viewer, attachment_id=upload.id)
        assert entry.id not in [e.id for e in content.list_articles(session=db, actor=viewer)]
        assert entry.id not in [e.id for e in content.list_articles(session=db, actor=viewer, mine=True)]
        assert found(index, viewer, "zebuword") == []
    # The audit trail keeps the deletion, with who and the title, for administrators.
    assert events(db, entry)[-1][:2] == ("delete", author.id)
    assert "“Duplicate about zebuword”" in events(db, entry)[-1][4]
    rows = audit_trail.audit_page(session=db, actor=admin, filters=audit_trail.AuditFilter(entry=str(entry.id))).rows
    assert [r.event.action for r in rows][0] == "delete"
    assert rows[0].title == "Duplicate about zebuword (deleted)"
    # Nobody can act on it any more.
    with pytest.raises(NotFound):
        workflow.transition(session=db, actor=admin, revision_id=entry.latest_revision_id, action=Action.submit)


@pytest.mark.parametrize("who", ["author", "co_author", "admin"])
def test_who_may_delete(db, people, who):
    entry = article(db, people["author"])
    if who == "co_author":
        entry.co_author_id = people["other"].id
        db.flush()
    removal.delete_draft_entry(session=db, actor=people["other" if who == "co_author" else who], entry=entry)
    assert db.get(Entry, entry.id).deleted_at is not None


def test_what_cannot_be_deleted(db, people):
    author, expert = people["author"], people["expert"]
    draft = article(db, author)
    for who in ("other", "agent", "expert"):
        with pytest.raises(Forbidden, match="Only the authors of this draft or an administrator can delete it."):
            removal.delete_draft_entry(session=db, actor=people[who], entry=draft)
    act(db, author, draft.latest_revision_id, Action.submit)
    with pytest.raises(Conflict, match="This draft is in review: withdraw it from review first, then delete it."):
        removal.delete_draft_entry(session=db, actor=author, entry=draft)
    act(db, author, draft.latest_revision_id, Action.withdraw)
    certified = article(db, author, title="Certified one")
    certify(db, certified, author, expert)
    with pytest.raises(Conflict, match="A certified article cannot be deleted; archive it instead."):
        removal.delete_draft_entry(session=db, actor=author, entry=certified)
    workflow.archive(session=db, actor=expert, entry=certified)
    db.refresh(certified)
    with pytest.raises(Conflict, match="A certified article cannot be deleted; archive it instead."):
        removal.delete_draft_entry(session=db, actor=author, entry=certified)
    question = forum.ask_question(session=db, actor=author, data=QuestionCreate(title="Why?", body="Because.",
                                                                                 tags=["refunds"]))
    with pytest.raises(Conflict, match="Only draft articles can be deleted"):
        removal.delete_draft_entry(session=db, actor=author, entry=question)
    # A withdrawn draft may go.
    removal.delete_draft_entry(session=db, actor=author, entry=draft)
    assert db.get(Entry, draft.id).deleted_at is not None
