"""Outbox indexing: changes are recorded in the writer's transaction, indexed afterwards.

``register()`` subscribes to the domain events that change what search should show; each event
keeps the facts it carries (``search.facts``) and writes a ``SearchOutbox`` row in the service's
own session (same transaction: if the change rolls back, so does the row; if it commits, the row
is there). ``drain()`` claims pending rows in batches, builds the documents of their entries from
the database, sends them to the backend and marks the rows done. A backend failure is recorded on
the rows (attempts, last error, next attempt with exponential backoff) and never raised: a search
outage never fails or loses a write.

On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside one transaction that lasts
until the backend answered, so several indexers may run side by side. On SQLite (one writer at a
time) rows are read first and marked afterwards in a short writing transaction; the embedded
index itself allows one writer process (see ``drain_lock``).
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, or_, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from kb.clock import utcnow
from kb.commit_signal import CommitSignal
from kb.db import session_factory, unit_of_work
from kb.events import (
    ANSWER_ACCEPTED, CERTIFICATION_CHANGED, ENTRY_AUDIENCE_CHANGED, ENTRY_CREATED, ENTRY_DELETED, ENTRY_REUSED,
    REVISION_CREATED,
    REVISION_DISCARDED, REVISION_TRANSITION, VOTE_CHANGED, Event, subscribe
)
from search import facts
from search.backend import SearchBackend
from kb.content.models import Entry
from search.documents import documents_for_entries
from search.models import SearchOutbox

log = logging.getLogger("kb.search.indexer")

EVENTS = (ENTRY_CREATED, REVISION_CREATED, REVISION_TRANSITION, CERTIFICATION_CHANGED,
          # Ratings feed ranking (helpful score, reuse count): expertise.ratings publishes these.
          VOTE_CHANGED, ENTRY_REUSED,
          # An accepted answer carries its question's text (search.documents): accepting one
          # changes it and the one accepted before.
          ANSWER_ACCEPTED,
          # A discarded draft takes the entry back to its previous revision; a deleted one leaves search.
          REVISION_DISCARDED, ENTRY_DELETED,
          # Who may find it: its documents carry the groups it is limited to (search.visibility).
          ENTRY_AUDIENCE_CHANGED)
# Outbox rows claimed per batch (with the other rows of their entries). A batch is one backend
# write (a tantivy commit costs tens of milliseconds or more), so while batches come back full (a
# backlog, an import) each one is twice as large as the one before, up to MAX_BATCH_ROWS.
BATCH_ROWS = 1000
MAX_BATCH_ROWS = 8000
MAX_BACKOFF_SECONDS = 300
MAX_ERROR_CHARS = 2000
ADVISORY_NS = 0x5EA4C4  # pg_advisory_xact_lock namespace of the indexer


# Wakes this process's indexer when a transaction that wrote outbox rows commits.
_written = CommitSignal("search_outbox")


def _record(session: Session, event: Event) -> None:
    facts.record(session=session, event=event)  # what the event says about the entry, for ranking
    if event.entry_id is not None:
        session.add(SearchOutbox(entry_id=event.entry_id))
        if event.name == REVISION_CREATED:
            # An untitled answer is indexed as "Re: <question title>": a reworded question
            # changes its answers' documents too.
            for answer_id in session.exec(select(Entry.id).where(Entry.parent_id == event.entry_id)):
                session.add(SearchOutbox(entry_id=answer_id))
        elif event.name == ANSWER_ACCEPTED and event.data.get("question_id") is not None:
            for answer_id in session.exec(select(Entry.id).where(Entry.parent_id == event.data["question_id"],
                                                                 Entry.id != event.entry_id)):
                session.add(SearchOutbox(entry_id=answer_id))
        _written.mark(session)


def _record_all(session: Session, events: list[Event]) -> None:
    """``_record`` for many events of one name: the outbox rows in one statement."""
    facts.record_all(session=session, events=events)
    entry_ids = [e.entry_id for e in events if e.entry_id is not None]
    name = events[0].name if events else None
    parents = []
    if name == REVISION_CREATED:
        parents = entry_ids
    elif name == ANSWER_ACCEPTED:
        parents = [e.data["question_id"] for e in events if e.data.get("question_id") is not None]
    if parents:  # as in _record: the answers whose documents carry their question's text
        accepted = {e.entry_id for e in events} if name == ANSWER_ACCEPTED else set()
        for start in range(0, len(parents), 500):
            entry_ids += [answer_id for answer_id in session.exec(
                select(Entry.id).where(Entry.parent_id.in_(parents[start:start + 500]))) if answer_id not in accepted]
    if entry_ids:
        now = utcnow()
        session.exec(insert(SearchOutbox.__table__),
                     params=[{"entry_id": entry_id, "created_at": now, "attempts": 0} for entry_id in entry_ids])
        _written.mark(session)


def register() -> None:
    """Subscribe the outbox to the domain events that change search (idempotent)."""
    for name in EVENTS:
        subscribe(name, _record, bulk=_record_all)
    _written.install()


def wait_for_changes(timeout: float) -> bool:
    """Block until this process commits an outbox row, or ``timeout`` seconds (rows written by
    other processes are found by the next drain after the timeout). True when woken by a commit."""
    return _written.wait(timeout)


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: 2, 4, 8, ... up to 300 s."""
    return timedelta(seconds=min(2 ** max(attempts, 1), MAX_BACKOFF_SECONDS))


