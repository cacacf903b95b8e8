"""Question routing: a new forum question notifies the top experts of its tags (level 0), and an
unanswered one escalates to the next experts (level 1, 2, ...) after the topic's waiting time.

``QuestionRoute`` remembers who was told and when, so nobody is told twice about one question
and the waiting time counts from the last routing. The asker is never notified, and only people
who can answer (authors, experts, admins) are. Escalation first reaches further down the topic's
experts, then everyone with the expert role, up to ``MAX_ESCALATION_LEVEL``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry, EntryKind, Revision
from kb.events import ENTRY_CREATED, Event, subscribe
from expertise.models import QuestionRoute
from expertise.routing import TopicCandidate, effective_routing, ranked_role_experts, ranked_topic_experts
from workflow.expiry import as_utc
from workflow.notify import notify
from workflow.policy import revision_tag_ids

# Level 0 is the first routing; after this many escalations an unanswered question stays with
# the people already told (the forum's "unanswered" list still shows it to everyone).
MAX_ESCALATION_LEVEL = 3


def _question_tags(session: Session, question: Entry) -> list[int]:
    return revision_tag_ids(session=session, revision_id=question.latest_revision_id) if question.latest_revision_id else []


def _next_experts(session: Session, question: Entry, tag_ids: list[int], *, count: int, widen: bool) -> list[User]:
    """The next ``count`` people to tell: topic experts not told yet; when there are none (or
    ``widen``, for an escalation), then the other users with the expert role."""
    told = set(session.exec(select(QuestionRoute.user_id).where(QuestionRoute.question_id == question.id)))
    topic = ranked_topic_experts(session=session, tag_ids=tag_ids)
    circle: list[TopicCandidate] = list(topic)
    if widen or not topic:
        circle += ranked_role_experts(session=session)
    chosen: list[User] = []
    for candidate in circle:
        user = candidate.user
        if len(chosen) >= count:
            break
        if user.id == question.author_id or user.id in told or not access.can_answer(user):
            continue
        told.add(user.id)
        chosen.append(user)
    return chosen


def _route(session: Session, question: Entry, experts: list[User], *, level: int, now: datetime) -> list[User]:
    """Record and notify; a person a concurrent run recorded first is skipped (told once)."""
    routed = []
    for user in experts:
        try:
            with session.begin_nested():
                session.add(QuestionRoute(question_id=question.id, user_id=user.id, level=level, created_at=now))
                session.flush()
        except IntegrityError:
            continue
        routed.append(user)
    if routed:
        title = session.get(Revision, question.latest_revision_id).title
        message = (f"A question in your topics needs an expert: “{title}”." if level == 0 else
                   f"Still unanswered after escalation {level}: “{title}”. Can you help?")
        notify(session=session, users=routed, kind="question_routed" if level == 0 else "question_escalated",
               entry_id=question.id, link=f"/questions/{question.id}", message=message)
    return routed


def route_question(*, session: Session, question: Entry) -> list[User]:
    """Tell the top experts of a new question's tags (level 0). Returns who was told."""
    tag_ids = _question_tags(session, question)
    rules = effective_routing(session=session, tag_ids=tag_ids)
    if rules.notify_experts <= 0:
        return []
    experts = _next_experts(session, question, tag_ids, count=rules.notify_experts, widen=False)
    return _route(session, question, experts, level=0, now=utcnow())


def escalate_unanswered(*, session: Session, now: datetime | None = None) -> int:
    """Escalate every routed question still without an answer whose last routing is older than
    its topic's ``escalate_after_hours``; returns how many questions were escalated."""
    now = as_utc(now) if now is not None else utcnow()
    answered = select(Entry.parent_id).where(Entry.kind == EntryKind.answer.value, Entry.parent_id.is_not(None))
    waiting = session.exec(
        select(QuestionRoute.question_id, func.max(QuestionRoute.level), func.max(QuestionRoute.created_at))
        .join(Entry, Entry.id == QuestionRoute.question_id)
        .where(Entry.kind == EntryKind.question.value, Entry.id.not_in(answered))
        .group_by(QuestionRoute.question_id)
        .having(func.max(QuestionRoute.level) < MAX_ESCALATION_LEVEL)
        .order_by(QuestionRoute.question_id)
    ).all()
    escalated = 0
    for question_id, level, last_routed in waiting:
        question = session.get(Entry, question_id)
        tag_ids = _question_tags(session, question)
        rules = effective_routing(session=session, tag_ids=tag_ids)
        if as_utc(last_routed) + timedelta(hours=rules.escalate_after_hours) > now:
            continue
        experts = _next_experts(session, question, tag_ids, count=max(rules.notify_experts, 1), widen=True)
        if _route(session, question, experts, level=level + 1, now=now):
            escalated += 1
    return escalated


def _on_entry_created(session: Session, event: Event) -> None:
    # Imported questions are history, not new requests for help (when the importer says so).
    if event.data.get("kind") != EntryKind.question.value or event.data.get("imported"):
        return
    question = session.get(Entry, event.entry_id)
    if question is not None:
        route_question(session=session, question=question)


def register() -> None:
    """Subscribe question routing to new entries (idempotent)."""
    subscribe(ENTRY_CREATED, _on_entry_created)
