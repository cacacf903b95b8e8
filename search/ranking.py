"""Ranking quality signals, weighted in one place: relevance first, then quality.

A document's ``quality`` (0..1) combines what the knowledge base knows about it beyond its text:

* certified: the answer was verified (one that needs re-verification earns part of it);
* helpful: ``SearchDocument.helpful_score``, the Wilson lower bound of its helpful votes (0..1);
* reuse: how often agents used it to solve a case, saturating (``REUSE_HALF`` uses earn half);
* freshness: halves every ``FRESHNESS_HALF_LIFE`` since the revision was written.

Both backends index the value with each document and use it only after text relevance:
Meilisearch as its last ranking rule (``quality:desc``, after words, typo, proximity, attribute
and exactness), the embedded backend as a small score added to BM25 and word coverage
(``EMBEDDED_QUALITY_SCORE``, less than what one more matched query word earns), so a clearly
better text match always wins and quality decides between near-equal ones.

The value is computed when the document is indexed; every change, vote or reuse re-indexes its
entry, and ``kb reindex`` recomputes all of them (freshness included).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kb.clock import utcnow
from search.backend import SearchDocument

#: Share of each signal in ``quality``; they add up to 1.
WEIGHTS: dict[str, float] = {"certified": 0.4, "helpful": 0.3, "reuse": 0.2, "freshness": 0.1}
#: A certification that needs re-verification still says something, but less.
NEEDS_REVERIFICATION_CREDIT = 0.5
#: Reuse count that earns half of the reuse weight (r / (r + REUSE_HALF)): the first uses matter most.
REUSE_HALF = 5
FRESHNESS_HALF_LIFE = timedelta(days=180)

#: Embedded backend: score added for quality 1.0 (a matched query word earns at least 4).
EMBEDDED_QUALITY_SCORE = 1.0
#: Embedded backend: quality is indexed as one of this many steps (a term per step).
QUALITY_STEPS = 20


def signals(doc: SearchDocument, *, now: datetime | None = None) -> dict[str, float]:
    """Each signal of ``doc`` on a 0..1 scale."""
    certified = 0.0
    if doc.certified:
        certified = NEEDS_REVERIFICATION_CREDIT if doc.needs_reverification else 1.0
    reuse = max(0, doc.reuse_count)
    return {
        "certified": certified,
        "helpful": min(1.0, max(0.0, float(doc.helpful_score))),
        "reuse": reuse / (reuse + REUSE_HALF),
        "freshness": freshness(doc.updated_at, now=now),
    }


def freshness(updated_at: datetime | None, *, now: datetime | None = None) -> float:
    if updated_at is None:
        return 0.0
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=timezone.utc)
    age = max(timedelta(0), (now or utcnow()) - updated_at)
    return 0.5 ** (age / FRESHNESS_HALF_LIFE)


def quality(doc: SearchDocument, *, now: datetime | None = None) -> float:
    """The weighted quality of ``doc``, 0..1 (rounded: tiny differences are not information)."""
    values = signals(doc, now=now)
    return round(sum(WEIGHTS[name] * values[name] for name in WEIGHTS), 3)


def quality_step(value: float) -> int:
    """``quality`` as an integer step 0..QUALITY_STEPS (embedded backend)."""
    return max(0, min(QUALITY_STEPS, round(value * QUALITY_STEPS)))
