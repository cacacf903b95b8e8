"""Vectors in Meilisearch (``search.meili``): a ``userProvided`` embedder named ``kb``.

kb computes the vectors (``search.embedding_indexer``) and sends them in each document's
``_vectors.kb`` (a list: one vector per chunk; Meilisearch scores a document by its best one).
A userProvided embedder requires every document to carry vectors or to opt out
(``_vectors.kb: null``), and can only be added to an index whose documents all opt out; so
documents are always sent opting out, the vectors follow, and the embedder is added by ``reset``.

The model that made the vectors is recorded in a marker document (``MODEL_MARKER_PK``, no audience:
every search filters on audience, so it is never found).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import meilisearch

from search.backend import SearchDocument
from search.embedding import DIMENSIONS

if TYPE_CHECKING:
    from search.meili import MeiliBackend

FETCH_BATCH = 1000


class MeiliVectors:
    def __init__(self, backend: MeiliBackend):
        self.backend = backend
        self._model: str | None = None
        self._checked = 0.0

    @property
    def _index(self):
        return self.backend._client.index(self.backend.index_name)

    def _embedder_settings(self) -> dict[str, Any]:
        from search.meili import EMBEDDER

        return {EMBEDDER: {"source": "userProvided", "dimensions": DIMENSIONS}}

    def forget(self) -> None:
        self._model, self._checked = None, 0.0

    def model(self) -> str | None:
        """The model id of the vectors in the index (read at most every MODEL_CHECK_SECONDS)."""
        from search.meili import MODEL_CHECK_SECONDS, MODEL_MARKER_PK

        if time.monotonic() - self._checked > MODEL_CHECK_SECONDS:
            try:
                marker = self._index.get_document(MODEL_MARKER_PK)
                self._model = getattr(marker, "model_id", None)
            except meilisearch.errors.MeilisearchApiError as exc:
                if exc.code not in ("document_not_found", "index_not_found"):
                    raise
                self._model = None
            self._checked = time.monotonic()
        return self._model

    def _marker(self, model_id: str) -> dict[str, Any]:
        from search.meili import EMBEDDER, MODEL_MARKER_PK, PRIMARY_KEY

        return {PRIMARY_KEY: MODEL_MARKER_PK, "model_id": model_id, "_vectors": {EMBEDDER: None}}

    def prepare(self, uid: str) -> None:
        """An empty index (a reindex's new one) gets the embedder and the current model's marker."""
        from search.embedding import MODEL_ID

        index = self.backend._client.index(uid)
        self.backend._wait(index.update_embedders(self._embedder_settings()))
        self.backend._wait(index.add_documents([self._marker(MODEL_ID)], self._pk()))

    def _pk(self) -> str:
        from search.meili import PRIMARY_KEY

        return PRIMARY_KEY

    def reset(self, model_id: str) -> None:
        """Every document opts out (drops its vectors), then the embedder and the marker are set."""
        from search.meili import EMBEDDER, PRIMARY_KEY

        offset = 0
        while True:
            page = self._index.get_documents({"fields": [PRIMARY_KEY], "limit": FETCH_BATCH, "offset": offset})
            pks = [getattr(d, PRIMARY_KEY) for d in page.results]
            if not pks:
                break
            self.backend._wait(self._index.update_documents(
                [{PRIMARY_KEY: pk, "_vectors": {EMBEDDER: None}} for pk in pks], PRIMARY_KEY))
            offset += len(pks)
        self.backend._wait(self._index.update_embedders(self._embedder_settings()))
        self.backend._wait(self._index.add_documents([self._marker(model_id)], PRIMARY_KEY))
        self._model, self._checked = model_id, time.monotonic()

    def _current(self, docs: list[SearchDocument], *, vectors: bool) -> dict[str, dict]:
        """{doc id: stored document} of these documents (with their vectors if asked)."""
        from search.meili import quote

        found: dict[str, dict] = {}
        for start in range(0, len(docs), FETCH_BATCH):
            part = docs[start:start + FETCH_BATCH]
            body = {"filter": "id IN [" + ", ".join(quote(d.id) for d in part) + "]",
                    "fields": ["id", "revision_id"], "limit": len(part), "retrieveVectors": vectors}
            response = self.backend._client.http.post(
                f"indexes/{self.backend.index_name}/documents/fetch", body=body)
            for d in response.get("results", []):
                found[d["id"]] = d
        return found

    def missing(self, docs: list[SearchDocument]) -> list[SearchDocument]:
        from search.meili import EMBEDDER

        found = self._current(docs, vectors=True)

        def has_vectors(doc: SearchDocument) -> bool:
            stored = found.get(doc.id)
            if stored is None or stored.get("revision_id") != doc.revision_id:
                return False
            return bool(((stored.get("_vectors") or {}).get(EMBEDDER) or {}).get("embeddings"))

        return [d for d in docs if not has_vectors(d)]

    def put(self, docs: list[SearchDocument], vectors: list) -> int:
        """Vectors of the documents indexed at the same revision (a partial update: never creates
        a document)."""
        from search.meili import EMBEDDER, PRIMARY_KEY, encode_pk

        found = self._current(docs, vectors=False)
        updates = [
            {PRIMARY_KEY: encode_pk(doc.id), "_vectors": {EMBEDDER: [[float(x) for x in row] for row in matrix]}}
            for doc, matrix in zip(docs, vectors, strict=True)
            if found.get(doc.id, {}).get("revision_id") == doc.revision_id
        ]
        if updates:
            self.backend._wait(self._index.update_documents(updates, PRIMARY_KEY))
        return len(updates)
