"""`make bench` keeps working: the serve benchmark end to end on a small corpus (SQLite + embedded).

The real run is 100,000 entries (`make bench`, docs/performance.md); here 1,000 entries and one
second per endpoint, so that it adds about two minutes to the suite on a busy 2-core machine, most
of it `kb import` and `kb reindex`. The figures are not checked against the targets (a test machine
is shared), only that every figure is measured and the page is rendered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.corpus import generate, query_set
from bench.report import ENDPOINTS
from tests.helpers import ROOT

ENTRIES = 1000


def test_the_corpus_is_deterministic_and_holds_what_the_benchmark_says(tmp_path):
    first = generate(tmp_path / "a", 300)
    second = generate(tmp_path / "b", 300)
    assert first == second and first.entries == 300
    assert first.articles and first.questions and first.answers and first.accepted
    assert first.certified and first.drafts
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.md"))
    assert len(files) == first.files
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    categories = {q.category for q in query_set()}
    assert categories == {"single word", "two words", "typo", "prefix", "customer sentence", "tag filter"}


def test_serve_benchmark_measures_every_figure_and_renders_the_page(tmp_path):
    out, doc = tmp_path / "serve.json", tmp_path / "docs" / "performance.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.serve_bench", "--entries", str(ENTRIES), "--backends", "sqlite",
         "--seconds", "1", "--warmup", "0.2", "--votes", "40", "--reuses", "20", "--reviews", "10",
         "--certify-pool", "16", "--searchable-samples", "3", "--embed-sample", "10", "--out", str(out),
         "--doc", str(doc)],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "kb import" in result.stdout and "Importing" in result.stdout  # progress is shown

    data = json.loads(out.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"] and data["machine"]["kb_commit"]
    assert data["corpus"]["entries"] == ENTRIES
    (sqlite,) = data["backends"]
    assert sqlite["entries_in_database"] == ENTRIES
    assert sqlite["import_seconds"] > 0 and sqlite["index_seconds"] > 0
    assert sqlite["index_size_mb"]["lexical"] > 0 and sqlite["index_size_mb"]["vectors"] > 0
    assert sqlite["embedding"]["model_sample"]["documents"] == 10
    (run,) = sqlite["runs"]
    assert run["prepared"]["votes"]["ok"] == 40 and run["prepared"]["reuse"]["ok"] == 20
    assert run["prepared"]["in_review"]["ok"] == 10
    assert run["indexer_backlog_seconds"] >= 0  # measured at rest, after the indexer's backlog
    for name in ENDPOINTS:
        figures = run["endpoints"][name]
        assert figures["errors"] == 0, (name, figures)
        assert figures["requests"] > 0 and figures["rps"] > 0 and figures["ratio"] > 0, (name, figures)
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], (name, figures)
    assert run["certify_to_searchable"]["samples"] == 3 and run["certify_to_searchable"]["p95_ms"] > 0
    assert run["server_rss"]["total_mb"] > 50
    assert sqlite["hybrid"]["search_api"]["errors"] == 0 and sqlite["hybrid"]["search_api"]["requests"] > 0
    names = " ".join(t["target"] for t in data["targets"])
    for words in ("30% of /healthz", "p95 ≤ 20 ms", "hybrid", "15% of /healthz", "25% of /healthz",
                  "certify → searchable", "import of 100k", "RSS"):
        assert words in names
    assert all(isinstance(t["met"], bool) for t in data["targets"])

    page = doc.read_text()
    assert "## Targets" in page and "| search API |" in page and "certify → searchable" in page
    chart = (doc.parent / "performance.svg").read_text()
    assert chart.startswith("<svg") and chart.count("<rect") >= len(ENDPOINTS)
