"""What the search index holds for an entry, built from the database (the only source of truth).

Per entry at most two documents:

* ``"<id>:public"``: what agents see. For articles and answers, the certified revision (none
  while uncertified or archived); for forum questions, the latest revision.
* ``"<id>:restricted"``: the latest revision when it is not the public one (a draft, a revision
  in review, ...), for its author, reviewers and admins only.

``search`` may not import ``workflow`` or ``expertise``: the certification's status and the rating
summary (helpful score, reuse count) are read through lightweight table references instead of
the ``workflow.models.Certification`` and ``expertise.models.EntryRating`` models.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from kb.content.models import Entry, EntryKind, Revision
from kb.content.service import tags_of
from kb.markdown import plain_text
from search.backend import SearchDocument

NEEDS_REVERIFICATION = "needs_reverification"

_certification = sa.table("certification", sa.column("entry_id", sa.Integer), sa.column("status", sa.String))
_entry_rating = sa.table("entry_rating", sa.column("entry_id", sa.Integer), sa.column("wilson", sa.Float),
                         sa.column("reuse_count", sa.Integer))


def doc_ids(entry_id: int) -> tuple[str, str]:
    return f"{entry_id}:public", f"{entry_id}:restricted"


def _certification_status(session: Session, entry_id: int) -> str | None:
    return session.execute(
        sa.select(_certification.c.status).where(_certification.c.entry_id == entry_id)
    ).scalar_one_or_none()


def _quality(session: Session, entry_id: int) -> tuple[float, int]:
    """(helpful score: the Wilson lower bound of the helpful votes, reuse count); zeros when unrated."""
    row = session.execute(
        sa.select(_entry_rating.c.wilson, _entry_rating.c.reuse_count).where(_entry_rating.c.entry_id == entry_id)
    ).first()
    return (float(row.wilson), int(row.reuse_count)) if row else (0.0, 0)


def _title(session: Session, entry: Entry, revision: Revision) -> str:
    if revision.title or entry.parent_id is None:
        return revision.title
    parent = session.get(Entry, entry.parent_id)  # an untitled answer: name its question
    question = session.get(Revision, parent.latest_revision_id) if parent and parent.latest_revision_id else None
    return f"Re: {question.title}"[:200] if question else ""


#: Characters of the question's text an accepted answer carries as context.
CONTEXT_CHARS = 2000


def _acceptance(session: Session, entry: Entry, title: str) -> tuple[bool, str]:
    """(accepted, context): an accepted answer carries its question's title and text (the
    question's latest revision, as its own document shows it) as searchable context; the title
    only when the answer's own ``title`` is not already "Re: <question title>"."""
    if entry.kind != EntryKind.answer.value or entry.parent_id is None:
        return False, ""
    question = session.get(Entry, entry.parent_id)
    if question is None or question.accepted_answer_id != entry.id or question.latest_revision_id is None:
        return False, ""
    revision = session.get(Revision, question.latest_revision_id)
    if revision is None:
        return True, ""
    text = plain_text(revision.body)[:CONTEXT_CHARS]
    if title != f"Re: {revision.title}"[:200]:
        text = f"{revision.title}\n{text}"
    return True, text


def _document(session: Session, entry: Entry, revision: Revision, *, audience: str, certified: bool,
              needs_reverification: bool, tags: list[str], quality: tuple[float, int]) -> SearchDocument:
    title = _title(session, entry, revision)
    accepted, context = _acceptance(session, entry, title)
    return SearchDocument(
        id=f"{entry.id}:{audience}",
        entry_id=entry.id,
        revision_id=revision.id,
        kind=entry.kind,
        title=title,
        body=plain_text(revision.body),
        tags=list(tags),
        audience=audience,  # type: ignore[arg-type]
        author_id=revision.author_id,
        state=revision.state,
        certified=certified,
        needs_reverification=needs_reverification,
        updated_at=revision.created_at,
        helpful_score=quality[0],
        reuse_count=quality[1],
        entry_author_id=entry.author_id,
        context=context,
        accepted=accepted,
        question_id=entry.parent_id if entry.kind == EntryKind.answer.value else None,
    )


def documents_for_entry(session: Session, entry_id: int) -> tuple[list[SearchDocument], list[str]]:
    """(documents to index, ids of documents that must no longer exist) for one entry."""
    public_id, restricted_id = doc_ids(entry_id)
    entry = session.get(Entry, entry_id)
    if entry is None or entry.latest_revision_id is None:
        return [], [public_id, restricted_id]
    if entry.kind == EntryKind.question.value:
        public_revision_id = entry.latest_revision_id
    else:
        public_revision_id = entry.certified_revision_id
    wanted = [rid for rid in {public_revision_id, entry.latest_revision_id} if rid is not None]
    revisions = {r.id: r for r in session.exec(select(Revision).where(Revision.id.in_(wanted)))}
    tags = tags_of(session=session, revision_ids=list(revisions))
    status = _certification_status(session, entry.id) if entry.certified_revision_id else None
    quality = _quality(session, entry.id)

    docs: list[SearchDocument] = []
    deletes: list[str] = []
    public = revisions.get(public_revision_id) if public_revision_id else None
    if public is not None:
        certified = public.id == entry.certified_revision_id
        docs.append(_document(session, entry, public, audience="public", certified=certified,
                              needs_reverification=certified and status == NEEDS_REVERIFICATION,
                              tags=tags[public.id], quality=quality))
    else:
        deletes.append(public_id)
    latest = revisions.get(entry.latest_revision_id)
    if latest is not None and (public is None or latest.id != public.id):
        docs.append(_document(session, entry, latest, audience="restricted", certified=False,
                              needs_reverification=False, tags=tags[latest.id], quality=quality))
    else:
        deletes.append(restricted_id)
    return docs, deletes


def entry_ids(session: Session) -> list[int]:
    return list(session.exec(select(Entry.id).order_by(Entry.id)))


def all_documents(session: Session, ids: list[int] | None = None) -> Iterator[SearchDocument]:
    """Every document of every entry (for a reindex), entry by entry."""
    for entry_id in entry_ids(session) if ids is None else ids:
        docs, _ = documents_for_entry(session, entry_id)
        yield from docs
