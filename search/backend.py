"""The search contract every backend implements (embedded tantivy, Meilisearch).

One ``SearchDocument`` per entry and audience: the certified revision is ``public``; a newer or
uncertified revision is ``restricted`` to its author, reviewers (experts) and admins. Visibility
is enforced in the query (``Viewer``), never by filtering results afterwards, so counts, facets
and snippets never leak a draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Audience = Literal["public", "restricted"]
EVERYONE = "everyone"


def group_token(group_id: int) -> str:
    """How a group an entry is limited to is written in its documents' ``groups``."""
    return f"g{int(group_id)}"


@dataclass(frozen=True)
class SearchDocument:
    id: str  # "<entry_id>:<audience>", e.g. "42:public"
    entry_id: int
    revision_id: int
    kind: str  # article | question | answer
    title: str
    body: str  # plain text (kb.markdown.plain_text), not Markdown
    tags: list[str]
    audience: Audience
    author_id: int
    state: str  # the revision's workflow state
    certified: bool
    needs_reverification: bool = False
    updated_at: datetime | None = None
    # Quality signals for ranking (the expertise issue fills them in).
    helpful_score: float = 0.0
    reuse_count: int = 0
    # The entry's author (who may see every revision of it); None: the revision's author.
    entry_author_id: int | None = None
    # An accepted answer: its question's title and text, searchable with less weight than its own
    # text (search.documents); empty for every other document.
    context: str = ""
    accepted: bool = False
    # An answer's question (entry id); None for articles and questions.
    question_id: int | None = None
    # Who may find it at all (audiences, ``kb.content.access.audience_allows``): ``EVERYONE``, or
    # one ``group_token`` per group the entry is limited to (none: its authors and admins only).
    groups: tuple[str, ...] = ("everyone",)


@dataclass(frozen=True)
class Viewer:
    """Who is searching. Restricted documents are visible to their authors, to reviewers when in
    review, and to admins, and only when ``include_drafts`` is on (``search.visibility``)."""

    user_id: int
    is_admin: bool = False
    is_reviewer: bool = False
    include_drafts: bool = False
    #: The groups the searcher belongs to: entries limited to groups are found only by their
    #: members (besides their authors and admins).
    group_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    text: str
    viewer: Viewer
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    certified_only: bool = False
    limit: int = 20
    offset: int = 0
    #: Hybrid search (lexical + semantic) when the backend has vectors; False: lexical only. The
    #: agents' search (search.service.search) asks for it; other callers (the expert finder) opt in.
    semantic: bool = False


@dataclass(frozen=True)
class Hit:
    entry_id: int
    revision_id: int
    kind: str
    title: str  # HTML-escaped, with <mark> around matched terms
    snippet: str  # HTML-escaped, with <mark> around matched terms
    tags: list[str]
    certified: bool
    needs_reverification: bool
    audience: Audience
    state: str
    score: float
    #: A confident match (``search.fusion``); the others are shown as "possibly related".
    confident: bool = True


@dataclass(frozen=True)
class SearchResults:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # {"tag": {...}, "kind": {...}}


class SearchBackend(Protocol):
    name: str

    def index(self, docs: list[SearchDocument]) -> None:
        """Add or replace documents (by id); visible to searches when this returns."""

    def delete(self, ids: list[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def search(self, query: SearchQuery) -> SearchResults: ...

    def health(self) -> dict:
        """{"status": "ok" | "down", ...} without raising."""

    def clear(self) -> None:
        """Remove every document."""


class VectorBackend(Protocol):
    """Hybrid search: what the indexer's second pass (``search.outbox``) needs from a backend.

    ``index`` keeps a document's vectors only while it still describes the same revision; the
    indexer computes vectors afterwards and sends them with ``index_vectors``."""

    semantic: bool

    def vector_model(self) -> str | None:
        """The model id the stored vectors were made with (None: none yet)."""

    def reset_vectors(self, model_id: str) -> None:
        """Drop every vector; those that follow come from ``model_id``."""

    def index_vectors(self, docs: list[SearchDocument], vectors: list) -> int:
        """Store the chunk vectors (n x 384 each) of documents that are indexed at the same
        revision; others are skipped. Returns how many were stored."""
