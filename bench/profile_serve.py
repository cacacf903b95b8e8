"""Where a served request's time goes: ``kb serve`` (SQLite + embedded) under py-spy while the
benchmark's load generator drives one endpoint, then the functions that hold the most samples
(py-spy's ``--gil``: only the thread running Python is sampled, so a thread waiting for the GIL
after a database call does not count as time spent in that call).

    python -m bench.profile_serve --entries 10000 --endpoint search_api [--seconds 15] [--hybrid]
                                  [--data /tmp/kb-profile-10k] [--top 25] [--out FILE.json]

The data folder (corpus imported and indexed, the benchmark's accounts) is built on the first run
and reused by the next ones, so a profile after a change takes seconds, not minutes. The raw
samples are written as ``<data>/<endpoint>.collapsed`` (py-spy's "collapsed stacks": one stack per
line, usable by any flame-graph tool). py-spy is not a dependency of kb: ``pip install py-spy``.

``--hybrid`` serves with hybrid search on (the data folder gets vectors once, as ``make bench``
makes them: ``bench.seed vectors``) and samples every thread that runs, not only the one holding
the GIL: the vector scan (numpy) and the model (ONNX Runtime) release the GIL, and their time is
what that profile has to show.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import processes as procs
from bench.corpus import AGENTS, AUTHORS, generate, query_set
from bench.load import drive
from bench.serve_bench import base_env, last_json, machine
from bench.workload import Client, endpoint_jobs, sign_in

ENDPOINTS = ("healthz", "search_api", "search_page", "entry_page", "save_draft")


def prepare(data: Path, entries: int) -> tuple[dict, dict]:
    """The data folder's tokens and facts, building it first when it is not there."""
    state = data / "profile.json"
    if state.exists():
        saved = json.loads(state.read_text())
        return saved["tokens"], saved["facts"]
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = base_env(data / "kb")
    generate(data / "corpus", entries)
    procs.run_kb(env, data, "init", echo=False)
    tokens = last_json(procs.run_python(env, data, "bench.seed", "accounts"))["tokens"]
    procs.run_kb(env, data, "import", str(data / "corpus"), "--as", "bench-admin@example.com", echo=False)
    procs.run_kb(env, data, "reindex", echo=False)
    facts = last_json(procs.run_python(env, data, "bench.seed", "facts"))
    state.write_text(json.dumps({"tokens": tokens, "facts": facts}))
    return tokens, facts


# kb's own code: the frames a profile is read by (the rest is libraries and the interpreter).
KB_PACKAGES = ("kb/", "web/", "search/", "workflow/", "expertise/", "cli/")


def profile_summary(collapsed: Path, top: int) -> dict:
    """What the samples say: the functions where the time is spent (innermost frame, "own") and
    kb's functions whose calls take it (anywhere on the stack, "inclusive"), in % of the samples."""
    total, inclusive, own = 0, collections.Counter(), collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1] or "(native code)"] += n

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    kb_frames = [(f, n) for f, n in inclusive.most_common() if f.split("(")[-1].startswith(KB_PACKAGES)]
    return {"samples": total,
            "own": [{"frame": f, "percent": pct(n)} for f, n in own.most_common(top)],
            "kb_inclusive": [{"frame": f, "percent": pct(n)} for f, n in kb_frames[:top]]}


def prepare_vectors(data: Path, env: dict) -> None:
    marker = data / "vectors.json"
    if not marker.exists():
        out = procs.run_python({**env, "KB_SEMANTIC": "on"}, data, "bench.seed", "vectors", "--sample", "200")
        marker.write_text(json.dumps(last_json(out)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="search_api")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--hybrid", action="store_true", help="Hybrid search on (vectors made once).")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="Only measure requests/s.")
    parser.add_argument("--out", type=Path, help="Write the measurement and the profile as JSON (bench.report "
                        "renders bench/results/profile-*.json into docs/performance.md).")
    options = parser.parse_args(argv)
    data = options.data or Path(f"/tmp/kb-profile-{options.entries // 1000}k")
    tokens, facts = prepare(data, options.entries)
    env = base_env(data / "kb")
    if options.hybrid:
        prepare_vectors(data, env)
        env = {**env, "KB_SEMANTIC": "on"}
    collapsed = data / f"{options.endpoint}{'-hybrid' if options.hybrid else ''}.collapsed"
    with procs.serving(env, data, workers=1, indexer=False) as (port, server, _):
        spy = None
        if options.profile:
            spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid), "--format", "raw", "--rate", "250",
                                    *([] if options.hybrid else ["--gil"]), "--nonblocking", "--output", str(collapsed)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        client = Client("127.0.0.1", port, tokens)

        async def run():
            for email in (AGENTS[0], AUTHORS[0]):
                await sign_in(client, email)
            _what, jobs = endpoint_jobs(client, facts, query_set(), [])[options.endpoint]
            return await drive("127.0.0.1", port, jobs, connections=8, duration=options.seconds, warmup=1.0)

        summary = asyncio.run(run()).summary()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=30)
    summary = {k: round(v, 1) if isinstance(v, float) else v for k, v in summary.items()}
    print(json.dumps(summary))
    result = {"endpoint": options.endpoint, "hybrid": options.hybrid, "entries": options.entries, "seconds": options.seconds,
              "connections": 8, "load": summary, "machine": machine(),
              "profile": profile_summary(collapsed, options.top) if options.profile and collapsed.exists() else None}
    if result["profile"]:
        print(f"{result['profile']['samples']} samples (the thread holding the GIL)")
        print("where the time is spent (innermost function):")
        for row in result["profile"]["own"]:
            print(f"  {row['percent']:5.1f}%  {row['frame'][:140]}")
        print("kb's functions that take it (anywhere on the stack):")
        for row in result["profile"]["kb_inclusive"]:
            print(f"  {row['percent']:5.1f}%  {row['frame'][:140]}")
    if options.out:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {options.out}")


if __name__ == "__main__":
    sys.exit(main())
