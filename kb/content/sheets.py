"""What a page or the API shows about entries, read in a fixed number of queries for any number
of them: the revision the viewer sees, its tags, the entry's and the revision's authors, and
whether the viewer may edit. ``workflow`` and ``expertise`` extend a sheet with their own facts
(certification, workflow actions, ratings), each in batch too.

Visibility is ``service.visible_revision``'s rule, applied to many entries at once; a sheet never
holds a revision the viewer may not open (nor its author)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.models import Entry, Revision
from kb.content.schemas import EntryPublic, RevisionPublic
from kb.markdown import render as render_markdown


@dataclass
class EntrySheet:
    entry: Entry
    # What the viewer sees of the entry (None only while an entry has no revision they may open).
    revision: Revision | None
    tags: list[str]
    author: User
    revision_author: User | None
    can_edit: bool

    @cached_property
    def html(self) -> str:
        # Rendered only by pages that show the body; list pages never pay for it.
        return render_markdown(self.revision.body)

    @property
    def is_latest(self) -> bool:
        return self.revision is not None and self.revision.id == self.entry.latest_revision_id

    @property
    def is_certified(self) -> bool:
        return self.revision is not None and self.revision.id == self.entry.certified_revision_id

    def parts(self) -> dict:
        """The sheet's fields, for building an extended sheet (``workflow``, ``expertise``) from it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def public(self) -> EntryPublic:
        """The API's view of the entry (same rule, same data as the pages)."""
        revision = revision_public(self.revision, self.tags) if self.revision else None
        return EntryPublic.model_validate({**self.entry.model_dump(), "revision": revision})


def revision_public(revision: Revision, tags: list[str]) -> RevisionPublic:
    return RevisionPublic.model_validate({**revision.model_dump(), "tags": tags})


def revisions_public(*, session: Session, revisions: Iterable[Revision]) -> list[RevisionPublic]:
    """Revisions with their tags, for the API (one query for the tags of all)."""
    revisions = list(revisions)
    tags = content.tags_of(session=session, revision_ids=[r.id for r in revisions])
    return [revision_public(r, tags[r.id]) for r in revisions]


def entry_sheets(*, session: Session, actor: User, entries: Iterable[Entry],
                 revisions: Mapping[int, Revision] | None = None) -> list[EntrySheet]:
    """Sheets for ``entries`` as ``actor`` sees them, in their order. ``revisions`` (entry id ->
    revision) shows a given revision instead of the visible one: the caller has checked that the
    actor may open it (``service.get_revision``)."""
    entries = list(entries)
    shown = dict(revisions or {})
    shown.update(content.visible_revisions(session=session, actor=actor,
                                          entries=[e for e in entries if e.id not in shown]))
    tags = content.tags_of(session=session, revision_ids=[r.id for r in shown.values() if r is not None])
    users = users_by_id(session=session, ids=[e.author_id for e in entries]
                        + [r.author_id for r in shown.values() if r is not None])
    sheets = []
    for entry in entries:
        revision = shown.get(entry.id)
        sheets.append(EntrySheet(
            entry=entry, revision=revision, tags=tags[revision.id] if revision else [],
            author=users[entry.author_id], revision_author=users[revision.author_id] if revision else None,
            can_edit=access.can_edit(actor, entry)))
    return sheets


def entry_sheet(*, session: Session, actor: User, entry: Entry, revision: Revision | None = None) -> EntrySheet:
    return entry_sheets(session=session, actor=actor, entries=[entry],
                        revisions={entry.id: revision} if revision else None)[0]


def users_by_id(*, session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    """Users by id, in one query (with their roles in one more)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(wanted)))}


def promoted_from(*, session: Session, entry: Entry) -> tuple[Entry, User] | None:
    """The forum answer an article was promoted from, with its author (credited on the article)."""
    if not entry.promoted_from_id:
        return None
    answer = session.get(Entry, entry.promoted_from_id)
    return answer, session.get(User, answer.author_id)
