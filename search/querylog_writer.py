"""The query log written off the request path: searches and clicks kept in memory and written in
batches by a thread of the serving process.

Every search used to write its log row in a transaction of its own before the results were sent;
on SQLite that meant waiting for the database's single write lock behind every other writer, the
largest cost of a search request after the search itself. Now a search takes a key (the handle its
result links carry), and the row is written with the next batch, at most ``batch_seconds`` later.
A click names its search by that key: a click on a search still in memory is written after it, in
the same batch; one whose search another process has not written yet waits for it (up to
``CLICK_PATIENCE``).

Nothing is lost on a clean shutdown: ``close()`` (the app's lifespan end) writes what is left. A batch
that fails (the database is down) stays in memory and is tried again, up to ``MAX_PENDING`` events.
With ``batch_seconds=0`` every event is written at once, in the caller's thread (tests, CLI)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from kb.clock import utcnow
from search import querylog
from search.models import SearchLog

log = logging.getLogger("kb.search.querylog")

MAX_PENDING = 20_000  # events kept while the database cannot be written (the oldest go first)
CLICK_PATIENCE = timedelta(seconds=60)  # how long a click waits for its search to be written
BATCH_SIZE = 500  # a batch this large is written at once, whatever the interval


_key_prefix = ("", 0)  # (random prefix, pid it was drawn in)
_key_counter = itertools.count(1)


def new_key() -> str:
    """A key no other search of any process has: a random prefix drawn once per process, then a
    counter (a key only links a click to its search; log_click checks whose search it is, so it
    need not be secret, and drawing random bytes for every search cost more than the search's log)."""
    global _key_prefix
    if _key_prefix[1] != os.getpid():  # a forked worker draws its own
        _key_prefix = (secrets.token_hex(8), os.getpid())
    return f"{_key_prefix[0]}{next(_key_counter):x}"


@dataclass
class _Search:
    key: str
    user_id: int | None
    query: str
    result_count: int
    at: datetime = field(default_factory=utcnow)


@dataclass
class _Click:
    key: str
    user_id: int
    entry_id: int
    rank: int
    at: datetime = field(default_factory=utcnow)


class QueryLogWriter:
    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], batch_seconds: float) -> None:
        self._sessions = sessions  # a writing transaction of its own, committed when the block ends
        self._batch_seconds = batch_seconds
        self._pending: deque[_Search | _Click] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()  # guards _pending and _thread
        self._flushing = threading.Lock()  # one batch at a time, in the order the events came
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def search(self, *, user_id: int | None, query: str, result_count: int) -> str | None:
        """Log a search; returns the key its result links carry (None for an empty query, not logged)."""
        if not querylog.normalise(query):
            return None
        key = new_key()
        self._add(_Search(key=key, user_id=user_id, query=query, result_count=result_count))
        return key

    def click(self, *, user_id: int, search_key: str, entry_id: int, rank: int) -> None:
        """Log that a result of the search ``search_key`` was opened (ignored when it is not this user's)."""
        self._add(_Click(key=search_key, user_id=user_id, entry_id=entry_id, rank=max(1, rank)))

    def flush(self) -> int:
        """Write what is pending now; returns how many events were written (or dropped as invalid)."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
            if not batch:
                return 0
            try:
                with self._sessions() as session:
                    waiting = _write(session, batch)
            except Exception as exc:  # the database is unreachable, ...: keep the batch for the next round
                with self._lock:
                    self._pending.extendleft(reversed(batch))
                log.warning("could not write %d query log events (kept for the next try): %s", len(batch), exc)
                return 0
            if waiting:  # clicks on searches another process has not written yet
                with self._lock:
                    self._pending.extendleft(reversed(waiting))
            return len(batch) - len(waiting)

    def close(self) -> None:
        """Stop the writing thread and write what is left (a clean shutdown loses nothing)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join(30)
        self.flush()

    def _add(self, event: _Search | _Click) -> None:
        if self._batch_seconds <= 0:
            with self._lock:
                self._pending.append(event)
            self.flush()
            return
        with self._lock:
            if len(self._pending) == MAX_PENDING:
                log.warning("the query log is %d events behind: events are dropped", MAX_PENDING)
            self._pending.append(event)
            large = len(self._pending) >= BATCH_SIZE
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="kb-query-log", daemon=True)
                self._thread.start()
        if large:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._batch_seconds)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
            self.flush()


def _write(session: Session, batch: list[_Search | _Click]) -> list[_Click]:
    """Write a batch in order; returns the clicks whose search is not in the database yet."""
    waiting: list[_Click] = []
    ids: dict[str, int] = {}  # key -> row id, for this batch's clicks (log_click checks whose it is)
    for event in batch:
        if isinstance(event, _Search):
            row = querylog.log_search(session=session, user_id=event.user_id, query=event.query,
                                      result_count=event.result_count, key=event.key, at=event.at)
            if row is not None:
                ids[event.key] = row.id
            continue
        search_id = ids.get(event.key) or session.exec(select(SearchLog.id).where(SearchLog.key == event.key)).first()
        if search_id is None:
            if utcnow() - event.at < CLICK_PATIENCE:
                waiting.append(event)
            continue
        querylog.log_click(session=session, user_id=event.user_id, search_id=search_id, entry_id=event.entry_id,
                           rank=event.rank, at=event.at)
    return waiting
