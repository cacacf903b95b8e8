"""Search latency: the embedded tantivy backend beside SQLite FTS5, same corpus, same queries.

    .venv/bin/python bench/search_latency.py [--entries 100000] [--rounds 1] [--json results.json]

Generates a deterministic (seeded) customer-service corpus (titles, bodies, tags; articles and
forum questions; one entry in ten a draft that agents may not see), indexes it into
``search.embedded.EmbeddedBackend`` (the bulk path of ``kb reindex``) and into an SQLite FTS5
table (``porter unicode61`` tokenizer, prefix indexes, bm25 weighted title 3 > tags 2 > body 1 like
the embedded boosts), then runs one query set against both, interleaved query by query, after a warm-up
round: single words, two words, typos, prefixes (search as you type) and customers' sentences.

What one query does on each side (what a results page needs):

* embedded: ``EmbeddedBackend.search`` as the app calls it for an agent: visibility filter,
  stop words, stemming, typo tolerance, prefix of the last word, 20 hits with highlighted titles
  and snippets, the total and the tag/kind facet counts.
* FTS5: the words (the same stop words removed) OR-ed, the last one as a prefix, public entries
  only, the 20 best by bm25 with ``snippet()``, plus ``count(*)`` for the total. No typo
  tolerance and no facets: a typo finds nothing (or something else) there.

Hybrid mode (on unless ``--no-hybrid``): the same embedded index also gets a vector per entry and
every query runs a third time as hybrid search (``SearchQuery(semantic=True)``: the query embedded
by the model, an exact scan of every visible vector, fusion; see docs/search.md), beside the
lexical-only run of the same backend (``semantic=False``). ``--embed-sample N`` entries (default
2,000) are embedded by the real model (all-MiniLM-L6-v2, int8 ONNX), which measures the embedding
throughput of ``kb reindex`` (documents per second); the other entries get the mean of their
words' vectors (each distinct word embedded once), so that a 100,000-entry run finishes in minutes
on 2 cores: query latency depends on how many vectors are scanned, not on what they hold.

Latency is wall time of one call, one query at a time on one thread; throughput is queries per
second of that sequential run. Prints machine information and the load average: on a busy
machine (other test runs) the numbers are noisy, so compare runs on an idle one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.analysis import STOP_WORDS  # noqa: E402
from search.backend import SearchDocument, SearchQuery, Viewer  # noqa: E402
from search.embedded import FIELD_BOOSTS, EmbeddedBackend  # noqa: E402

import numpy as np  # noqa: E402

SEED = 20261125
LIMIT = 20
CATEGORIES = ("single word", "two words", "typo", "prefix", "customer sentence")

NOUNS = """order refund account payment card parcel delivery invoice password subscription return address
email app device warranty voucher discount label courier tracking transfer chargeback plan fee receipt credit
exchange replacement battery charger screen login profile cart checkout coupon giftcard points shipment
warehouse stock size colour item package router connection signal bill contract cancellation renewal trial
upgrade downgrade data privacy identity code phone notification newsletter appointment technician
installation manual firmware update error crash sync backup pairing bluetooth wifi printer cable adapter
headset keyboard laptop tablet watch speaker camera ticket supervisor complaint escalation case callback
chat survey bank statement loyalty membership storage license""".split()
VERBS = """cancel refund reset change update track return exchange replace verify confirm escalate reactivate
unlock close open transfer merge pause resume renew upgrade downgrade pair install restart charge ship
deliver reschedule redeem apply remove delete export download sync restore report""".split()
STATES = """damaged missing late duplicate expired locked failed pending wrong broken defective lost delayed
blocked suspended incorrect partial unpaid overdue free annual monthly premium basic international express
standard faulty cracked empty""".split()
TOPICS = """billing shipping returns accounts passwords subscriptions devices payments refunds orders
delivery warranty vouchers loyalty privacy security mobile-app website invoices chargebacks firmware
connectivity printers audio cameras wearables laptops tablets installation appointments escalations
complaints international express-delivery gift-cards store-credit trials renewals upgrades contracts
business-accounts student-discount data-export notifications newsletters identity verification
bluetooth wifi routers cables batteries screens repairs exchanges damaged-items missing-items
late-delivery price-match""".split()
SYLLABLES = "zor kel vi ta mon ra lu pex qua dri no sen fy ga bro tel mi xan ko re".split()

SENTENCES = [
    "If the customer wants to {v} the {n}, check the {n} first.",
    "{V} the {n} from the {n} page, then confirm with the customer.",
    "Agents can {v} a {s} {n} within {d} days of the {n}.",
    "Ask for the {n} and the {n} before you {v} anything.",
    "The {p} shows error {e} when the {n} is {s}.",
    "Do not {v} the {n} while the {n} is {s}.",
    "Escalate to a supervisor when the {n} stays {s} after {d} days.",
    "Customers on the {s} plan pay no {n} fee.",
    "Tell the customer that the {n} takes {d} working days.",
    "Open the {n} tab, select the {n} and choose {V}.",
    "A {s} {n} is replaced for free under the {n} policy.",
    "Check whether the {n} was {s} before the {n} was sent.",
]
TITLES = [
    "How to {v} a {s} {n}", "{V} a {n} for a {s} {n}", "Customer cannot {v} their {n}", "{S} {n} after {n}",
    "{p} error {e} on {n}", "Why is my {n} {s}?", "{V} the {n} of a {s} {n}", "{N} {s} twice",
    "{p}: {v} the {n}", "When can a customer {v} a {n}?",
]
CUSTOMER = [
    "customer says the {n} arrived {s} and wants a {n}",
    "i was charged twice for my {n} and want my money back",
    "cannot {v} my {n} since the {n} update",
    "my {p} shows error {e} and will not {v}",
    "the {n} is {s} and the {n} never came",
    "how do i {v} my {s} {n}",
    "customer wants to {v} the {n} because it is {s}",
    "they tried to {v} the {n} but it says {s}",
]


def zipf(words: list[str]) -> list[float]:
    """Word frequencies that fall off with rank, like real text."""
    return [1 / (rank + 1) ** 0.9 for rank in range(len(words))]


class Vocabulary:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.weights = {"n": zipf(NOUNS), "v": zipf(VERBS), "s": zipf(STATES)}
        names = random.Random(SEED - 1)  # the same products and error codes in corpus and queries
        self.products = sorted({(names.choice(SYLLABLES) + names.choice(SYLLABLES)).capitalize()
                                + names.choice(["", " Mini", " Pro", " X2", " Max", " Lite"]) for _ in range(400)})
        self.errors = [f"E{names.randint(1000, 9999)}" for _ in range(300)]

    def word(self, kind: str) -> str:
        pool = {"n": NOUNS, "v": VERBS, "s": STATES}[kind]
        return self.rng.choices(pool, self.weights[kind])[0]

    def fill(self, template: str) -> str:
        def one(match: re.Match) -> str:
            key = match.group(1)
            if key.lower() in "nvs":
                value = self.word(key.lower())
                return value.capitalize() if key.isupper() else value
            if key == "p":
                return self.rng.choice(self.products)
            if key == "e":
                return self.rng.choice(self.errors)
            return str(self.rng.choice([3, 5, 7, 10, 14, 30, 60, 90]))

        return re.sub(r"\{(\w)\}", one, template)


def corpus(count: int) -> list[SearchDocument]:
    rng = random.Random(SEED)
    vocab = Vocabulary(rng)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for n in range(1, count + 1):
        public = rng.random() >= 0.1
        body = " ".join(vocab.fill(rng.choice(SENTENCES)) for _ in range(rng.randint(4, 12)))
        docs.append(SearchDocument(
            id=f"{n}:{'public' if public else 'restricted'}", entry_id=n, revision_id=n,
            kind="question" if rng.random() < 0.2 else "article", title=vocab.fill(rng.choice(TITLES)),
            body=body, tags=rng.sample(TOPICS, rng.randint(1, 3)), audience="public" if public else "restricted",
            author_id=rng.randint(1, 500), state="certified" if public else "draft", certified=public,
            updated_at=base - timedelta(minutes=n), helpful_score=rng.random(), reuse_count=rng.randint(0, 50)))
    return docs


def typo(word: str, rng: random.Random) -> str:
    """One edit: a letter dropped, doubled, swapped with the next or replaced."""
    i = rng.randrange(1, len(word) - 1)
    edit = rng.choice(["drop", "double", "swap", "replace"])
    if edit == "drop":
        return word[:i] + word[i + 1:]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeiourstln".replace(word[i], "")) + word[i + 1:]


def queries() -> list[tuple[str, str]]:
    """(category, query text): 370 queries, deterministic."""
    rng = random.Random(SEED + 1)
    vocab = Vocabulary(rng)
    pick = lambda: vocab.word(rng.choice("nnnvs"))  # noqa: E731 - mostly nouns, like agents type
    long_words = [w for w in NOUNS + VERBS + STATES if len(w) >= 6]
    out = [("single word", pick()) for _ in range(60)]
    out += [("single word", rng.choice(vocab.products).split()[0]) for _ in range(10)]
    out += [("single word", rng.choice(vocab.errors)) for _ in range(10)]
    out += [("two words", f"{vocab.word('v')} {vocab.word('n')}") for _ in range(40)]
    out += [("two words", f"{vocab.word('s')} {vocab.word('n')}") for _ in range(40)]
    out += [("typo", typo(rng.choice(long_words), rng)) for _ in range(50)]
    out += [("typo", f"{vocab.word('v')} {typo(rng.choice(long_words), rng)}") for _ in range(30)]
    out += [("prefix", rng.choice(long_words)[: rng.randint(3, 5)]) for _ in range(50)]
    out += [("prefix", f"{vocab.word('v')} {rng.choice(long_words)[:4]}") for _ in range(30)]
    out += [("customer sentence", vocab.fill(rng.choice(CUSTOMER))) for _ in range(50)]
    return out


# --- SQLite FTS5 ------------------------------------------------------------------------------

FTS_WORD = re.compile(r"[^\W_]+")


def fts5_index(path: Path, docs: list[SearchDocument]) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # Prefix indexes for 2-4 letters: FTS5's own answer to search-as-you-type prefix queries.
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, tags, body, audience UNINDEXED, "
                "tokenize='porter unicode61', prefix='2 3 4')")
    with db:
        for start in range(0, len(docs), 5000):
            db.executemany("INSERT INTO docs(rowid, title, tags, body, audience) VALUES (?, ?, ?, ?, ?)",
                           [(d.entry_id, d.title, " ".join(d.tags), d.body, d.audience)
                            for d in docs[start:start + 5000]])
    with db:
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")  # one b-tree, as after merges
    return db


def fts5_expression(text: str) -> str | None:
    words = [w for w in FTS_WORD.findall(text.lower()) if w not in STOP_WORDS]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"  # the last word may be unfinished (search as you type)
    return " OR ".join(quoted)


BM25 = f"bm25(docs, {FIELD_BOOSTS['title']}, {FIELD_BOOSTS['tags_text']}, {FIELD_BOOSTS['body']})"
FTS5_HITS = (f"SELECT rowid, title, snippet(docs, 2, '<mark>', '</mark>', '…', 30) FROM docs "
             f"WHERE docs MATCH ? AND audience = 'public' ORDER BY {BM25} LIMIT {LIMIT}")
FTS5_TOTAL = "SELECT count(*) FROM docs WHERE docs MATCH ? AND audience = 'public'"


def fts5_search(db: sqlite3.Connection, text: str) -> int:
    expression = fts5_expression(text)
    if expression is None:
        return 0
    db.execute(FTS5_HITS, (expression,)).fetchall()
    return db.execute(FTS5_TOTAL, (expression,)).fetchone()[0]


# --- measuring -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(samples: list[float], totals: list[int]) -> dict:
    return {"queries": len(samples), "p50_ms": percentile(samples, 50) * 1000,
            "p95_ms": percentile(samples, 95) * 1000, "p99_ms": percentile(samples, 99) * 1000,
            "mean_ms": statistics.fmean(samples) * 1000, "queries_per_second": len(samples) / sum(samples),
            "zero_results": sum(1 for t in totals if t == 0) / len(totals),
            "median_total": statistics.median(totals)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem = Path("/proc/meminfo").read_text().split()[1] if Path("/proc/meminfo").exists() else "0"
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "memory_gb": round(int(mem) / 1024 / 1024, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "tantivy": importlib.metadata.version("tantivy"), "sqlite": sqlite3.sqlite_version,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def add_vectors(backend: EmbeddedBackend, docs: list[SearchDocument], sample: int, result: dict) -> None:
    """Vectors for every entry: the first ``sample`` by the model (timed), the rest by word means."""
    from search.embedding import MODEL_ID, chunks, embedder
    from search.embedding_indexer import embed_documents

    model = embedder()
    backend.reset_vectors(MODEL_ID)
    sample = min(sample, len(docs))
    started = time.perf_counter()
    vectors = embed_documents(model, docs[:sample])
    seconds = time.perf_counter() - started
    result["embedding"] = {"documents": sample, "chunks": sum(len(v) for v in vectors), "seconds": seconds,
                           "documents_per_second": sample / seconds if seconds else 0.0}
    print(f"embedded {sample:,} entries with the model in {seconds:.1f} s "
          f"({result['embedding']['documents_per_second']:.1f} documents/s)")
    started = time.perf_counter()
    words = sorted({w for d in docs[sample:] for w in FTS_WORD.findall(chunks(d.title, d.body)[0].lower())})
    table = dict(zip(words, model.embed(words), strict=True)) if words else {}
    for d in docs[sample:]:
        mean = np.mean([table[w] for w in FTS_WORD.findall(chunks(d.title, d.body)[0].lower())], axis=0)
        vectors.append((mean / max(np.linalg.norm(mean), 1e-12))[None, :])
    for start in range(0, len(docs), 20_000):
        backend.index_vectors(docs[start:start + 20_000], vectors[start:start + 20_000])
    result["vector_fill_seconds"] = time.perf_counter() - started
    print(f"vectors for the other {len(docs) - sample:,} entries (word means) stored in "
          f"{result['vector_fill_seconds']:.1f} s")


def run(entries: int, rounds: int, work: Path, *, hybrid: bool = True, embed_sample: int = 2000) -> dict:
    result: dict = {"machine": machine(), "entries": entries, "rounds": rounds, "limit": LIMIT}
    started = time.perf_counter()
    docs = corpus(entries)
    result["generate_seconds"] = time.perf_counter() - started
    words = sum(len(d.body.split()) + len(d.title.split()) for d in docs)
    result["words"] = words
    print(f"corpus: {entries:,} entries, {words:,} words, generated in {result['generate_seconds']:.1f} s")

    started = time.perf_counter()
    writer = EmbeddedBackend(work / "tantivy")
    writer.reindex(docs)
    if hybrid:
        add_vectors(writer, docs, embed_sample, result)
    writer.close()  # waits for segment merges, like a long-running index
    result["embedded_index_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    fts = fts5_index(work / "fts5.sqlite3", docs)
    result["fts5_index_seconds"] = time.perf_counter() - started
    print(f"indexed: embedded {result['embedded_index_seconds']:.1f} s, FTS5 {result['fts5_index_seconds']:.1f} s")
    del docs

    embedded = EmbeddedBackend(work / "tantivy", semantic=hybrid)  # a fresh reader, as a web worker has
    viewer = Viewer(user_id=1)
    query_set = queries()

    def embedded_search(text: str) -> int:
        return embedded.search(SearchQuery(text=text, viewer=viewer, limit=LIMIT, semantic=False)).total

    def hybrid_search(text: str) -> int:
        return embedded.search(SearchQuery(text=text, viewer=viewer, limit=LIMIT, semantic=True)).total

    sides = [("embedded", embedded_search), ("fts5", lambda t: fts5_search(fts, t))]
    if hybrid:
        sides.append(("hybrid", hybrid_search))
    for _, text in query_set:  # warm-up: caches, lazy structures, page cache
        for _, call in sides:
            call(text)
    samples: dict[str, dict[str, list]] = {b: {c: [] for c in CATEGORIES} for b, _ in sides}
    totals: dict[str, dict[str, list]] = {b: {c: [] for c in CATEGORIES} for b, _ in sides}
    for _ in range(rounds):
        for category, text in query_set:  # interleaved, so machine noise hits both alike
            for name, call in sides:
                t0 = time.perf_counter()
                total = call(text)
                samples[name][category].append(time.perf_counter() - t0)
                totals[name][category].append(total)
    fts.close()
    embedded.close()
    result["queries"] = len(query_set)
    result["results"] = {
        name: {**{c: summary(samples[name][c], totals[name][c]) for c in CATEGORIES},
               "all": summary([s for c in CATEGORIES for s in samples[name][c]],
                              [t for c in CATEGORIES for t in totals[name][c]])}
        for name in samples
    }
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def report(result: dict) -> None:
    m = result["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; Python {m['python']}, "
          f"tantivy {m['tantivy']}, SQLite {m['sqlite']}; load average {m['load_average']} -> "
          f"{m['load_average_after']}")
    print(f"{result['queries']} queries x {result['rounds']} rounds on {result['entries']:,} entries "
          f"(after one warm-up round); latency in ms; ratio = embedded / FTS5\n")
    head = (f"{'queries':<18}{'embedded p50':>13}{'p95':>8}{'p99':>8}{'q/s':>8}{'zero':>6}   "
            f"{'FTS5 p50':>9}{'p95':>8}{'p99':>8}{'q/s':>8}{'zero':>6}   {'ratio p50':>9}{'p95':>7}{'p99':>7}")
    print(head)
    print("-" * len(head))
    emb, fts = result["results"]["embedded"], result["results"]["fts5"]
    for category in (*CATEGORIES, "all"):
        e, f = emb[category], fts[category]
        print(f"{category:<18}{e['p50_ms']:>13.2f}{e['p95_ms']:>8.2f}{e['p99_ms']:>8.2f}{e['queries_per_second']:>8.0f}"
              f"{e['zero_results']:>6.0%}   {f['p50_ms']:>9.2f}{f['p95_ms']:>8.2f}{f['p99_ms']:>8.2f}"
              f"{f['queries_per_second']:>8.0f}{f['zero_results']:>6.0%}   "
              f"{e['p50_ms'] / f['p50_ms']:>9.1f}{e['p95_ms'] / f['p95_ms']:>7.1f}{e['p99_ms'] / f['p99_ms']:>7.1f}")
    print("\nzero = share of queries without any result (FTS5 has no typo tolerance).")
    if "hybrid" in result["results"]:
        hyb = result["results"]["hybrid"]
        print("\nhybrid (lexical + semantic) vs lexical only, same embedded index; ratio = hybrid / lexical\n")
        head = (f"{'queries':<18}{'hybrid p50':>11}{'p95':>8}{'p99':>8}{'q/s':>8}   "
                f"{'lexical p50':>11}{'p95':>8}{'p99':>8}{'q/s':>8}   {'ratio p50':>9}{'p95':>7}{'p99':>7}")
        print(head)
        print("-" * len(head))
        for category in (*CATEGORIES, "all"):
            h, e = hyb[category], emb[category]
            print(f"{category:<18}{h['p50_ms']:>11.2f}{h['p95_ms']:>8.2f}{h['p99_ms']:>8.2f}"
                  f"{h['queries_per_second']:>8.0f}   {e['p50_ms']:>11.2f}{e['p95_ms']:>8.2f}{e['p99_ms']:>8.2f}"
                  f"{e['queries_per_second']:>8.0f}   {h['p50_ms'] / e['p50_ms']:>9.1f}"
                  f"{h['p95_ms'] / e['p95_ms']:>7.1f}{h['p99_ms'] / e['p99_ms']:>7.1f}")
        emb_info = result["embedding"]
        print(f"\nembedding throughput (kb reindex): {emb_info['documents_per_second']:.1f} documents/s "
              f"({emb_info['documents']:,} entries, {emb_info['chunks']:,} chunks, {emb_info['seconds']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="Corpus size (default 100,000).")
    parser.add_argument("--rounds", type=int, default=1,
                        help="Measured rounds over the query set (default 1; more for steadier p99).")
    parser.add_argument("--json", type=Path, help="Also write the results to this JSON file.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder with both indexes.")
    parser.add_argument("--no-hybrid", action="store_true", help="Lexical only: no vectors, no hybrid run.")
    parser.add_argument("--embed-sample", type=int, default=2000,
                        help="Entries embedded by the model (throughput); the rest get word-mean vectors.")
    options = parser.parse_args()
    if options.entries < 10 or options.rounds < 1:
        parser.error("--entries must be at least 10 and --rounds at least 1")

    work = Path(tempfile.mkdtemp(prefix="kb-search-bench-"))
    try:
        result = run(options.entries, options.rounds, work, hybrid=not options.no_hybrid,
                     embed_sample=options.embed_sample)
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(result)
    if options.json:
        options.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {options.json}")


if __name__ == "__main__":
    main()
