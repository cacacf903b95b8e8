"""Search tables: the indexing outbox, and the facts search ranks by.

Every change that affects search writes a ``SearchOutbox`` row in the same transaction as the
change; the indexer (``search.outbox.drain``) claims pending rows, indexes the entries and marks
the rows done, or records the failure and retries later with backoff. ``SearchEntryFacts`` holds
what other packages publish about an entry in their events (``search.facts``).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from kb.clock import utcnow


class SearchOutbox(SQLModel, table=True):
    """One change to index. ``done_at``: in the lexical index; ``embedded_at``: its vectors
    computed too (hybrid search's second pass, which never holds up the first)."""

    __tablename__ = "search_outbox"
    __table_args__ = (sa.Index("ix_search_outbox_pending", "done_at", "next_attempt_at"),
                      sa.Index("ix_search_outbox_embedding", "embedded_at", "done_at"))

    id: int | None = Field(default=None, primary_key=True)
    # No foreign key: a row may outlive its entry (the indexer then deletes its documents).
    entry_id: int = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    next_attempt_at: datetime | None = Field(default=None)
    done_at: datetime | None = Field(default=None)
    embedded_at: datetime | None = Field(default=None)


class SearchEntryFacts(SQLModel, table=True):
    """What search knows about an entry beyond its content, from the events that change it
    (``search.facts``): whether its certification needs re-verification, and its rating summary.
    No row: never certified nor rated (all defaults)."""

    __tablename__ = "search_entry_facts"

    entry_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    needs_reverification: bool = False
    # The Wilson lower bound of the helpful votes (0 without votes) and the "solved my case" count.
    helpful_score: float = 0.0
    reuse_count: int = 0


class SearchLog(SQLModel, table=True):
    """One search as a person finished typing it: the content-gap reports group these by query."""

    __tablename__ = "search_log"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL")
    query: str = Field(max_length=500)
    normalised: str = Field(max_length=500, index=True)
    result_count: int
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # Made when the search is served (the row is written later, in a batch): result links carry it.
    key: str | None = Field(default=None, max_length=32, unique=True, index=True)


class SearchClick(SQLModel, table=True):
    """A result opened from a search, with its rank (1 = first)."""

    __tablename__ = "search_click"

    id: int | None = Field(default=None, primary_key=True)
    search_id: int = Field(foreign_key="search_log.id", index=True, ondelete="CASCADE")
    entry_id: int = Field(index=True)
    rank: int
    created_at: datetime = Field(default_factory=utcnow)


class SearchSynonym(SQLModel, table=True):
    """An admin-managed synonym rule: a word or phrase and what it also means, e.g.
    "money back" -> ["refund"]. Applied to both backends (query expansion)."""

    __tablename__ = "search_synonym"

    id: int | None = Field(default=None, primary_key=True)
    phrase: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    alternatives: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    updated_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    updated_at: datetime = Field(default_factory=utcnow)