@dataclass
class DrainReport:
    rows: int = 0  # outbox rows handled (done or failed)
    entries: int = 0  # distinct entries among them
    indexed: int = 0  # documents sent to backend.index
    deleted: int = 0  # document ids sent to backend.delete
    failed: int = 0  # rows that failed and will be retried
    error: str | None = None  # the last backend error
    embedded: int = 0  # documents given vectors by the second pass (search.embedding_indexer)

    def __bool__(self) -> bool:
        return bool(self.rows or self.embedded)


def _pending(now: datetime):
    return select(SearchOutbox).where(
        SearchOutbox.done_at.is_(None),
        or_(SearchOutbox.next_attempt_at.is_(None), SearchOutbox.next_attempt_at <= now),
    ).order_by(SearchOutbox.id)


def _send(session: Session, backend: SearchBackend, entry_ids: list[int], report: DrainReport) -> str | None:
    """Index these entries; the error text on failure, None on success."""
    report.entries += len(entry_ids)
    try:
        docs, deletes = documents_for_entries(session=session, entry_ids=entry_ids)
        backend.index(docs)
        backend.delete(deletes)
    except Exception as exc:  # any backend (or document) failure: record it and retry later
        log.warning("search indexing failed for %d entries: %s", len(entry_ids), exc)
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    report.indexed += len(docs)
    report.deleted += len(deletes)
    return None


def _mark(session: Session, rows: list[tuple[int, int]], error: str | None, now: datetime,
          report: DrainReport) -> None:
    """Rows are (id, attempts so far)."""
    report.rows += len(rows)
    if error is None:
        ids = [i for i, _ in rows]
        for start in range(0, len(ids), 1000):  # an entry may have many rows: keep IN lists short
            session.exec(update(SearchOutbox).where(SearchOutbox.id.in_(ids[start:start + 1000])).values(done_at=now))
        return
    report.failed += len(rows)
    report.error = error
    for row_id, attempts in rows:
        session.exec(update(SearchOutbox).where(SearchOutbox.id == row_id).values(
            attempts=attempts + 1, last_error=error, next_attempt_at=now + backoff(attempts + 1)))


def _with_siblings(session: Session, claimed: list[SearchOutbox], now: datetime, *, lock: bool) -> list[SearchOutbox]:
    """The claimed rows and the other pending rows of their entries: the documents built next,
    from the database as it is now, cover every change committed so far (an import writes a row
    per event, several per entry). With ``lock``, rows another indexer holds are left to it."""
    entry_ids = sorted({r.entry_id for r in claimed})
    rows = {r.id: r for r in claimed}
    for start in range(0, len(entry_ids), 500):
        siblings = _pending(now).where(SearchOutbox.entry_id.in_(entry_ids[start:start + 500]))
        if lock:
            siblings = siblings.with_for_update(skip_locked=True)
        rows.update({r.id: r for r in session.exec(siblings) if r.id not in rows})
    return list(rows.values())


