"""Meilisearch backend (``KB_SEARCH_BACKEND=meilisearch``), with the official client.

Meilisearch has no English stemming, so every document carries stemmed shadow fields
(``title_stem``, ``tags_stem``, ``body_stem``) built by the shared analyzer (search.analysis, same
stop words, same Snowball stemmer), and queries are sent as stemmed words. Those are the
searchable attributes, in ranking order title > tags > body; the original fields are only
displayed. Highlighting uses the shared highlighter over the original title and body, so it
matches stems, typos, prefixes and synonyms exactly like the embedded backend and escapes HTML
(Meilisearch's own ``_formatted`` neither stems nor escapes).

Ranking: Meilisearch's relevance rules first, then each document's ``quality`` (search.ranking)
as the last rule. Long queries (a customer's pasted sentence) are planned by
``search.meili_query``, so that the one word Meilisearch requires is an important one, not
whatever the customer said first.

Settings are applied by code on first use (and by ``reindex``); synonyms only once this process
has been given them (``search.synonyms.sync``), so a process that only indexes never resets them.
Writes wait for their task, so documents are visible when ``index``/``delete``/``clear`` return.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import meilisearch

from search import fusion, ranking
from search.backend import Hit, SearchDocument, SearchQuery, SearchResults, Viewer
from search.analysis import (
    ONE_TYPO_MIN_LEN,
    STOP_WORDS,
    TWO_TYPOS_MIN_LEN,
    ParsedQuery,
    Synonyms,
    normalize_synonyms,
    parse_query,
    stemmed_text,
)
from search.embedded import epoch_ms
from search.embedding import query_vector
from search.highlight import Highlighter
from search.meili_query import query_text
from search.meili_vectors import MeiliVectors
from search.visibility import meili_filter

PRIMARY_KEY = "pk"

#: In ranking order (the attribute rule); context: an accepted answer's question (search.documents).
SEARCHABLE = ["title_stem", "tags_stem", "body_stem", "context_stem"]
DISPLAYED = [
    "id", "entry_id", "revision_id", "kind", "title", "body", "tags", "audience", "author_id", "state",
    "certified", "needs_reverification", "updated_at", "helpful_score", "reuse_count", "quality", "model_id",
    "context", "accepted", "question_id",
]  # fmt: skip
FILTERABLE = ["id", "audience", "author_id", "entry_author_id", "kind", "tags", "certified", "state", "groups"]
SORTABLE = ["updated_at", "helpful_score"]
#: Relevance first (Meilisearch's defaults), then quality (search.ranking) as the tie-breaker.
RANKING_RULES = ["words", "typo", "proximity", "attribute", "sort", "exactness", "quality:desc"]
MAX_TOTAL_HITS = 10_000
MAX_FACET_VALUES = 1_000

_PK_SAFE = re.compile(r"[A-Za-z0-9-]")

#: Hybrid search: the userProvided embedder kb sends vectors to, and the document that records
#: which model made them (no audience: no search ever returns it).
EMBEDDER = "kb"
MODEL_MARKER_PK = "kb_vector_model"
#: How long a process trusts what it read of the model marker.
MODEL_CHECK_SECONDS = 10.0


class SearchBackendError(RuntimeError):
    """A Meilisearch task failed or did not finish in time."""


def encode_pk(doc_id: str) -> str:
    """Meilisearch ids allow [A-Za-z0-9_-] only: "42:public" -> "42_3apublic" (reversible)."""
    return "".join(c if _PK_SAFE.match(c) else "".join(f"_{b:02x}" for b in c.encode()) for c in doc_id)


def quote(value: str) -> str:
    """A filter string literal: double quotes, with backslashes and quotes escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def visibility_filter(viewer: Viewer) -> str:
    return meili_filter(viewer)


