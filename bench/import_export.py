"""Benchmark `kb import` (with lexical indexing) and `kb export` on generated Markdown files.

    .venv/bin/python bench/import_export.py [--files 10000] [--certified] [--index after|during|none]
                                            [--database-url URL] [--skip-export] [--keep]

Generates N files (1-2 KB of Markdown, 1-3 tags, one in five a question) in a temporary folder,
runs the real `kb init`, `kb user create`, `kb import` and `kb export` commands against a fresh
data directory (SQLite by default; --database-url must point at an empty PostgreSQL database),
checks that every exported file has the title, tags, kind, state and body of its source file
(answers included), and prints the timings. Deterministic (seeded), so runs are comparable.

``--certified``: a migration's mix. Four in five articles are certified (written by one user,
certified by the importing admin: the ``import certification`` path), the others drafts; questions
bring 0-3 answers, most of them certified, one accepted.

Lexical indexing (``--index``, default ``after``): the time until the embedded search index holds
every certified entry. ``after`` runs `kb indexer --once` when the import is done; ``during``
runs `kb indexer` beside the import, as `kb serve` would, and waits for the outbox to empty. Then
the product's search service must count every certified document and find sampled entries by a
word only their body has. The vectors of hybrid search are a second pass, left out
(KB_SEMANTIC=false for the indexer) unless ``--semantic``.

Wall times depend on what else the machine runs; the CPU seconds of the `kb` processes are
printed beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.content.transfer import format_document, read_document  # noqa: E402

WORDS = ("refund order parcel customer card billing return label courier warehouse invoice account password "
         "subscription device warranty tracking delivery address payment bank chargeback store credit voucher "
         "agent escalate verify identity policy days window exchange replacement battery pairing reset").split()
TOPICS = [f"topic-{n}" for n in range(40)]
ENDINGS = ["\n", "\n\n", "", "\n---\n", "  \n"]
ADMIN, WRITER = "bench@example.com", "writer@example.com"


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def marker(n: int | str) -> str:
    """A word only entry ``n`` has (an answer: "<question>a<position>"), to find it by."""
    return f"kbref{n}x"


def body(rng: random.Random, n: int | str, size: tuple[int, int] = (1000, 2000)) -> str:
    parts = [f"Entry {n} — ünïcode ✓ {marker(n)}"]
    while sum(map(len, parts)) < rng.randint(*size):
        if rng.random() < 0.3:
            parts.append("\n".join(f"{i}. {sentence(rng)}" for i in range(1, rng.randint(3, 6))))
        elif rng.random() < 0.1:
            parts.append("## " + sentence(rng).rstrip("."))
        else:
            parts.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 5))))
    return "\n\n".join(parts)


def generate(folder: Path, count: int, certified: bool = False) -> tuple[dict[str, tuple], list[tuple[int | str, str]]]:
    """The files; (expected export per title, (entry number, title) of each certified entry)."""
    rng = random.Random(20261125)
    expected, certified_entries = {}, []
    for n in range(count):
        title = f"{sentence(rng).rstrip('.')[:150]} #{n}"
        tags = rng.sample(TOPICS, rng.randint(1, 3))
        kind = "question" if n % 5 == 0 else "article"
        text = body(rng, n) + rng.choice(ENDINGS)
        meta: dict = {"title": title, "tags": tags, "kind": kind}
        state, answers = "draft", []
        if certified and kind == "article":
            meta["author"] = WRITER
            if rng.random() < 0.8:
                state = "certified"
                meta |= {"state": state, "certified_by": ADMIN}
                certified_entries.append((n, title))
        if certified and kind == "question":
            accepted = rng.randint(0, 3)
            for a in range(1, rng.randint(0, 3) + 1):
                answer_state = "certified" if rng.random() < 0.75 else "draft"
                answer = {"author": WRITER, "accepted": a == accepted, "state": answer_state,
                          "body": body(rng, f"{n}a{a}", (300, 800)) + "\n"}
                if answer_state == "certified":
                    answer["certified_by"] = ADMIN
                    certified_entries.append((f"{n}a{a}", f"Re: {title}"))
                answers.append(answer)
            if answers:
                meta["answers"] = answers
        sub = folder / f"part-{n % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc-{n}.md").write_bytes(format_document(meta, text).encode())
        expected[title] = (tags, kind, text, state, [(a["body"], a["state"], a["accepted"]) for a in answers])
    return expected, certified_entries


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kb_command() -> list[str]:
    return [sys.executable, "-m", "cli.main"]


def kb(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, output) of a `kb` command."""
    started, cpu = time.perf_counter(), child_cpu()
    result = subprocess.run([*kb_command(), *args], capture_output=True, text=True, env={**env, "COLUMNS": "200"})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"kb {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, child_cpu() - cpu, result.stdout


def pending_rows(env: dict[str, str]) -> int:
    engine, _ = _open(env, backend=False)
    from kb.db import session_factory
    from search.outbox import pending_count

    with session_factory(engine)() as session:
        return pending_count(session=session)


