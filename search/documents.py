"""What the search index holds for an entry, built from the database (the only source of truth).

Per entry at most two documents:

* ``"<id>:public"``: what agents see. For articles and answers, the certified revision (none
  while uncertified or archived); for forum questions, the latest revision.
* ``"<id>:restricted"``: the latest revision when it is not the public one (a draft, a revision
  in review, ...), for its author, reviewers and admins only.

``search`` may not import ``workflow`` or ``expertise``: whether the certification needs
re-verification and the rating summary (helpful score, reuse count) come from search's own
``SearchEntryFacts``, which their events keep (``search.facts``).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, select

from kb.content.models import Entry, EntryAudience, EntryKind, Revision
from kb.content.service import tags_of
from kb.markdown import plain_text
from search.backend import EVERYONE, SearchDocument, group_token
from search.models import SearchEntryFacts


def doc_ids(entry_id: int) -> tuple[str, str]:
    return f"{entry_id}:public", f"{entry_id}:restricted"


#: Characters of the question's text an accepted answer carries as context.
CONTEXT_CHARS = 2000
CHUNK = 500  # ids per IN (...) list


class _Loaded:
    """The rows the documents of some entries are built from, read a table at a time (the
    indexer and ``kb reindex`` build thousands at once): entries, their questions, revisions,
    tags and facts. The plain text of a revision is computed once (an accepted answer carries
    its question's)."""

    def __init__(self, session: Session, entry_ids: list[int]) -> None:
        self.entries = self._rows(session, Entry, entry_ids)
        parents = {e.parent_id for e in self.entries.values() if e.parent_id is not None} - self.entries.keys()
        self.entries.update(self._rows(session, Entry, sorted(parents)))
        wanted = set()
        for entry in self.entries.values():
            wanted.update(rid for rid in (entry.latest_revision_id, entry.certified_revision_id) if rid is not None)
        self.revisions = self._rows(session, Revision, sorted(wanted))
        self.tags: dict[int, list[str]] = {}
        ids = sorted(self.revisions)
        for start in range(0, len(ids), CHUNK):
            self.tags.update(tags_of(session=session, revision_ids=ids[start:start + CHUNK]))
        self.facts = {}
        for start in range(0, len(entry_ids), CHUNK):
            self.facts.update({f.entry_id: f for f in session.exec(select(SearchEntryFacts).where(
                SearchEntryFacts.entry_id.in_(entry_ids[start:start + CHUNK])))})
        self._plain: dict[int, str] = {}
        limited = sorted(e.id for e in self.entries.values() if e.limited_to_groups)
        self.groups: dict[int, list[str]] = {entry_id: [] for entry_id in limited}
        for start in range(0, len(limited), CHUNK):
            chunk = limited[start:start + CHUNK]
            for row in session.exec(select(EntryAudience).where(EntryAudience.entry_id.in_(chunk))
                                    .order_by(EntryAudience.entry_id, EntryAudience.group_id)):
                self.groups[row.entry_id].append(group_token(row.group_id))

    @staticmethod
    def _rows(session: Session, model, ids: list[int]) -> dict:
        rows = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows.update({row.id: row for row in session.exec(select(model).where(model.id.in_(chunk)))})
        return rows

    def plain(self, revision: Revision) -> str:
        text = self._plain.get(revision.id)
        if text is None:
            text = self._plain[revision.id] = plain_text(revision.body)
        return text

    def question_revision(self, entry: Entry) -> tuple[Entry | None, Revision | None]:
        """An answer's question and the question's latest revision."""
        question = self.entries.get(entry.parent_id) if entry.parent_id is not None else None
        latest = question.latest_revision_id if question is not None else None
        return question, self.revisions.get(latest) if latest is not None else None


def _title(loaded: _Loaded, entry: Entry, revision: Revision) -> str:
    if revision.title or entry.parent_id is None:
        return revision.title
    _, question = loaded.question_revision(entry)  # an untitled answer: name its question
    return f"Re: {question.title}"[:200] if question else ""


def _acceptance(loaded: _Loaded, entry: Entry, title: str) -> tuple[bool, str]:
    """(accepted, context): an accepted answer carries its question's title and text (the
    question's latest revision, as its own document shows it) as searchable context; the title
    only when the answer's own ``title`` is not already "Re: <question title>"."""
    if entry.kind != EntryKind.answer.value or entry.parent_id is None:
        return False, ""
    question, revision = loaded.question_revision(entry)
    if question is None or question.accepted_answer_id != entry.id or question.latest_revision_id is None:
        return False, ""
    if revision is None:
        return True, ""
    text = loaded.plain(revision)[:CONTEXT_CHARS]
    if title != f"Re: {revision.title}"[:200]:
        text = f"{revision.title}\n{text}"
    return True, text


def _document(loaded: _Loaded, entry: Entry, revision: Revision, *, audience: str, certified: bool,
              needs_reverification: bool, tags: list[str], quality: tuple[float, int]) -> SearchDocument:
    title = _title(loaded, entry, revision)
    accepted, context = _acceptance(loaded, entry, title)
    return SearchDocument(
        id=f"{entry.id}:{audience}",
        entry_id=entry.id,
        revision_id=revision.id,
        kind=entry.kind,
        title=title,
        body=loaded.plain(revision),
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
        groups=tuple(loaded.groups[entry.id]) if entry.limited_to_groups else (EVERYONE,),
    )


def documents_for_entry(*, session: Session, entry_id: int) -> tuple[list[SearchDocument], list[str]]:
    """(documents to index, ids of documents that must no longer exist) for one entry."""
    return documents_for_entries(session=session, entry_ids=[entry_id])


def documents_for_entries(*, session: Session, entry_ids: list[int]) -> tuple[list[SearchDocument], list[str]]:
    """(documents to index, ids of documents that must no longer exist) for these entries, in
    their order, reading each table once per 500 entries."""
    loaded = _Loaded(session, list(entry_ids))
    docs: list[SearchDocument] = []
    deletes: list[str] = []
    for entry_id in entry_ids:
        _entry_documents(loaded, entry_id, docs, deletes)
    return docs, deletes


def _entry_documents(loaded: _Loaded, entry_id: int, docs: list[SearchDocument], deletes: list[str]) -> None:
    public_id, restricted_id = doc_ids(entry_id)
    entry = loaded.entries.get(entry_id)
    if entry is None or entry.latest_revision_id is None or entry.deleted_at is not None:
        deletes += [public_id, restricted_id]
        return
    if entry.kind == EntryKind.question.value:
        public_revision_id = entry.latest_revision_id
    else:
        public_revision_id = entry.certified_revision_id
    facts = loaded.facts.get(entry.id) or SearchEntryFacts(entry_id=entry.id)
    quality = (facts.helpful_score, facts.reuse_count)  # zeros when unrated

    public = loaded.revisions.get(public_revision_id) if public_revision_id else None
    if public is not None:
        certified = public.id == entry.certified_revision_id
        docs.append(_document(loaded, entry, public, audience="public", certified=certified,
                              needs_reverification=certified and facts.needs_reverification,
                              tags=loaded.tags[public.id], quality=quality))
    else:
        deletes.append(public_id)
    latest = loaded.revisions.get(entry.latest_revision_id)
    if latest is not None and (public is None or latest.id != public.id):
        docs.append(_document(loaded, entry, latest, audience="restricted", certified=False,
                              needs_reverification=False, tags=loaded.tags[latest.id], quality=quality))
    else:
        deletes.append(restricted_id)


def entry_ids(*, session: Session) -> list[int]:
    return list(session.exec(select(Entry.id).order_by(Entry.id)))


def all_documents(*, session: Session, ids: list[int] | None = None, chunk: int = CHUNK) -> Iterator[SearchDocument]:
    """Every document of every entry (for a reindex), a chunk of entries at a time."""
    ids = entry_ids(session=session) if ids is None else ids
    for start in range(0, len(ids), chunk):
        yield from documents_for_entries(session=session, entry_ids=ids[start:start + chunk])[0]
