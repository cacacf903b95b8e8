"""Embedded search backend: a tantivy index in the data directory (the default).

Text analysis (shared with the Meilisearch backend, which indexes stemmed shadow fields built by
the same analyzer): split on non-alphanumeric characters, drop tokens longer than 40 characters,
lowercase, fold accents to ASCII, drop English stop words, Snowball English stemming.

Ranking of a text query, per query word (after stop words are dropped and synonyms expanded):

* coverage: every matched query word adds ``COVERAGE`` (exact or prefix matches add
  ``EXACT_BONUS`` on top), so documents matching more words rank higher and exact matches rank
  above fuzzy ones, whatever the field;
* relevance: the best of BM25 on title / tags / body weighted by ``FIELD_BOOSTS`` (title > tags
  > body); fuzzy (typo) and prefix matches score a constant, weighted lower than exact ones.

Every word is optional (an OR of words), but at least one must match. Visibility and filters are
clauses of the same boolean query, so totals, facets and snippets never see invisible documents.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import tantivy
from tantivy import Filter, Index, Occur, Query, SchemaBuilder, TextAnalyzerBuilder, Tokenizer

from search.backend import Hit, SearchDocument, SearchQuery, SearchResults, Viewer

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Text analysis shared by both backends
# --------------------------------------------------------------------------------------------

#: English stop words: ignored in queries (both backends) and not indexed (embedded). Negations
#: are included (they match nearly everything); particles that change meaning in support
#: questions ("sign out", "log in" keeps "log", "money back", "turn off") are deliberately not.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing during each either else ever
    every few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just let me more most much my myself no nor not now of on once
    only or other our ours ourselves own same shall she should so some such than that the their
    theirs them themselves then there these they this those through to too under until very was
    we were what when where which while who whom whose why will with would yet you your yours
    yourself yourselves s t d ll m re ve
    hi hello hey please thanks thank want wants wanted
    """.split()
)

ANALYZER_NAME = "kb_en"
MAX_TOKEN_LEN = 40

# Typo tolerance (Meilisearch is configured with the same thresholds).
ONE_TYPO_MIN_LEN = 5
TWO_TYPOS_MIN_LEN = 8
MIN_PREFIX_LEN = 2
MAX_QUERY_TERMS = 24  # longer pastes keep their first words

_WORD_RE = re.compile(r"[^\W_]+")


