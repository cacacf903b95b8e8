"""Import and export of articles, questions and answers as Markdown files with YAML front matter.

The file format (what ``export_folder`` writes and ``import_folder`` reads)::

    ---
    title: Customer was charged twice
    tags: [billing, orders]
    kind: article            # article | question; default article
    author: ann@example.com  # default: the importing user
    source_id: billing/charged-twice   # default: the file's path in the folder
    state: certified         # draft (default) | certified; other exported states import as drafts
    certified_by: erin@example.com     # with state: certified
    certified_at: 2026-01-05 09:30:00+00:00   # default: the time of the import
    valid_until: 2026-04-05 09:30:00+00:00    # default: the topic policy's validity from the import
    answers:                 # questions only: the thread, in order
      - author: sam@example.com
        accepted: true
        state: certified     # source_id, state, certified_by, certified_at, valid_until as above
        certified_by: erin@example.com
        body: |
          The answer's Markdown.
    id: 42                   # written by export, ignored by import
    revision: 3              # written by export, ignored by import
    ---
    The Markdown body, byte for byte: everything after the closing ``---`` line.

Other front-matter keys (``date``, ...) are ignored. ``source_id`` is stored on the entry (answers:
their own ``source_id``, default ``<question's source_id>#answer-<n>``), so importing the same
folder again finds the entries instead of duplicating them: ``on_existing="skip"`` leaves them as
they are, ``"update"`` saves a changed file as a new revision (an unchanged one is skipped).

Each file is validated like the API validates a request; a file that fails is refused with a
reason and the import goes on. A file whose author has no account is refused rather than credited
to the importer, because attribution feeds expertise and certification. Only an administrator may
import content written by someone else. Certification belongs to ``workflow``: ``kb`` cannot import
it, so the caller passes an ``ImportWorkflow`` (``workflow.transfer``) that checks each request
before anything of the file is written and certifies what was written in the same transaction.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.export import Progress, export_folder
from kb.content.frontmatter import (MAX_ANSWERS, FormatError, file_name, format_document, parse_document,
                                    read_document)
from kb.content.models import Entry, EntryKind, Revision, RevisionState, RevisionTag, Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import check_body_size, claim_attachments, tags_of
from kb.db import session_factory, unit_of_work
from kb.errors import DomainError, Forbidden, NotFound, ValidationFailed
from kb.events import ANSWER_ACCEPTED, ENTRY_CREATED, IMPORT_FINISHED, REVISION_CREATED, Event, publish, publish_all
from kb.messages import validation_messages

__all__ = ["CertificationCheck", "FormatError", "ImportOptions", "ImportReport", "ImportWorkflow", "export_folder",
           "file_name", "format_document", "import_folder", "parse_document", "read_document"]

IMPORTABLE_KINDS = {EntryKind.article.value: ArticleCreate, EntryKind.question.value: QuestionCreate}
CERTIFIED = RevisionState.certified.value
# Every state an export writes: ``certified`` is kept, the others (review in progress, archived
# content) arrive as drafts, since reviews and their reviewers are not part of the file.
KNOWN_STATES = {s.value for s in RevisionState} | {"archived"}
ON_EXISTING = ("skip", "update")
MAX_SOURCE_KEY = 255


@dataclass(frozen=True)
class ImportOptions:
    """What the command line says for every file; ``None`` leaves it to each file's front matter."""

    state: str | None = None  # draft | certified
    certified_by: str | None = None  # email of the certifier
    valid_days: int | None = None  # certified content stays valid this long from the import
    on_existing: str = "skip"  # skip | update: what to do with a file imported before


@dataclass(frozen=True)
class CertificationRequest:
    """A file asks for its revision to be certified by ``certified_by`` (an email)."""

    certified_by: str
    certified_at: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = None


@dataclass(frozen=True)
class ImportedRevision:
    """A revision the import wrote (or found unchanged) that its file asks to be certified."""

    path: Path
    entry_id: int
    revision_id: int
    request: CertificationRequest


