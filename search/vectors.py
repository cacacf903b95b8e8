"""The embedded backend's vector store: document vectors in the data directory, exact scan.

One SQLite file (``vectors.sqlite3`` beside the tantivy index) holds, per search document, the
float16 vectors of its chunks (``search.embedding.chunks``), the revision they were computed
from and what visibility needs (audience, authors, kind, state). Every change gets a new
sequence number, so a process reads only what changed since its last look (several web workers
search while one indexer writes). In memory the vectors form one float32 matrix; a query is one
matrix-vector product over the rows the viewer may see (``search.visibility``), the best chunk
standing for its document. An exact scan of 100,000 chunks takes a few milliseconds.

The model that made the vectors is stored with them (``model_id``): a different model means the
vectors are worthless, and the indexer re-embeds everything (``search.outbox``).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.backend import EVERYONE, SearchDocument
from search.embedding import DIMENSIONS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    doc_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, revision_id INTEGER NOT NULL,
    audience TEXT NOT NULL, author_id INTEGER NOT NULL, entry_author_id INTEGER NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, certified INTEGER NOT NULL, data BLOB,
    groups TEXT NOT NULL DEFAULT 'everyone');
CREATE INDEX IF NOT EXISTS ix_vectors_seq ON vectors (seq);
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class _Doc:
    revision_id: int
    slots: list[int]


class VectorStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # derived data: rebuilt by kb reindex
        self._db.executescript(_SCHEMA)
        self._reset_memory()

    def _reset_memory(self) -> None:
        # Counts the changes of the in-memory arrays: a search scans them outside the lock and
        # keeps its result only when no change happened meanwhile (``nearest``).
        self._generation = getattr(self, "_generation", 0) + 1
        self._data_version: int | None = None  # the file's PRAGMA data_version at the last read
        self._seq = 0
        self._docs: dict[str, _Doc] = {}
        # float32 in memory (float16 on disk): converting float16 at every query costs more than the scan.
        self._matrix = np.zeros((0, DIMENSIONS), dtype=np.float32)
        self._used = np.zeros(0, dtype=bool)
        self._doc_of: list[str | None] = []
        self._public = np.zeros(0, dtype=bool)
        self._author = np.zeros(0, dtype=np.int64)
        self._entry_author = np.zeros(0, dtype=np.int64)
        self._kind = np.zeros(0, dtype=object)
        self._state = np.zeros(0, dtype=object)
        self._certified = np.zeros(0, dtype=bool)
        # Audiences: rows of documents for everyone, and the groups of the others (few), by slot.
        self._everyone = np.zeros(0, dtype=bool)
        self._limited: dict[int, frozenset[str]] = {}
        self._free: list[int] = []
        self._model_seen: str | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- model ------------------------------------------------------------------------------

    def model_id(self) -> str | None:
        row = self._db.execute("SELECT value FROM store_meta WHERE key = 'model_id'").fetchone()
        return row[0] if row else None

    def reset(self, model_id: str | None) -> None:
        """Drop every vector; the following ones are made by ``model_id``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM vectors")
            self._db.execute("DELETE FROM store_meta")
            if model_id:
                self._db.execute("INSERT INTO store_meta VALUES ('model_id', ?)", (model_id,))
            self._db.execute("COMMIT")
            self._reset_memory()  # which forgets the data_version read last too

    # -- writes -----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        return (self._db.execute("SELECT coalesce(max(seq), 0) FROM vectors").fetchone()[0] or 0) + 1

    def put(self, docs: list[SearchDocument], vectors: list[np.ndarray]) -> None:
        """Store each document's chunk vectors (computed from that document's revision)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            for doc, matrix in zip(docs, vectors, strict=True):
                data = np.asarray(matrix, dtype=np.float16).tobytes()
                self._db.execute(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc.id, seq, doc.revision_id, doc.audience, doc.author_id, _entry_author(doc), doc.kind,
                     doc.state, int(doc.certified), data, _groups(doc)))
                seq += 1
            self._db.execute("COMMIT")
            self._data_version = None  # our own write: read it back
        self.refresh()

    def documents_indexed(self, docs: list[SearchDocument]) -> None:
        """The lexical index changed these documents: keep their vectors (with the new visibility)
        only when they still describe the same revision, drop them otherwise."""
        self.refresh()
        docs = [d for d in docs if d.id in self._docs]  # only documents that have vectors
        if not docs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            for doc in docs:
                row = self._db.execute("SELECT revision_id, data FROM vectors WHERE doc_id = ?", (doc.id,)).fetchone()
                if row is None or row[1] is None:
                    continue
                same = row[0] == doc.revision_id
                self._db.execute(
                    "UPDATE vectors SET seq = ?, audience = ?, author_id = ?, entry_author_id = ?, kind = ?, state = ?,"
                    " certified = ?, data = ?, groups = ? WHERE doc_id = ?",
                    (seq, doc.audience, doc.author_id, _entry_author(doc), doc.kind, doc.state, int(doc.certified),
                     row[1] if same else None, _groups(doc), doc.id))
                seq += 1
            self._db.execute("COMMIT")
            self._data_version = None  # our own write: read it back
        self.refresh()

    def delete(self, ids: list[str]) -> None:
        self.refresh()
        ids = [i for i in ids if i in self._docs]
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            for doc_id in ids:
                self._db.execute("UPDATE vectors SET seq = ?, data = NULL WHERE doc_id = ?", (seq, doc_id))
                seq += 1
            self._db.execute("COMMIT")
            self._data_version = None  # our own write: read it back
        self.refresh()

    def clear(self) -> None:
        self.reset(self.model_id())

    # -- memory -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the in-memory matrix up to date with the file (changes of any process)."""
        with self._lock:
            # Another connection's commit changes data_version; ours reset it above. Nothing new
            # (every search asks) costs one pragma, not two queries.
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return
            model = self.model_id()
            if model != self._model_seen:
                self._reset_memory()
                self._model_seen = model
            self._data_version = version
            rows = self._db.execute(
                "SELECT doc_id, seq, revision_id, audience, author_id, entry_author_id, kind, state, certified, data,"
                " groups FROM vectors WHERE seq > ? ORDER BY seq", (self._seq,)).fetchall()
            if rows:
                self._generation += 1
            for doc_id, seq, revision_id, audience, author, entry_author, kind, state, certified, data, groups in rows:
                self._seq = max(self._seq, seq)
                self._drop(doc_id)
                if data is None:
                    continue
                matrix = np.frombuffer(data, dtype=np.float16).reshape(-1, DIMENSIONS)
                slots = [self._take_slot() for _ in range(len(matrix))]
                self._matrix[slots] = matrix
                self._used[slots] = True
                self._public[slots] = audience == "public"
                self._author[slots] = author
                self._entry_author[slots] = entry_author
                self._kind[slots] = kind
                self._state[slots] = state
                self._certified[slots] = bool(certified)
                tokens = frozenset(groups.split())
                self._everyone[slots] = EVERYONE in tokens
                for slot in slots:
                    self._doc_of[slot] = doc_id
                    if EVERYONE not in tokens:
                        self._limited[slot] = tokens
                self._docs[doc_id] = _Doc(revision_id, slots)

    def _drop(self, doc_id: str) -> None:
        doc = self._docs.pop(doc_id, None)
        if doc is not None:
            self._used[doc.slots] = False
            for slot in doc.slots:
                self._doc_of[slot] = None
                self._limited.pop(slot, None)
            self._free.extend(doc.slots)

    def _take_slot(self) -> int:
        if not self._free:
            old = len(self._matrix)
            capacity = max(64, old * 2)
            for name in ("_matrix", "_used", "_public", "_author", "_entry_author", "_kind", "_state", "_certified",
                         "_everyone"):
                setattr(self, name, _grow(getattr(self, name), capacity))
            self._doc_of.extend([None] * (capacity - old))
            self._free.extend(range(capacity - 1, old - 1, -1))
        return self._free.pop()

    @property
    def count(self) -> int:
        return len(self._docs)

    def has(self, doc_id: str, revision_id: int | None = None) -> bool:
        doc = self._docs.get(doc_id)
        return doc is not None and (revision_id is None or doc.revision_id == revision_id)

    # -- queries ----------------------------------------------------------------------------

    def nearest(self, vector: np.ndarray, visible, *, limit: int) -> list[tuple[str, float]]:
        """(doc id, cosine similarity of its best chunk), best first, among the rows for which
        ``visible(store) -> bool mask`` holds (see ``search.visibility.vector_mask``).

        The scan (the matrix-vector product, tens of milliseconds at 100,000 chunks) runs outside
        the lock, so concurrent searches scan in parallel instead of queueing behind each other;
        its result is kept only if the arrays did not change meanwhile (a refresh by another
        thread), else the scan is redone under the lock."""
        query = np.asarray(vector, dtype=np.float32)
        with self._lock:
            if not self._docs:
                return []
            # Slots are taken lowest first: rows past the last one in use are empty capacity.
            rows = self._rows_in_use()
            mask = (self._used & visible(self))[:rows]
            matrix, generation = self._matrix[:rows], self._generation
        scores = matrix @ query
        with self._lock:
            if generation != self._generation:
                rows = self._rows_in_use()
                mask = (self._used & visible(self))[:rows]
                scores = self._matrix[:rows] @ query
            return self._best(scores, mask, limit)

    def _rows_in_use(self) -> int:
        used = np.flatnonzero(self._used)
        return int(used[-1]) + 1 if len(used) else 0

    def _best(self, scores: np.ndarray, mask: np.ndarray, limit: int) -> list[tuple[str, float]]:
        visible_rows = int(mask.sum())
        if not visible_rows:
            return []
        scores[~mask] = -np.inf
        wanted = min(visible_rows, limit * 4)
        top = np.argpartition(-scores, wanted - 1)[:wanted] if wanted < len(scores) else np.arange(len(scores))
        order = top[np.argsort(-scores[top])]
        best: dict[str, float] = {}
        for i in order:
            if not mask[i]:
                continue
            doc_id = self._doc_of[i]
            if doc_id not in best:
                best[doc_id] = float(scores[i])
                if len(best) >= limit:
                    break
        return list(best.items())

def _groups(doc: SearchDocument) -> str:
    return " ".join(doc.groups)


def _entry_author(doc: SearchDocument) -> int:
    return doc.entry_author_id if doc.entry_author_id is not None else doc.author_id


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    shape = (capacity,) + array.shape[1:]
    grown = np.zeros(shape, dtype=array.dtype)
    grown[: len(array)] = array
    return grown
