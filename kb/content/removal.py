"""Throwing drafts away: discard a draft revision (the entry goes back to its previous one) and
delete a draft article (soft: ``Entry.deleted_at``; nobody sees it any more).

Nothing is removed from the database: the audit trail is append-only and references entries and
revisions (deleting them would cascade into it, which its triggers refuse), so a discarded revision
keeps its row in state ``discarded`` and a deleted entry its row with ``deleted_at``. Both publish
an event: the audit trail records who, when and what (``workflow.audit``), search follows
(``search.outbox``).

``discard_refusal`` and ``delete_refusal`` answer "may this user do it here, and if not, why?"
for the pages (which show the buttons) and for the services (which authorise with them)."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import EditorDraft, Entry, EntryKind, Revision, RevisionState
from kb.errors import Conflict, Forbidden
from kb.events import ENTRY_DELETED, REVISION_DISCARDED, Event, publish

S = RevisionState
# Revisions with their author: never submitted, withdrawn, or sent back with changes requested.
DISCARDABLE_STATES = frozenset({S.draft.value, S.withdrawn.value, S.changes_requested.value})
# An article that reached these was certified once: it is archived, never deleted.
CERTIFIED_STATES = frozenset({S.certified.value, S.superseded.value})
IN_REVIEW_STATES = frozenset({S.in_review.value, S.approved.value})


def _owns(user: User, entry: Entry, revision: Revision | None = None) -> bool:
    return user.is_admin or access.is_author(user, entry) or (revision is not None and revision.author_id == user.id)


def previous_revision(*, session: Session, revision: Revision) -> Revision | None:
    """The newest revision of the entry before ``revision`` that was not discarded."""
    return session.exec(
        select(Revision).where(Revision.entry_id == revision.entry_id, Revision.number < revision.number,
                               Revision.state != S.discarded.value)
        .order_by(Revision.number.desc()).limit(1)
    ).first()


def discard_refusal(*, session: Session, actor: User, entry: Entry, revision: Revision) -> Forbidden | Conflict | None:
    """Why ``actor`` may not discard ``revision`` now (an error to raise), or None when they may."""
    if not _owns(actor, entry, revision):
        return Forbidden("Only the authors of this draft or an administrator can discard it.")
    if revision.state not in DISCARDABLE_STATES:
        if revision.state == S.discarded.value:
            return Conflict("This draft was already discarded.")
        if revision.state in IN_REVIEW_STATES:
            return Conflict("This revision is in review: withdraw it from review first, then discard it.")
        return Conflict(f"Only a draft can be discarded; this revision is “{revision.state.replace('_', ' ')}”.")
    if previous_revision(session=session, revision=revision) is None:
        return Conflict("This is the first version of this entry, so there is nothing to go back to. "
                        "Delete the draft instead.")
    return None


def discard_draft(*, session: Session, actor: User, entry: Entry, revision: Revision) -> Revision:
    """Throw away the draft ``revision``: it is kept (state ``discarded``) for the audit trail, the
    entry points back to the previous revision when it was the latest, and the autosaved editor
    drafts built on it are cleared. Returns the entry's latest revision afterwards."""
    refusal = discard_refusal(session=session, actor=actor, entry=entry, revision=revision)
    if refusal is not None:
        raise refusal
    previous = previous_revision(session=session, revision=revision)
    from_state = revision.state
    # Conditional updates: a submit (or another discard) racing with this one cannot both win.
    moved = session.exec(update(Revision).where(Revision.id == revision.id, Revision.state == from_state)
                         .values(state=S.discarded.value)).rowcount
    if moved != 1:
        raise Conflict("This revision changed while you were looking at it; reload the page to see its state.")
    was_latest = session.exec(update(Entry).where(Entry.id == entry.id, Entry.latest_revision_id == revision.id)
                              .values(latest_revision_id=previous.id, activity_at=utcnow())).rowcount == 1
    session.exec(delete(EditorDraft).where(
        EditorDraft.entry_id == entry.id,
        (EditorDraft.base_revision_id == revision.id) | EditorDraft.user_id.in_({actor.id, revision.author_id})))
    session.flush()
    session.refresh(revision)
    session.refresh(entry)
    publish(session=session, event=Event(REVISION_DISCARDED, entry_id=entry.id, revision_id=revision.id,
                                         actor_id=actor.id,
                                         data={"number": revision.number, "title": revision.title,
                                               "from_state": from_state,
                                               "previous_revision_id": previous.id if was_latest else None}))
    return session.get(Revision, entry.latest_revision_id)


def delete_refusal(*, session: Session, actor: User, entry: Entry) -> Forbidden | Conflict | None:
    """Why ``actor`` may not delete ``entry`` now (an error to raise), or None when they may."""
    if entry.kind != EntryKind.article.value:
        return Conflict("Only draft articles can be deleted; questions and answers stay in their thread.")
    if not _owns(actor, entry):
        return Forbidden("Only the authors of this draft or an administrator can delete it.")
    states = set(session.exec(select(Revision.state).where(Revision.entry_id == entry.id).distinct()))
    if entry.certified_revision_id is not None or states & CERTIFIED_STATES:
        return Conflict("A certified article cannot be deleted; archive it instead.")
    if states & IN_REVIEW_STATES:
        return Conflict("This draft is in review: withdraw it from review first, then delete it.")
    return None


def delete_draft_entry(*, session: Session, actor: User, entry: Entry) -> str:
    """Delete a draft article that was never certified: from now on nobody sees it, anywhere.
    Returns its title (for the message saying it is gone)."""
    refusal = delete_refusal(session=session, actor=actor, entry=entry)
    if refusal is not None:
        raise refusal
    latest = session.get(Revision, entry.latest_revision_id)
    title = latest.title if latest is not None else ""
    now = utcnow()
    # The unique link to a promoted answer is let go, so that answer can be turned into an article again.
    deleted = session.exec(update(Entry).where(Entry.id == entry.id, Entry.deleted_at.is_(None))
                           .values(deleted_at=now, activity_at=now, promoted_from_id=None)).rowcount
    if deleted != 1:
        raise Conflict("This draft was already deleted.")
    session.exec(delete(EditorDraft).where(EditorDraft.entry_id == entry.id))
    session.flush()
    session.refresh(entry)
    publish(session=session, event=Event(ENTRY_DELETED, entry_id=entry.id, actor_id=actor.id,
                                         data={"title": title, "kind": entry.kind}))
    return title



def offers(*, session: Session, actor: User, entry: Entry) -> tuple[Revision | None, bool]:
    """What the entry page offers ``actor``: the latest revision when they may discard it (else
    None), and whether they may delete the whole draft."""
    latest = session.get(Revision, entry.latest_revision_id) if entry.latest_revision_id else None
    discard = latest if latest is not None and discard_refusal(session=session, actor=actor, entry=entry,
                                                                revision=latest) is None else None
    return discard, delete_refusal(session=session, actor=actor, entry=entry) is None
