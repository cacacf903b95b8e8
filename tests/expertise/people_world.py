"""Scenarios for the reputation, expertise and people tests, built through the real services.

Helpers take a session and only flush, like the services; tests commit when they want to.
"""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.models import Role, User
from kb.accounts.schemas import UserCreate
from kb.content import forum
from kb.content import service as content
from kb.content.models import Entry, Revision, Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from workflow import service as workflow
from workflow.models import Action, TopicExpert
from kb.accounts.actors import SYSTEM


@pytest.fixture
def reactions():
    """The app's and the CLI's reactions to domain events (bootstrapping is idempotent)."""
    from cli.bootstrap import bootstrap

    bootstrap()


def person(db, *roles: str, name: str | None = None) -> User:
    """A user without a password (hashing one costs time and these tests never sign in)."""
    return accounts.create_user(session=db, actor=SYSTEM, data=UserCreate(
        email=f"{(name or 'user').lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}@example.com",
        display_name=name or "-".join(roles), roles=[Role(r) for r in (roles or ("agent",))], password=None))


def tag_id(db, name: str) -> int:
    return db.exec(select(Tag.id).where(Tag.name == name)).one()


def designate(db, user: User, topic: str) -> None:
    if db.get(TopicExpert, (tag_id(db, topic), user.id)) is None:
        db.add(TopicExpert(tag_id=tag_id(db, topic), user_id=user.id))
        db.flush()


def article(db, author: User, *, title: str = "Refund a cancelled order", tags=("refunds",),
            body: str = "Refund the full amount.") -> Entry:
    return content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body,
                                                                               tags=list(tags)))


def act(db, actor: User, revision_id: int, action: Action, comment: str = "") -> Revision:
    return workflow.transition(session=db, actor=actor, revision_id=revision_id, action=action, comment=comment)


def certify(db, revision_id: int, author: User, expert: User) -> None:
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        act(db, who, revision_id, action)


def new_revision(db, author: User, entry: Entry, *, body: str = "Refund the full amount within 60 days.",
                 tags=("refunds",)) -> Revision:
    db.refresh(entry)
    latest = db.get(Revision, entry.latest_revision_id)
    return content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title=latest.title, body=body, tags=list(tags), base_revision_id=entry.latest_revision_id))


def thread(db, asker: User, *answerers: User, tags=("refunds",)) -> tuple[Entry, list[Entry]]:
    question = forum.ask_question(session=db, actor=asker, data=QuestionCreate(
        title="Refund after ten days?", body="The customer cancelled after ten days.", tags=list(tags)))
    answers = [forum.answer_question(session=db, actor=who, question=question,
                                     data=AnswerCreate(body=f"Answer by {who.display_name}."))
               for who in answerers]
    return question, answers


def reload(db, entry: Entry) -> Entry:
    db.expire_all()
    return db.get(Entry, entry.id)
