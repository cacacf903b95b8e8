"""``export_folder``: one Markdown file per article and question (answers in their question's file),
in the format ``kb.content.transfer`` reads back.

Each entry is written as agents know it: its certified revision when it has one, otherwise the
latest revision the exporting user may see (a newer draft on top of certified content stays in
the database; ``kb backup`` keeps every revision). The workflow state goes in the front matter:
``state`` (``certified`` for the live certified revision, ``archived`` for certified content taken
away from agents, else the revision's state) and, from the caller's ``certifications`` (workflow
owns them), ``certified_by``, ``certified_at`` and ``valid_until``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content.frontmatter import file_name, format_document
from kb.content.models import Entry, EntryKind, Revision, RevisionState
from kb.content.service import tags_of
from kb.db import session_factory
from kb.errors import ValidationFailed

Progress = Callable[[int, int], None]
"""Called with (files done, files in total) as the work advances."""

Certifications = Callable[[Session, list[int]], dict[int, dict]]
"""Entry ids -> the front-matter fields of each one's certification (``workflow.transfer``)."""

EXPORTED_KINDS = (EntryKind.article.value, EntryKind.question.value)
_PUBLISHED = (RevisionState.certified.value, RevisionState.superseded.value)


@dataclass
class ExportReport:
    files: int = 0
    answers: int = 0
    certified: int = 0


def export_folder(*, engine: Engine, path: Path | str, actor: User, progress: Progress | None = None,
                  page_size: int = 1000, certifications: Certifications | None = None) -> int:
    """Write one file per article and question ``actor`` can see; returns the number of files."""
    return export_entries(engine=engine, path=path, actor=actor, progress=progress, page_size=page_size,
                          certifications=certifications).files


def export_entries(*, engine: Engine, path: Path | str, actor: User, progress: Progress | None = None,
                   page_size: int = 1000, certifications: Certifications | None = None) -> ExportReport:
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValidationFailed(f"{root} is a file; export into a folder.")
    root.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    with session_factory(engine)() as session:
        emails = dict(session.exec(select(User.id, User.email)).all())
        total = session.exec(select(func.count()).select_from(Entry).where(Entry.kind.in_(EXPORTED_KINDS),
                                                                            Entry.deleted_at.is_(None))).one()
        done, last_id = 0, 0
        while True:
            page = list(session.exec(select(Entry).where(Entry.kind.in_(EXPORTED_KINDS), Entry.id > last_id,
                                                       Entry.deleted_at.is_(None))  # deleted drafts stay gone
                                     .order_by(Entry.id).limit(page_size)))
            if not page:
                break
            last_id = page[-1].id
            _write_page(session, root, actor, page, emails=emails, certifications=certifications, report=report)
            done += len(page)
            session.expunge_all()
            if progress:
                progress(done, total)
    return report


def _write_page(session: Session, root: Path, actor: User, page: list[Entry], *, emails: dict[int, str],
                certifications: Certifications | None, report: ExportReport) -> None:
    entries = [e for e in page if access.can_view_entry(actor, e)]
    answers = list(session.exec(select(Entry).where(Entry.parent_id.in_([e.id for e in entries]))
                                .order_by(Entry.created_at, Entry.id))) if entries else []
    wanted = {i for e in entries + answers for i in (e.latest_revision_id, e.certified_revision_id) if i}
    revisions = {r.id: r for r in session.exec(select(Revision).where(Revision.id.in_(wanted)))} if wanted else {}
    chosen = {e.id: _exported(actor, e, revisions) for e in entries + answers}
    entries = [e for e in entries if chosen[e.id] is not None]
    tags = tags_of(session=session, revision_ids=[chosen[e.id].id for e in entries])
    certified = [e.id for e in entries + answers if chosen[e.id] is not None and
                 chosen[e.id].id == e.certified_revision_id]
    fields = certifications(session, certified) if certifications and certified else {}
    report.certified += len(certified)
    thread: dict[int, list[Entry]] = {}
    for answer in answers:
        if chosen[answer.id] is not None:
            thread.setdefault(answer.parent_id, []).append(answer)
    for entry in entries:
        revision = chosen[entry.id]
        meta = {"title": revision.title, "tags": tags[revision.id], "kind": entry.kind,
                "author": emails[entry.author_id], "source_id": source_id(entry),
                **_state(entry, revision, fields)}
        if entry.kind == EntryKind.question.value and thread.get(entry.id):
            meta["answers"] = [{"author": emails[a.author_id], "source_id": source_id(a),
                                "accepted": a.id == entry.accepted_answer_id, **_state(a, chosen[a.id], fields),
                                "body": chosen[a.id].body} for a in thread[entry.id]]
            report.answers += len(meta["answers"])
        meta |= {"id": entry.id, "revision": revision.number}
        (root / file_name(revision.title, entry.id)).write_bytes(format_document(meta, revision.body).encode("utf-8"))
        report.files += 1


def source_id(entry: Entry) -> str:
    """The key an import of the file finds the entry by: where it came from, else its id here."""
    return entry.source_key or f"entry-{entry.id}"


def _exported(actor: User, entry: Entry, revisions: dict[int, Revision]) -> Revision | None:
    certified = revisions.get(entry.certified_revision_id)
    if certified is not None:  # what every user who may open the entry sees
        return certified
    latest = revisions.get(entry.latest_revision_id)
    return latest if latest is not None and access.can_view_revision(actor, entry, latest) else None


def _state(entry: Entry, revision: Revision, fields: dict[int, dict]) -> dict:
    if entry.kind == EntryKind.question.value:
        return {}  # questions are not reviewed
    if revision.id == entry.certified_revision_id:
        return {"state": RevisionState.certified.value, **fields.get(entry.id, {})}
    return {"state": "archived" if revision.state in _PUBLISHED else revision.state}