@dataclass(frozen=True)
class CertificationCheck:
    """May ``request`` be granted for a revision by ``author_id`` with these tags, of a new entry
    (``entry_id`` None) or of an entry imported before?"""

    entry_id: int | None
    author_id: int
    tag_names: tuple[str, ...]
    request: CertificationRequest


class ImportWorkflow(Protocol):
    """What the import needs from the package that owns certification (``workflow.transfer``).
    Both take a batch of files' worth at once: an import asks for thousands per transaction."""

    def check(self, session: Session, checks: list[CertificationCheck]) -> list[str | None]:
        """For each check, the sentence saying why it may not be granted (None: it may); writes nothing."""

    def certify(self, session: Session, revisions: list[ImportedRevision]) -> None:
        """Certify these revisions (checked before), in the import's transaction."""


@dataclass
class ImportReport:
    files: int = 0
    # Entries created, by kind.
    articles: int = 0
    questions: int = 0
    answers: int = 0
    tags_created: int = 0
    # Files, by what happened to them (refused files are in ``refused``).
    created: int = 0
    updated: int = 0
    skipped: int = 0
    certified: int = 0  # revisions certified on import
    # (path relative to the imported folder, reason) for each file that was not imported.
    refused: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        """Files that created or updated entries."""
        return self.created + self.updated


@dataclass(frozen=True)
class _Author:
    id: int
    email: str
    may_write_articles: bool


@dataclass(frozen=True)
class _Answer:
    source_key: str
    body: str
    author_id: int
    accepted: bool
    request: CertificationRequest | None
    kind: str = EntryKind.answer.value
    title: str = ""  # "Re: <question's title>", set with the question
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Document:
    path: Path
    kind: str
    title: str
    body: str
    tags: list[str]
    author_id: int
    source_key: str = ""
    request: CertificationRequest | None = None
    answers: tuple[_Answer, ...] = ()


@dataclass
class _Context:
    importer: User
    options: ImportOptions
    workflow: ImportWorkflow | None
    tag_ids: dict[str, int]
    authors: set[int] = field(default_factory=set)  # of what committed batches created or changed


@dataclass
class _Outcome:
    """What one attempt at a batch did; added to the report only once its transaction committed."""

    created: list[_Document] = field(default_factory=list)
    updated: int = 0
    skipped: int = 0
    answers: int = 0
    certify: list[ImportedRevision] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    tags: dict[str, int] = field(default_factory=dict)
    authors: set[int] = field(default_factory=set)  # whose entries were created, changed or certified


def import_folder(
    *, engine: Engine, path: Path | str, actor_email: str, batch_size: int = 500, progress: Progress | None = None,
    options: ImportOptions | None = None, workflow: ImportWorkflow | None = None,
) -> ImportReport:
    """Import every valid ``*.md`` file under ``path``: one transaction per batch of files."""
    started = time.perf_counter()
    options = options or ImportOptions()
    if options.on_existing not in ON_EXISTING:
        raise ValidationFailed(f"What to do with files imported before must be skip or update, not "
                               f"“{options.on_existing}”.", field="on_existing")
    if options.state is not None and options.state not in (RevisionState.draft.value, CERTIFIED):
        raise ValidationFailed(f"The state of imported content must be draft or certified, not “{options.state}”.",
                               field="state")
    if options.valid_days is not None and not 1 <= options.valid_days <= 3650:
        raise ValidationFailed("The validity must be between 1 and 3650 days.", field="valid_days")
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
        session.expunge(importer)
        tag_ids = dict(session.exec(select(Tag.name, Tag.id)).all())
    context = _Context(importer=importer, options=options, workflow=workflow, tag_ids=tag_ids)
    seen: dict[tuple[str, str], Path] = {}
    try:
        for start in range(0, len(files), batch_size):
            documents = []
            for file in files[start:start + batch_size]:
                relative = file.relative_to(root)
                try:
                    document = _validate(file, relative, context=context, authors=authors)
                    _claim_source_keys(document, seen)
                    documents.append(document)
                except (FormatError, DomainError) as exc:
                    report.refused.append((relative, exc.message if isinstance(exc, DomainError) else str(exc)))
            _store(engine, documents, context=context, report=report)
            if progress:
                progress(min(start + batch_size, len(files)), len(files))
    except BaseException:  # stopped half-way: the batches written so far stay, and are announced
        with contextlib.suppress(Exception):  # the first error is the one to report
            _announce(engine, context, report)
        raise
    if report.created or report.updated:
        refresh_statistics(engine)
    _announce(engine, context, report)
    report.seconds = time.perf_counter() - started
    return report


