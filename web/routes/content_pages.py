"""Helpers shared by the content pages: what a page shows about an entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlmodel import Session

from expertise import ratings
from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision
from kb.markdown import render as render_markdown
from workflow import service as workflow
from workflow.models import Action, Certification


@dataclass
class EntryView:
    entry: Entry
    revision: Revision
    tags: list[str]
    author: User
    revision_author: User
    can_edit: bool
    certification: Certification | None = None
    certifier: User | None = None
    # Workflow actions this user may take on the latest revision (drawn as buttons).
    actions: list[Action] = field(default_factory=list)
    # Votes and reuse of an article or answer (pages with actions only; None for questions).
    rating: ratings.RatingSummary | None = None

    @cached_property
    def html(self) -> str:
        # Rendered only by pages that show the body; list pages never pay for it.
        return render_markdown(self.revision.body)

    @property
    def is_latest(self) -> bool:
        return self.revision.id == self.entry.latest_revision_id

    @property
    def is_certified(self) -> bool:
        return self.revision.id == self.entry.certified_revision_id


def entry_view(session: Session, actor: User, entry: Entry, revision: Revision | None = None, *,
               with_actions: bool = False) -> EntryView:
    """What a page shows about an entry; ``with_actions`` adds the workflow buttons (a few queries
    per entry, so list pages leave it off)."""
    revision = revision or content.visible_revision(session=session, actor=actor, entry=entry)
    certification = session.get(Certification, entry.id)
    latest = session.get(Revision, entry.latest_revision_id)
    return EntryView(
        entry=entry,
        revision=revision,
        tags=content.tags_of(session=session, revision_ids=[revision.id])[revision.id],
        author=session.get(User, entry.author_id),
        revision_author=session.get(User, revision.author_id),
        can_edit=access.can_edit(actor, entry),
        certification=certification,
        certifier=session.get(User, certification.certified_by) if certification else None,
        actions=workflow.actions_for(session, actor=actor, entry=entry, revision=latest)
        if with_actions and latest else [],
        rating=ratings.rating_view(session, actor, entry, revision)
        if with_actions and entry.kind != EntryKind.question.value else None,
    )


def entry_url(entry: Entry, query: str = "") -> str:
    """The page that shows an entry (answers live in their question's thread)."""
    suffix = f"?{query}" if query else ""
    if entry.kind == EntryKind.article.value:
        return f"/articles/{entry.id}{suffix}"
    if entry.kind == EntryKind.question.value:
        return f"/questions/{entry.id}{suffix}"
    return f"/questions/{entry.parent_id}{suffix}#answer-{entry.id}"
