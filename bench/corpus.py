"""The serve benchmark's corpus: Markdown files that ``kb import`` reads, and the query set.

Deterministic (seeded): the same ``entries`` gives the same files, byte for byte. The words, titles,
products, error codes and customers' sentences come from ``bench.search_latency`` (the in-process
search benchmark), so both benchmarks search the same kind of text with the same kind of queries.

What the files hold, for ``entries`` entries (articles + questions + answers):

* 50 topics (tags), 1-3 per entry, the popular ones more often (Zipf);
* about 60% articles (Markdown: paragraphs, a heading, a numbered list), 65% of them certified,
  the rest drafts; about 15% questions and 25% answers (0-3 per question), 60% of the answers
  certified and half of the threads with an accepted answer;
* 20 authors; the certifier is the benchmark's administrator (never an author), as when a
  knowledge base is migrated with its certifications;
* a ``source_id`` per file (``bench/<n>``), as an export from another system carries.

Revisions in review, helpful votes and case reuse are added after the import through the API
(``bench.serve_bench``), because a file cannot carry them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.search_latency import SENTENCES, TITLES, TOPICS, Vocabulary, queries, zipf
from kb.content.frontmatter import format_document

SEED = 20261125
TOPIC_COUNT = 50
FILES_PER_FOLDER = 1000
ADMIN = "bench-admin@example.com"
AUTHORS = [f"author-{n:02d}@example.com" for n in range(1, 21)]
EXPERTS = [f"expert-{n:02d}@example.com" for n in range(1, 6)]
AGENTS = [f"agent-{n:02d}@example.com" for n in range(1, 11)]
PASSWORD = "bench-password-2026"


@dataclass
class CorpusSummary:
    files: int = 0
    entries: int = 0
    articles: int = 0
    questions: int = 0
    answers: int = 0
    certified: int = 0
    drafts: int = 0
    accepted: int = 0
    bytes: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def topics() -> list[str]:
    return TOPICS[:TOPIC_COUNT]


def _paragraph(vocab: Vocabulary, rng: random.Random, low: int, high: int) -> str:
    return " ".join(vocab.fill(rng.choice(SENTENCES)) for _ in range(rng.randint(low, high)))


def _article_body(vocab: Vocabulary, rng: random.Random) -> str:
    parts = [_paragraph(vocab, rng, 2, 5)]
    if rng.random() < 0.6:
        parts.append("## " + vocab.fill(rng.choice(TITLES)))
        parts.append("\n".join(f"{i}. {vocab.fill(rng.choice(SENTENCES))}" for i in range(1, rng.randint(3, 6))))
    parts.append(_paragraph(vocab, rng, 2, 6))
    return "\n\n".join(parts) + "\n"


def _tags(rng: random.Random, names: list[str], weights: list[float]) -> list[str]:
    chosen: list[str] = []
    for _ in range(rng.randint(1, 3)):
        tag = rng.choices(names, weights)[0]
        if tag not in chosen:
            chosen.append(tag)
    return chosen


def _certified(meta: dict, summary: CorpusSummary) -> None:
    meta["state"] = "certified"
    meta["certified_by"] = ADMIN
    summary.certified += 1


def generate(folder: Path, entries: int, *, seed: int = SEED) -> CorpusSummary:
    """Write files under ``folder`` until they hold ``entries`` entries; returns what was written."""
    rng = random.Random(seed)
    vocab = Vocabulary(rng)
    names = topics()
    weights = zipf(names)
    summary = CorpusSummary()
    while summary.entries < entries:
        n = summary.files
        meta: dict = {"title": vocab.fill(rng.choice(TITLES)), "tags": _tags(rng, names, weights),
                      "author": rng.choice(AUTHORS), "source_id": f"bench/{n}"}
        room = entries - summary.entries
        if rng.random() < 0.2 and room > 1:
            meta["kind"] = "question"
            body = vocab.fill(rng.choice(SENTENCES)) + " " + _paragraph(vocab, rng, 1, 3) + "\n"
            answers = []
            accepted = rng.random() < 0.5
            for i in range(min(rng.randint(0, 3), room - 1)):
                answer = {"author": rng.choice(AUTHORS + EXPERTS)}
                if accepted and i == 0:
                    answer["accepted"] = True
                    summary.accepted += 1
                if rng.random() < 0.6:
                    _certified(answer, summary)
                else:
                    summary.drafts += 1
                answer["body"] = _paragraph(vocab, rng, 2, 6) + "\n"
                answers.append(answer)
            if answers:
                meta["answers"] = answers
            summary.questions += 1
            summary.answers += len(answers)
            summary.entries += 1 + len(answers)
        else:
            meta["kind"] = "article"
            body = _article_body(vocab, rng)
            if rng.random() < 0.65:
                _certified(meta, summary)
            else:
                summary.drafts += 1
            summary.articles += 1
            summary.entries += 1
        sub = folder / f"part-{n // FILES_PER_FOLDER:03d}"
        if n % FILES_PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        data = format_document(meta, body).encode()
        (sub / f"entry-{n:06d}.md").write_bytes(data)
        summary.files += 1
        summary.bytes += len(data)
    return summary


@dataclass(frozen=True)
class Query:
    category: str
    text: str
    tag: str | None = None

    def params(self) -> dict:
        return {"q": self.text, **({"tag": self.tag} if self.tag else {})}


def query_set(*, seed: int = SEED) -> list[Query]:
    """The in-process benchmark's 370 queries (1-3 words, typos, prefixes, customers' sentences)
    plus 40 with a tag filter: 410 queries, deterministic."""
    out = [Query(category, text) for category, text in queries()]
    rng = random.Random(seed + 2)
    names = topics()
    weights = zipf(names)
    plain = [q for q in out if q.category in ("single word", "two words")]
    out += [Query("tag filter", rng.choice(plain).text, rng.choices(names, weights)[0]) for _ in range(40)]
    return out
