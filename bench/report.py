"""Targets (issue 15) checked against a serve benchmark's results, and docs/performance.md with
its tables and an SVG bar chart (plain SVG text, no plotting library).

    python -m bench.report bench/results/serve-100k.json [--doc docs/performance.md]
"""

from __future__ import annotations

import argparse
import json
from html import escape
from pathlib import Path

ENDPOINTS = ("healthz", "search_api", "search_page", "entry_page", "save_draft", "certify")
LABELS = {"healthz": "/healthz (baseline)", "search_api": "search API", "search_page": "search page",
          "entry_page": "entry page", "save_draft": "save a draft", "certify": "certify"}
FULL_SCALE = 100_000


def _backend(result: dict, name: str) -> dict | None:
    return next((b for b in result["backends"] if b["backend"] == name), None)


def evaluate(result: dict) -> list[dict]:
    """Each target of issue 15 with the measured value and whether it is met (None: not measured)."""
    targets: list[dict] = []

    def add(name: str, value, limit, met, unit: str = "") -> None:
        targets.append({"target": name, "value": None if value is None else round(value, 3), "limit": limit,
                        "unit": unit, "met": met})

    sqlite = _backend(result, "sqlite+embedded")
    if sqlite:
        ep = sqlite["runs"][0]["endpoints"]
        add("search API req/s ≥ 30% of /healthz", ep["search_api"]["ratio"], 0.30, ep["search_api"]["ratio"] >= 0.30)
        add("search API p95 ≤ 20 ms (lexical, 8 connections)", ep["search_api"]["p95_ms"], 20,
            ep["search_api"]["p95_ms"] <= 20, "ms")
        hybrid = sqlite.get("hybrid")
        if hybrid:
            value = hybrid["search_api"]["p95_ms"]
            add("hybrid search p95 ≤ 2× lexical p95", value, round(2 * ep["search_api"]["p95_ms"], 1),
                value <= 2 * ep["search_api"]["p95_ms"], "ms")
        add("search page req/s ≥ 15% of /healthz", ep["search_page"]["ratio"], 0.15, ep["search_page"]["ratio"] >= 0.15)
        add("entry page req/s ≥ 25% of /healthz", ep["entry_page"]["ratio"], 0.25, ep["entry_page"]["ratio"] >= 0.25)
    for backend in result["backends"]:
        for run in backend["runs"]:
            p95 = run["certify_to_searchable"]["p95_ms"]
            add(f"certify → searchable p95 ≤ 1 s ({backend['backend']}, {run['label']})", p95, 1000,
                None if p95 is None else p95 <= 1000, "ms")
    if sqlite:
        seconds = sqlite["import_and_index_seconds"]
        scaled = seconds * FULL_SCALE / result["config"]["entries"]
        add(f"import of 100k incl. lexical indexing ≤ 90 s (SQLite; measured at {result['config']['entries']:,}"
            + (", scaled linearly)" if result["config"]["entries"] != FULL_SCALE else ")"), scaled, 90, scaled <= 90, "s")
        rss = sqlite["runs"][0]["server_rss"]["total_mb"]
        add("server RSS ≤ 400 MB (SQLite, 1 worker, after load)", rss, 400, rss <= 400, "MB")
    postgres = _backend(result, "postgres+meilisearch")
    if postgres and len(postgres["runs"]) >= 2:
        one, two = (r["endpoints"]["search_api"]["rps"] for r in postgres["runs"][:2])
        add("PostgreSQL: 2 workers ≥ 1.6× the search req/s of 1 worker", two / one if one else None, 1.6,
            bool(one) and two / one >= 1.6)
    return targets


def _mark(met) -> str:
    return "—" if met is None else ("✅" if met else "❌")


