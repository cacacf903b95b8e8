"""Embedded search backend: a tantivy index in the data directory (the default).

Text analysis is shared with the Meilisearch backend (``search.analysis``). Ranking of a text
query, per query word (after stop words are dropped and synonyms expanded):

* coverage: every matched query word adds ``COVERAGE`` (exact or prefix matches add
  ``EXACT_BONUS`` on top), so documents matching more words rank higher and exact matches rank
  above fuzzy ones, whatever the field;
* relevance: the best of BM25 on title / tags / body weighted by ``FIELD_BOOSTS`` (title > tags
  > body); fuzzy (typo) and prefix matches score a constant, weighted lower than exact ones;
* quality (``search.ranking``): at most ``ranking.EMBEDDED_QUALITY_SCORE`` for the best
  document, less than one word's coverage, so it only reorders near-equal text matches.

Every word is optional (an OR of words), but at least one must match. Visibility and filters are
clauses of the same boolean query, so totals, facets and snippets never see invisible documents.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import tantivy
from tantivy import Index, Occur, Query, SchemaBuilder

from search import ranking
from search.analysis import (
    ANALYZER_NAME,
    MIN_PREFIX_LEN,
    ParsedQuery,
    QueryTerm,
    SynonymMatch,
    Synonyms,
    build_analyzer,
    normalize_synonyms,
    parse_query,
    typo_distance,
)
from search import fusion
from search.backend import Hit, SearchDocument, SearchQuery, SearchResults, Viewer
from search.highlight import Highlighter
from search.embedding import query_vector
from search.vectors import VectorStore
from search.visibility import tantivy_query, vector_mask

log = logging.getLogger(__name__)


#: Relative weights of the searchable fields (title > tags > body > context: an accepted answer's
#: question, search.documents).
FIELD_BOOSTS: dict[str, float] = {"title": 3.0, "tags_text": 2.0, "body": 1.0, "context": 0.5}
#: Words found only there earn BM25 relevance, not the coverage constants.
CONTEXT_FIELD = "context"
#: Score added for every query word a document matches (exactly, by prefix or with a typo).
COVERAGE = 4.0
#: Added on top of COVERAGE when the word matched exactly or as the typed prefix.
EXACT_BONUS = 1.0
#: Constant score of a typo / prefix match in a field, times the field boost (BM25 for exact).
FUZZY_WEIGHT = 0.3
PREFIX_WEIGHT = 0.5
DISMAX_TIE_BREAKER = 0.1
PHRASE_SLOP = 2  # stop words leave gaps between positions

SCHEMA_VERSION = "5"  # 2: quality_step (search.ranking), more stop words; 3: entry_author_id, vectors;
# 4: context (an accepted answer's question), accepted, question_id; 5: groups (audiences)
_SCHEMA_VERSION_FILE = "kb-schema-version"
_WRITER_HEAP = 64_000_000
_FACET_SIZE = 1000


def _build_schema() -> tantivy.Schema:
    sb = SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("entry_id", "revision_id", "author_id", "entry_author_id", "reuse_count", "updated_ms",
                 "quality_step", "question_id"):
        sb.add_integer_field(name, stored=True, indexed=True, fast=True)
    for name in ("kind", "audience", "state", "tags", "groups"):
        sb.add_text_field(name, stored=True, tokenizer_name="raw", fast=True)
    sb.add_text_field("title", stored=True, tokenizer_name=ANALYZER_NAME)
    sb.add_text_field("body", stored=True, tokenizer_name=ANALYZER_NAME)
    sb.add_text_field("tags_text", stored=False, tokenizer_name=ANALYZER_NAME)
    sb.add_text_field("context", stored=True, tokenizer_name=ANALYZER_NAME)
    for name in ("certified", "needs_reverification", "accepted"):
        sb.add_boolean_field(name, stored=True, indexed=True, fast=True)
    sb.add_float_field("helpful_score", stored=True, indexed=True, fast=True)
    return sb.build()


def epoch_ms(value: datetime | None) -> int:
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


class EmbeddedBackend:
    """tantivy index at ``path``. One writer per instance (taken on the first write and kept;
    tantivy allows one writer per index directory, so only one process may write), guarded by a
    lock; every write commits and reloads the searcher, so it is visible when the call returns.
    Searches run concurrently on immutable searcher snapshots."""

    name = "embedded"

    def __init__(self, path: Path | str, synonyms: Mapping[str, Sequence[str]] | None = None, *,
                 semantic: bool = False):
        self.path = Path(path)
        self.semantic = semantic  # hybrid search (KB_SEMANTIC); off: lexical only, no model loaded
        self._schema = _build_schema()
        self._write_lock = threading.Lock()
        self._writer: tantivy.IndexWriter | None = None
        self._synonyms: Synonyms = normalize_synonyms(synonyms)
        self._quality = self._build_quality_query()
        self._index = self._open()
        self._vectors = VectorStore(self.path / "vectors.sqlite3")

    # -- lifecycle --------------------------------------------------------------------------

    def _open(self) -> Index:
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / _SCHEMA_VERSION_FILE
        if Index.exists(str(self.path)):
            found = marker.read_text().strip() if marker.exists() else None
            if found != SCHEMA_VERSION:
                # The index is derived data; an old layout is rebuilt by `kb reindex`.
                log.warning("search index at %s has schema %s, expected %s: recreating it empty (run kb reindex)",
                            self.path, found, SCHEMA_VERSION)
                shutil.rmtree(self.path)
                self.path.mkdir(parents=True)
        index = Index(self._schema, path=str(self.path), reuse=True)
        index.register_tokenizer(ANALYZER_NAME, build_analyzer())
        marker.write_text(SCHEMA_VERSION + "\n")
        return index

    def warm(self) -> None:
        """With hybrid search on: load the vectors and the model now (a server calls this when it
        starts), not during the first searches, which would otherwise all wait for it."""
        if not self.semantic:
            return
        try:
            self._vectors.refresh()
            query_vector("warm up")
        except Exception:  # the first search will try again, and say what is wrong
            log.exception("warming up hybrid search failed")

    def close(self) -> None:
        """Release the index writer (and its lock on the directory)."""
        with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.wait_merging_threads()
            self._vectors.close()

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        return self._writer

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        try:
            writer.commit()
        except Exception:
            writer.rollback()
            raise
        self._index.reload()

    # -- writes -----------------------------------------------------------------------------

    def _to_document(self, doc: SearchDocument) -> tantivy.Document:
        return tantivy.Document.from_dict(
            {
                "id": doc.id,
                "entry_id": doc.entry_id,
                "revision_id": doc.revision_id,
                "author_id": doc.author_id,
                "entry_author_id": doc.entry_author_id if doc.entry_author_id is not None else doc.author_id,
                "reuse_count": doc.reuse_count,
                "updated_ms": epoch_ms(doc.updated_at),
                "kind": doc.kind,
                "audience": doc.audience,
                "state": doc.state,
                "tags": list(doc.tags),
                "groups": list(doc.groups),
                "title": doc.title,
                "body": doc.body,
                "tags_text": list(doc.tags),
                "context": doc.context,
                "accepted": bool(doc.accepted),
                "question_id": doc.question_id or 0,
                "certified": bool(doc.certified),
                "needs_reverification": bool(doc.needs_reverification),
                "helpful_score": float(doc.helpful_score),
                "quality_step": ranking.quality_step(ranking.quality(doc)),
            },
            self._schema,
        )

    def index(self, docs: list[SearchDocument]) -> None:
        if not docs:
            return
        with self._write_lock:
            writer = self._get_writer()
            for doc in docs:
                writer.delete_documents_by_term("id", doc.id)
                writer.add_document(self._to_document(doc))
            self._commit(writer)
            self._vectors.documents_indexed(docs)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._write_lock:
            writer = self._get_writer()
            for doc_id in ids:
                writer.delete_documents_by_term("id", doc_id)
            self._commit(writer)
            self._vectors.delete(ids)

    def clear(self) -> None:
        with self._write_lock:
            writer = self._get_writer()
            writer.delete_all_documents()
            self._commit(writer)
            self._vectors.clear()

    def reindex(self, docs: Iterable[SearchDocument]) -> int:
        """Replace the whole content in one commit: searches see the old content until the new
        one is complete, never an empty index. Returns the number of documents."""
        indexed: list[SearchDocument] = []
        with self._write_lock:
            writer = self._get_writer()
            writer.delete_all_documents()
            for doc in docs:
                writer.add_document(self._to_document(doc))
                indexed.append(replace(doc, body=""))  # what the vector store keeps: no text
            self._commit(writer)
            present = {d.id for d in indexed}
            self._vectors.refresh()
            self._vectors.delete([i for i in list(self._vectors._docs) if i not in present])
            self._vectors.documents_indexed(indexed)
        return len(indexed)

    # -- vectors (search.backend.VectorBackend) ---------------------------------------------

    def vector_model(self) -> str | None:
        return self._vectors.model_id()

    def reset_vectors(self, model_id: str) -> None:
        self._vectors.reset(model_id)

    def missing_vectors(self, docs: list[SearchDocument]) -> list[SearchDocument]:
        """The documents without vectors of their revision."""
        self._vectors.refresh()
        return [d for d in docs if not self._vectors.has(d.id, d.revision_id)]

    def index_vectors(self, docs: list[SearchDocument], vectors: list) -> int:
        """Store vectors of the documents indexed at the same revision (others changed since)."""
        searcher = self._index.searcher()
        keep_docs, keep_vectors = [], []
        for doc, matrix in zip(docs, vectors, strict=True):
            found = searcher.search(Query.term_query(self._schema, "id", doc.id), limit=1).hits
            if found and searcher.doc(found[0][1]).get_first("revision_id") == doc.revision_id:
                keep_docs.append(doc)
                keep_vectors.append(matrix)
        self._vectors.put(keep_docs, keep_vectors)
        return len(keep_docs)

    def set_synonyms(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        """Customers' words: {"money back": ["refund"], "erase": ["delete"]}. Searching a key
        also finds its alternatives (phrases allowed on both sides)."""
        self._synonyms = normalize_synonyms(synonyms)

    # -- queries ----------------------------------------------------------------------------

    def _visibility(self, viewer: Viewer) -> Query:
        return tantivy_query(self._schema, viewer)

    def _filter(self, query: SearchQuery) -> Query:
        clauses = [self._visibility(query.viewer)]
        if query.tags:
            clauses.append(Query.term_set_query(self._schema, "tags", list(query.tags)))
        if query.kinds:
            clauses.append(Query.term_set_query(self._schema, "kind", list(query.kinds)))
        if query.certified_only:
            clauses.append(Query.term_query(self._schema, "certified", True))
        combined = clauses[0] if len(clauses) == 1 else Query.boolean_query([(Occur.Must, c) for c in clauses])
        return Query.const_score_query(combined, 0.0)

    def _word_group(self, exact: list[Query], loose: list[Query], weight: float,
                    context: list[Query], leaves: list[Query]) -> Query:
        """Relevance (best field) + coverage constants for one query word (or synonym). A word
        found only in an accepted answer's ``context`` (its question) earns relevance, not coverage."""
        every = exact + loose
        scored = every + context
        leaves.extend(scored)
        relevance = scored[0] if len(scored) == 1 else Query.disjunction_max_query(scored, DISMAX_TIE_BREAKER)
        any_match = Query.boolean_query([(Occur.Should, q) for q in every])
        parts = [(Occur.Should, relevance), (Occur.Should, Query.const_score_query(any_match, COVERAGE * weight))]
        if exact:
            exact_match = Query.boolean_query([(Occur.Should, q) for q in exact])
            parts.append((Occur.Should, Query.const_score_query(exact_match, EXACT_BONUS * weight)))
        return Query.boolean_query(parts)

    def _term_group(self, term: QueryTerm, leaves: list[Query]) -> Query:
        exact: list[Query] = []
        loose: list[Query] = []
        distance = typo_distance(term.stem)
        prefixes = {p for p in (term.folded, term.stem) if len(p) >= MIN_PREFIX_LEN} if term.prefix else set()
        context: list[Query] = []
        for field, boost in FIELD_BOOSTS.items():
            own = context if field == CONTEXT_FIELD else exact
            own.append(Query.boost_query(Query.term_query(self._schema, field, term.stem), boost))
            for p in prefixes:
                own.append(
                    Query.boost_query(Query.fuzzy_term_query(self._schema, field, p, 0, True, True), boost * PREFIX_WEIGHT)
                )
            if distance:
                (context if field == CONTEXT_FIELD else loose).append(
                    Query.boost_query(
                        Query.fuzzy_term_query(self._schema, field, term.stem, distance, True, False),
                        boost * FUZZY_WEIGHT,
                    )
                )
        return self._word_group(exact, loose, 1.0, context, leaves)

    def _synonym_group(self, syn: SynonymMatch, leaves: list[Query]) -> Query:
        exact: list[Query] = []
        context: list[Query] = []
        for alt in syn.alternatives:
            for field, boost in FIELD_BOOSTS.items():
                if len(alt) == 1:
                    q = Query.term_query(self._schema, field, alt[0])
                else:
                    q = Query.phrase_query(self._schema, field, list(alt), PHRASE_SLOP)
                (context if field == CONTEXT_FIELD else exact).append(Query.boost_query(q, boost))
        return self._word_group(exact, [], float(syn.weight), context, leaves)

    def _text_queries(self, parsed: ParsedQuery) -> tuple[Query, Query]:
        """(the scored text query, the same documents without scoring). A document matches the
        scored query when it matches one of its word queries (exact, prefix, typo, synonym, in any
        field): counting by kind and tag needs only that, which reads each word's postings once
        instead of once per scoring part."""
        leaves: list[Query] = []
        groups = [self._term_group(t, leaves) for t in parsed.terms] + \
            [self._synonym_group(s, leaves) for s in parsed.synonyms]
        scored = Query.boolean_query([(Occur.Should, g) for g in groups])
        return scored, Query.boolean_query([(Occur.Should, q) for q in leaves])

    def _build_quality_query(self) -> Query:
        """Adds the document's quality (search.ranking) to its score; matches nothing by itself."""
        step_score = ranking.EMBEDDED_QUALITY_SCORE / ranking.QUALITY_STEPS
        return Query.boolean_query([
            (Occur.Should, Query.const_score_query(Query.term_query(self._schema, "quality_step", step), step * step_score))
            for step in range(1, ranking.QUALITY_STEPS + 1)
        ])

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse_query(query.text, self._synonyms)
        filter_q = self._filter(query)
        if parsed.is_empty:
            final = counted = filter_q
            order_by = "updated_ms"
        else:
            scored, matched = self._text_queries(parsed)
            final = Query.boolean_query([(Occur.Must, scored), (Occur.Must, filter_q), (Occur.Should, self._quality)])
            counted = Query.boolean_query([(Occur.Must, matched), (Occur.Must, filter_q)])
            order_by = None
            neighbours = self._neighbours(query)
            if neighbours:
                return self._hybrid(query, parsed, final, matched, filter_q, neighbours)
        searcher = self._index.searcher()
        limit = max(0, query.limit)
        offset = max(0, query.offset)
        highlighter = Highlighter(parsed)
        # One pass over the matches counts them by kind and tag (the facets); the total is the sum
        # of the kinds (every document has one), so the search itself only collects the top hits.
        facets = self._facets(searcher, counted)
        total = sum(facets["kind"].values())
        if order_by:
            result = searcher.search(final, limit=max(1, limit), offset=offset,
                                     order_by_field=order_by, order=tantivy.Order.Desc)
            hits = [self._hit(searcher.doc(address), highlighter, parsed, 0.0, None)
                    for _, address in result.hits[:limit]]
        else:
            # Enough hits to re-rank the requested page (uncertified questions demoted, search.fusion).
            result = searcher.search(final, limit=max(1, offset + limit, fusion.LEXICAL_CANDIDATES))
            stored = {}
            candidates = []
            for score, address in result.hits:
                doc = searcher.doc(address)
                c = fusion.Candidate(doc.get_first("id"), lexical=float(score))
                c.uncertified_question = doc.get_first("kind") == "question" and not doc.get_first("certified")
                c.accepted_for = self._accepted_for(doc)
                stored[c.doc_id] = doc
                candidates.append(c)
            hits = [self._hit(stored[c.doc_id], highlighter, parsed, c.score, None)
                    for c in fusion.demote_questions(candidates)[offset:offset + limit]]
        return SearchResults(total=total, hits=hits, facets=facets)

    def _neighbours(self, query: SearchQuery) -> dict[str, float]:
        """Semantic side: {doc id: similarity} of the nearest visible documents (empty when
        semantic search is off, no vectors exist yet or the model cannot be loaded)."""
        if not (self.semantic and query.semantic) or fusion.semantic_weight(parse_query(query.text)) == 0:
            return {}
        self._vectors.refresh()
        if not self._vectors.count:
            return {}
        vector = query_vector(query.text)
        if vector is None:
            return {}
        nearest = self._vectors.nearest(vector, vector_mask(query.viewer), limit=fusion.SEMANTIC_CANDIDATES)
        return {doc_id: sim for doc_id, sim in nearest if sim >= fusion.SEMANTIC_MIN}

    def _hybrid(self, query: SearchQuery, parsed: ParsedQuery, lexical_q: Query, matched_q: Query,
                filter_q: Query, neighbours: dict[str, float]) -> SearchResults:
        searcher = self._index.searcher()
        limit, offset = max(0, query.limit), max(0, query.offset)
        depth = max(offset + limit, fusion.LEXICAL_CANDIDATES)
        lexical = searcher.search(lexical_q, limit=depth).hits
        # Semantic neighbours go through the same filter (visibility, tags, kinds, certified).
        ids_q = Query.term_set_query(self._schema, "id", list(neighbours))
        semantic = searcher.search(Query.boolean_query([(Occur.Must, ids_q), (Occur.Must, filter_q)]),
                                   limit=len(neighbours)).hits
        stored: dict[str, tuple] = {}
        candidates: dict[str, fusion.Candidate] = {}
        for score, address in lexical:
            doc = searcher.doc(address)
            doc_id = doc.get_first("id")
            stored[doc_id] = doc
            candidates[doc_id] = fusion.Candidate(doc_id, lexical=float(score), similarity=neighbours.get(doc_id))
        for _, address in semantic:
            doc = searcher.doc(address)
            doc_id = doc.get_first("id")
            stored[doc_id] = doc
            candidates.setdefault(doc_id, fusion.Candidate(doc_id, similarity=neighbours[doc_id]))
        for doc_id, c in candidates.items():
            doc = stored[doc_id]
            c.quality = (doc.get_first("quality_step") or 0) / ranking.QUALITY_STEPS
            c.uncertified_question = doc.get_first("kind") == "question" and not doc.get_first("certified")
            c.accepted_for = self._accepted_for(doc)
        ranked = fusion.fuse(list(candidates.values()), parsed)
        union = Query.boolean_query([
            (Occur.Must, Query.boolean_query([(Occur.Should, matched_q), (Occur.Should, ids_q)])),
            (Occur.Must, filter_q),
        ])
        facets = self._facets(searcher, union)
        total = sum(facets["kind"].values())
        highlighter = Highlighter(parsed)
        sentence = len(parsed.terms) >= 3
        hits = [self._hit(stored[c.doc_id], highlighter, parsed, c.score, c.similarity, sentence=sentence)
                for c in ranked[offset:offset + limit]]
        return SearchResults(total=total, hits=hits, facets=facets)

    @staticmethod
    def _accepted_for(stored) -> str | None:
        return fusion.accepted_for(stored.get_first("kind"), stored.get_first("accepted"),
                                   stored.get_first("question_id"))

    def _hit(self, stored, highlighter: Highlighter, parsed: ParsedQuery, score: float,
             similarity: float | None, *, sentence: bool = False) -> Hit:
        title, body = stored.get_first("title") or "", stored.get_first("body") or ""
        tags = list(stored.get_all("tags"))
        coverage = fusion.word_coverage(parsed, title, " ".join(tags), body, stored.get_first("context") or "",
                                        highlighter=highlighter)
        return Hit(
            entry_id=stored.get_first("entry_id"),
            revision_id=stored.get_first("revision_id"),
            kind=stored.get_first("kind"),
            title=highlighter.highlight(title),
            snippet=highlighter.snippet(body),
            tags=tags,
            certified=bool(stored.get_first("certified")),
            needs_reverification=bool(stored.get_first("needs_reverification")),
            audience=stored.get_first("audience"),
            state=stored.get_first("state"),
            score=score,
            confident=fusion.is_confident(coverage=coverage, similarity=similarity, sentence=sentence),
        )

    def _facets(self, searcher: tantivy.Searcher, query: Query) -> dict[str, dict[str, int]]:
        aggs = searcher.aggregate(
            query,
            {
                "tag": {"terms": {"field": "tags", "size": _FACET_SIZE, "segment_size": _FACET_SIZE * 10}},
                "kind": {"terms": {"field": "kind", "size": _FACET_SIZE, "segment_size": _FACET_SIZE * 10}},
            },
        )
        return {
            name: {b["key"]: int(b["doc_count"]) for b in aggs.get(name, {}).get("buckets", [])}
            for name in ("tag", "kind")
        }

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict:
        try:
            self._index.reload()
            documents = self._index.searcher().num_docs
            return {"backend": self.name, "status": "ok", "documents": documents}
        except Exception as exc:  # reported, never raised
            return {"backend": self.name, "status": "down", "error": f"{type(exc).__name__}: {exc}"}
