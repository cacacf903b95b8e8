"""The quality value both backends rank by after relevance (search.ranking)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from search import ranking
from tests.search.test_contract import doc

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def at(document, *, days_old: float):
    return replace(document, updated_at=NOW - timedelta(days=days_old))


def test_weights_add_up_to_one_and_the_best_document_scores_one():
    assert sum(ranking.WEIGHTS.values()) == pytest.approx(1.0)
    best = replace(at(doc(1, "x"), days_old=0), helpful_score=1.0, reuse_count=10**9)
    assert ranking.quality(best, now=NOW) == pytest.approx(1.0, abs=1e-3)
    nothing = at(doc(2, "x", certified=False, state="draft"), days_old=10_000)
    assert ranking.quality(nothing, now=NOW) == 0.0


def test_each_signal_raises_quality():
    plain = at(doc(1, "x", certified=False, state="approved"), days_old=365)
    base = ranking.quality(plain, now=NOW)
    for better in (replace(plain, certified=True), replace(plain, helpful_score=0.5), replace(plain, reuse_count=3),
                   replace(plain, updated_at=NOW)):
        assert ranking.quality(better, now=NOW) > base


def test_certified_outweighs_helpful_which_outweighs_reuse_which_outweighs_freshness():
    plain = at(doc(1, "x", certified=False, state="approved"), days_old=365)
    certified = ranking.quality(replace(plain, certified=True), now=NOW)
    helpful = ranking.quality(replace(plain, helpful_score=1.0), now=NOW)
    reused = ranking.quality(replace(plain, reuse_count=10**6), now=NOW)
    fresh = ranking.quality(replace(plain, updated_at=NOW), now=NOW)
    assert certified > helpful > reused > fresh


def test_freshness_halves_every_half_life():
    half_life = ranking.FRESHNESS_HALF_LIFE
    assert ranking.freshness(NOW, now=NOW) == 1.0
    assert ranking.freshness(NOW - half_life, now=NOW) == pytest.approx(0.5)
    assert ranking.freshness(NOW - 2 * half_life, now=NOW) == pytest.approx(0.25)
    assert ranking.freshness(None, now=NOW) == 0.0
    assert ranking.freshness(NOW + timedelta(days=1), now=NOW) == 1.0  # clocks disagree: not fresher than new


def test_reuse_saturates_and_needs_reverification_earns_part_of_certification():
    signals = ranking.signals(replace(doc(1, "x"), reuse_count=ranking.REUSE_HALF), now=NOW)
    assert signals["reuse"] == pytest.approx(0.5)
    assert signals["certified"] == 1.0
    stale = ranking.signals(replace(doc(1, "x"), needs_reverification=True), now=NOW)
    assert stale["certified"] == ranking.NEEDS_REVERIFICATION_CREDIT


@pytest.mark.parametrize(("value", "step"), [(0.0, 0), (0.5, 10), (1.0, 20), (1.7, 20), (-1.0, 0)])
def test_quality_steps_of_the_embedded_index(value, step):
    assert ranking.quality_step(value) == step