def _fmt(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def chart(result: dict) -> str:
    """Horizontal bars: requests per second of every endpoint, one bar per run."""
    runs = [(f"{b['backend']}, {r['label']}", r["endpoints"]) for b in result["backends"] for r in b["runs"]]
    colours = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5"]
    bar, gap, left, width = 14, 10, 150, 560
    top = 30 + 18 * len(runs)
    peak = max((e[name]["rps"] for _, e in runs for name in ENDPOINTS if name in e), default=1) or 1
    height = top + len(ENDPOINTS) * (len(runs) * bar + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<text x="10" y="18" font-weight="bold">Requests per second at {result["config"]["connections"]} '
           f'connections, {result["config"]["entries"]:,} entries</text>']
    for i, (label, _) in enumerate(runs):
        y = 28 + 18 * i
        out.append(f'<rect x="10" y="{y}" width="12" height="12" fill="{colours[i % len(colours)]}"/>'
                   f'<text x="28" y="{y + 10}">{escape(label)}</text>')
    y = top
    for name in ENDPOINTS:
        out.append(f'<text x="{left - 8}" y="{y + len(runs) * bar / 2 + 4}" text-anchor="end">'
                   f'{escape(LABELS[name])}</text>')
        for i, (_, endpoints) in enumerate(runs):
            rps = endpoints.get(name, {}).get("rps", 0)
            w = max(1, round(rps / peak * width))
            out.append(f'<rect x="{left}" y="{y}" width="{w}" height="{bar - 2}" fill="{colours[i % len(colours)]}"/>'
                       f'<text x="{left + w + 4}" y="{y + bar - 4}">{rps:,.0f}</text>')
            y += bar
        y += gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _endpoint_table(run: dict) -> list[str]:
    lines = ["| endpoint | req/s | × /healthz | p50 ms | p95 ms | p99 ms | requests | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ENDPOINTS:
        s = run["endpoints"].get(name)
        if s:
            lines.append(f"| {LABELS[name]} | {_fmt(s['rps'])} | {_fmt(s.get('ratio'), 2)} | {_fmt(s['p50_ms'])} | "
                         f"{_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | {s['requests']:,} | {s['errors']} |")
    return lines


def _code(frame: str) -> str:
    """A function name in a table cell (a code span; no "|" that would end the cell)."""
    return f"`{frame[:90].replace('|', '/')}`" if frame else ""


def _profiles(folder: Path, rows: int = 12) -> list[str]:
    """"Where the time goes": the profiles ``bench.profile_serve --out`` wrote next to the results."""
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("profile-*.json"))]
    found = [p for p in found if p.get("profile")]
    if not found:
        return []
    lines = ["## Where the time goes", "",
             "`kb serve` (SQLite + embedded, 1 worker) sampled by py-spy (`--gil`: the thread running Python)",
             "while the load generator drives one endpoint at 8 connections. Native code that releases the GIL",
             "is not in these samples: tantivy's search and facet passes run beside them (measured in process at",
             "100,000 entries: about 20 ms of a search's 28 ms for queries that match most of the corpus).",
             "Reproduce with",
             "`python -m bench.profile_serve --entries 100000 --endpoint search_api --out "
             "bench/results/profile-100k-search_api.json` (needs `pip install py-spy`).", ""]
    for p in found:
        load = p["load"]
        what = LABELS.get(p["endpoint"], p["endpoint"])
        if p.get("hybrid"):
            what = (f"hybrid {what} (`--hybrid`: every running thread sampled, the GIL's holder or not: numpy's "
                    "vector scan and the model run without it)")
        lines += [f"### {what}, {p['entries']:,} entries", "",
                  f"{load['rps']:,.1f} req/s, p50 {load['p50_ms']:,.0f} ms, p95 {load['p95_ms']:,.0f} ms while "
                  f"profiled; {p['profile']['samples']:,} samples (kb commit `{p['machine'].get('kb_commit', '?')}`).",
                  "", "| where the time is spent (innermost function) | % | kb's calls that spend it | % |",
                  "|---|---:|---|---:|"]
        own, mine = p["profile"]["own"][:rows], p["profile"]["kb_inclusive"][:rows]
        for i in range(max(len(own), len(mine))):
            a = own[i] if i < len(own) else {"frame": "", "percent": None}
            b = mine[i] if i < len(mine) else {"frame": "", "percent": None}
            lines.append(f"| {_code(a['frame'])} | {_fmt(a['percent'])} | {_code(b['frame'])} | {_fmt(b['percent'])} |")
        lines.append("")
    return lines