def filter_expression(query: SearchQuery) -> str:
    parts = [visibility_filter(query.viewer)]
    if query.tags:
        parts.append("tags IN [" + ", ".join(quote(t) for t in query.tags) + "]")
    if query.kinds:
        parts.append("kind IN [" + ", ".join(quote(k) for k in query.kinds) + "]")
    if query.certified_only:
        parts.append("certified = true")
    return " AND ".join(parts)


def to_meili_document(doc: SearchDocument) -> dict[str, Any]:
    return {
        PRIMARY_KEY: encode_pk(doc.id),
        "id": doc.id,
        "entry_id": doc.entry_id,
        "revision_id": doc.revision_id,
        "kind": doc.kind,
        "title": doc.title,
        "body": doc.body,
        "tags": list(doc.tags),
        "groups": list(doc.groups),
        "audience": doc.audience,
        "author_id": doc.author_id,
        "entry_author_id": doc.entry_author_id if doc.entry_author_id is not None else doc.author_id,
        "state": doc.state,
        "certified": bool(doc.certified),
        "needs_reverification": bool(doc.needs_reverification),
        "updated_at": epoch_ms(doc.updated_at),
        "helpful_score": float(doc.helpful_score),
        "reuse_count": int(doc.reuse_count),
        "quality": ranking.quality(doc),
        "title_stem": stemmed_text(doc.title),
        "tags_stem": [stemmed_text(t) for t in doc.tags],
        "body_stem": stemmed_text(doc.body),
        "context": doc.context,
        "accepted": bool(doc.accepted),
        "question_id": doc.question_id,
        "context_stem": stemmed_text(doc.context),
    }


