"""Searching as a user, and rebuilding the index. Used by the API, the pages and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session

from kb.accounts.models import Role, User
from kb.db import session_factory
from search import synonyms
from search.backend import SearchBackend, SearchDocument, SearchQuery, SearchResults, Viewer
from search.documents import documents_for_entry, entry_ids
from search.embedding_indexer import embed_all, supports_vectors
from search.outbox import mark_done, pending_ids

MAX_LIMIT = 100
DRAFT_ROLES = (Role.author, Role.expert, Role.admin)


def viewer_for(user: User, *, include_drafts: bool = False) -> Viewer:
    """Who searches: admins and experts review (see restricted documents of others, with drafts
    on); drafts are only offered to authors, experts and admins."""
    return Viewer(
        user_id=user.id,
        is_admin=user.is_admin,
        is_reviewer=user.has_role(Role.expert, Role.admin),
        include_drafts=include_drafts and user.has_role(*DRAFT_ROLES),
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
    see ``search.synonyms.sync``)."""
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
    if session is not None:
        synonyms.sync(session=session, backend=backend)
    return backend.search(query)


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
        covered = pending_ids(session)
        ids = entry_ids(session)
        total = len(ids)

        indexed: list[SearchDocument] = []

        def documents() -> Iterator[SearchDocument]:
            for done, entry_id in enumerate(ids, start=1):
                docs, _ = documents_for_entry(session, entry_id)
                indexed.extend(docs)
                yield from docs
                if progress is not None:
                    progress(done, total)

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