def render(result: dict, path: Path, *, results_name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chart_name = path.with_suffix(".svg").name
    (path.parent / chart_name).write_text(chart(result))
    m, c = result["machine"], result["config"]
    corpus = result["corpus"]
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`python -m bench.serve_bench`), rendered from "
        f"`bench/results/{results_name}` by `bench/report.py`. Do not edit by hand: run the benchmark again.",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench                       # 100,000 entries, SQLite + embedded and PostgreSQL + Meilisearch",
        "make bench BENCH_ARGS='--entries 20000 --backends sqlite'   # a shorter run",
        "```",
        "",
        "PostgreSQL must accept `postgresql://postgres@127.0.0.1:5432/postgres` (or set `BENCH_POSTGRES_URL`; the",
        "benchmark creates and drops its own database) and Meilisearch comes from `scripts/install-meilisearch.sh`.",
        "Everything runs on this one machine: the load generator (one Python process, asyncio, 8 keep-alive",
        "connections, closed loop) competes with the server for the same cores, and it drives `/healthz` the same",
        "way, so the ratios to `/healthz` compare like with like. Compare runs on an idle machine: the load",
        "averages below show how busy it was.",
        "",
        "## Machine and run",
        "",
        f"- {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['os']}; Python {m['python']}, "
        f"tantivy {m['tantivy']}, SQLite {m['sqlite']}; kb commit `{m['kb_commit']}`",
        f"- started {result['started_at']}, {result['seconds']:,.0f} s in all; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']}",
        f"- corpus: {corpus['entries']:,} entries in {corpus['files']:,} files ({corpus['bytes'] / 1e6:.1f} MB): "
        f"{corpus['articles']:,} articles, {corpus['questions']:,} questions, {corpus['answers']:,} answers "
        f"({corpus['accepted']:,} accepted); {corpus['certified']:,} certified, {corpus['drafts']:,} drafts; 50 topics",
        f"- {c['queries']} queries (1-3 words, typos, prefixes, customers' sentences, tag filters); each endpoint "
        f"measured for {c['seconds']:g} s after a {c['warmup']:g} s warm-up at {c['connections']} connections",
        "",
        "## Targets",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|:---:|",
    ]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {_fmt(t['value'], 2)} {t['unit']} | {t['limit']} {t['unit']} | "
                     f"{_mark(t['met'])} |")
    lines += ["", f"![Requests per second per endpoint]({chart_name})", ""]
    for backend in result["backends"]:
        lines += [f"## {backend['database']} + {backend['search']}", ""]
        lines.append(f"- `kb import`: {backend['import_seconds']:.1f} s; `kb reindex` (lexical): "
                     f"{backend['index_seconds']:.1f} s; together {backend['import_and_index_seconds']:.1f} s for "
                     f"{backend['entries_in_database']:,} entries")
        for line in backend.get("import_output", []):
            lines.append(f"  - {line.strip()}")
        sizes = ", ".join(f"{k} {v:,.1f} MB" for k, v in backend["index_size_mb"].items())
        lines.append(f"- index size on disk: {sizes}; database {backend['database_size_mb']:,.1f} MB")
        emb = backend.get("embedding")
        if emb:
            sample = emb["model_sample"]
            lines.append(f"- embedding (reported apart): the model embedded {sample['documents']:,} documents at "
                         f"{sample['documents_per_second']:.1f} documents/s (all {emb['documents']:,} would take "
                         f"about {emb['estimated_model_seconds_all'] / 60:,.0f} min); the others got word-mean "
                         f"vectors ({emb['word_mean_seconds']:.1f} s) so that hybrid search scans a full-size index")
        for run in backend["runs"]:
            lines += ["", f"### {run['label']}" + (" + one `kb indexer`" if run["separate_indexer"] else ""), ""]
            prepared = run.get("prepared")
            if prepared:
                lines.append(f"Prepared through the API first: {prepared['votes']['ok']:,} helpful votes, "
                             f"{prepared['reuse']['ok']:,} case reuses, {prepared['in_review']['ok']:,} revisions "
                             f"sent to review ({prepared['seconds']:.0f} s).")
                lines.append("")
            if run.get("indexer_backlog_seconds") is not None:
                lines.append(f"Measured once the search indexer had taken every change (waited "
                             f"{run['indexer_backlog_seconds']:.0f} s).")
                lines.append("")
            lines += _endpoint_table(run)
            cts = run["certify_to_searchable"]
            lines += ["", f"- certify → searchable: p50 {_fmt(cts['p50_ms'], 0)} ms, p95 {_fmt(cts['p95_ms'], 0)} ms, "
                          f"max {_fmt(cts['max_ms'], 0)} ms ({cts['samples']} samples, {cts['missed']} not found "
                          "within 30 s)",
                      f"- server memory after the load (VmRSS of every kb serve process): "
                      f"{run['server_rss']['total_mb']:,.0f} MB {run['server_rss']['processes_mb']}"]
            if "meilisearch_rss" in run:
                lines.append(f"- Meilisearch memory: {run['meilisearch_rss']['total_mb']:,.0f} MB")
        hybrid = backend.get("hybrid")
        if hybrid:
            s, h = hybrid["search_api"], hybrid["healthz"]
            lines += ["", "### Hybrid search (`KB_SEMANTIC=on`, 1 worker)", "",
                      "| endpoint | req/s | × /healthz | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|",
                      f"| /healthz | {_fmt(h['rps'])} | 1.00 | {_fmt(h['p50_ms'])} | {_fmt(h['p95_ms'])} | "
                      f"{_fmt(h['p99_ms'])} |",
                      f"| search API | {_fmt(s['rps'])} | {_fmt(s['ratio'], 2)} | {_fmt(s['p50_ms'])} | "
                      f"{_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} |",
                      "", f"- server memory with the model loaded: {hybrid['server_rss']['total_mb']:,.0f} MB"]
            if "first_search_ms" in hybrid:
                lines.append(f"- the first search after the server started (vectors and model loading): "
                             f"{hybrid['first_search_ms']:,} ms")
        lines.append("")
    lines += _profiles(Path(__file__).resolve().parent / "results")
    lines += [
        "## What is measured",
        "",
        "- **Import and indexing**: `kb import` of the generated folder (the product's own path, with its",
        "  certifications), then `kb reindex` with hybrid search off (the lexical index). Embedding is separate:",
        "  a sample is embedded by the model to give its throughput; the other entries get word-mean vectors.",
        "- **Endpoints**: each request is distinct where it must be: every certify request certifies another",
        "  approved revision (made through the API before the measurement; the phase ends when they run out),",
        "  every draft save sends a longer text to the editor's autosave (one draft per connection), searches",
        "  cycle through the query set, entry pages pick certified articles (and questions) at random. Pages",
        "  are requested with a signed-in agent's session cookie, the API with agents' tokens.",
        "- **Certify → searchable**: a new article with a unique word is written, submitted and approved; the",
        "  time runs from sending the certify request until the agent's search API finds the word.",
        "- **Memory**: VmRSS of the `kb serve` process and its worker processes after the load.",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--doc", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "performance.md")
    options = parser.parse_args()
    result = json.loads(options.results.read_text())
    result["targets"] = evaluate(result)
    render(result, options.doc, results_name=options.results.name)
    print(f"wrote {options.doc}")


if __name__ == "__main__":
    main()
