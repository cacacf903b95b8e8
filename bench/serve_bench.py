"""End-to-end benchmark of a running kb: import, indexing, and HTTP load on ``kb serve``.

    python -m bench.serve_bench [--entries 100000] [--backends sqlite,postgres] [--seconds 10]
                                [--out bench/results/serve-100k.json] [--doc docs/performance.md]

For each backend:

1. a fresh data directory (SQLite + embedded tantivy index), or a fresh PostgreSQL database and a
   Meilisearch server on a free port;
2. ``kb init``, the benchmark's users and tokens (``bench.seed accounts``), ``kb import`` of the
   generated corpus (``bench.corpus``) and ``kb reindex`` (lexical), each timed, their progress shown;
3. embedded only: the embedding step (``bench.seed vectors``), reported apart;
4. ``kb serve`` on loopback (SQLite: 1 worker; PostgreSQL: 1, then 2 workers, with one ``kb indexer``
   and ``KB_PERIODIC_SECONDS=0`` on the web workers, as docs/deployment.md describes); votes, case
   reuse and revisions in review added through the API; then, at 8 connections, each endpoint for
   ``--seconds`` after a warm-up: /healthz (the baseline), the search API, the search page, an
   entry page, saving a draft (editor autosave), certifying (each request a different approved
   revision); certify -> searchable; the server's memory (VmRSS of every process) after the load;
5. embedded only: ``kb serve`` again with hybrid search on, /healthz and the search API.

Writes the results (with the machine's description) as JSON and renders docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import processes as procs
from bench.corpus import generate, query_set
from bench.load import Connection, drive
from bench.processes import ROOT
from bench.workload import Client, certify_pool, certify_to_searchable, endpoint_jobs, prepare, sign_in
from bench.corpus import ADMIN, AGENTS, AUTHORS

CONNECTIONS = 8
SECRET = "benchmark-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def machine() -> dict:
    from bench.search_latency import machine as base

    info = base()
    info.pop("load_average", None)
    info["kb_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip() or "unknown"
    info["hostname"] = platform.node()
    return info


def base_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return {**env, "PYTHONPATH": str(ROOT), "KB_ENV": "production", "KB_SECRET_KEY": SECRET,
            "KB_SECURE_COOKIES": "false", "KB_DATA_DIR": str(data_dir), "KB_SEMANTIC": "off",
            "KB_BASE_URL": "http://127.0.0.1"}


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def load_run(env: dict, cwd: Path, *, workers: int, indexer: bool, facts: dict, tokens: dict, options,
             first: bool, label: str) -> dict:
    queries = query_set()
    with procs.serving(env, cwd, workers=workers, indexer=indexer) as (port, server, _helper):
        client = Client("127.0.0.1", port, tokens)

        async def scenario() -> dict:
            for email in (AGENTS[0], AUTHORS[0]):
                await sign_in(client, email)
            out: dict = {"workers": workers, "separate_indexer": indexer, "label": label}
            if first:
                print("  preparing: votes, case reuse, revisions in review (through the API)", flush=True)
                out["prepared"] = await prepare(client, facts, votes=options.votes, reuses=options.reuses,
                                                reviews=options.reviews)
                print(f"  prepared in {out['prepared']['seconds']:.0f} s", flush=True)
            started = time.perf_counter()
            pool = await certify_pool(client, options.certify_pool)
            out["certify_pool"] = {"revisions": len(pool), "seconds": round(time.perf_counter() - started, 1)}
            # Measure a server at rest: the indexer's backlog from the preparation (thousands of
            # changes; Meilisearch applying them takes the machine's CPU for minutes) would
            # otherwise be measured as slow requests, the baseline's first.
            out["indexer_backlog_seconds"] = await asyncio.to_thread(wait_for_indexer, env, cwd)
            out["endpoints"] = {}
            for name, (what, jobs) in endpoint_jobs(client, facts, queries, pool).items():
                warmup = 0.0 if name == "certify" else options.warmup
                samples = await drive("127.0.0.1", port, jobs, connections=CONNECTIONS, duration=options.seconds,
                                      warmup=warmup)
                out["endpoints"][name] = {"what": what, **samples.summary()}
                s = out["endpoints"][name]
                print(f"  {name:<12} {s['rps']:>7.1f} req/s  p50 {s['p50_ms']:6.1f}  p95 {s['p95_ms']:6.1f}  "
                      f"p99 {s['p99_ms']:6.1f} ms  errors {s['errors']}", flush=True)
            base = out["endpoints"]["healthz"]["rps"]
            for s in out["endpoints"].values():
                s["ratio"] = s["rps"] / base if base else None
            out["certify_to_searchable"] = await certify_to_searchable(client, options.searchable_samples)
            print(f"  certify -> searchable: {out['certify_to_searchable']}", flush=True)
            return out

        result = asyncio.run(scenario())
        result["server_rss"] = procs.rss_mb(server.pid)
        print(f"  server RSS after load: {result['server_rss']}", flush=True)
    return result


def wait_for_indexer(env: dict, cwd: Path, *, timeout: float = 300.0) -> float:
    """Seconds until the search indexer has taken every change (bench.seed backlog)."""
    started = time.perf_counter()
    while True:
        pending = last_json(procs.run_python(env, cwd, "bench.seed", "backlog"))["pending"]
        waited = time.perf_counter() - started
        if not pending:
            return round(waited, 1)
        if waited > timeout:
            raise RuntimeError(f"the search indexer still has {pending} changes to take after {timeout:.0f} s")
        time.sleep(1)


def hybrid_run(env: dict, cwd: Path, *, tokens: dict, options) -> dict:
    queries = query_set()
    with procs.serving({**env, "KB_SEMANTIC": "on"}, cwd, workers=1, indexer=False) as (port, server, _):
        client = Client("127.0.0.1", port, tokens)

        async def scenario() -> dict:
            await sign_in(client, AGENTS[0])
            await sign_in(client, AUTHORS[0])
            jobs = endpoint_jobs(client, {"certified_articles": [1], "questions": []}, queries, [])
            # The server loads the vectors and the model when it starts; the first search waits for
            # that (reported apart), the measured ones do not.
            started = time.perf_counter()
            conn = Connection("127.0.0.1", port)
            try:
                await conn.request("GET", "/api/v1/search", params=queries[0].params(), headers=client.bearer(AGENTS[0]))
            finally:
                await conn.close()
            out = {"first_search_ms": round((time.perf_counter() - started) * 1000)}
            for name in ("healthz", "search_api"):
                samples = await drive("127.0.0.1", port, jobs[name][1], connections=CONNECTIONS,
                                      duration=options.seconds, warmup=options.warmup)
                out[name] = {"what": jobs[name][0], **samples.summary()}
            out["search_api"]["ratio"] = out["search_api"]["rps"] / out["healthz"]["rps"]
            return out

        result = asyncio.run(scenario())
        result["server_rss"] = procs.rss_mb(server.pid)
    s = result["search_api"]
    print(f"  hybrid search_api {s['rps']:.1f} req/s  p50 {s['p50_ms']:.1f}  p95 {s['p95_ms']:.1f} ms", flush=True)
    return result


def prepare_backend(env: dict, cwd: Path, corpus: Path, result: dict) -> tuple[dict, dict]:
    procs.run_kb(env, cwd, "init", echo=False)
    tokens = last_json(procs.run_python(env, cwd, "bench.seed", "accounts"))["tokens"]
    print("  kb import ...", flush=True)
    seconds, output = procs.run_kb(env, cwd, "import", str(corpus), "--as", ADMIN)
    result["import_seconds"] = seconds
    result["import_output"] = [line for line in output.splitlines()
                               if line.startswith("Imported") or " created, " in line]
    print("  kb reindex (lexical) ...", flush=True)
    seconds, _ = procs.run_kb(env, cwd, "reindex")
    result["index_seconds"] = seconds
    result["import_and_index_seconds"] = result["import_seconds"] + result["index_seconds"]
    facts = last_json(procs.run_python(env, cwd, "bench.seed", "facts"))
    result["entries_in_database"] = facts["entries"]
    print(f"  import {result['import_seconds']:.1f} s + lexical index {result['index_seconds']:.1f} s "
          f"({facts['entries']:,} entries)", flush=True)
    return tokens, facts


def run_sqlite(work: Path, corpus: Path, options) -> dict:
    data = work / "sqlite-data"
    env = base_env(data)
    result: dict = {"backend": "sqlite+embedded", "database": "SQLite (WAL)", "search": "embedded (tantivy)"}
    print("SQLite + embedded", flush=True)
    tokens, facts = prepare_backend(env, work, corpus, result)
    result["index_size_mb"] = {"lexical": procs.du_mb(data / "search")}
    result["database_size_mb"] = procs.du_mb(data / "kb.sqlite3")
    result["runs"] = [load_run(env, work, workers=1, indexer=False, facts=facts, tokens=tokens, options=options,
                               first=True, label="1 worker")]
    if options.hybrid:
        print("  embedding (model sample + word means) ...", flush=True)
        started = time.perf_counter()
        out = procs.run_python({**env, "KB_SEMANTIC": "on"}, work, "bench.seed", "vectors",
                               "--sample", str(options.embed_sample))
        result["embedding"] = {**last_json(out), "seconds": round(time.perf_counter() - started, 1)}
        result["index_size_mb"]["vectors"] = procs.du_mb(data / "search" / "vectors.sqlite3")
        result["hybrid"] = hybrid_run(env, work, tokens=tokens, options=options)
    result["index_size_mb"]["total"] = procs.du_mb(data / "search")
    return result


def run_postgres(work: Path, corpus: Path, options) -> dict:
    result: dict = {"backend": "postgres+meilisearch", "database": "PostgreSQL", "search": "Meilisearch"}
    print("PostgreSQL + Meilisearch", flush=True)
    with procs.postgres_database() as url, procs.meilisearch(work / "meili") as (meili_url, key, meili_data, meili):
        env = {**base_env(work / "pg-data"), "KB_DATABASE_URL": url, "KB_SEARCH_BACKEND": "meilisearch",
               "KB_SEARCH_URL": meili_url, "KB_SEARCH_KEY": key}
        tokens, facts = prepare_backend(env, work, corpus, result)
        result["index_size_mb"] = {"meilisearch": procs.du_mb(meili_data)}
        result["database_size_mb"] = procs.postgres_size_mb(url)
        serve_env = {**env, "KB_PERIODIC_SECONDS": "0"}
        result["runs"] = []
        for n, workers in enumerate(options.pg_workers):
            print(f"  kb serve --workers {workers} + kb indexer", flush=True)
            run = load_run(serve_env, work, workers=workers, indexer=True, facts=facts, tokens=tokens,
                           options=options, first=n == 0, label=f"{workers} worker{'s' if workers > 1 else ''}")
            run["meilisearch_rss"] = procs.rss_mb(meili.pid)
            result["runs"].append(run)
        result["index_size_mb"]["meilisearch"] = procs.du_mb(meili_data)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated).")
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per endpoint.")
    parser.add_argument("--warmup", type=float, default=1.0, help="Unmeasured seconds before each endpoint.")
    parser.add_argument("--pg-workers", default="1,2", help="kb serve worker counts for PostgreSQL.")
    parser.add_argument("--votes", type=int, default=1000)
    parser.add_argument("--reuses", type=int, default=500)
    parser.add_argument("--reviews", type=int, default=500, help="Imported drafts sent to review.")
    parser.add_argument("--certify-pool", type=int, default=400, help="Approved revisions for the certify load.")
    parser.add_argument("--searchable-samples", type=int, default=20)
    parser.add_argument("--no-hybrid", dest="hybrid", action="store_false")
    parser.add_argument("--embed-sample", type=int, default=300, help="Entries embedded by the model (throughput).")
    parser.add_argument("--out", type=Path, help="Results JSON (default bench/results/serve-<entries>.json).")
    parser.add_argument("--doc", type=Path, help="Render this Markdown page from the results (docs/performance.md).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    options = parser.parse_args(argv)
    options.pg_workers = [int(w) for w in options.pg_workers.split(",")]
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    if not set(backends) <= {"sqlite", "postgres"}:
        parser.error("--backends takes sqlite and/or postgres")
    out = options.out or ROOT / "bench" / "results" / f"serve-{options.entries // 1000}k.json"

    result: dict = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                    "load_average_before": [round(x, 2) for x in os.getloadavg()],
                    "config": {"entries": options.entries, "connections": CONNECTIONS, "seconds": options.seconds,
                               "warmup": options.warmup, "votes": options.votes, "reuses": options.reuses,
                               "reviews": options.reviews, "certify_pool": options.certify_pool,
                               "searchable_samples": options.searchable_samples, "hybrid": options.hybrid,
                               "embed_sample": options.embed_sample, "queries": len(query_set())},
                    "backends": []}
    work = Path(tempfile.mkdtemp(prefix="kb-serve-bench-"))
    wall = time.perf_counter()
    try:
        started = time.perf_counter()
        result["corpus"] = generate(work / "corpus", options.entries).as_dict()
        result["corpus"]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"corpus: {result['corpus']}", flush=True)
        for backend in backends:
            run = run_sqlite if backend == "sqlite" else run_postgres
            result["backends"].append(run(work, work / "corpus", options))
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - wall, 1)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    from bench.report import evaluate, render

    result["targets"] = evaluate(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if options.doc:
        render(result, options.doc, results_name=out.name)
        print(f"wrote {options.doc}")
    return result


if __name__ == "__main__":
    main()
