"""Tables for knowledge content. Revisions are immutable once written; entries point at them."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from kb.clock import utcnow


class EntryKind(str, enum.Enum):
    article = "article"
    question = "question"
    answer = "answer"


class RevisionState(str, enum.Enum):
    """Per-revision workflow state; the transitions between them live in ``workflow``."""

    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"
    certified = "certified"
    rejected = "rejected"
    withdrawn = "withdrawn"
    superseded = "superseded"
    # A draft its author threw away (``kb.content.removal.discard_draft``): kept for the audit trail,
    # never current again.
    discarded = "discarded"


class Tag(SQLModel, table=True):
    """A normalised tag; tags double as expertise topics."""

    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)


class Entry(SQLModel, table=True):
    __tablename__ = "entry"
    __table_args__ = (
        sa.Index("ix_entry_kind_activity", "kind", "activity_at"),
        # An answer is turned into an article once (the thread then links to that article).
        sa.Index("uq_entry_promoted_from_id", "promoted_from_id", unique=True),
        # ``kb import``: a file imported again finds its entry instead of duplicating it.
        sa.Index("ix_entry_kind_source_key", "kind", "source_key", unique=True),
        sa.Index("ix_entry_source_key", "source_key"),  # its lookup by key, whatever the kind
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    # An answer belongs to a question.
    parent_id: int | None = Field(default=None, foreign_key="entry.id", index=True, ondelete="CASCADE")
    author_id: int = Field(foreign_key="user_account.id", index=True)
    # A second person with an author's rights (sees and edits the drafts). On an article turned
    # from a forum answer: whoever turned it into an article (the answer's author is the author).
    co_author_id: int | None = Field(default=None, foreign_key="user_account.id")
    latest_revision_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("revision.id", use_alter=True), nullable=True)
    )
    certified_revision_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("revision.id", use_alter=True), nullable=True)
    )
    # On a question: its accepted answer.
    accepted_answer_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("entry.id", use_alter=True), nullable=True)
    )
    # On an article promoted from a forum answer: that answer (attribution and link back).
    promoted_from_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("entry.id", use_alter=True), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow)
    # Last change to the entry or (for a question) to its answers: "most active" ordering.
    activity_at: datetime = Field(default_factory=utcnow)
    # Where ``kb import`` took it from: the file's ``source_id`` (default: its path in the folder).
    source_key: str | None = Field(default=None, max_length=255)
    # A draft article its author deleted (``kb.content.removal.delete_draft_entry``): the row stays
    # for the audit trail, and nobody sees the entry any more (``kb.content.access``).
    deleted_at: datetime | None = None
    # Audience (``kb.content.audiences``): True when the entry is limited to the groups of its
    # ``EntryAudience`` rows (only they, its authors and admins see it); False: everyone signed in.
    # Kept beside the rows so that the common case needs no query (``kb.content.access``).
    limited_to_groups: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Customer-facing: ``kb publish`` puts its certified revision in the static help centre.
    public: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})

    audience_rows: list["EntryAudience"] = Relationship(
        sa_relationship_kwargs={"lazy": "select", "cascade": "all, delete-orphan"})


class Revision(SQLModel, table=True):
    __tablename__ = "revision"
    __table_args__ = (sa.UniqueConstraint("entry_id", "number", name="uq_revision_entry_number"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    number: int
    # The revision this one was edited from (None for the first).
    parent_id: int | None = Field(default=None, foreign_key="revision.id")
    title: str = Field(max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    author_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    state: str = Field(default=RevisionState.draft.value, max_length=24, index=True)


class RevisionTag(SQLModel, table=True):
    __tablename__ = "revision_tag"

    revision_id: int = Field(foreign_key="revision.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True)
    position: int = 0


class EditorDraft(SQLModel, table=True):
    """The editor's autosaved working copy: private scratch, not history. Saving makes a Revision."""

    __tablename__ = "editor_draft"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    entry_id: int | None = Field(default=None, foreign_key="entry.id", index=True, ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="entry.id", ondelete="CASCADE")
    base_revision_id: int | None = Field(default=None, foreign_key="revision.id", ondelete="SET NULL")
    title: str = Field(default="", max_length=200)
    body: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    tags: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)


class Attachment(SQLModel, table=True):
    """An uploaded file, stored by content hash under the data directory."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, index=True)
    size: int
    content_type: str = Field(max_length=100)
    filename: str = Field(max_length=200)
    # Set when the attachment is used by an entry; until then only its uploader can see it.
    entry_id: int | None = Field(default=None, foreign_key="entry.id", index=True, ondelete="SET NULL")
    uploader_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class FormSubmission(SQLModel, table=True):
    """A one-time form token that was used: the entry its first post created. A second post with
    the same token (Back and Post again, a double click) leads to that entry instead of a copy."""

    __tablename__ = "form_submission"

    token: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    purpose: str = Field(max_length=40)
    entry_id: int | None = Field(default=None, foreign_key="entry.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class EntryAudience(SQLModel, table=True):
    """A group an entry is limited to (see ``Entry.limited_to_groups``)."""

    __tablename__ = "entry_audience"

    entry_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="user_group.id", primary_key=True, index=True, ondelete="CASCADE")
