"""Hybrid ranking: lexical hits fused with semantic hits, the same way on both backends.

All the weights of hybrid search are here.

* **Query shape** decides the mix (``semantic_weight``): one or two words typed by an agent are
  keywords (exact, typo, prefix matches must stay on top), so they lean lexical; a customer's
  sentence leans semantic, since the customer's words are rarely the article's.
* **Lexical** relevance is the backend's own score relative to its best hit (BM25 and word
  coverage for the embedded backend, the ranking score for Meilisearch), so the best keyword
  match scores 1 on both.
* **Semantic** relevance is the cosine similarity of the query and the document's best chunk,
  mapped from ``SEMANTIC_ZERO`` (unrelated, 0) to ``SEMANTIC_ONE`` (as close as texts get, 1).
* **Quality** (``search.ranking``: certified, helpful, reuse, freshness) comes after relevance: a
  small ``QUALITY_WEIGHT`` that reorders near-equal matches only. An uncertified forum question
  loses ``UNCERTIFIED_QUESTION_PENALTY``: the certified article that answers it ranks first.
* **Lexical-only** searches (one word, or semantic search off) keep the backend's order, but an
  uncertified forum question loses the same ``UNCERTIFIED_QUESTION_PENALTY`` of the best hit's
  score (``demote_questions``), so both modes and both backends agree: a question (or its
  duplicates) never outranks a certified article or answer of comparable relevance, while a
  clearly better match still wins. An accepted answer carries its question's title and text as
  lower-weighted ``context`` (``search.documents``), so the question's wording finds it too, and
  ranks as an answer of its question: at least just above the question (in both modes), taking
  its place, never more (``ACCEPTED_ANSWER_LEAD``).
* **Confidence**: a hit is a confident match when it matches most of the query's words
  (``CONFIDENT_COVERAGE``; for a sentence searched by meaning too, only when its meaning is not far
  off, ``SENTENCE_MIN_SIMILARITY``) or means nearly the same (``CONFIDENT_SIMILARITY``). When no hit is
  confident the search page says so, lists the hits as "possibly related" and offers the forum.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.analysis import ParsedQuery
from search.highlight import Highlighter

#: Share of semantic relevance by number of query words (after stop words); more: the last value.
#: Chosen on the whole relevance suite (tests/search), the same for both backends. One word is a
#: keyword (often still being typed): lexical only, and the query is not embedded at all.
SEMANTIC_WEIGHT_BY_WORDS = (0.0, 0.0, 0.3, 0.6, 0.8)
SEMANTIC_ZERO = 0.1
SEMANTIC_ONE = 0.6
#: Semantic hits below this similarity are not offered at all (noise).
SEMANTIC_MIN = 0.2
#: How many semantic neighbours each search considers (before filters by tag, kind, ...).
SEMANTIC_CANDIDATES = 100
#: How many lexical hits are re-ranked with the semantic ones (at least the requested page).
LEXICAL_CANDIDATES = 50
QUALITY_WEIGHT = 0.05
UNCERTIFIED_QUESTION_PENALTY = 0.1
#: An accepted answer's score is at least its question's plus this (it ranks just above it).
ACCEPTED_ANSWER_LEAD = 0.001
CONFIDENT_COVERAGE = 2 / 3
CONFIDENT_SIMILARITY = 0.4
#: A sentence's words found in a text whose meaning is further than this are a coincidence.
SENTENCE_MIN_SIMILARITY = 0.25
#: Words of a body read for the confidence check (the matched words are near the start).
COVERAGE_BODY_WORDS = 400


def semantic_weight(parsed: ParsedQuery) -> float:
    n = len(parsed.terms)
    return SEMANTIC_WEIGHT_BY_WORDS[min(n, len(SEMANTIC_WEIGHT_BY_WORDS) - 1)]


def semantic_relevance(similarity: float | None) -> float:
    if similarity is None:
        return 0.0
    return min(1.0, max(0.0, (similarity - SEMANTIC_ZERO) / (SEMANTIC_ONE - SEMANTIC_ZERO)))


@dataclass
class Candidate:
    doc_id: str
    lexical: float | None = None  # the backend's score; None: not a lexical hit
    similarity: float | None = None  # cosine of the best chunk; None: not a semantic hit
    quality: float = 0.0  # search.ranking.quality, 0..1
    uncertified_question: bool = False
    #: An accepted answer: the document id of its question's public document.
    accepted_for: str | None = None
    score: float = 0.0


def accepted_for(kind: str | None, accepted: bool | None, question_id: int | None) -> str | None:
    """``Candidate.accepted_for`` from a stored document's fields."""
    return f"{question_id}:public" if kind == "answer" and accepted and question_id else None