def refresh_statistics(engine: Engine) -> None:
    """PostgreSQL: bring the planner's statistics up to date after a bulk import. Until autovacuum
    gets to it (minutes later, or never on a server with it off), the planner takes the new tables
    for nearly empty: at 100,000 imported entries, the expertise query of one helpful vote took
    3.7 s instead of milliseconds (nested loops over thousands of rows estimated at one), holding
    the voter's transaction and the rows it locked. SQLite is left as it is: without statistics
    its planner already takes kb's indexes (the same vote takes tens of milliseconds there at
    100,000 entries), and statistics would change plans that the benchmark measured."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def _announce(engine: Engine, context: _Context, report: ImportReport) -> None:
    """``import.finished``: reactions deferred until the last batch (expertise of the authors)."""
    if context.authors:
        with unit_of_work(engine) as session:
            publish(session=session, event=Event(IMPORT_FINISHED, actor_id=context.importer.id, data={
                "author_ids": sorted(context.authors), "files": report.files}))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _claim_source_keys(document: _Document, seen: dict[tuple[str, str], Path]) -> None:
    keys = [(document.kind, document.source_key)] + [(a.kind, a.source_key) for a in document.answers]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("Two of its answers have the same source_id; give each its own.")
    for key in keys:
        if key in seen:
            raise ValidationFailed(f"The file {seen[key]} has the same source_id ({key[1]}); give each its own.")
    seen.update(dict.fromkeys(keys, document.path))


# --- reading a file --------------------------------------------------------------------------


def _validate(file: Path, relative: Path, *, context: _Context, authors: dict[str, _Author]) -> _Document:
    meta, body = read_document(file)
    kind = str(meta.get("kind") or EntryKind.article.value).strip().lower()
    if kind not in IMPORTABLE_KINDS:
        raise ValidationFailed(f"The kind “{kind}” is not known: use article or question (answers go in their "
                               "question's file, under `answers:`).")
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
        raise ValidationFailed(_sentences(exc)) from None
    check_body_size(data.body)
    author = _author_of(meta.get("author"), importer=context.importer, authors=authors)
    if kind == EntryKind.article.value and not author.may_write_articles:
        raise Forbidden(f"{author.email} cannot write articles: give them the author role, or change the author.")
    source_key = _source_key(meta.get("source_id"), default=relative.as_posix())
    answers = ()
    if meta.get("answers") is not None:
        if kind != EntryKind.question.value:
            raise ValidationFailed("Only questions have answers: set `kind: question`, or remove `answers:`.")
        answers = _answers(meta["answers"], question_key=source_key, title=data.title, tags=data.tags,
                           context=context, authors=authors)
    request = _request(meta, context.options, what="It") if kind == EntryKind.article.value else None
    return _Document(path=relative, kind=kind, title=data.title, body=data.body, tags=data.tags,
                     author_id=author.id, source_key=source_key, request=request, answers=answers)


def _sentences(exc: ValidationError) -> str:
    return " ".join(f"{name}: {text}" for name, text in validation_messages(exc.errors()).items())


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


def _source_key(raw, *, default: str) -> str:
    if isinstance(raw, (dict, list, bool)):
        raise ValidationFailed("The source_id must be a word or a path, like `source_id: billing/refunds-42`.")
    key = " ".join(str(raw).split()) if raw is not None else ""
    key = key or default
    if len(key) > MAX_SOURCE_KEY:
        raise ValidationFailed(f"The source_id (or the file's path, its default) is longer than {MAX_SOURCE_KEY} "
                               "characters; give a shorter `source_id:`.")
    return key


def _answers(raw, *, question_key: str, title: str, tags: list[str], context: _Context,
             authors: dict[str, _Author]) -> tuple[_Answer, ...]:
    if not isinstance(raw, list) or any(not isinstance(item, dict) for item in raw):
        raise ValidationFailed("`answers:` must be a list of answers, each with `author:` and `body:`.")
    if len(raw) > MAX_ANSWERS:
        raise ValidationFailed(f"It has {len(raw)} answers; a question may bring at most {MAX_ANSWERS}.")
    answers = []
    for n, item in enumerate(raw, start=1):
        what = f"Answer {n}"
        body = item.get("body")
        if not isinstance(body, str):
            raise ValidationFailed(f"{what} has no body: add `body: |` with the text below it.")
        try:
            body = AnswerCreate.model_validate({"body": body}).body
        except ValidationError as exc:
            raise ValidationFailed(f"{what}: {_sentences(exc)}") from None
        check_body_size(body)
        author = _author_of(item.get("author"), importer=context.importer, authors=authors)
        if not author.may_write_articles:  # who may answer is who may write (kb.content.access.can_answer)
            raise Forbidden(f"{what}: {author.email} cannot answer questions; give them the author role.")
        accepted = item.get("accepted", False)
        if not isinstance(accepted, bool):
            raise ValidationFailed(f"{what}: `accepted:` must be true or false.")
        answers.append(_Answer(
            source_key=_source_key(item.get("source_id"), default=f"{question_key}#answer-{n}"), body=body,
            author_id=author.id, accepted=accepted, request=_request(item, context.options, what=what),
            title=f"Re: {title}"[:200], tags=tuple(tags)))
    if sum(a.accepted for a in answers) > 1:
        raise ValidationFailed("More than one answer is marked `accepted: true`; a question accepts one.")
    return tuple(answers)


def _request(meta: dict, options: ImportOptions, *, what: str) -> CertificationRequest | None:
    """The certification a file (or the command line) asks for; None for a draft."""
    state = options.state or str(meta.get("state") or RevisionState.draft.value).strip().lower()
    if state not in KNOWN_STATES:
        raise ValidationFailed(f"{what}: the state “{state}” is not known; use draft or certified.")
    if state != CERTIFIED:
        return None
    certified_by = options.certified_by or meta.get("certified_by")
    if not isinstance(certified_by, str) or not certified_by.strip():
        raise ValidationFailed(f"{what} is to be certified, but nobody is named: add `certified_by: EMAIL` "
                               "or import with --certified-by EMAIL.")
    certified_at = _moment(meta.get("certified_at"), "certified_at", what)
    valid_until = None if options.valid_days else _moment(meta.get("valid_until"), "valid_until", what)
    if certified_at and certified_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed(f"{what}: certified_at is in the future.")
    if certified_at and valid_until and valid_until <= certified_at:
        raise ValidationFailed(f"{what}: valid_until must come after certified_at.")
    return CertificationRequest(certified_by=certified_by.strip().lower(), certified_at=certified_at,
                                valid_until=valid_until, valid_days=options.valid_days)


def _moment(raw, name: str, what: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip())
        except ValueError:
            raw = None
    elif isinstance(raw, date) and not isinstance(raw, datetime):
        raw = datetime(raw.year, raw.month, raw.day)
    if not isinstance(raw, datetime):
        raise ValidationFailed(f"{what}: {name} must be a date and time, like 2026-01-31T09:00:00Z.")
    return raw.replace(tzinfo=UTC) if raw.tzinfo is None else raw.astimezone(UTC)


# --- writing a batch -------------------------------------------------------------------------


def _store(engine: Engine, documents: list[_Document], *, context: _Context, report: ImportReport) -> None:
    """Write a batch in one transaction; if the database refuses it, retry file by file."""
    if not documents:
        return
    try:
        _commit(engine, documents, context=context, report=report)
    except SQLAlchemyError:
        for document in documents:
            try:
                _commit(engine, [document], context=context, report=report)
            except SQLAlchemyError as exc:
                report.refused.append((document.path, f"The database refused it ({getattr(exc, 'orig', exc)})."))


def _commit(engine: Engine, documents: list[_Document], *, context: _Context, report: ImportReport) -> None:
    outcome = _Outcome()
    with unit_of_work(engine) as session:
        _write(session, documents, context=context, outcome=outcome)
    # Only now: tags created in a transaction that rolled back do not exist.
    context.tag_ids.update(outcome.tags)
    context.authors |= outcome.authors
    report.tags_created += len(outcome.tags)
    report.articles += sum(d.kind == EntryKind.article.value for d in outcome.created)
    report.questions += sum(d.kind == EntryKind.question.value for d in outcome.created)
    report.answers += outcome.answers
    report.created += len(outcome.created)
    report.updated += outcome.updated
    report.skipped += outcome.skipped
    report.certified += len(outcome.certify)
    report.refused += outcome.refused


@dataclass(frozen=True)
class _Found:
    id: int
    author_id: int
    latest_revision_id: int
    certified_revision_id: int | None
    accepted_answer_id: int | None


def _write(session: Session, documents: list[_Document], *, context: _Context, outcome: _Outcome) -> None:
    keys = sorted({d.source_key for d in documents} | {a.source_key for d in documents for a in d.answers})
    found = {}
    for start in range(0, len(keys), 500):  # one query per 500 source keys: which files came before
        found.update({(kind, key): _Found(*row) for kind, key, *row in session.exec(
            select(Entry.kind, Entry.source_key, Entry.id, Entry.author_id, Entry.latest_revision_id,
                   Entry.certified_revision_id, Entry.accepted_answer_id)
            .where(Entry.source_key.in_(keys[start:start + 500])))})
    new, existing = [], []
    for document in documents:
        here = found.get((document.kind, document.source_key))
        if here is None:
            new.append(document)
        elif context.options.on_existing == "skip":
            outcome.skipped += 1
        else:
            existing.append((document, here))
    refusals = _check_new(session, new, context)
    outcome.refused += [(d.path, refusals[d.path]) for d in new if d.path in refusals]
    new = [d for d in new if d.path not in refusals]
    if new:
        _create(session, new, context=context, outcome=outcome)
    for document, here in existing:
        try:
            with session.begin_nested():  # a refused file leaves nothing behind
                tags_before = dict(outcome.tags)
                changed = _update(session, document, here, found=found, context=context, outcome=outcome)
        except DomainError as exc:
            outcome.tags = tags_before
            outcome.refused.append((document.path, exc.message))
            continue
        if changed:
            outcome.updated += 1
        else:
            outcome.skipped += 1
    if outcome.certify:
        context.workflow.certify(session, outcome.certify)


NO_WORKFLOW = "Certified content can only be imported with kb's workflow (`kb import`)."


def _check(session: Session, context: _Context, *, entry_id: int | None, author_id: int, tags, request) -> None:
    if request is None:
        return
    if context.workflow is None:
        raise ValidationFailed(NO_WORKFLOW)
    refusal, = context.workflow.check(session, [CertificationCheck(entry_id, author_id, tuple(tags), request)])
    if refusal:
        raise Forbidden(refusal)


def _check_new(session: Session, documents: list[_Document], context: _Context) -> dict[Path, str]:
    """Why each new file that asks for certification may not have it (file -> first refusal), in
    one call for the batch."""
    asked = [(d.path, CertificationCheck(None, item.author_id, tuple(item.tags), item.request))
             for d in documents for item in (d, *d.answers) if item.request is not None]
    if not asked:
        return {}
    if context.workflow is None:
        return dict.fromkeys((path for path, _ in asked), NO_WORKFLOW)
    refusals: dict[Path, str] = {}
    for (path, _), refusal in zip(asked, context.workflow.check(session, [c for _, c in asked]), strict=True):
        if refusal:
            refusals.setdefault(path, refusal)
    return refusals


def _create(session: Session, documents: list[_Document], *, context: _Context, outcome: _Outcome) -> None:
    outcome.tags.update(_insert_documents(session, documents, tag_ids={**context.tag_ids, **outcome.tags}))
    written = _revisions_by_key(session, [d.source_key for d in documents])
    questions = [d for d in documents if d.answers]
    answers = [a for d in questions for a in d.answers]
    if answers:
        outcome.tags.update(_insert_rows(
            session, answers, parents=[written[d.kind, d.source_key][0] for d in questions for _ in d.answers],
            tag_ids={**context.tag_ids, **outcome.tags}))
        outcome.answers += len(answers)
        written.update(_revisions_by_key(session, [a.source_key for a in answers]))
    accepted = {}
    for document in questions:
        for answer in document.answers:
            if answer.accepted:
                accepted[written[document.kind, document.source_key][0]] = written[answer.kind, answer.source_key][0]
    if accepted:
        entry_table = Entry.__table__
        session.exec(update(entry_table).where(entry_table.c.id == bindparam("question"))
                     .values(accepted_answer_id=bindparam("answer")),
                     params=[{"question": q, "answer": a} for q, a in accepted.items()])
    for item, document in [(d, d) for d in documents] + [(a, d) for d in questions for a in d.answers]:
        if item.request is not None:
            entry_id, revision_id = written[item.kind, item.source_key]
            outcome.certify.append(ImportedRevision(document.path, entry_id, revision_id, item.request))
    outcome.created += documents
    outcome.authors |= {item.author_id for d in documents for item in (d, *d.answers)}


def _revisions_by_key(session: Session, keys: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    rows = session.exec(select(Entry.kind, Entry.source_key, Entry.id, Entry.latest_revision_id)
                        .where(Entry.source_key.in_(keys)))
    return {(kind, key): (entry_id, revision_id) for kind, key, entry_id, revision_id in rows}


def _insert_documents(session: Session, documents: list[_Document], *, tag_ids: dict[str, int]) -> dict[str, int]:
    """The rows ``create_entry`` would write for new articles and questions, a table at a time;
    returns the tags it created."""
    return _insert_rows(session, documents, parents=[None] * len(documents), tag_ids=tag_ids)


def _insert_rows(session: Session, documents, *, parents: list[int | None], tag_ids: dict[str, int]) -> dict[str, int]:
    """Same result as the service: an entry pointing at a first draft revision, tags in the
    author's order, attachments linked from the body claimed, one ``entry.created`` event each."""
    created: dict[str, int] = {}
    for name in dict.fromkeys(t for d in documents for t in d.tags):
        if name not in tag_ids:
            created[name] = _create_tag(session, name)
    known = {**tag_ids, **created}
    stamps = [utcnow() for _ in documents]
    entry_ids = session.exec(
        insert(Entry.__table__).returning(Entry.__table__.c.id, sort_by_parameter_order=True),
        params=[{"kind": d.kind, "parent_id": parent, "author_id": d.author_id, "latest_revision_id": None,
                 "certified_revision_id": None, "accepted_answer_id": None, "promoted_from_id": None,
                 "created_at": now, "activity_at": now, "source_key": d.source_key or None}
                for d, parent, now in zip(documents, parents, stamps, strict=True)],
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
    for document, entry_id in zip(documents, entry_ids, strict=True):
        claim_attachments(session=session, body=document.body, entry_id=entry_id, author_id=document.author_id)
    publish_all(session=session, events=[
        Event(ENTRY_CREATED, entry_id=entry_id, revision_id=revision_id, actor_id=document.author_id,
              data={"kind": document.kind, "imported": True})
        for document, entry_id, revision_id in zip(documents, entry_ids, revision_ids, strict=True)])
    return created


def _create_tag(session: Session, name: str) -> int:
    try:
        with session.begin_nested():
            return session.exec(
                insert(Tag.__table__).returning(Tag.__table__.c.id), params={"name": name, "created_at": utcnow()}
            ).scalar_one()
    except IntegrityError:  # created meanwhile by someone else: reuse it
        return session.exec(select(Tag.id).where(Tag.name == name)).one()


# --- updating what an earlier import created ---------------------------------------------------


def _update(session: Session, document: _Document, here: _Found, *, found: dict, context: _Context,
            outcome: _Outcome) -> bool:
    """Bring an entry (and its answers) in line with its file; whether anything changed."""
    importer = context.importer
    if here.author_id != importer.id and not importer.is_admin:
        raise Forbidden("Only an administrator can update content written by someone else.")
    changed = _sync(session, document, here, parent_id=None, context=context, outcome=outcome)
    accepted_id = here.accepted_answer_id
    for answer in document.answers:
        existing = found.get((answer.kind, answer.source_key))
        if existing is None:
            _check(session, context, entry_id=None, author_id=answer.author_id, tags=answer.tags,
                   request=answer.request)
            outcome.tags.update(_insert_rows(session, [answer], parents=[here.id],
                                             tag_ids={**context.tag_ids, **outcome.tags}))
            entry_id, revision_id = _revisions_by_key(session, [answer.source_key])[answer.kind, answer.source_key]
            if answer.request is not None:
                outcome.certify.append(ImportedRevision(document.path, entry_id, revision_id, answer.request))
            outcome.answers += 1
            outcome.authors.add(answer.author_id)
            changed = True
        else:
            entry_id = existing.id
            changed = _sync(session, answer, existing, parent_id=here.id, context=context, outcome=outcome,
                            path=document.path) or changed
        if answer.accepted and accepted_id != entry_id:
            session.exec(update(Entry).where(Entry.id == here.id).values(accepted_answer_id=entry_id))
            publish(session=session, event=Event(ANSWER_ACCEPTED, entry_id=entry_id, actor_id=importer.id,
                                                 data={"question_id": here.id}))
            accepted_id, changed = entry_id, True
    return changed


def _sync(session: Session, item, here: _Found, *, parent_id: int | None, context: _Context, outcome: _Outcome,
          path: Path | None = None) -> bool:
    """A new revision when the text differs from the latest one; certification when asked for."""
    latest = session.get(Revision, here.latest_revision_id)
    tags = tags_of(session=session, revision_ids=[latest.id])[latest.id]
    changed = (latest.title, latest.body, tags) != ((item.title or latest.title), item.body, list(item.tags))
    revision_id, author_id = latest.id, latest.author_id
    if changed:
        revision_id, author_id = _add_revision(session, item, latest, context=context, outcome=outcome), item.author_id
    if item.request is not None and (changed or here.certified_revision_id != latest.id):
        _check(session, context, entry_id=here.id, author_id=author_id, tags=item.tags, request=item.request)
        outcome.certify.append(ImportedRevision(path or item.path, here.id, revision_id, item.request))
        # Certifying makes the entry evidence of everyone who wrote it.
        outcome.authors.update(session.exec(select(Revision.author_id).where(Revision.entry_id == here.id)))
        return True
    return changed


def _add_revision(session: Session, item, latest: Revision, *, context: _Context, outcome: _Outcome) -> int:
    known = {**context.tag_ids, **outcome.tags}
    for name in item.tags:
        if name not in known:
            outcome.tags[name] = known[name] = _create_tag(session, name)
    revision = Revision(entry_id=latest.entry_id, number=latest.number + 1, parent_id=latest.id,
                        title=item.title or latest.title, body=item.body, author_id=item.author_id,
                        state=RevisionState.draft.value)
    session.add(revision)
    session.flush()
    outcome.authors.add(item.author_id)
    for position, name in enumerate(item.tags):
        session.add(RevisionTag(revision_id=revision.id, tag_id=known[name], position=position))
    moved = session.exec(update(Entry).where(Entry.id == latest.entry_id, Entry.latest_revision_id == latest.id)
                         .values(latest_revision_id=revision.id, activity_at=utcnow())).rowcount
    if moved != 1:
        raise IntegrityError("entry moved", None, Exception("someone saved a revision during the import"))
    claim_attachments(session=session, body=item.body, entry_id=latest.entry_id, author_id=item.author_id)
    session.flush()
    publish(session=session, event=Event(REVISION_CREATED, entry_id=latest.entry_id, revision_id=revision.id,
                                         actor_id=item.author_id))
    return revision.id
