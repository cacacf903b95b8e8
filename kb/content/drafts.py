"""The editor's autosaved working copy, one per user and entry (or per new, unsaved entry)."""

from __future__ import annotations

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import UTC, utcnow
from kb.content import access
from kb.content.models import EditorDraft, Entry, EntryKind, Revision
from kb.content.service import check_body_size
from kb.errors import Conflict, Forbidden, NotFound, ValidationFailed

# ``seen`` of a tab that opened the editor without an autosaved draft.
NO_DRAFT = "none"


def stamp(draft: EditorDraft | None) -> str:
    """The version of a draft a tab last saw (its last autosave time), or NO_DRAFT."""
    if draft is None:
        return NO_DRAFT
    moment = draft.updated_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def other_tab_message(draft: EditorDraft) -> str:
    moment = draft.updated_at if draft.updated_at.tzinfo else draft.updated_at.replace(tzinfo=UTC)
    return (f"You changed this draft in another tab or window at {moment.astimezone(UTC):%H:%M} UTC. "
            "Compare both versions and keep what you need, so neither tab overwrites the other.")


def autosave(
    *, session: Session, actor: User, kind: EntryKind, title: str, body: str, tags: str,
    draft_id: int | None = None, entry: Entry | None = None, base_revision_id: int | None = None,
    seen: str | None = None,
) -> EditorDraft:
    """Keep what the author typed; nothing here becomes history until they save.

    ``seen``: the ``stamp`` of the draft as this tab last knew it. An entry has one draft per user,
    so two tabs on it share that draft: when another tab saved it since, this one is refused
    (Conflict) rather than silently overwrite it."""
    check_body_size(body)
    if entry is not None and not access.can_edit(actor, entry):
        raise Forbidden("You cannot edit this entry.")
    if entry is None and kind == EntryKind.article and not access.can_write_articles(actor):
        raise Forbidden("Only authors, experts and admins can write articles.")
    if base_revision_id is not None:
        base = session.get(Revision, base_revision_id)
        if base is None or entry is None or base.entry_id != entry.id:
            raise ValidationFailed("The version this edit started from is not one of this entry's. "
                                   "Reload the editor and try again.", field="base_revision_id")
    draft = None
    if draft_id is not None:
        draft = session.get(EditorDraft, draft_id)
        if draft is None or draft.user_id != actor.id:
            raise NotFound("That draft does not exist.")
    elif entry is not None:
        draft = draft_for(session=session, actor=actor, entry=entry)
        if seen is not None and draft is not None and stamp(draft) != seen:
            raise Conflict(other_tab_message(draft), field="draft",
                           details={"other_tab": True, "draft_saved_at": stamp(draft)})
    if draft is None:
        draft = EditorDraft(user_id=actor.id, kind=kind.value, entry_id=entry.id if entry else None)
        session.add(draft)
    draft.title, draft.body, draft.tags = title[:200], body, tags[:500]
    draft.base_revision_id = base_revision_id
    draft.updated_at = utcnow()
    session.flush()
    return draft


def draft_for(*, session: Session, actor: User, entry: Entry) -> EditorDraft | None:
    return session.exec(
        select(EditorDraft).where(EditorDraft.user_id == actor.id, EditorDraft.entry_id == entry.id)
    ).first()


def get_draft(*, session: Session, actor: User, draft_id: int) -> EditorDraft:
    draft = session.get(EditorDraft, draft_id)
    if draft is None or draft.user_id != actor.id:
        raise NotFound("That draft does not exist.")
    return draft


def my_new_drafts(*, session: Session, actor: User) -> list[EditorDraft]:
    """Autosaved articles that were never saved."""
    return list(session.exec(
        select(EditorDraft)
        .where(EditorDraft.user_id == actor.id, EditorDraft.entry_id.is_(None))
        .order_by(EditorDraft.updated_at.desc())
    ))


def discard_if_present(*, session: Session, actor: User, draft_id: int) -> None:
    """Drop the user's autosaved draft after a save; it may already be gone (saved in another tab)."""
    draft = session.get(EditorDraft, draft_id)
    if draft is not None and draft.user_id == actor.id:
        discard(session=session, actor=actor, draft=draft)


def discard(*, session: Session, actor: User, draft: EditorDraft) -> None:
    if draft.user_id != actor.id:
        raise NotFound("That draft does not exist.")
    session.delete(draft)
    session.flush()
