"""Expertise tables: ratings (votes, reuse), reputation, expertise per user x topic, and routing.

``entry_rating`` is a per-entry summary kept up to date in the same transaction as every vote and
reuse; the search documents read it (through a lightweight table reference, ``search`` may not
import ``expertise``) to rank by quality.
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from kb.clock import utcnow


class ReuseSource(str, enum.Enum):
    entry = "entry"  # the "Used to solve a case" button on the entry page
    search = "search"  # "Copy answer" in the search results
    api = "api"
    panel = "panel"  # "Copy answer" and "Used to solve this case" in the helpdesk side panel


class Vote(SQLModel, table=True):
    """One person's helpful (+1) / not helpful (-1) vote on an article or answer."""

    __tablename__ = "vote"
    __table_args__ = (sa.UniqueConstraint("entry_id", "user_id", name="uq_vote_entry_user"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    value: int  # 1 or -1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Reuse(SQLModel, table=True):
    """"Used to solve a case": an entry linked to a customer case (the KCS link rate)."""

    __tablename__ = "reuse"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    revision_id: int | None = Field(default=None, foreign_key="revision.id", ondelete="SET NULL")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    case_ref: str = Field(default="", max_length=100)
    source: str = Field(default=ReuseSource.entry.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class EntryRating(SQLModel, table=True):
    """Summary of an entry's votes and reuse (what ranking and lists read)."""

    __tablename__ = "entry_rating"

    entry_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    helpful: int = 0
    not_helpful: int = 0
    # Wilson score lower bound (95 %) of the helpful share; 0 without votes.
    wilson: float = 0.0
    reuse_count: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class ReputationEvent(SQLModel, table=True):
    """Append-only: points a user earned or lost, and why. Rules live in ``expertise.reputation``."""

    __tablename__ = "reputation_event"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    points: int
    entry_id: int | None = Field(default=None, foreign_key="entry.id", index=True, ondelete="SET NULL")
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # Identifies the fact behind the points ("vote:12:7"), so replays never count it twice.
    key: str | None = Field(default=None, max_length=120, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ExpertiseScore(SQLModel, table=True):
    """How much a user knows about a topic (tag): a decayed sum of evidence, with its parts."""

    __tablename__ = "expertise_score"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")
    score: float = Field(default=0.0, index=True)
    # {"certified_articles": 2.7, "reviews": 1.1, ...}: the score's parts, shown as evidence.
    components: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Endorsement(SQLModel, table=True):
    """A colleague vouches for a user's knowledge of a topic."""

    __tablename__ = "endorsement"

    endorser_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class TopicInterest(SQLModel, table=True):
    """A user's self-declared interest in (knowledge of) a topic."""

    __tablename__ = "topic_interest"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class TopicRouting(SQLModel, table=True):
    """Routing rules of a topic (tag_id NULL: the global default)."""

    __tablename__ = "topic_routing"

    id: int | None = Field(default=None, primary_key=True)
    tag_id: int | None = Field(default=None, foreign_key="tag.id", ondelete="CASCADE",
                               sa_column_kwargs={"unique": True})
    # Assign the best suggested reviewers automatically when a revision is submitted.
    auto_assign: bool = False
    # How many experts a new question notifies, and when (hours) an unanswered one escalates.
    notify_experts: int = Field(default=3, ge=0, le=20)
    escalate_after_hours: int = Field(default=24, ge=1, le=24 * 30)


class ReviewAssignment(SQLModel, table=True):
    """A reviewer asked (by the author, an admin or automatically) to review a revision."""

    __tablename__ = "review_assignment"

    revision_id: int = Field(foreign_key="revision.id", primary_key=True, ondelete="CASCADE")
    reviewer_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE")
    assigned_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    automatic: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class QuestionRoute(SQLModel, table=True):
    """An expert told about an open question; level 0 at posting, 1, 2, ... at each escalation."""

    __tablename__ = "question_route"

    question_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    level: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
