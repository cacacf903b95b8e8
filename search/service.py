"""Searching as a user, and rebuilding the index. Used by the API, the pages and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from kb.accounts.models import Role, User
from kb.db import session_factory
from kb.errors import DomainError, SearchUnavailable
from search import synonyms
from search.backend import SearchBackend, SearchDocument, SearchQuery, SearchResults, Viewer
from search.documents import documents_for_entries, entry_ids
from search.embedding_indexer import embed_all, supports_vectors
from search.outbox import mark_done, pending_ids
from search.querylog_writer import QueryLogWriter

MAX_LIMIT = 100
DRAFT_ROLES = (Role.author, Role.expert, Role.admin)
UNAVAILABLE = "Search is unavailable right now; try again shortly."
log = logging.getLogger("kb.search")


@contextmanager
def backend_answers(what: str = "search") -> Iterator[None]:
    """Turn a failure of the search backend (down, timing out, refusing) into ``SearchUnavailable``,
    so callers say "search is unavailable" rather than pretend nothing matches. Domain errors
    (a query refused for its content) pass unchanged."""
    try:
        yield
    except DomainError:
        raise
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)
        raise SearchUnavailable(UNAVAILABLE) from exc


def viewer_for(user: User, *, include_drafts: bool = False) -> Viewer:
    """Who searches: admins and experts review (see restricted documents of others, with drafts
    on); drafts are only offered to authors, experts and admins. Their groups (read from the
    database now: joining a group needs no re-indexing) open the entries limited to them."""
    return Viewer(
        user_id=user.id,
        is_admin=user.is_admin,
        is_reviewer=user.has_role(Role.expert, Role.admin),
        include_drafts=include_drafts and user.has_role(*DRAFT_ROLES),
        group_ids=() if user.is_admin else tuple(sorted(user.group_ids)),
    )


def search(
    *,
    session: Session | None = None,
    backend: SearchBackend,
    viewer_user: User,
    text: str,
    tags: tuple[str, ...] | list[str] = (),
    kinds: tuple[str, ...] | list[str] = (),
    certified_only: bool = False,
    include_drafts: bool = False,
    limit: int = 20,
    offset: int = 0,
    semantic: bool = True,
) -> SearchResults:
    """Search what ``viewer_user`` may see; visibility is part of the backend query.

    With a ``session``, the admins' synonym rules are brought up to date first (a cheap check,
    see ``search.synonyms.sync``). ``SearchUnavailable`` when the backend does not answer."""
    query = SearchQuery(
        text=(text or "").strip(),
        viewer=viewer_for(viewer_user, include_drafts=include_drafts),
        tags=tuple(t.strip().lower() for t in tags if t and t.strip()),
        kinds=tuple(k for k in kinds if k),
        certified_only=certified_only,
        limit=max(1, min(limit, MAX_LIMIT)),
        offset=max(0, offset),
        semantic=semantic,
    )
    with backend_answers():
        if session is not None:
            synonyms.sync(session=session, backend=backend)
        return backend.search(query)


@dataclass(frozen=True)
class LoggedSearch:
    results: SearchResults
    # The query log's key for this search, which result links carry to record the click; None when
    # not logged (an empty query).
    search_key: str | None


def search_and_log(
    *,
    session: Session,
    backend: SearchBackend,
    actor: User,
    query_log: QueryLogWriter,
    text: str,
    tags: tuple[str, ...] | list[str] = (),
    kinds: tuple[str, ...] | list[str] = (),
    certified_only: bool = False,
    include_drafts: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> LoggedSearch:
    """A person's search (page or API), then its entry in the query log for the content-gap reports
    (written off the request path, ``search.querylog_writer``; failing to log never fails a search)."""
    results = search(session=session, backend=backend, viewer_user=actor, text=text, tags=tags, kinds=kinds,
                     certified_only=certified_only, include_drafts=include_drafts, limit=limit, offset=offset)
    key = query_log.search(user_id=actor.id, query=text, result_count=results.total)
    return LoggedSearch(results=results, search_key=key)


# A helpdesk ticket's text is searched from its start: the customer says what is wrong first, and
# the search keeps a query's first words anyway (search.analysis.MAX_QUERY_TERMS).
TICKET_TEXT_CHARS = 2000
TICKET_ANSWERS = 5


def ticket_query(*, subject: str, text: str) -> str:
    """What the side panel searches for a ticket: its subject, then the first ``TICKET_TEXT_CHARS``
    characters of its text."""
    parts = ((subject or "").strip(), (text or "").strip()[:TICKET_TEXT_CHARS])
    return "\n".join(part for part in parts if part)


def answers_for_ticket(
    *,
    session: Session,
    backend: SearchBackend,
    actor: User,
    query_log: QueryLogWriter,
    subject: str,
    text: str,
    limit: int = TICKET_ANSWERS,
) -> LoggedSearch:
    """The best certified answers to a helpdesk ticket (the side panel): the agents' hybrid search
    (``search_and_log``, so the query log and visibility are the search page's) over the ticket's
    subject and the start of its text, certified content only."""
    return search_and_log(session=session, backend=backend, actor=actor, query_log=query_log,
                          text=ticket_query(subject=subject, text=text), certified_only=True, limit=limit)


REINDEX_CHUNK = 500  # entries whose documents are built together


def reindex(*, engine: Engine, backend: SearchBackend,
            progress: Callable[[int, int], None] | None = None,
            embed_progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index from the database; returns the number of documents.

    Outbox rows committed before the rebuild started are covered by it and marked done; later
    ones stay pending for the indexer. With hybrid search, the documents without vectors of their
    revision are then embedded (``embed_progress`` reports it)."""
    with session_factory(engine)() as session:
        # A rebuilt Meilisearch index takes its settings from this process: give it the rules.
        synonyms.sync(session=session, backend=backend, force=True)
        covered = pending_ids(session=session)
        ids = entry_ids(session=session)
        total = len(ids)

        indexed: list[SearchDocument] = []

        def documents() -> Iterator[SearchDocument]:
            for start in range(0, total, REINDEX_CHUNK):
                docs, _ = documents_for_entries(session=session, entry_ids=ids[start:start + REINDEX_CHUNK])
                indexed.extend(docs)
                yield from docs
                if progress is not None:
                    progress(min(start + REINDEX_CHUNK, total), total)

        if progress is not None:
            progress(0, total)
        rebuild = getattr(backend, "reindex", None)
        if rebuild is not None:
            count = rebuild(documents())
        else:  # a backend without an atomic rebuild
            docs = list(documents())
            backend.clear()
            backend.index(docs)
            count = len(docs)
        embed_all(backend=backend, docs=indexed, progress=embed_progress)
    mark_done(engine, covered, embedded=supports_vectors(backend))
    return count