def _open(env: dict[str, str], *, backend: bool):
    """The engine (and search backend) of the benchmark's data directory, in this process."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("KB_")})
    if "KB_DATABASE_URL" not in env:
        os.environ.pop("KB_DATABASE_URL", None)
    from kb.db import make_engine
    from kb.settings import Settings

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    if not backend:
        return engine, None
    from search.factory import backend_for

    return engine, backend_for(settings)


def check_search(env: dict[str, str], certified_entries: list[tuple[int | str, str]], sample: int = 25) -> str:
    """Through the product's search service: every certified document counted, sampled entries found."""
    engine, backend = _open(env, backend=True)
    from sqlmodel import select

    from kb.accounts.models import User
    from kb.db import session_factory
    from search.service import search

    with session_factory(engine)() as session:
        agent = session.exec(select(User).where(User.email == WRITER)).one()
        results = search(backend=backend, viewer_user=agent, text="ünïcode", certified_only=True, limit=1)
        if results.total != len(certified_entries):
            sys.exit(f"search FAILED: {results.total:,} certified documents found, {len(certified_entries):,} expected")
        for n, title in random.Random(7).sample(certified_entries, min(sample, len(certified_entries))):
            hits = search(backend=backend, viewer_user=agent, text=marker(n), certified_only=True, limit=3).hits
            if not hits or hits[0].title != title:
                sys.exit(f"search FAILED: {marker(n)} did not find “{title}” first: {[h.title for h in hits]}")
    sampled = min(sample, len(certified_entries))
    return f"{len(certified_entries):,} certified documents counted, {sampled} sampled found"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--certified", action="store_true", help="A migration's mix: certified articles and "
                        "answers, drafts, questions with answers.")
    parser.add_argument("--index", choices=("after", "during", "none"), default="after",
                        help="Lexical indexing: after the import (kb indexer --once), during it (kb indexer beside "
                        "it, as kb serve would), or not measured.")
    parser.add_argument("--semantic", action="store_true", help="Let the indexer compute vectors too.")
    parser.add_argument("--database-url", help="An empty database (default: SQLite in a temporary folder).")
    parser.add_argument("--skip-export", action="store_true", help="Measure the import only.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    env = {**os.environ, "KB_DATA_DIR": str(work / "data"), "KB_ENV": "development",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    env.pop("KB_DATABASE_URL", None)
    if options.database_url:
        env["KB_DATABASE_URL"] = options.database_url
    indexer_env = env if options.semantic else {**env, "KB_SEMANTIC": "false"}
    try:
        started = time.perf_counter()
        expected, certified_entries = generate(work / "source", options.files, options.certified)
        size = sum(p.stat().st_size for p in (work / "source").rglob("*.md"))
        answers = sum(len(e[4]) for e in expected.values())
        print(f"generated {options.files:,} files ({size / 1e6:.1f} MB, {answers:,} answers, "
              f"{len(certified_entries):,} certified entries) in {time.perf_counter() - started:.1f} s")
        kb(["init"], env)
        kb(["user", "create", "--email", ADMIN, "--name", "Bench", "--role", "admin",
            "--password", "bench-password"], env)
        kb(["user", "create", "--email", WRITER, "--name", "Writer", "--role", "author",
            "--password", "bench-password"], env)

        indexer = None
        if options.index == "during":
            indexer = subprocess.Popen([*kb_command(), "indexer", "--interval", "0.5"], env=indexer_env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        import_seconds, import_cpu, output = kb(["import", str(work / "source")], env)
        print(f"kb import: {import_seconds:.1f} s wall, {import_cpu:.1f} s CPU "
              f"({options.files / import_seconds:,.0f} files/s, {import_seconds / options.files * 1000:.2f} ms/file); "
              f"{' '.join(output.splitlines()[-2:])}")
        if options.index != "none":
            if indexer is not None:
                waited = time.perf_counter()
                while pending_rows(env):
                    if indexer.poll() is not None:
                        sys.exit(f"kb indexer stopped ({indexer.returncode}): {indexer.stderr.read()}")
                    time.sleep(0.2)
                index_seconds = time.perf_counter() - waited
                cpu = child_cpu()
                indexer.terminate()
                indexer.wait()
                index_cpu, line = child_cpu() - cpu, "kb indexer beside the import"
            else:
                index_seconds, index_cpu, line = kb(["indexer", "--once"], indexer_env)
                line = line.strip().splitlines()[-1]
            total = import_seconds + index_seconds
            print(f"lexical index holds every certified entry {index_seconds:.1f} s after the import "
                  f"({'indexer CPU over the whole run ' if indexer else ''}{index_cpu:.1f} s CPU; {line}); "
                  f"import + indexing: {total:.1f} s = {total / options.files * 1000:.2f} ms/file "
                  f"({options.files / total:,.0f} files/s)")
            if options.certified:
                print(f"search verified: {check_search(env, certified_entries)}")

        if options.skip_export:
            return
        export_seconds, _, output = kb(["export", str(work / "export")], env)
        print(f"kb export: {export_seconds:.1f} s wall ({options.files / export_seconds:,.0f} files/s); "
              f"{output.splitlines()[-1]}")

        started = time.perf_counter()
        found = {}
        for path in (work / "export").iterdir():
            meta, text = read_document(path)
            answers = [(a["body"], a.get("state", "draft"), a["accepted"]) for a in meta.get("answers", [])]
            found[meta["title"]] = (meta["tags"], meta["kind"], text, meta.get("state", "draft"), answers)
        if found != expected:
            missing = expected.keys() - found.keys()
            differ = [t for t in expected.keys() & found.keys() if expected[t] != found[t]]
            sys.exit(f"round trip FAILED: {len(missing)} missing, {len(differ)} different (e.g. {differ[:1]})")
        print(f"round trip verified: {len(found):,} files identical in title, tags, kind, state, body and answers "
              f"({time.perf_counter() - started:.1f} s)")
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