def build_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of the title, tags and body fields (and of query words)."""
    return (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(MAX_TOKEN_LEN))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .filter(Filter.custom_stopword(sorted(STOP_WORDS)))
        .filter(Filter.stemmer("english"))
        .build()
    )


_analyzer_lock = threading.Lock()
_stem_analyzer = build_analyzer()
_fold_analyzer = (
    TextAnalyzerBuilder(Tokenizer.simple())
    .filter(Filter.remove_long(MAX_TOKEN_LEN))
    .filter(Filter.lowercase())
    .filter(Filter.ascii_fold())
    .build()
)


def analyze(text: str) -> list[str]:
    """Stems of ``text`` as indexed (stop words dropped)."""
    with _analyzer_lock:
        return _stem_analyzer.analyze(text)


@lru_cache(maxsize=65536)
def _word_forms(word: str) -> tuple[str, str | None]:
    """(folded lowercase form, stem or None for a stop word / over-long token) of one word."""
    with _analyzer_lock:
        folded = _fold_analyzer.analyze(word)
        stems = _stem_analyzer.analyze(word)
    return ("".join(folded) if folded else word.lower()), (stems[0] if stems else None)


def stemmed_text(text: str) -> str:
    """The text as the stemmed words the index sees (Meilisearch's shadow fields)."""
    return " ".join(analyze(text))


def typo_distance(word: str) -> int:
    if len(word) >= TWO_TYPOS_MIN_LEN:
        return 2
    if len(word) >= ONE_TYPO_MIN_LEN:
        return 1
    return 0


@dataclass(frozen=True)
class QueryTerm:
    stem: str
    folded: str  # lowercased, accent-folded surface form
    prefix: bool  # the last word, possibly still being typed


@dataclass(frozen=True)
class SynonymMatch:
    weight: int  # how many query words the synonym stands for
    alternatives: tuple[tuple[str, ...], ...]  # stemmed words of each alternative
    start: int = 0  # index of the first query term it replaces

    @property
    def positions(self) -> range:
        return range(self.start, self.start + self.weight)


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[QueryTerm, ...]
    synonyms: tuple[SynonymMatch, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def stemmed(self, terms: Sequence[QueryTerm] | None = None) -> str:
        """The query (or some of its terms) as stemmed words; a trailing space means the last
        word is complete (no prefix search)."""
        terms = self.terms if terms is None else terms
        if not terms:
            return ""
        text = " ".join(t.stem for t in terms)
        return text if terms[-1].prefix else text + " "


Synonyms = dict[tuple[str, ...], list[tuple[str, ...]]]


def normalize_synonyms(synonyms: Mapping[str, Sequence[str]] | None) -> Synonyms:
    """{"money back": ["refund"]} -> {("money", "back"): [("refund",)]}, in stemmed words.

    One-way, like Meilisearch's: searching the key also finds the alternatives."""
    result: Synonyms = {}
    for key, values in (synonyms or {}).items():
        key_stems = tuple(analyze(key))
        if not key_stems:
            continue
        alts = [tuple(analyze(v)) for v in values]
        alts = [a for a in alts if a and a != key_stems]
        if alts:
            merged = result.setdefault(key_stems, [])
            merged.extend(a for a in alts if a not in merged)
    return result


def parse_query(text: str, synonyms: Synonyms | None = None) -> ParsedQuery:
    words = _WORD_RE.findall(text or "")
    last_open = bool(words) and bool(text) and not text[-1].isspace() and _WORD_RE.match(text[-1]) is not None
    terms: list[QueryTerm] = []
    if len(words) > MAX_QUERY_TERMS * 2:
        words = words[: MAX_QUERY_TERMS * 2]
        last_open = False
    for i, word in enumerate(words):
        folded, stem = _word_forms(word)
        if stem is None:
            continue
        terms.append(QueryTerm(stem=stem, folded=folded, prefix=last_open and i == len(words) - 1))
    terms = terms[:MAX_QUERY_TERMS]
    matches: list[SynonymMatch] = []
    if synonyms:
        stems = [t.stem for t in terms]
        for key, alts in synonyms.items():
            n = len(key)
            start = next((i for i in range(len(stems) - n + 1) if tuple(stems[i : i + n]) == key), None)
            if start is not None:
                matches.append(SynonymMatch(weight=n, alternatives=tuple(alts), start=start))
    return ParsedQuery(terms=tuple(terms), synonyms=tuple(matches))


# --------------------------------------------------------------------------------------------
# Highlighting shared by both backends
# --------------------------------------------------------------------------------------------

SNIPPET_WORDS = 30


def _within_distance(a: str, b: str, limit: int) -> bool:
    """Damerau (optimal string alignment) distance of a and b is <= limit."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[len(b)] <= limit


class Highlighter:
    """Wraps the words of a text that match the query in <mark>, HTML-escaping everything else.

    Matches what the search matched: same stems, typo distances, prefix of the last word and
    synonym alternatives."""

    def __init__(self, query: ParsedQuery):
        self.exact = {t.stem for t in query.terms}
        for syn in query.synonyms:
            for alt in syn.alternatives:
                self.exact.update(alt)
        self.prefixes = {p for t in query.terms if t.prefix for p in (t.folded, t.stem) if len(p) >= MIN_PREFIX_LEN}
        self.fuzzy = [(t.stem, typo_distance(t.stem)) for t in query.terms if typo_distance(t.stem)]
        self._cache: dict[str, bool] = {}

    def _matches(self, word: str) -> bool:
        hit = self._cache.get(word)
        if hit is None:
            folded, stem = _word_forms(word)
            hit = stem is not None and (
                stem in self.exact
                or any(folded.startswith(p) or stem.startswith(p) for p in self.prefixes)
                or any(_within_distance(stem, q, d) for q, d in self.fuzzy)
            )
            self._cache[word] = hit
        return hit

    def _render(self, text: str, spans: list[tuple[int, int, bool]], start: int, end: int) -> str:
        out: list[str] = []
        pos = start
        for s, e, hit in spans:
            if not hit or s < start or e > end:
                continue
            out.append(html.escape(text[pos:s]))
            out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
            pos = e
        out.append(html.escape(text[pos:end]))
        return "".join(out)

    def highlight(self, text: str) -> str:
        """The whole text, escaped, with matches marked (titles)."""
        text = text or ""
        spans = [(m.start(), m.end(), self._matches(m.group())) for m in _WORD_RE.finditer(text)]
        return self._render(text, spans, 0, len(text))

    def snippet(self, text: str, words: int = SNIPPET_WORDS) -> str:
        """About ``words`` words around the best cluster of matches, escaped, marked; "…" where
        cropped. The beginning of the text when nothing matches."""
        text = text or ""
        spans = [(m.start(), m.end(), self._matches(m.group())) for m in _WORD_RE.finditer(text)]
        if len(spans) <= words:
            return self._render(text, spans, 0, len(text))
        flags = [1 if s[2] else 0 for s in spans]
        window = sum(flags[:words])
        best, best_start = window, 0
        for i in range(1, len(spans) - words + 1):
            window += flags[i + words - 1] - flags[i - 1]
            if window > best:
                best, best_start = window, i
        if best:
            # Start a few words before the first match, when that keeps as many matches.
            first = next(i for i in range(best_start, best_start + words) if flags[i])
            candidate = max(0, min(first - 4, len(spans) - words))
            if sum(flags[candidate : candidate + words]) >= best:
                best_start = candidate
        last = best_start + words - 1
        start = 0 if best_start == 0 else spans[best_start][0]
        end = len(text) if last == len(spans) - 1 else spans[last][1]
        body = self._render(text, spans, start, end)
        return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


# --------------------------------------------------------------------------------------------
# The tantivy backend
# --------------------------------------------------------------------------------------------

#: Relative weights of the searchable fields (title > tags > body).
FIELD_BOOSTS: dict[str, float] = {"title": 3.0, "tags_text": 2.0, "body": 1.0}
#: Score added for every query word a document matches (exactly, by prefix or with a typo).
COVERAGE = 4.0
#: Added on top of COVERAGE when the word matched exactly or as the typed prefix.
EXACT_BONUS = 1.0
#: Constant score of a typo / prefix match in a field, times the field boost (BM25 for exact).
FUZZY_WEIGHT = 0.3
PREFIX_WEIGHT = 0.5
DISMAX_TIE_BREAKER = 0.1
PHRASE_SLOP = 2  # stop words leave gaps between positions

SCHEMA_VERSION = "1"
_SCHEMA_VERSION_FILE = "kb-schema-version"
_WRITER_HEAP = 64_000_000
_FACET_SIZE = 1000


def _build_schema() -> tantivy.Schema:
    sb = SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in ("entry_id", "revision_id", "author_id", "reuse_count", "updated_ms"):
        sb.add_integer_field(name, stored=True, indexed=True, fast=True)
    for name in ("kind", "audience", "state", "tags"):
        sb.add_text_field(name, stored=True, tokenizer_name="raw", fast=True)
    sb.add_text_field("title", stored=True, tokenizer_name=ANALYZER_NAME)
    sb.add_text_field("body", stored=True, tokenizer_name=ANALYZER_NAME)
    sb.add_text_field("tags_text", stored=False, tokenizer_name=ANALYZER_NAME)
    for name in ("certified", "needs_reverification"):
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

    def __init__(self, path: Path | str, synonyms: Mapping[str, Sequence[str]] | None = None):
        self.path = Path(path)
        self._schema = _build_schema()
        self._write_lock = threading.Lock()
        self._writer: tantivy.IndexWriter | None = None
        self._synonyms: Synonyms = normalize_synonyms(synonyms)
        self._index = self._open()

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

    def close(self) -> None:
        """Release the index writer (and its lock on the directory)."""
        with self._write_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.wait_merging_threads()

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
                "reuse_count": doc.reuse_count,
                "updated_ms": epoch_ms(doc.updated_at),
                "kind": doc.kind,
                "audience": doc.audience,
                "state": doc.state,
                "tags": list(doc.tags),
                "title": doc.title,
                "body": doc.body,
                "tags_text": list(doc.tags),
                "certified": bool(doc.certified),
                "needs_reverification": bool(doc.needs_reverification),
                "helpful_score": float(doc.helpful_score),
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

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._write_lock:
            writer = self._get_writer()
            for doc_id in ids:
                writer.delete_documents_by_term("id", doc_id)
            self._commit(writer)

    def clear(self) -> None:
        with self._write_lock:
            writer = self._get_writer()
            writer.delete_all_documents()
            self._commit(writer)

    def reindex(self, docs: Iterable[SearchDocument]) -> int:
        """Replace the whole content in one commit: searches see the old content until the new
        one is complete, never an empty index. Returns the number of documents."""
        count = 0
        with self._write_lock:
            writer = self._get_writer()
            writer.delete_all_documents()
            for doc in docs:
                writer.add_document(self._to_document(doc))
                count += 1
            self._commit(writer)
        return count

    def set_synonyms(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        """Customers' words: {"money back": ["refund"], "erase": ["delete"]}. Searching a key
        also finds its alternatives (phrases allowed on both sides)."""
        self._synonyms = normalize_synonyms(synonyms)

    # -- queries ----------------------------------------------------------------------------

    def _visibility(self, viewer: Viewer) -> Query:
        public = Query.term_query(self._schema, "audience", "public")
        if not viewer.include_drafts:
            return public
        restricted = Query.term_query(self._schema, "audience", "restricted")
        if not (viewer.is_admin or viewer.is_reviewer):
            restricted = Query.boolean_query(
                [(Occur.Must, restricted), (Occur.Must, Query.term_query(self._schema, "author_id", viewer.user_id))]
            )
        return Query.boolean_query([(Occur.Should, public), (Occur.Should, restricted)])

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

    def _word_group(self, exact: list[Query], loose: list[Query], weight: float) -> Query:
        """Relevance (best field) + coverage constants for one query word (or synonym)."""
        every = exact + loose
        relevance = every[0] if len(every) == 1 else Query.disjunction_max_query(every, DISMAX_TIE_BREAKER)
        any_match = Query.boolean_query([(Occur.Should, q) for q in every])
        parts = [(Occur.Should, relevance), (Occur.Should, Query.const_score_query(any_match, COVERAGE * weight))]
        if exact:
            exact_match = Query.boolean_query([(Occur.Should, q) for q in exact])
            parts.append((Occur.Should, Query.const_score_query(exact_match, EXACT_BONUS * weight)))
        return Query.boolean_query(parts)

    def _term_group(self, term: QueryTerm) -> Query:
        exact: list[Query] = []
        loose: list[Query] = []
        distance = typo_distance(term.stem)
        prefixes = {p for p in (term.folded, term.stem) if len(p) >= MIN_PREFIX_LEN} if term.prefix else set()
        for field, boost in FIELD_BOOSTS.items():
            exact.append(Query.boost_query(Query.term_query(self._schema, field, term.stem), boost))
            for p in prefixes:
                exact.append(
                    Query.boost_query(Query.fuzzy_term_query(self._schema, field, p, 0, True, True), boost * PREFIX_WEIGHT)
                )
            if distance:
                loose.append(
                    Query.boost_query(
                        Query.fuzzy_term_query(self._schema, field, term.stem, distance, True, False),
                        boost * FUZZY_WEIGHT,
                    )
                )
        return self._word_group(exact, loose, 1.0)

    def _synonym_group(self, syn: SynonymMatch) -> Query:
        exact: list[Query] = []
        for alt in syn.alternatives:
            for field, boost in FIELD_BOOSTS.items():
                if len(alt) == 1:
                    q = Query.term_query(self._schema, field, alt[0])
                else:
                    q = Query.phrase_query(self._schema, field, list(alt), PHRASE_SLOP)
                exact.append(Query.boost_query(q, boost))
        return self._word_group(exact, [], float(syn.weight))

    def _text_query(self, parsed: ParsedQuery) -> Query:
        groups = [self._term_group(t) for t in parsed.terms] + [self._synonym_group(s) for s in parsed.synonyms]
        return Query.boolean_query([(Occur.Should, g) for g in groups])

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse_query(query.text, self._synonyms)
        filter_q = self._filter(query)
        if parsed.is_empty:
            final = filter_q
            order_by = "updated_ms"
        else:
            final = Query.boolean_query([(Occur.Must, self._text_query(parsed)), (Occur.Must, filter_q)])
            order_by = None
        searcher = self._index.searcher()
        limit = max(0, query.limit)
        offset = max(0, query.offset)
        kwargs = {"order_by_field": order_by, "order": tantivy.Order.Desc} if order_by else {}
        result = searcher.search(final, limit=max(1, limit), count=True, offset=offset, **kwargs)
        total = result.count or 0
        highlighter = Highlighter(parsed)
        hits: list[Hit] = []
        for score, address in result.hits[:limit]:
            stored = searcher.doc(address)
            hits.append(
                Hit(
                    entry_id=stored.get_first("entry_id"),
                    revision_id=stored.get_first("revision_id"),
                    kind=stored.get_first("kind"),
                    title=highlighter.highlight(stored.get_first("title") or ""),
                    snippet=highlighter.snippet(stored.get_first("body") or ""),
                    tags=list(stored.get_all("tags")),
                    certified=bool(stored.get_first("certified")),
                    needs_reverification=bool(stored.get_first("needs_reverification")),
                    audience=stored.get_first("audience"),
                    state=stored.get_first("state"),
                    score=0.0 if order_by else float(score),
                )
            )
        facets = self._facets(searcher, final) if total else {"tag": {}, "kind": {}}
        return SearchResults(total=total, hits=hits, facets=facets)

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
