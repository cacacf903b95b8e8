"""Workflow tables: policy (definition) apart from runtime state (reviews, certifications, flags),
an append-only audit trail, and notifications."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from kb.clock import utcnow


class Action(str, enum.Enum):
    submit = "submit"
    withdraw = "withdraw"
    approve = "approve"
    request_changes = "request-changes"
    reject = "reject"
    resubmit = "resubmit"
    certify = "certify"


class CertificationAction(str, enum.Enum):
    """What an expert does with an entry's live certification. Apart from ``Action`` because these act
    on the entry, not on a revision: ``/revisions/{id}/{action}`` must keep refusing them."""

    reverify = "reverify"
    archive = "archive"


class CertificationStatus(str, enum.Enum):
    active = "active"
    needs_reverification = "needs_reverification"
    archived = "archived"


class Policy(SQLModel, table=True):
    """Review rules: one global row (tag_id NULL) and optional per-topic overrides."""

    __tablename__ = "workflow_policy"

    id: int | None = Field(default=None, primary_key=True)
    tag_id: int | None = Field(default=None, foreign_key="tag.id", ondelete="CASCADE",
                               sa_column_kwargs={"unique": True})
    required_approvals: int = Field(default=1, ge=1, le=10)
    validity_days: int = Field(default=90, ge=1, le=3650)
    reminder_days: int = Field(default=14, ge=0, le=365)
    approval_certifies: bool = False
    # When true, whoever approved a revision may not also certify it: author, approver and certifier
    # are three people (four eyes in full).
    approver_cannot_certify: bool = False
    # When true, only designated experts of the topic may review (approve, request changes, reject).
    experts_only_review: bool = False
    # When set, users whose expertise score in the topic reaches it count as its experts too
    # (besides the designated ones) for review and certification.
    expert_min_score: float | None = Field(default=None, ge=0)


class TopicExpert(SQLModel, table=True):
    """An admin's designation of a user as expert of a topic (tag)."""

    __tablename__ = "topic_expert"

    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE", index=True)
    designated_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)


class ReviewerScore(SQLModel, table=True):
    """A user's expertise score in a topic, as ``expertise`` hands it to workflow
    (``workflow.reviewer_scores.record``) each time it recomputes one: the fact a policy's
    ``expert_min_score`` is compared with. Workflow keeps its own copy because it may not import
    expertise, and reading expertise's table by name would break silently on a rename."""

    __tablename__ = "reviewer_score"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")
    score: float = 0.0


class Review(SQLModel, table=True):
    """One reviewer's decision on one revision; each reviewer counts once per revision."""

    __tablename__ = "review"
    __table_args__ = (sa.UniqueConstraint("revision_id", "reviewer_id", name="uq_review_revision_reviewer"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="revision.id", index=True, ondelete="CASCADE")
    reviewer_id: int = Field(foreign_key="user_account.id", index=True)
    decision: str = Field(max_length=24)
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow)


class Certification(SQLModel, table=True):
    """The live certification of an entry (its certified revision is ``entry.certified_revision_id``)."""

    __tablename__ = "certification"

    entry_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    revision_id: int = Field(foreign_key="revision.id")
    certified_by: int = Field(foreign_key="user_account.id")
    certified_at: datetime
    valid_until: datetime = Field(index=True)
    status: str = Field(default=CertificationStatus.active.value, max_length=24, index=True)
    reminder_sent_at: datetime | None = None
    reverified_by: int | None = Field(default=None, foreign_key="user_account.id")
    reverified_at: datetime | None = None
    archived_by: int | None = Field(default=None, foreign_key="user_account.id")
    archived_at: datetime | None = None
    version: int = 1


class WorkflowEvent(SQLModel, table=True):
    """The audit trail. Append-only: rows are written once and never changed or deleted (the ORM
    refuses, and database triggers refuse raw SQL too). Workflow events belong to an entry;
    administrative events (users, roles, tokens, experts, policies, routing, synonyms) have no entry
    and name what they changed in ``target``."""

    __tablename__ = "workflow_event"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int | None = Field(default=None, foreign_key="entry.id", index=True, ondelete="CASCADE")
    revision_id: int | None = Field(default=None, foreign_key="revision.id", ondelete="CASCADE")
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    action: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    # What the actor's action means, e.g. "approved as reviewer", "certified as expert of billing".
    signature: str = Field(default="", max_length=200)
    # What an administrative event changed, e.g. "ana@example.com", "policy of billing".
    target: str = Field(default="", sa_column=sa.Column(sa.String(200), nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class FlagReason(str, enum.Enum):
    outdated = "outdated"
    incorrect = "incorrect"
    unclear = "unclear"
    duplicate = "duplicate"


class FlagStatus(str, enum.Enum):
    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"


class Flag(SQLModel, table=True):
    __tablename__ = "flag"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    revision_id: int | None = Field(default=None, foreign_key="revision.id", ondelete="SET NULL")
    flagger_id: int = Field(foreign_key="user_account.id", index=True)
    reason: str = Field(max_length=16)
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    status: str = Field(default=FlagStatus.open.value, max_length=16, index=True)
    resolution: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    resolved_by: int | None = Field(default=None, foreign_key="user_account.id")
    resolved_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class NotificationMode(str, enum.Enum):
    immediate = "immediate"
    daily = "daily"
    off = "off"


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_read", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    entry_id: int | None = Field(default=None, foreign_key="entry.id", ondelete="CASCADE")
    message: str = Field(max_length=500)
    link: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
    emailed_at: datetime | None = None


class NotificationPreference(SQLModel, table=True):
    __tablename__ = "notification_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    mode: str = Field(default=NotificationMode.immediate.value, max_length=16)
    last_digest_at: datetime | None = None


# Attempts before a webhook delivery shows as failed: with ``workflow.webhook_sender.backoff`` about
# five hours of retries.
WEBHOOK_MAX_ATTEMPTS = 12


class Webhook(SQLModel, table=True):
    """An address an administrator registered to hear of some events (``workflow.webhooks``). The
    secret signs every delivery (HMAC-SHA256), so it is kept as generated: a hash could not sign."""

    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    # The webhook event names (``workflow.webhooks.EVENTS``) it is sent.
    events: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    secret: str = Field(max_length=100)
    active: bool = True
    created_by: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: written in the transaction of the change (a rolled-back change
    sends nothing, a committed one is never lost), sent afterwards by ``workflow.webhook_sender``.
    ``delivery_id`` is the ``X-KB-Delivery`` header: the same on every attempt, so receivers drop
    a repeat. Pending: neither ``delivered_at`` nor ``failed_at``."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.Index("ix_webhook_delivery_due", "delivered_at", "failed_at", "next_attempt_at"),
                      sa.Index("ix_webhook_delivery_webhook", "webhook_id", "id"))

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", ondelete="CASCADE")
    delivery_id: str = Field(max_length=36, sa_column_kwargs={"unique": True})
    event: str = Field(max_length=40)
    # The body's content as of the event (links as paths: the sender prefixes KB_BASE_URL).
    payload: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    # It is marked failed once ``attempts`` reaches this ("Retry now" grants another series).
    attempt_limit: int = WEBHOOK_MAX_ATTEMPTS
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A sender claims a delivery until ``lease_until``; ``lease_token`` proves the claim is still its own.
    lease_until: datetime | None = None
    lease_token: str | None = Field(default=None, max_length=32)
    last_attempt_at: datetime | None = None
    last_status: int | None = None  # the receiver's HTTP status; None: no answer
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
