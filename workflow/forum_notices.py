"""The forum's notifications: the asker hears of each new answer and of an accepted answer, and
the answerer hears that their answer was accepted. Nobody is told of their own doing, and nobody
is told of an answer they may not open. Email follows each person's inbox preference (``mailer``).
"""

from __future__ import annotations

from sqlmodel import Session

from kb.accounts.models import User
from kb.content import access
from kb.content.models import Entry, EntryKind, Revision
from kb.events import ANSWER_ACCEPTED, ENTRY_CREATED, Event, subscribe
from workflow.notify import notify


def _may_open(session: Session, user: User | None, answer: Entry) -> bool:
    """Whether ``user`` may open the answer as it stands (forum posts are open to everyone signed
    in today; this keeps a notice from outrunning a stricter rule tomorrow)."""
    revision = session.get(Revision, answer.latest_revision_id) if answer.latest_revision_id else None
    return user is not None and revision is not None and access.can_view_revision(user, answer, revision)


def _thread(session: Session, answer: Entry) -> tuple[Entry, str] | None:
    question = session.get(Entry, answer.parent_id) if answer.parent_id else None
    if question is None or question.latest_revision_id is None:
        return None
    return question, session.get(Revision, question.latest_revision_id).title


def _on_answer_created(session: Session, event: Event) -> None:
    if event.data.get("kind") != EntryKind.answer.value or event.data.get("imported"):
        return
    answer = session.get(Entry, event.entry_id)
    thread = _thread(session, answer) if answer is not None else None
    if thread is None:
        return
    question, title = thread
    asker, answerer = session.get(User, question.author_id), session.get(User, answer.author_id)
    if not _may_open(session, asker, answer):
        return
    notify(session=session, users=[asker], kind="question_answered", entry_id=question.id,
           link=f"/questions/{question.id}#answer-{answer.id}", exclude=answerer,
           message=f"{answerer.display_name} answered your question “{title}”.")


def _on_answer_accepted(session: Session, event: Event) -> None:
    answer = session.get(Entry, event.entry_id)
    thread = _thread(session, answer) if answer is not None else None
    if thread is None or event.data.get("previous_answer_id") == answer.id:
        return  # accepting the accepted answer again changes nothing
    question, title = thread
    actor = session.get(User, event.actor_id) if event.actor_id else None
    asker, answerer = session.get(User, question.author_id), session.get(User, answer.author_id)
    link = f"/questions/{question.id}#answer-{answer.id}"
    by = f"{actor.display_name} accepted" if actor is not None else "kb accepted"
    if _may_open(session, answerer, answer):
        notify(session=session, users=[answerer], kind="answer_accepted", entry_id=question.id, link=link,
               exclude=actor, message=f"{by} your answer to “{title}”.")
    if asker is not None and asker.id != answerer.id and _may_open(session, asker, answer):
        notify(session=session, users=[asker], kind="question_accepted", entry_id=question.id, link=link,
               exclude=actor, message=f"{by} an answer by {answerer.display_name} to your question “{title}”.")


def register() -> None:
    """Subscribe the forum's notifications (idempotent)."""
    subscribe(ENTRY_CREATED, _on_answer_created)
    subscribe(ANSWER_ACCEPTED, _on_answer_accepted)
