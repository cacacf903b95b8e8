"""Shared setup for workflow tests: users with roles, articles with tags, topic experts, policies.

The helpers take a session and only flush (like the services), so a test decides whether to
commit, or to roll everything back. Users are created without a password: hashing one with argon2
costs tens of milliseconds and the workflow never looks at it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from kb.accounts import service as accounts
from kb.accounts.models import Role, User
from kb.accounts.schemas import UserCreate
from kb.content import service as content
from kb.content.models import Entry, Revision, RevisionState, Tag
from kb.content.schemas import ArticleCreate, RevisionCreate
from workflow import service as wf_service
from workflow.models import Action, Certification, Policy, Review, TopicExpert, WorkflowEvent
from kb.accounts.actors import SYSTEM

S = RevisionState
TAG = "billing"
OTHER_TAG = "shipping"
REASON = "Please say more about refunds."


class WF:
    """Helpers for arranging workflow scenarios (exposed as the ``wf`` fixture)."""

    S = RevisionState
    TAG = TAG
    OTHER_TAG = OTHER_TAG
    REASON = REASON

    # --- users, topics, policies -------------------------------------------------------------

    @staticmethod
    def user(session: Session, *roles: str, name: str | None = None) -> User:
        name = name or "-".join(roles) or "agent"
        data = UserCreate(email=f"{name}-{uuid.uuid4().hex[:8]}@example.com", display_name=name,
                          roles=[Role(r) for r in (roles or ("agent",))], password=None)
        return accounts.create_user(session=session, actor=SYSTEM, data=data)

    @staticmethod
    def tag(session: Session, name: str) -> Tag:
        tag = session.exec(select(Tag).where(Tag.name == name)).first()
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
        return tag

    @classmethod
    def designate(cls, session: Session, user: User, tag: str = TAG, by: User | None = None) -> TopicExpert:
        row = TopicExpert(tag_id=cls.tag(session, tag).id, user_id=user.id, designated_by=by.id if by else None)
        session.add(row)
        session.flush()
        return row

    @classmethod
    def policy(cls, session: Session, tag: str | None = None, **fields) -> Policy:
        """Create or change the global policy (tag None) or a topic's override."""
        tag_id = cls.tag(session, tag).id if tag else None
        row = session.exec(select(Policy).where(
            Policy.tag_id.is_(None) if tag_id is None else Policy.tag_id == tag_id)).first()
        if row is None:
            row = Policy(tag_id=tag_id)
            session.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
        session.flush()
        return row

    # --- content -----------------------------------------------------------------------------

    @staticmethod
    def article(session: Session, author: User, *, tags=(TAG,), title: str = "Refund windows",
                body: str = "Refunds are possible within 30 days.") -> Entry:
        return content.create_article(session=session, actor=author,
                                      data=ArticleCreate(title=title, body=body, tags=list(tags)))

    @staticmethod
    def new_revision(session: Session, author: User, entry: Entry, *, title: str = "Refund windows v2",
                     body: str = "Refunds are possible within 60 days.", tags=(TAG,)) -> Revision:
        session.refresh(entry)
        return content.save_revision(session=session, actor=author, entry=entry, data=RevisionCreate(
            title=title, body=body, tags=list(tags), base_revision_id=entry.latest_revision_id))

    @staticmethod
    def act(session: Session, actor: User, revision: Revision | int, action: Action | str,
            comment: str = "") -> Revision:
        revision_id = revision if isinstance(revision, int) else revision.id
        return wf_service.transition(session=session, actor=actor, revision_id=revision_id,
                                     action=Action(action), comment=comment)

    @classmethod
    def drive(cls, session: Session, revision: Revision, target: RevisionState, *, author: User,
              reviewer: User) -> Revision:
        """Move a draft revision to ``target`` through the service (``reviewer`` must be able to certify)."""
        path = {
            S.draft: [],
            S.in_review: [(author, Action.submit, "")],
            S.changes_requested: [(author, Action.submit, ""), (reviewer, Action.request_changes, REASON)],
            S.rejected: [(author, Action.submit, ""), (reviewer, Action.reject, REASON)],
            S.withdrawn: [(author, Action.submit, ""), (author, Action.withdraw, "")],
            S.approved: [(author, Action.submit, ""), (reviewer, Action.approve, "")],
            S.certified: [(author, Action.submit, ""), (reviewer, Action.approve, ""), (reviewer, Action.certify, "")],
        }[S(target)]
        for actor, action, comment in path:
            cls.act(session, actor, revision, action, comment)
        session.refresh(revision)
        assert revision.state == S(target).value
        return revision

    # --- reading -----------------------------------------------------------------------------

    @staticmethod
    def events(session: Session, *, revision_id: int | None = None, entry_id: int | None = None) -> list[tuple]:
        """Audit events as plain tuples (comparable across sessions), oldest first."""
        statement = select(WorkflowEvent).order_by(WorkflowEvent.id)
        if revision_id is not None:
            statement = statement.where(WorkflowEvent.revision_id == revision_id)
        if entry_id is not None:
            statement = statement.where(WorkflowEvent.entry_id == entry_id)
        return [(e.id, e.entry_id, e.revision_id, e.actor_id, e.action, e.from_state, e.to_state, e.comment,
                 e.signature) for e in session.exec(statement.execution_options(populate_existing=True))]

    @staticmethod
    def state(session: Session, revision_id: int) -> str:
        return session.exec(select(Revision.state).where(Revision.id == revision_id)).one()

    @staticmethod
    def entry(session: Session, entry_id: int) -> Entry:
        return session.exec(select(Entry).where(Entry.id == entry_id).execution_options(populate_existing=True)).one()

    @staticmethod
    def certification(session: Session, entry_id: int) -> Certification | None:
        return session.exec(select(Certification).where(Certification.entry_id == entry_id)
                            .execution_options(populate_existing=True)).first()

    @staticmethod
    def reviews(session: Session, revision_id: int) -> list[tuple[int, str]]:
        return sorted((r.reviewer_id, r.decision) for r in session.exec(
            select(Review).where(Review.revision_id == revision_id)))


