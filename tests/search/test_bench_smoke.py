"""The search latency benchmark still runs: a tiny corpus through the real script."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT

SCRIPT = ROOT / "bench" / "search_latency.py"


def test_search_latency_benchmark_runs_on_a_small_corpus(tmp_path):
    out = tmp_path / "results.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--entries", "500", "--rounds", "1", "--embed-sample", "20",
                             "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The side-by-side table and the machine it ran on.
    assert "embedded p50" in result.stdout and "FTS5 p50" in result.stdout and "machine:" in result.stdout
    data = json.loads(out.read_text())
    assert data["entries"] == 500 and data["machine"]["cores"] >= 1
    assert "hybrid p50" in result.stdout and "embedding throughput" in result.stdout
    assert data["embedding"]["documents"] == 20 and data["embedding"]["documents_per_second"] > 0
    for backend in ("embedded", "fts5", "hybrid"):
        overall = data["results"][backend]["all"]
        assert overall["queries"] == data["queries"] >= 300
        assert 0 < overall["p50_ms"] <= overall["p95_ms"] <= overall["p99_ms"]
    # Same corpus, same queries: both find something for plain words; only the embedded
    # backend forgives typos.
    assert data["results"]["embedded"]["single word"]["zero_results"] < 0.2
    assert data["results"]["fts5"]["single word"]["zero_results"] < 0.2
    assert data["results"]["embedded"]["typo"]["zero_results"] < data["results"]["fts5"]["typo"]["zero_results"]


def test_search_latency_benchmark_refuses_a_meaningless_size():
    result = subprocess.run([sys.executable, str(SCRIPT), "--entries", "0"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "--entries must be at least 10" in result.stderr