def _drain_batch(engine: Engine, backend: SearchBackend, batch_size: int, now: datetime,
                 report: DrainReport) -> int:
    if engine.dialect.name == "postgresql":
        with unit_of_work(engine) as session:
            claimed = list(session.exec(_pending(now).limit(batch_size).with_for_update(skip_locked=True)))
            if claimed:
                claimed = _with_siblings(session, claimed, now, lock=True)
            rows = [(r.id, r.attempts) for r in claimed]
            if rows:
                entry_ids = sorted({r.entry_id for r in claimed})
                # Per-entry lock until commit (in id order: no deadlocks), so two indexers holding
                # rows of the same entry index it one after the other, the later state last. One
                # statement per 1000 entries: the array is unnested, and so locked, in its order.
                for start in range(0, len(entry_ids), 1000):
                    session.exec(text("SELECT count(pg_advisory_xact_lock(:ns, id)) "
                                      "FROM unnest(CAST(:ids AS integer[])) AS locked(id)").bindparams(
                                          ns=ADVISORY_NS, ids=entry_ids[start:start + 1000])).one()
                error = _send(session, backend, entry_ids, report)
                _mark(session, rows, error, now, report)
            return len(rows)
    with session_factory(engine)() as session:  # read, index, then mark in a short write transaction
        claimed = list(session.exec(_pending(now).limit(batch_size)))
        if not claimed:
            return 0
        claimed = _with_siblings(session, claimed, now, lock=False)
        rows = [(r.id, r.attempts) for r in claimed]
        error = _send(session, backend, sorted({r.entry_id for r in claimed}), report)
    with unit_of_work(engine) as session:
        _mark(session, rows, error, now, report)
    return len(rows)


def drain(*, engine: Engine, backend: SearchBackend, batch_size: int = BATCH_ROWS, now: datetime | None = None,
          max_batches: int = 50, embed: bool = False) -> DrainReport:
    """Index the entries of pending outbox rows, batch after batch, until none are due (or a batch
    fails: the rows wait for their backoff). Backend failures are recorded, never raised.

    With ``embed`` (hybrid search), then spend up to a second computing vectors for what is
    lexically indexed (``search.embedding_indexer``): keyword search never waits for vectors."""
    now = now or utcnow()
    report = DrainReport()
    size = batch_size
    for _ in range(max_batches):
        failed_before = report.failed
        claimed = _drain_batch(engine, backend, size, now, report)
        if claimed == 0 or report.failed > failed_before:
            break
        if claimed >= size:
            size = min(size * 2, max(batch_size, MAX_BATCH_ROWS))
    if embed:
        from search.embedding_indexer import embed_pending

        report.embedded = embed_pending(engine=engine, backend=backend)
    if report.rows:
        log.debug("search indexer: %s", report)
    return report


def drain_backlog(*, engine: Engine, backend: SearchBackend, embed: bool = False) -> DrainReport:
    """``drain`` until no row is due (``kb indexer --once``: after an import, everything), or a
    batch fails; one report for it all."""
    total = DrainReport()
    while True:
        report = drain(engine=engine, backend=backend, embed=embed)
        for name in ("rows", "entries", "indexed", "deleted", "failed", "embedded"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.error = report.error or total.error
        if not report.rows or report.failed:
            return total


def pending_count(*, session: Session) -> int:
    """Outbox rows not indexed yet (including those waiting for a retry): for health checks."""
    return session.exec(select(func.count()).select_from(SearchOutbox).where(SearchOutbox.done_at.is_(None))).one()


def pending_ids(*, session: Session) -> list[int]:
    return list(session.exec(select(SearchOutbox.id).where(SearchOutbox.done_at.is_(None))))


def mark_done(engine: Engine, ids: list[int], *, now: datetime | None = None, chunk: int = 1000,
              embedded: bool = False) -> int:
    """Mark these rows done (after a reindex that read the database once they were committed);
    ``embedded``: their vectors too."""
    marked = 0
    now = now or utcnow()
    values = {"done_at": now, "embedded_at": now} if embedded else {"done_at": now}
    for start in range(0, len(ids), chunk):
        with unit_of_work(engine) as session:
            marked += session.exec(update(SearchOutbox).where(SearchOutbox.id.in_(ids[start:start + chunk]))
                                   .values(**values)).rowcount
    return marked


class DrainLock:
    """An exclusive, non-blocking ``flock`` on a file: the embedded index allows one writing process
    per directory, so only the process holding this lock drains (or reindexes)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def drain_lock(data_dir: Path) -> DrainLock:
    return DrainLock(Path(data_dir) / "search-indexer.lock")


def lagging_count(*, session: Session, older_than: timedelta = timedelta(seconds=5), semantic: bool = False) -> int:
    """Changes still not indexed after ``older_than``: search is catching up (or its backend is down).
    With ``semantic`` (hybrid search on), changes whose vectors are not computed yet count too."""
    cutoff = utcnow() - older_than
    waiting = SearchOutbox.done_at.is_(None)
    if semantic:
        waiting = or_(waiting, SearchOutbox.embedded_at.is_(None))
    return session.exec(select(func.count()).select_from(SearchOutbox)
                        .where(waiting, SearchOutbox.created_at < cutoff)).one()