class MeiliBackend:
    name = "meilisearch"

    def __init__(
        self,
        url: str,
        key: str | None = None,
        index_name: str = "kb_entries",
        *,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        matching_strategy: str = "last",
        plan_queries: bool = True,  # search.meili_query; off: the stemmed query as typed
        timeout: float = 10,
        task_timeout: float = 60,
        semantic: bool = False,
    ):
        self.url = url
        self.semantic = semantic
        self.index_name = index_name
        self.matching_strategy = matching_strategy
        self.plan_queries = plan_queries
        self._client = meilisearch.Client(url, key, timeout=timeout)
        self._health_client = meilisearch.Client(url, key, timeout=2)
        self._task_timeout_ms = int(task_timeout * 1000)
        self._synonyms: Synonyms = normalize_synonyms(synonyms)
        # Until this process is given synonyms, the index keeps the ones it has (another process
        # may have set them): settings updates leave them out.
        self._synonyms_given = synonyms is not None
        self._ready = False
        self._lock = threading.RLock()
        self.vectors = MeiliVectors(self)

    # -- settings and index lifecycle -------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        settings = {
            "searchableAttributes": SEARCHABLE,
            "displayedAttributes": DISPLAYED,
            "filterableAttributes": FILTERABLE,
            "sortableAttributes": SORTABLE,
            "rankingRules": RANKING_RULES,
            "stopWords": sorted(STOP_WORDS),
            "typoTolerance": {
                "enabled": True,
                "minWordSizeForTypos": {"oneTypo": ONE_TYPO_MIN_LEN, "twoTypos": TWO_TYPOS_MIN_LEN},
            },
            "faceting": {"maxValuesPerFacet": MAX_FACET_VALUES},
            "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
        }
        if self._synonyms_given:
            settings["synonyms"] = self._synonym_settings()
        return settings

    def _synonym_settings(self) -> dict[str, list[str]]:
        return {" ".join(k): [" ".join(a) for a in alts] for k, alts in self._synonyms.items()}

    def _wait(self, task_info, timeout_ms: int | None = None) -> None:
        task = self._client.wait_for_task(
            task_info.task_uid, timeout_in_ms=timeout_ms or self._task_timeout_ms, interval_in_ms=20
        )
        if task.status != "succeeded":
            error = task.error or {}
            raise SearchBackendError(
                f"Meilisearch task {task.uid} ({task.type}) {task.status}: {error.get('code')}: {error.get('message')}"
            )

    def _create_index(self, uid: str) -> None:
        try:
            self._wait(self._client.create_index(uid, {"primaryKey": PRIMARY_KEY}))
        except SearchBackendError as exc:
            if "index_already_exists" not in str(exc):
                raise

    def _delete_index(self, uid: str) -> None:
        try:
            self._wait(self._client.delete_index(uid))
        except SearchBackendError as exc:
            if "index_not_found" not in str(exc):
                raise

    def apply_settings(self, uid: str | None = None) -> None:
        """Create the index if needed and apply every setting (idempotent)."""
        uid = uid or self.index_name
        self._create_index(uid)
        self._wait(self._client.index(uid).update_settings(self.settings()))

    def _ensure_ready(self) -> None:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.apply_settings()
                    self._ready = True

    @property
    def _index(self):
        return self._client.index(self.index_name)

    # -- writes -----------------------------------------------------------------------------

    def index(self, docs: list[SearchDocument]) -> None:
        if not docs:
            return
        self._ensure_ready()
        self._wait(self._index.add_documents([self._document(d) for d in docs], PRIMARY_KEY))

    def _document(self, doc: SearchDocument) -> dict[str, Any]:
        """A document without vectors (they follow from the indexer's second pass)."""
        body = to_meili_document(doc)
        if self.semantic:
            body["_vectors"] = {EMBEDDER: None}
        return body

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        self._ensure_ready()
        expression = "id IN [" + ", ".join(quote(i) for i in ids) + "]"
        self._wait(self._index.delete_documents(filter=expression))

    def clear(self) -> None:
        self._ensure_ready()
        self._wait(self._index.delete_all_documents())
        self.vectors.forget()

    def set_synonyms(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        """Customers' words ({"money back": ["refund"]}), stored stemmed in the index settings;
        updated only when they differ from the index's (several processes apply the same rules)."""
        with self._lock:
            self._synonyms = normalize_synonyms(synonyms)
            self._synonyms_given = True
            if self._ready:
                wanted = self._synonym_settings()
                if _same_synonyms(self._index.get_synonyms(), wanted):
                    return
                self._wait(self._index.update_synonyms(wanted))

    def reindex(self, docs: Iterable[SearchDocument], batch_size: int = 1000) -> int:
        """Build a new index (``<name>_tmp``) with the settings and every document, swap it with
        the live one, delete the old one: searches keep answering from the old index until the
        swap. Writes to the live index during a reindex are lost at the swap, so run it with the
        indexer paused (or replay the outbox afterwards). Returns the number of documents."""
        tmp = f"{self.index_name}_tmp"
        with self._lock:
            self._delete_index(tmp)
            self.apply_settings(tmp)
            if not self._synonyms_given:  # keep the live index's synonyms
                self._copy_synonyms(tmp)
            target = self._client.index(tmp)
            count = 0
            batch: list[dict[str, Any]] = []
            if self.semantic:  # an empty index takes the embedder; its vectors come after the swap
                self.vectors.prepare(tmp)
            for doc in docs:
                batch.append(self._document(doc))
                if len(batch) >= batch_size:
                    self._wait(target.add_documents(batch, PRIMARY_KEY))
                    count += len(batch)
                    batch = []
            if batch:
                self._wait(target.add_documents(batch, PRIMARY_KEY))
                count += len(batch)
            self.apply_settings(self.index_name)  # the live index must exist to be swapped
            self._wait(self._client.swap_indexes([{"indexes": [self.index_name, tmp]}]))
            self._delete_index(tmp)
            self._ready = True
            self.vectors.forget()
        return count

    # -- vectors (search.backend.VectorBackend; search.meili_vectors) -----------------------

    def vector_model(self) -> str | None:
        self._ensure_ready()
        return self.vectors.model()

    def reset_vectors(self, model_id: str) -> None:
        self._ensure_ready()
        self.vectors.reset(model_id)

    def missing_vectors(self, docs: list[SearchDocument]) -> list[SearchDocument]:
        self._ensure_ready()
        return self.vectors.missing(docs)

    def index_vectors(self, docs: list[SearchDocument], vectors: list) -> int:
        self._ensure_ready()
        return self.vectors.put(docs, vectors)

    def _copy_synonyms(self, uid: str) -> None:
        try:
            current = self._index.get_synonyms()
        except meilisearch.errors.MeilisearchApiError as exc:
            if exc.code == "index_not_found":
                return
            raise
        if current:
            self._wait(self._client.index(uid).update_synonyms(current))

    # -- queries ----------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        self._ensure_ready()
        parsed = parse_query(query.text, self._synonyms)
        limit = max(0, query.limit)
        offset = max(0, query.offset)
        params: dict[str, Any] = {
            "filter": filter_expression(query),
            "facets": ["tags", "kind"],
            "showRankingScore": True,
            "matchingStrategy": self.matching_strategy,
        }
        neighbours = {} if parsed.is_empty else self._neighbours(query, params["filter"])
        if parsed.is_empty:
            params["sort"] = ["updated_at:desc"]
        if not parsed.is_empty:  # enough lexical hits to re-rank the requested page (search.fusion)
            params.update(page=1, hitsPerPage=max(offset + limit, fusion.LEXICAL_CANDIDATES))
            skip = 0
        # page/hitsPerPage gives an exhaustive totalHits; an offset that is not a multiple of the
        # limit is served by one larger page, sliced here.
        elif limit and offset % limit == 0:
            params.update(page=offset // limit + 1, hitsPerPage=limit)
            skip = 0
        else:
            params.update(page=1, hitsPerPage=offset + limit)
            skip = offset
        text = "" if parsed.is_empty else self._query_text(parsed, params["filter"])
        result = self._index.search(text, params)
        distribution = result.get("facetDistribution") or {}
        facets = {
            "tag": {k: int(v) for k, v in (distribution.get("tags") or {}).items()},
            "kind": {k: int(v) for k, v in (distribution.get("kind") or {}).items()},
        }
        total = int(result.get("totalHits") or 0)
        highlighter = Highlighter(parsed)
        if neighbours:
            return self._hybrid(parsed, result.get("hits", []), neighbours, total, facets, offset, limit, highlighter)
        if parsed.is_empty:
            hits = [self._hit(h, highlighter, parsed, 0.0, None) for h in result.get("hits", [])[skip:]]
            return SearchResults(total=total, hits=hits, facets=facets)
        # Lexical only: Meilisearch's order, uncertified questions demoted (search.fusion).
        found = {h["id"]: h for h in result.get("hits", [])}
        candidates = []
        for h in result.get("hits", []):
            c = fusion.Candidate(h["id"], lexical=float(h.get("_rankingScore") or 0.0))
            c.uncertified_question = h.get("kind") == "question" and not h.get("certified")
            c.accepted_for = fusion.accepted_for(h.get("kind"), h.get("accepted"), h.get("question_id"))
            candidates.append(c)
        hits = [self._hit(found[c.doc_id], highlighter, parsed, c.score, None)
                for c in fusion.demote_questions(candidates)[offset:offset + limit]]
        return SearchResults(total=total, hits=hits, facets=facets)

    def _neighbours(self, query: SearchQuery, filter_expr: str) -> dict[str, dict]:
        """Semantic side: {doc id: hit with "similarity"} of the nearest visible documents (empty
        when semantic search is off, no vectors exist yet or the model cannot be loaded)."""
        if not (self.semantic and query.semantic) or fusion.semantic_weight(parse_query(query.text)) == 0:
            return {}
        if self.vectors.model() is None:
            return {}
        vector = query_vector(query.text)
        if vector is None:
            return {}
        result = self._index.search("", {
            "vector": [float(x) for x in vector], "hybrid": {"embedder": EMBEDDER, "semanticRatio": 1.0},
            "filter": filter_expr, "limit": fusion.SEMANTIC_CANDIDATES, "showRankingScore": True,
        })
        out = {}
        for h in result.get("hits", []):
            similarity = 2 * float(h.get("_rankingScore") or 0.0) - 1  # Meilisearch reports (1 + cosine) / 2
            if similarity >= fusion.SEMANTIC_MIN:
                out[h["id"]] = {**h, "similarity": similarity}
        return out

    def _hybrid(self, parsed: ParsedQuery, lexical: list[dict], neighbours: dict[str, dict], total: int,
                facets: dict[str, dict[str, int]], offset: int, limit: int, highlighter: Highlighter) -> SearchResults:
        found: dict[str, dict] = {}
        candidates: dict[str, fusion.Candidate] = {}
        for h in lexical:
            found[h["id"]] = h
            candidates[h["id"]] = fusion.Candidate(h["id"], lexical=float(h.get("_rankingScore") or 0.0))
        for doc_id, h in neighbours.items():
            found.setdefault(doc_id, h)
            candidate = candidates.setdefault(doc_id, fusion.Candidate(doc_id))
            candidate.similarity = h["similarity"]
            if doc_id not in {x["id"] for x in lexical}:
                # Meaning-only matches join the total and the facets (those deeper than the
                # lexical candidates may be counted twice: an estimate, like totals of semantic search).
                total += 1
                for tag in h.get("tags") or []:
                    facets["tag"][tag] = facets["tag"].get(tag, 0) + 1
                facets["kind"][h["kind"]] = facets["kind"].get(h["kind"], 0) + 1
        for doc_id, c in candidates.items():
            h = found[doc_id]
            c.quality = float(h.get("quality") or 0.0)
            c.uncertified_question = h.get("kind") == "question" and not h.get("certified")
            c.accepted_for = fusion.accepted_for(h.get("kind"), h.get("accepted"), h.get("question_id"))
        ranked = fusion.fuse(list(candidates.values()), parsed)
        sentence = len(parsed.terms) >= 3
        hits = [self._hit(found[c.doc_id], highlighter, parsed, c.score, c.similarity, sentence=sentence)
                for c in ranked[offset:offset + limit]]
        return SearchResults(total=total, hits=hits, facets=facets)

    def _hit(self, h: dict, highlighter: Highlighter, parsed: ParsedQuery, score: float,
             similarity: float | None, *, sentence: bool = False) -> Hit:
        title, body, tags = h.get("title") or "", h.get("body") or "", list(h.get("tags") or [])
        coverage = fusion.word_coverage(parsed, title, " ".join(tags), body, h.get("context") or "",
                                        highlighter=highlighter)
        return Hit(
            entry_id=h["entry_id"],
            revision_id=h["revision_id"],
            kind=h["kind"],
            title=highlighter.highlight(title),
            snippet=highlighter.snippet(body),
            tags=tags,
            certified=bool(h.get("certified")),
            needs_reverification=bool(h.get("needs_reverification")),
            audience=h["audience"],
            state=h.get("state") or "",
            score=score,
            confident=fusion.is_confident(coverage=coverage, similarity=similarity, sentence=sentence),
        )

    def _query_text(self, parsed: ParsedQuery, filter_expr: str) -> str:
        if not self.plan_queries:
            return parsed.stemmed()
        return query_text(self._client, self.index_name, parsed, filter_expr)

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict:
        try:
            status = self._health_client.health().get("status")
        except Exception as exc:  # any transport or server error means "down"
            return {"backend": self.name, "status": "down", "error": type(exc).__name__}
        if status != "available":
            return {"backend": self.name, "status": "down", "error": f"meilisearch status {status!r}"}
        return {"backend": self.name, "status": "ok"}


def _same_synonyms(current: Mapping[str, Sequence[str]] | None, wanted: Mapping[str, Sequence[str]]) -> bool:
    def normal(rules):
        return {k: sorted(v) for k, v in (rules or {}).items()}

    return normal(current) == normal(wanted)


__all__ = ["MeiliBackend", "SearchBackendError", "encode_pk", "filter_expression", "quote", "to_meili_document"]
