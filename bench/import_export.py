"""Benchmark `kb import` and `kb export` on generated Markdown files, and check the round trip.

    .venv/bin/python bench/import_export.py [--files 10000] [--database-url URL] [--keep]

Generates N files (1-2 KB of Markdown, 1-3 tags, one in five a question) in a temporary folder,
runs the real `kb init`, `kb user create`, `kb import` and `kb export` commands against a fresh
data directory (SQLite by default; --database-url must point at an empty PostgreSQL database),
checks that every exported file has the title, tags, kind and body of its source file, and prints
the timings. Deterministic (seeded), so runs are comparable.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.content.transfer import read_document  # noqa: E402

KB = str(Path(sys.executable).parent / "kb")
WORDS = ("refund order parcel customer card billing return label courier warehouse invoice account password "
         "subscription device warranty tracking delivery address payment bank chargeback store credit voucher "
         "agent escalate verify identity policy days window exchange replacement battery pairing reset").split()
TOPICS = [f"topic-{n}" for n in range(40)]
ENDINGS = ["\n", "\n\n", "", "\n---\n", "  \n"]


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def body(rng: random.Random, n: int) -> str:
    parts = [f"Entry {n} — ünïcode ✓"]
    while sum(map(len, parts)) < rng.randint(1000, 2000):
        if rng.random() < 0.3:
            parts.append("\n".join(f"{i}. {sentence(rng)}" for i in range(1, rng.randint(3, 6))))
        elif rng.random() < 0.1:
            parts.append("## " + sentence(rng).rstrip("."))
        else:
            parts.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 5))))
    return "\n\n".join(parts) + rng.choice(ENDINGS)


def generate(folder: Path, count: int) -> dict[str, tuple[list[str], str, str]]:
    rng = random.Random(20261125)
    expected = {}
    for n in range(count):
        title = f"{sentence(rng).rstrip('.')[:150]} #{n}"
        tags = rng.sample(TOPICS, rng.randint(1, 3))
        kind = "question" if n % 5 == 0 else "article"
        text = body(rng, n)
        sub = folder / f"part-{n % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc-{n}.md").write_bytes(
            f"---\ntitle: \"{title}\"\ntags: [{', '.join(tags)}]\nkind: {kind}\n---\n{text}".encode())
        expected[title] = (tags, kind, text)
    return expected


def kb(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([KB, *args], capture_output=True, text=True, env={**env, "COLUMNS": "200"})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"kb {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--database-url", help="An empty database (default: SQLite in a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    env = {**os.environ, "KB_DATA_DIR": str(work / "data"), "KB_ENV": "development"}
    env.pop("KB_DATABASE_URL", None)
    if options.database_url:
        env["KB_DATABASE_URL"] = options.database_url
    try:
        started = time.perf_counter()
        expected = generate(work / "source", options.files)
        size = sum(p.stat().st_size for p in (work / "source").rglob("*.md"))
        print(f"generated {options.files:,} files ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        kb(["init"], env)
        kb(["user", "create", "--email", "bench@example.com", "--name", "Bench", "--role", "admin",
            "--password", "bench-password"], env)

        import_seconds, output = kb(["import", str(work / "source")], env)
        print(f"kb import: {import_seconds:.1f} s wall ({options.files / import_seconds:,.0f} files/s); "
              f"{output.splitlines()[-1]}")
        export_seconds, output = kb(["export", str(work / "export")], env)
        print(f"kb export: {export_seconds:.1f} s wall ({options.files / export_seconds:,.0f} files/s); "
              f"{output.splitlines()[-1]}")

        started = time.perf_counter()
        found = {}
        for path in (work / "export").iterdir():
            meta, text = read_document(path)
            found[meta["title"]] = (meta["tags"], meta["kind"], text)
        if found != expected:
            missing = expected.keys() - found.keys()
            differ = [t for t in expected.keys() & found.keys() if expected[t] != found[t]]
            sys.exit(f"round trip FAILED: {len(missing)} missing, {len(differ)} different (e.g. {differ[:1]})")
        print(f"round trip verified: {len(found):,} files identical in title, tags, kind and body "
              f"({time.perf_counter() - started:.1f} s)")
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
