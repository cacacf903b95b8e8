"""Import and export of articles and questions as Markdown files with YAML front matter.

The file format (what ``export_folder`` writes and ``import_folder`` reads)::

    ---
    title: Customer was charged twice
    tags: [billing, orders]
    kind: article            # article | question; default article
    author: ann@example.com  # default: the importing user
    id: 42                   # written by export, ignored by import
    revision: 3              # written by export, ignored by import
    ---
    The Markdown body, byte for byte: everything after the closing ``---`` line.

The body is taken verbatim after the closing delimiter (python-frontmatter would strip it), so
leading blank lines, trailing newlines and ``---`` lines inside the body survive a round trip.
Windows line endings (CRLF) become LF, as they do when text is saved from the editor or the API.
Other front-matter keys (``answers``, ``date``, ...) are ignored.

Import always creates new entries (``id`` and ``revision`` are provenance only: ids belong to
the database that exported them). Each file is validated like the API validates a request; a
file that fails is refused with a reason and the import goes on. A file whose author has no
account is refused rather than credited to the importer, because attribution feeds expertise and
certification. Only an administrator may import content written by someone else.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry, EntryKind, Revision, RevisionState, RevisionTag, Tag
from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content.service import check_body_size, claim_attachments, tags_of
from kb.db import session_factory, unit_of_work
from kb.errors import DomainError, Forbidden, NotFound, ValidationFailed
from kb.events import Event, publish
from kb.messages import validation_messages

Progress = Callable[[int, int], None]
"""Called with (files done, files in total) as the work advances."""

IMPORTABLE_KINDS = {EntryKind.article.value: ArticleCreate, EntryKind.question.value: QuestionCreate}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class FormatError(ValueError):
    """The file is not Markdown with front matter; the message says how to fix it."""


# --- the file format -------------------------------------------------------------------------


def parse_document(text: str) -> tuple[dict, str]:
    """(front matter, body) of a Markdown file; the body is everything after the closing ``---``."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise FormatError("It has no front matter: start the file with a line `---`, then `title: ...`, then `---`.")
    try:
        meta = yaml.load(match.group(1) or "", Loader=_Loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise FormatError(f"The front matter is not valid YAML ({problem}{line}).") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise FormatError("The front matter must be `key: value` lines (title, tags, kind, author).")
    return meta, text[match.end():]


def format_document(meta: dict, body: str) -> str:
    """The text of a file: front matter in the order given, then the body exactly as stored."""
    front = yaml.dump(meta, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=None,
                      width=1_000_000)
    return f"---\n{front}---\n{body}"


def read_document(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("It is not UTF-8 text; save it as UTF-8 and import it again.") from None
    except OSError as exc:
        raise FormatError(f"It cannot be read ({exc.strerror}).") from None
    return parse_document(text)


def file_name(title: str, entry_id: int) -> str:
    """``<slug-of-title>-<id>.md``: readable, unique, safe on every file system."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"{slug or 'entry'}-{entry_id}.md"


# --- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    files: int = 0
    articles: int = 0
    questions: int = 0
    tags_created: int = 0
    # (path relative to the imported folder, reason) for each file that was not imported.
    refused: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.articles + self.questions


@dataclass(frozen=True)
class _Author:
    id: int
    email: str
    may_write_articles: bool


@dataclass(frozen=True)
class _Document:
    path: Path
    kind: str
    title: str
    body: str
    tags: list[str]
    author_id: int


def import_folder(
    *, engine: Engine, path: Path | str, actor_email: str, batch_size: int = 500, progress: Progress | None = None,
) -> ImportReport:
    """Create an entry for every valid ``*.md`` file under ``path``: one transaction per batch."""
    started = time.perf_counter()
    batch_size = max(1, batch_size)
    root = Path(path)
    if not root.is_dir():
        raise NotFound(f"The folder {root} does not exist.")
    files = sorted(p for p in root.rglob("*.md") if p.is_file() and not _hidden(p.relative_to(root)))
    report = ImportReport(files=len(files))
    with session_factory(engine)() as session:
        users = session.exec(select(User)).all()
        authors = {u.email: _Author(u.id, u.email, access.can_write_articles(u)) for u in users}
        importer = next((u for u in users if u.email == actor_email.strip().lower()), None)
        if importer is None:
            raise NotFound(f"No user has the email {actor_email}.")
        if not importer.is_active:
            raise Forbidden(f"The account {importer.email} is deactivated; import as another user.")
        tag_ids = dict(session.exec(select(Tag.name, Tag.id)).all())
    for start in range(0, len(files), batch_size):
        documents = []
        for file in files[start:start + batch_size]:
            relative = file.relative_to(root)
            try:
                documents.append(_validate(file, relative, importer=importer, authors=authors))
            except (FormatError, DomainError) as exc:
                report.refused.append((relative, exc.message if isinstance(exc, DomainError) else str(exc)))
        _store(engine, documents, tag_ids=tag_ids, report=report)
        if progress:
            progress(min(start + batch_size, len(files)), len(files))
    report.seconds = time.perf_counter() - started
    return report


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _validate(file: Path, relative: Path, *, importer: User, authors: dict[str, _Author]) -> _Document:
    meta, body = read_document(file)
    kind = str(meta.get("kind") or EntryKind.article.value).strip().lower()
    if kind not in IMPORTABLE_KINDS:
        raise ValidationFailed(f"The kind “{kind}” is not known: use article or question.")
    title = meta.get("title")
    if isinstance(title, (int, float, date)) and not isinstance(title, bool):
        title = str(title)
    if title is None or not isinstance(title, str) or not title.strip():
        raise ValidationFailed("It has no title: add a `title:` line to the front matter.")
    if not body.strip():
        raise ValidationFailed("The body is empty: write the text after the closing `---` line.")
    try:
        data = IMPORTABLE_KINDS[kind].model_validate({"title": title, "body": body, "tags": _tag_list(meta)})
    except ValidationError as exc:
        messages = validation_messages(exc.errors())
        raise ValidationFailed(" ".join(f"{name}: {text}" for name, text in messages.items())) from None
    check_body_size(data.body)
    author = _author_of(meta.get("author"), importer=importer, authors=authors)
    if kind == EntryKind.article.value and not author.may_write_articles:
        raise Forbidden(f"{author.email} cannot write articles: give them the author role, or change the author.")
    return _Document(path=relative, kind=kind, title=data.title, body=data.body, tags=data.tags, author_id=author.id)


def _tag_list(meta: dict) -> list[str] | str:
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        return tags  # "billing, refunds" works too
    if not isinstance(tags, list) or any(isinstance(t, (list, dict)) for t in tags):
        raise ValidationFailed("Tags must be a list, like `tags: [billing, refunds]`.")
    return [str(t) for t in tags if t is not None]


def _author_of(raw, *, importer: User, authors: dict[str, _Author]) -> _Author:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return authors[importer.email]
    email = str(raw).strip().lower()
    author = authors.get(email)
    if author is None:
        raise NotFound(f"No user has the email {email}: create the account first (`kb user create`).")
    if author.id != importer.id and not importer.is_admin:
        raise Forbidden(f"Only an administrator can import content written by someone else ({email}).")
    return author


def _store(engine: Engine, documents: list[_Document], *, tag_ids: dict[str, int], report: ImportReport) -> None:
    """Insert a batch in one transaction; if the database refuses it, retry file by file."""
    if not documents:
        return
    try:
        stored = _commit(engine, documents, tag_ids=tag_ids, report=report)
    except SQLAlchemyError:
        stored = []
        for document in documents:
            try:
                stored += _commit(engine, [document], tag_ids=tag_ids, report=report)
            except SQLAlchemyError as exc:
                report.refused.append((document.path, f"The database refused it ({getattr(exc, 'orig', exc)})."))
    report.articles += sum(d.kind == EntryKind.article.value for d in stored)
    report.questions += sum(d.kind == EntryKind.question.value for d in stored)


def _commit(engine: Engine, documents: list[_Document], *, tag_ids: dict[str, int],
            report: ImportReport) -> list[_Document]:
    with unit_of_work(engine) as session:
        created = _insert_documents(session, documents, tag_ids=tag_ids)
    # Only now: tags created in a transaction that rolled back do not exist.
    tag_ids.update(created)
    report.tags_created += len(created)
    return documents


def _insert_documents(session: Session, documents: list[_Document], *, tag_ids: dict[str, int]) -> dict[str, int]:
    """The rows ``create_entry`` would write, inserted a table at a time; returns the tags it created.

    Same result as the service: an entry pointing at a first draft revision, tags in the
    author's order, attachments linked from the body claimed, one ``entry.created`` event each.
    """
    created: dict[str, int] = {}
    for name in dict.fromkeys(t for d in documents for t in d.tags):
        if name not in tag_ids:
            created[name] = _create_tag(session, name)
    known = {**tag_ids, **created}
    stamps = [utcnow() for _ in documents]
    entry_ids = session.exec(
        insert(Entry.__table__).returning(Entry.__table__.c.id, sort_by_parameter_order=True),
        params=[{"kind": d.kind, "parent_id": None, "author_id": d.author_id, "latest_revision_id": None,
                 "certified_revision_id": None, "accepted_answer_id": None, "promoted_from_id": None,
                 "created_at": now, "activity_at": now} for d, now in zip(documents, stamps, strict=True)],
    ).scalars().all()
    revision_ids = session.exec(
        insert(Revision.__table__).returning(Revision.__table__.c.id, sort_by_parameter_order=True),
        params=[{"entry_id": entry_id, "number": 1, "parent_id": None, "title": d.title, "body": d.body,
                 "author_id": d.author_id, "created_at": now, "state": RevisionState.draft.value}
                for d, entry_id, now in zip(documents, entry_ids, stamps, strict=True)],
    ).scalars().all()
    entry_table = Entry.__table__
    session.exec(
        update(entry_table).where(entry_table.c.id == bindparam("entry")).values(latest_revision_id=bindparam("rev")),
        params=[{"entry": e, "rev": r} for e, r in zip(entry_ids, revision_ids, strict=True)],
    )
    tag_rows = [{"revision_id": r, "tag_id": known[name], "position": position}
                for d, r in zip(documents, revision_ids, strict=True) for position, name in enumerate(d.tags)]
    if tag_rows:
        session.exec(insert(RevisionTag.__table__), params=tag_rows)
    for document, entry_id, revision_id in zip(documents, entry_ids, revision_ids, strict=True):
        claim_attachments(session, body=document.body, entry_id=entry_id, author_id=document.author_id)
        publish(session, Event("entry.created", entry_id=entry_id, revision_id=revision_id,
                               actor_id=document.author_id, data={"kind": document.kind, "imported": True}))
    return created


def _create_tag(session: Session, name: str) -> int:
    try:
        with session.begin_nested():
            return session.exec(
                insert(Tag.__table__).returning(Tag.__table__.c.id), params={"name": name, "created_at": utcnow()}
            ).scalar_one()
    except IntegrityError:  # created meanwhile by someone else: reuse it
        return session.exec(select(Tag.id).where(Tag.name == name)).one()


# --- export ----------------------------------------------------------------------------------


def export_folder(*, engine: Engine, path: Path | str, actor: User, progress: Progress | None = None,
                  page_size: int = 1000) -> int:
    """Write one file per article and question ``actor`` can see (its latest visible revision)."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValidationFailed(f"{root} is a file; export into a folder.")
    root.mkdir(parents=True, exist_ok=True)
    kinds = list(IMPORTABLE_KINDS)
    written = 0
    with session_factory(engine)() as session:
        emails = dict(session.exec(select(User.id, User.email)).all())
        total = session.exec(select(func.count()).select_from(Entry).where(Entry.kind.in_(kinds))).one()
        done, last_id = 0, 0
        while True:
            page = session.exec(
                select(Entry, Revision)
                .join(Revision, Revision.id == Entry.latest_revision_id)
                .where(Entry.kind.in_(kinds), Entry.id > last_id)
                .order_by(Entry.id)
                .limit(page_size)
            ).all()
            if not page:
                break
            last_id = page[-1][0].id
            chosen = [(e, _visible(session, actor, e, r)) for e, r in page]
            chosen = [(e, r) for e, r in chosen if r is not None]
            tags = tags_of(session=session, revision_ids=[r.id for _, r in chosen])
            for entry, revision in chosen:
                meta = {"title": revision.title, "tags": tags[revision.id], "kind": entry.kind,
                        "author": emails[entry.author_id], "id": entry.id, "revision": revision.number}
                (root / file_name(revision.title, entry.id)).write_bytes(
                    format_document(meta, revision.body).encode("utf-8"))
            written += len(chosen)
            done += len(page)
            session.expunge_all()
            if progress:
                progress(done, total)
    return written


def _visible(session: Session, actor: User, entry: Entry, latest: Revision) -> Revision | None:
    if not access.can_view_entry(actor, entry):
        return None
    if access.can_view_revision(actor, entry, latest):
        return latest
    return session.get(Revision, entry.certified_revision_id) if entry.certified_revision_id else None
