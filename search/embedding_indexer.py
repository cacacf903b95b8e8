"""The indexer's second pass: vectors for what the first pass indexed (hybrid search).

The outbox's first pass (``search.outbox.drain``) makes a change keyword-searchable at once; its
row then waits here (``done_at`` set, ``embedded_at`` not) until this pass has computed the
document's vectors (``search.embedding``) and sent them to the backend. Small slices of work, so
the lexical pass is never kept waiting for long.

The model's identity is stored with the vectors: when the backend holds none from the current
model (a new index, a new model), every entry is queued for embedding, and searches use the
lexical side for what is not embedded yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, insert, literal, select as sa_select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from kb.clock import utcnow
from kb.content.models import Entry
from kb.db import session_factory, unit_of_work
from search.backend import SearchBackend, SearchDocument
from search.documents import documents_for_entries
from search.embedding import Embedder, ModelFileError, chunks, embedder
from search.models import SearchOutbox

log = logging.getLogger("kb.search.indexer")

#: Entries embedded per batch, and how long one ``embed_pending`` call may work.
BATCH_ENTRIES = 16
SLICE_SECONDS = 1.0


def supports_vectors(backend: SearchBackend) -> bool:
    return bool(getattr(backend, "semantic", False)) and hasattr(backend, "index_vectors")


def embed_documents(model: Embedder, docs: list[SearchDocument]) -> list:
    """Each document's chunk vectors (one model call for the whole batch)."""
    texts: list[str] = []
    counts: list[int] = []
    for doc in docs:
        parts = chunks(doc.title, doc.body)
        texts.extend(parts)
        counts.append(len(parts))
    matrix = model.embed(texts)
    out, start = [], 0
    for n in counts:
        out.append(matrix[start:start + n])
        start += n
    return out


def ensure_model(engine: Engine, backend: SearchBackend, model_id: str) -> bool:
    """When the backend's vectors come from another model (or none), drop them and queue every
    entry for embedding. True when it did."""
    if backend.vector_model() == model_id:
        return False
    log.warning("search vectors are from model %s, not %s: re-embedding every entry",
                backend.vector_model(), model_id)
    backend.reset_vectors(model_id)
    queue_all(engine)
    return True


def queue_all(engine: Engine, *, now: datetime | None = None) -> None:
    """Queue every entry for the embedding pass (lexically up to date: done_at set)."""
    now = now or utcnow()
    with unit_of_work(engine) as session:
        session.exec(insert(SearchOutbox).from_select(
            ["entry_id", "created_at", "attempts", "done_at"],
            sa_select(Entry.id, literal(now), literal(0), literal(now))))


def _pending(limit: int):
    return (select(SearchOutbox).where(SearchOutbox.done_at.is_not(None), SearchOutbox.embedded_at.is_(None))
            .order_by(SearchOutbox.id).limit(limit))


def _embed_entries(session: Session, backend: SearchBackend, model: Embedder, entry_ids: list[int]) -> int:
    docs, _ = documents_for_entries(session=session, entry_ids=entry_ids)
    if not docs:
        return 0
    return backend.index_vectors(docs, embed_documents(model, docs))


def embed_pending(*, engine: Engine, backend: SearchBackend, batch_entries: int = BATCH_ENTRIES,
                  max_seconds: float = SLICE_SECONDS) -> int:
    """Embed entries whose outbox rows the lexical pass has done; returns documents embedded.
    Failures are logged and retried at the next call, never raised."""
    if not supports_vectors(backend):
        return 0
    embedded = 0
    try:
        model = embedder()
        ensure_model(engine, backend, model.model_id)
        started = time.monotonic()  # at least one batch, however long loading the model took
        while embedded == 0 or time.monotonic() - started < max_seconds:
            if engine.dialect.name == "postgresql":
                with unit_of_work(engine) as session:
                    rows = list(session.exec(_pending(batch_entries).with_for_update(skip_locked=True)))
                    if not rows:
                        break
                    embedded += _embed_entries(session, backend, model, sorted({r.entry_id for r in rows}))
                    session.exec(update(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows]))
                                 .values(embedded_at=utcnow()))
                continue
            with session_factory(engine)() as session:
                rows = [(r.id, r.entry_id) for r in session.exec(_pending(batch_entries))]
                if not rows:
                    break
                embedded += _embed_entries(session, backend, model, sorted({e for _, e in rows}))
            with unit_of_work(engine) as session:
                session.exec(update(SearchOutbox).where(SearchOutbox.id.in_([i for i, _ in rows]))
                             .values(embedded_at=utcnow()))
    except ModelFileError as exc:
        log.error("search vectors cannot be computed: %s", exc)
    except Exception as exc:  # the backend is down, ...: the rows wait for the next call
        log.warning("search embedding failed: %s", exc)
    return embedded


def pending_embeddings(*, session: Session) -> int:
    return session.exec(select(func.count()).select_from(SearchOutbox)
                        .where(SearchOutbox.embedded_at.is_(None))).one()


def embed_all(*, backend: SearchBackend, docs: list[SearchDocument],
              progress: Callable[[int, int], None] | None = None, batch: int = 64) -> int:
    """Embed these documents (a reindex): those the backend lacks vectors for. Returns how many."""
    if not supports_vectors(backend):
        return 0
    model = embedder()
    if backend.vector_model() != model.model_id:
        backend.reset_vectors(model.model_id)
    missing = backend.missing_vectors(docs)
    total = len(missing)
    if progress is not None:
        progress(0, total)
    done = 0
    for start in range(0, total, batch):
        part = missing[start:start + batch]
        backend.index_vectors(part, embed_documents(model, part))
        done += len(part)
        if progress is not None:
            progress(done, total)
    return total
