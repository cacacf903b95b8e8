"""The reviewer dashboard's queues: what needs this expert's attention, in their topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, select

from kb.accounts.models import Role, User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry, Revision, RevisionState, RevisionTag
from workflow.models import Action, Certification, CertificationStatus, Flag, FlagStatus, Review, TopicExpert

EXPIRING_DAYS = 30


@dataclass
class QueueItem:
    entry: Entry
    revision: Revision
    since: object  # datetime shown as "waiting since"
    note: str = ""
    flag_id: int | None = None


@dataclass
class Dashboard:
    awaiting_review: list[QueueItem] = field(default_factory=list)
    awaiting_certification: list[QueueItem] = field(default_factory=list)
    changes_requested: list[QueueItem] = field(default_factory=list)
    flagged: list[QueueItem] = field(default_factory=list)
    expiring: list[QueueItem] = field(default_factory=list)
    needs_reverification: list[QueueItem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.__dict__.items()}


def my_topic_ids(*, session: Session, user: User) -> list[int]:
    return list(session.exec(select(TopicExpert.tag_id).where(TopicExpert.user_id == user.id)))


def _in_topics(statement, revision_column, topic_ids: list[int] | None):
    """Restrict to revisions carrying one of the topics (None = every topic)."""
    if topic_ids is None:
        return statement
    return statement.where(revision_column.in_(select(RevisionTag.revision_id).where(RevisionTag.tag_id.in_(topic_ids))))


def build(*, session: Session, actor: User) -> Dashboard:
    # Designated experts see their topics; admins and experts without designations see everything.
    topics = my_topic_ids(session=session, user=actor)
    scope = topics if topics and not actor.has_role(Role.admin) else None
    board = Dashboard()
    # Entries limited to groups the reviewer is not in are not theirs to review (kb.content.access).
    audience = access.audience_condition(actor)

    reviewed_by_me = select(Review.revision_id).where(Review.reviewer_id == actor.id)
    in_review = _in_topics(
        select(Entry, Revision).join(Revision, Revision.entry_id == Entry.id)
        .where(Revision.state == RevisionState.in_review.value, Revision.author_id != actor.id,
               Revision.id.not_in(reviewed_by_me), audience).order_by(Revision.created_at), Revision.id, scope)
    board.awaiting_review = [QueueItem(e, r, r.created_at) for e, r in session.exec(in_review)]

    approved = _in_topics(
        select(Entry, Revision).join(Revision, Revision.entry_id == Entry.id)
        .where(Revision.state == RevisionState.approved.value, Revision.author_id != actor.id, audience)
        .order_by(Revision.created_at), Revision.id, topics if not actor.has_role(Role.admin) else None)
    if topics or actor.has_role(Role.admin):
        board.awaiting_certification = [QueueItem(e, r, r.created_at) for e, r in session.exec(approved)]

    mine = (select(Entry, Revision, Review).join(Revision, Revision.entry_id == Entry.id)
            .join(Review, Review.revision_id == Revision.id)
            .where(Review.reviewer_id == actor.id, Review.decision == Action.request_changes.value,
                   Revision.state == RevisionState.changes_requested.value, Entry.deleted_at.is_(None),
                   audience).order_by(Review.created_at))
    board.changes_requested = [QueueItem(e, r, rv.created_at, rv.comment) for e, r, rv in session.exec(mine)]

    flags = _in_topics(
        select(Entry, Revision, Flag).join(Flag, Flag.entry_id == Entry.id)
        .join(Revision, Revision.id == Entry.latest_revision_id)
        .where(Flag.status == FlagStatus.open.value, Entry.deleted_at.is_(None), audience)
        .order_by(Flag.created_at), Revision.id, scope)
    board.flagged = [QueueItem(e, r, f.created_at, f"{f.reason}: {f.comment}".rstrip(": "), flag_id=f.id)
                     for e, r, f in session.exec(flags)]

    def certifications(status: str, until=None):
        statement = (select(Entry, Revision, Certification).join(Certification, Certification.entry_id == Entry.id)
                     .join(Revision, Revision.id == Certification.revision_id)
                     .where(Certification.status == status, audience).order_by(Certification.valid_until))
        if until is not None:
            statement = statement.where(Certification.valid_until <= until)
        return [QueueItem(e, r, c.valid_until) for e, r, c in session.exec(_in_topics(statement, Revision.id, scope))]

    board.expiring = certifications(CertificationStatus.active.value, utcnow() + timedelta(days=EXPIRING_DAYS))
    board.needs_reverification = certifications(CertificationStatus.needs_reverification.value)
    return board