@pytest.fixture(scope="session")
def wf() -> type[WF]:
    return WF


@dataclass
class Cast:
    """The people of a workflow scenario, all committed."""

    author: User  # writes the article
    other_author: User
    agent: User
    expert: User  # expert role, not designated for the article's topic
    topic_expert: User  # expert role, designated expert of TAG
    topic_expert2: User  # a second designated expert of TAG
    admin: User
    admin_author: User  # an administrator who also writes


@pytest.fixture
def cast(db) -> Cast:
    people = Cast(
        author=WF.user(db, "author", name="author"),
        other_author=WF.user(db, "author", name="other-author"),
        agent=WF.user(db, "agent", name="agent"),
        expert=WF.user(db, "expert", name="expert"),
        topic_expert=WF.user(db, "expert", name="topic-expert"),
        topic_expert2=WF.user(db, "expert", name="topic-expert-2"),
        admin=WF.user(db, "admin", name="admin"),
        admin_author=WF.user(db, "admin", "author", name="admin-author"),
    )
    WF.designate(db, people.topic_expert, TAG, by=people.admin)
    WF.designate(db, people.topic_expert2, TAG, by=people.admin)
    db.commit()
    return people


@pytest.fixture
def article(db, cast, wf) -> Entry:
    """A committed article in draft by ``cast.author``, tagged with TAG."""
    entry = wf.article(db, cast.author)
    db.commit()
    return entry


@pytest.fixture
def set_policy(db):
    """set_policy(tag=None, required_approvals=2, ...): create or change a policy row, committed."""

    def _set(tag: str | None = None, **fields) -> Policy:
        row = WF.policy(db, tag, **fields)
        db.commit()
        return row

    return _set
