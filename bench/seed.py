"""The serve benchmark's steps that run inside kb's configuration (a child process with the run's
``KB_*`` environment), printing one JSON object on stdout:

    python -m bench.seed accounts   # the benchmark's users (service calls) and API tokens
    python -m bench.seed facts      # ids the load needs: certified articles, questions, drafts
    python -m bench.seed vectors --sample 500   # hybrid search: vectors for every entry

``vectors`` (embedded backend only) is the embedding step, reported apart from import and
lexical indexing: ``--sample`` entries are embedded by the real model (all-MiniLM-L6-v2, int8
ONNX), which gives the embedding throughput; every other entry gets the mean of its words' vectors
(``bench.search_latency.add_vectors``), because embedding 100,000 entries with the model takes hours
on 2 cores (docs/deployment.md) and a query's cost depends on how many vectors it scans, not on
what they hold. The outbox rows are then marked embedded, as the indexer's second pass would.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.corpus import ADMIN, AGENTS, AUTHORS, EXPERTS, PASSWORD


def _engine():
    from cli.common import ready_engine

    return ready_engine()


def accounts() -> dict:
    from kb.accounts import service
    from kb.accounts.actors import SYSTEM
    from kb.accounts.schemas import TokenCreate, UserCreate
    from kb.db import unit_of_work

    people = [(ADMIN, ["admin"])] + [(e, ["author"]) for e in AUTHORS] + [(e, ["expert", "author"]) for e in EXPERTS]
    people += [(e, ["agent"]) for e in AGENTS]
    tokens = {}
    with unit_of_work(_engine()) as session:
        for email, roles in people:
            user = service.find_user_by_email(session=session, email=email)
            if user is None:
                name = email.split("@")[0].replace("-", " ").title()
                user = service.create_user(session=session, actor=SYSTEM,
                                           data=UserCreate(email=email, display_name=name, roles=roles,
                                                           password=PASSWORD))
            if email in (ADMIN, AUTHORS[0], *AGENTS):
                _, tokens[email] = service.create_api_token(session=session, actor=SYSTEM, user=user,
                                                            data=TokenCreate(name="benchmark"))
    return {"tokens": tokens}


def facts() -> dict:
    from sqlmodel import Session, select

    from kb.content.models import Entry, Revision

    with Session(_engine()) as session:
        rows = session.exec(select(Entry.id, Entry.kind, Entry.certified_revision_id, Entry.latest_revision_id,
                                   Revision.state)
                            .join(Revision, Revision.id == Entry.latest_revision_id)
                            .where(Entry.deleted_at.is_(None)).order_by(Entry.id)).all()
    return {
        "certified_articles": [r[0] for r in rows if r[1] == "article" and r[2] is not None],
        "questions": [r[0] for r in rows if r[1] == "question"],
        "draft_revisions": [r[3] for r in rows if r[1] == "article" and r[2] is None and r[4] == "draft"],
        "entries": len(rows),
    }


def backlog() -> dict:
    """Changes the search indexer has not taken yet (the lexical pass: for Meilisearch, a change
    is done once Meilisearch has applied it)."""
    from sqlmodel import Session, func, select

    from search.models import SearchOutbox

    with Session(_engine()) as session:
        return {"pending": session.exec(select(func.count()).where(SearchOutbox.done_at.is_(None))).one()}


def vectors(sample: int) -> dict:
    from sqlalchemy import update
    from sqlmodel import Session, select

    from bench.search_latency import add_vectors
    from kb.clock import utcnow
    from kb.content.models import Entry
    from kb.db import unit_of_work
    from kb.settings import get_settings
    from search.documents import documents_for_entries
    from search.embedded import EmbeddedBackend
    from search.models import SearchOutbox

    settings = get_settings()
    engine = _engine()
    started = time.perf_counter()
    docs = []
    with Session(engine) as session:
        ids = list(session.exec(select(Entry.id).order_by(Entry.id)).all())
        for start in range(0, len(ids), 1000):  # as kb reindex reads them: each table once per chunk
            docs.extend(documents_for_entries(session=session, entry_ids=ids[start:start + 1000])[0])
    read_seconds = time.perf_counter() - started
    backend = EmbeddedBackend(settings.data_dir / "search", semantic=True)
    result: dict = {}
    add_vectors(backend, docs, sample, result)
    backend.close()
    with unit_of_work(engine) as session:
        session.exec(update(SearchOutbox).where(SearchOutbox.embedded_at.is_(None), SearchOutbox.done_at.is_not(None))
                     .values(embedded_at=utcnow()))
    rate = result["embedding"]["documents_per_second"]
    return {"documents": len(docs), "read_seconds": read_seconds, "model_sample": result["embedding"],
            "word_mean_seconds": result["vector_fill_seconds"],
            "estimated_model_seconds_all": len(docs) / rate if rate else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["accounts", "facts", "backlog", "vectors"])
    parser.add_argument("--sample", type=int, default=500)
    options = parser.parse_args()
    out = {"accounts": accounts, "facts": facts, "backlog": backlog}.get(options.step)
    result = out() if out else vectors(options.sample)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