def _as_answers_of_their_question(candidates: list[Candidate]) -> None:
    """An accepted answer ranks at least just above its question (scores set): it takes the
    question's place, never more, so a thread does not gain on the articles by being answered."""
    scores = {c.doc_id: c.score for c in candidates}
    for c in candidates:
        if c.accepted_for is not None and c.accepted_for in scores:
            c.score = max(c.score, scores[c.accepted_for] + ACCEPTED_ANSWER_LEAD)


def fuse(candidates: list[Candidate], parsed: ParsedQuery) -> list[Candidate]:
    """The candidates ordered by fused score (set on each), best first."""
    w_sem = semantic_weight(parsed)
    top = max((c.lexical for c in candidates if c.lexical is not None), default=0.0)
    for c in candidates:
        lexical = (c.lexical / top) if (c.lexical is not None and top > 0) else 0.0
        c.score = ((1 - w_sem) * lexical + w_sem * semantic_relevance(c.similarity)
                   + QUALITY_WEIGHT * c.quality - UNCERTIFIED_QUESTION_PENALTY * c.uncertified_question)
    _as_answers_of_their_question(candidates)
    return sorted(candidates, key=lambda c: (-c.score, c.doc_id))


def demote_questions(candidates: list[Candidate]) -> list[Candidate]:
    """Lexical-only ranking: ``candidates`` in the backend's order (best first, with its scores),
    re-ordered so that an uncertified question loses ``UNCERTIFIED_QUESTION_PENALTY`` of the best
    hit's score and an accepted answer ranks at least just above its question. Everything else
    keeps the backend's order (relevance, then quality). The score set on each is the relative
    one (the best hit: 1), less the penalty."""
    top = max((c.lexical for c in candidates if c.lexical is not None), default=0.0)
    ceiling = float("inf")
    for c in candidates:
        relative = (c.lexical / top) if (c.lexical is not None and top > 0) else 0.0
        ceiling = min(ceiling, relative)  # the backend's order is the relevance order
        c.score = ceiling - UNCERTIFIED_QUESTION_PENALTY * c.uncertified_question
    _as_answers_of_their_question(candidates)
    order = {id(c): i for i, c in enumerate(candidates)}
    return sorted(candidates, key=lambda c: (-c.score, order[id(c)]))


def word_coverage(parsed: ParsedQuery, *texts: str, highlighter: Highlighter | None = None) -> float:
    """Share of the query's words found in the texts, matched as the search matches them (same
    stem, a synonym's word, the start of a word for the last query word, or a typo away).

    Pass the search's ``highlighter`` (built from the same ``parsed``) to reuse what it already
    knows of each word across the results of one search."""
    return (highlighter or Highlighter(parsed)).coverage(*texts, words_per_text=COVERAGE_BODY_WORDS)


def is_confident(*, coverage: float, similarity: float | None, sentence: bool = False) -> bool:
    """``sentence``: a query of three words or more, searched by meaning too. Its common words
    match many texts, so matching them is confident only when the meaning is not far off either."""
    if similarity is not None and similarity >= CONFIDENT_SIMILARITY:
        return True
    if sentence:
        return coverage >= CONFIDENT_COVERAGE and (similarity or 0.0) >= SENTENCE_MIN_SIMILARITY
    return coverage >= CONFIDENT_COVERAGE
