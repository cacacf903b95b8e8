"""The internal forum: questions, answers, accepting an answer, promoting it to an article."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content.models import Entry, EntryKind, Revision, RevisionTag, Tag
from kb.content.schemas import AnswerCreate, QuestionCreate
from kb.content.service import create_entry, get_entry, tags_of, touch_activity
from kb.errors import Conflict, Forbidden
from kb.events import ANSWER_ACCEPTED, ANSWER_PROMOTED, Event, publish
from kb.markdown import escape_inline

QuestionFilter = Literal["all", "unanswered", "answered"]
QuestionOrder = Literal["newest", "active"]
ForumState = Literal["open", "answered", "accepted"]


@dataclass(frozen=True)
class QuestionPage:
    questions: list[Entry]
    total: int


def ask_question(*, session: Session, actor: User, data: QuestionCreate) -> Entry:
    return create_entry(session=session, actor=actor, kind=EntryKind.question, title=data.title, body=data.body,
                        tags=data.tags)


def answer_question(*, session: Session, actor: User, question: Entry, data: AnswerCreate) -> Entry:
    if question.kind != EntryKind.question.value:
        raise Conflict("Answers belong to questions.")
    if not access.can_answer(actor):
        raise Forbidden("Only authors, experts and admins can answer questions.")
    title = session.get(Revision, question.latest_revision_id).title
    # An answer carries its question's tags, so it counts toward the same topics.
    tags = tags_of(session=session, revision_ids=[question.latest_revision_id])[question.latest_revision_id]
    answer = create_entry(session=session, actor=actor, kind=EntryKind.answer, title=f"Re: {title}"[:200],
                          body=data.body, tags=tags, parent=question)
    touch_activity(session=session, entry_id=question.id)
    return answer


def answers_to(*, session: Session, question: Entry) -> list[Entry]:
    """Accepted answer first, then oldest first."""
    answers = list(session.exec(select(Entry).where(Entry.parent_id == question.id).order_by(Entry.created_at, Entry.id)))
    return sorted(answers, key=lambda a: a.id != question.accepted_answer_id)


def accept_answer(*, session: Session, actor: User, answer: Entry) -> Entry:
    """Mark ``answer`` as the accepted one of its question; accepting again switches the choice."""
    if answer.kind != EntryKind.answer.value:
        raise Conflict("Only answers can be accepted.")
    question = session.get(Entry, answer.parent_id)
    if not access.can_accept(actor, question):
        raise Forbidden("Only the person who asked, an expert or an admin can accept an answer.")
    previous = question.accepted_answer_id
    session.exec(update(Entry).where(Entry.id == question.id).values(accepted_answer_id=answer.id))
    session.refresh(question)
    touch_activity(session=session, entry_id=question.id)
    publish(session=session, event=Event(ANSWER_ACCEPTED, entry_id=answer.id, actor_id=actor.id, data={
        "question_id": question.id, "previous_answer_id": previous, "asker_id": question.author_id,
        "answerer_id": answer.author_id}))
    return question


def promote_answer(*, session: Session, actor: User, answer: Entry) -> Entry:
    """A new article draft from an answer, linking back to the thread.

    The answer's author stays the author (it is their text: they see and edit the draft, and its
    certification credits them); whoever turned it into an article is its co-author. An answer is
    turned into an article once: again is a Conflict naming the article (``details["article_id"]``)."""
    if answer.kind != EntryKind.answer.value:
        raise Conflict("Only answers can be promoted to articles.")
    if not access.can_write_articles(actor):
        raise Forbidden("Only authors, experts and admins can turn answers into articles.")
    existing = promotions_of(session=session, answer_ids=[answer.id]).get(answer.id)
    if existing is not None:
        raise _already_promoted(existing)
    question = session.get(Entry, answer.parent_id)
    question_revision = session.get(Revision, question.latest_revision_id)
    answer_revision = session.get(Revision, answer.latest_revision_id)
    author = session.get(User, answer.author_id)
    tags = tags_of(session=session, revision_ids=[question_revision.id])[question_revision.id]
    body = (
        f"{answer_revision.body.rstrip()}\n\n---\n\n"
        f"*Based on the answer by {escape_inline(author.display_name)} to the forum question "
        f"[{escape_inline(question_revision.title)}](/questions/{question.id}#answer-{answer.id}).*\n"
    )
    try:
        with session.begin_nested():  # two clicks at once: the unique promoted_from_id picks one
            article = create_entry(session=session, actor=actor, kind=EntryKind.article, title=question_revision.title,
                                   body=body, tags=tags, promoted_from=answer, author=author, co_author=actor)
    except IntegrityError:
        raise _already_promoted(promotions_of(session=session, answer_ids=[answer.id])[answer.id]) from None
    publish(session=session, event=Event(ANSWER_PROMOTED, entry_id=answer.id, actor_id=actor.id,
                                         data={"article_id": article.id, "author_id": author.id}))
    return article


def _already_promoted(article: Entry) -> Conflict:
    return Conflict("This answer was already turned into an article.", details={"article_id": article.id})


def promotions_of(*, session: Session, answer_ids: list[int]) -> dict[int, Entry]:
    """The article each of these answers was turned into (answer id -> article), in one query."""
    if not answer_ids:
        return {}
    articles = session.exec(select(Entry).where(Entry.promoted_from_id.in_(answer_ids)))
    return {article.promoted_from_id: article for article in articles}


def forum_state(question: Entry, answer_count: int) -> ForumState:
    """A question in the forum's words: open (no answer yet), answered, or accepted."""
    if question.accepted_answer_id is not None:
        return "accepted"
    return "answered" if answer_count else "open"


def list_questions(
    *, session: Session, status: QuestionFilter = "all", tag: str | None = None, order: QuestionOrder = "newest",
    limit: int = 20, offset: int = 0,
) -> QuestionPage:
    statement = select(Entry).where(Entry.kind == EntryKind.question.value)
    answer = aliased(Entry)
    answered = select(answer.parent_id).where(answer.kind == EntryKind.answer.value)
    if status == "answered":
        statement = statement.where(Entry.id.in_(answered))
    elif status == "unanswered":
        statement = statement.where(Entry.id.not_in(answered))
    if tag:
        statement = statement.where(
            Entry.latest_revision_id.in_(
                select(RevisionTag.revision_id).join(Tag, Tag.id == RevisionTag.tag_id).where(Tag.name == tag)
            )
        )
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    ordering = Entry.activity_at.desc() if order == "active" else Entry.created_at.desc()
    questions = list(session.exec(statement.order_by(ordering, Entry.id.desc()).limit(limit).offset(offset)))
    return QuestionPage(questions=questions, total=total)


def answer_counts(*, session: Session, question_ids: list[int]) -> dict[int, int]:
    if not question_ids:
        return {}
    rows = session.exec(
        select(Entry.parent_id, func.count()).where(Entry.parent_id.in_(question_ids)).group_by(Entry.parent_id)
    )
    counts = dict.fromkeys(question_ids, 0)
    counts.update({parent: n for parent, n in rows})
    return counts


def get_question(*, session: Session, actor: User, question_id: int) -> Entry:
    return get_entry(session=session, actor=actor, entry_id=question_id, kind=EntryKind.question)


def get_answer(*, session: Session, actor: User, answer_id: int) -> Entry:
    return get_entry(session=session, actor=actor, entry_id=answer_id, kind=EntryKind.answer)
