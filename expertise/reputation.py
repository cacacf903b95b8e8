"""Reputation: points people earn (or lose) for what their colleagues make of their work.

The ledger (``reputation_event``) is append-only: a row is written once and never changed or
deleted. Points come from one table of rules, ``RULES``:

========================  ======  ==========================================================
kind                      points  to whom, when
========================  ======  ==========================================================
``answer_accepted``          +15  the answer's author, when it becomes its question's accepted
                                  answer (not for answering your own question, nor accepting
                                  your own answer)
``article_certified``        +25  the certified revision's author; for an article turned from a
                                  forum answer, the answer's author (the event's
                                  ``credited_author_id``), whoever edited it since
``answer_certified``         +20  the certified revision's author
``helpful_vote``              +5  the rated work's author, per helpful vote
``not_helpful_vote``          -2  the rated work's author, per not-helpful vote
``reuse``                     +2  the author of work "used to solve a case" by a colleague
``review``                    +2  the reviewer, per decision (approve, request changes, reject)
``reverification``            +2  the expert who re-verified a certification
``flag_upheld``               -5  the author of a flagged revision, when a newer certified
                                  revision resolves the flag (the content had to change)
========================  ======  ==========================================================

A changeable fact (a vote, the accepted answer) is settled by *compensating* events: when it is
undone or changed, an ``acceptance_withdrawn`` / ``vote_withdrawn`` event cancels the points
given before (its points are their negation), then the new fact is written. Dismissed flags,
archived or superseded content and expired certifications take nothing back: the work was done.

Every row carries a unique ``key`` naming the fact ("certified:42", "vote:7:3:0"), so the same
fact never counts twice, whether an event is replayed or two requests race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.db import append_only
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision, RevisionTag, Tag
from kb.errors import Conflict, NotFound
from kb.events import (
    ANSWER_ACCEPTED, CERTIFICATION_CHANGED, ENTRY_REUSED, FLAG_CHANGED, REVISION_TRANSITION, VOTE_CHANGED,
    Event, subscribe
)
from expertise.models import ReputationEvent
from workflow.models import Action, Certification, Flag
from workflow.transitions import REVIEW_ACTIONS


@dataclass(frozen=True)
class Rule:
    points: int
    says: str  # how a person's activity list says it


RULES: dict[str, Rule] = {
    "answer_accepted": Rule(15, "Answer accepted"),
    "article_certified": Rule(25, "Article certified"),
    "answer_certified": Rule(20, "Answer certified"),
    "helpful_vote": Rule(5, "Helpful vote received"),
    "not_helpful_vote": Rule(-2, "Not-helpful vote received"),
    "reuse": Rule(2, "Work used to solve a case"),
    "review": Rule(2, "Review done"),
    "reverification": Rule(2, "Certification re-verified"),
    "flag_upheld": Rule(-5, "Flag upheld against their content"),
}
# Compensations cancel an earlier fact; their points are the negation of what they cancel.
COMPENSATIONS: dict[str, str] = {
    "acceptance_withdrawn": "Answer no longer the accepted one",
    "vote_withdrawn": "Vote changed or withdrawn",
}
SAYS: dict[str, str] = {**{kind: rule.says for kind, rule in RULES.items()}, **COMPENSATIONS}
KIND_WORDS = {EntryKind.article.value: "an article", EntryKind.answer.value: "an answer",
              EntryKind.question.value: "a question"}


class ReputationIsAppendOnly(RuntimeError):
    pass


append_only(ReputationEvent, ReputationIsAppendOnly,
            "Reputation events are never changed or deleted; append a compensating one.")


# --- writing the ledger ----------------------------------------------------------------------


def _append(session: Session, *, user_id: int, kind: str, points: int, key: str, entry_id: int | None,
            actor_id: int | None) -> ReputationEvent | None:
    """Write one event; None when its fact is already in the ledger."""
    if session.exec(select(ReputationEvent.id).where(ReputationEvent.key == key)).first() is not None:
        return None
    row = ReputationEvent(user_id=user_id, kind=kind, points=points, key=key, entry_id=entry_id, actor_id=actor_id)
    try:
        with session.begin_nested():  # a racing duplicate leaves the outer transaction usable
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def award(*, session: Session, user_id: int | None, kind: str, key: str, entry_id: int | None = None,
          actor_id: int | None = None) -> ReputationEvent | None:
    """Points for a one-off fact (a certification, a review, a reuse), by its rule; once per ``key``."""
    if user_id is None:
        return None
    return _append(session, user_id=user_id, kind=kind, points=RULES[kind].points, key=key, entry_id=entry_id,
                   actor_id=actor_id)


def settle(*, session: Session, fact: str, entry_id: int, actor_id: int | None, worth: dict[int, str],
           cancel: str) -> list[ReputationEvent]:
    """Bring a changeable fact (a vote, an accepted answer) to what it is worth now.

    ``worth`` maps each user who should hold points for the fact to the rule that gives them (empty:
    the fact is undone). What the ledger already holds is cancelled by a compensating ``cancel``
    event where it differs; nothing is written when it already matches, so replaying an event changes nothing.
    """
    held: dict[int, int] = {}
    count = 0
    for user_id, points in session.exec(
        select(ReputationEvent.user_id, ReputationEvent.points)
        .where(ReputationEvent.entry_id == entry_id, ReputationEvent.key.startswith(f"{fact}:"))
    ):
        held[user_id] = held.get(user_id, 0) + points
        count += 1
    written = []
    for user_id in sorted(set(held) | set(worth)):
        have = held.get(user_id, 0)
        kind = worth.get(user_id)
        want = RULES[kind].points if kind else 0
        if have == want:
            continue
        steps = [(cancel, -have)] if have else []
        if want:
            steps.append((kind, want))
        for step_kind, points in steps:
            row = _append(session, user_id=user_id, kind=step_kind, points=points, key=f"{fact}:{count}",
                          entry_id=entry_id, actor_id=actor_id)
            if row is None:  # another transaction settled the same fact meanwhile
                raise Conflict("Someone changed this at the same moment; please try again.")
            count += 1
            written.append(row)
    return written


# --- reactions to domain events --------------------------------------------------------------


def _on_answer_accepted(session: Session, event: Event) -> None:
    question = session.get(Entry, event.data.get("question_id"))
    if question is None:
        return
    answers = session.exec(select(Entry).where(Entry.parent_id == question.id)).all()
    for answer in answers:
        deserved = (answer.id == question.accepted_answer_id
                    and answer.author_id not in (question.author_id, event.actor_id))
        # Only the newly accepted answer and those holding points can change.
        if deserved or answer.id != question.accepted_answer_id:
            settle(session=session, fact=f"accepted:{answer.id}", entry_id=answer.id, actor_id=event.actor_id,
                   worth={answer.author_id: "answer_accepted"} if deserved else {}, cancel="acceptance_withdrawn")


def _on_transition(session: Session, event: Event) -> None:
    action = event.data.get("action")
    revision = session.get(Revision, event.revision_id) if event.revision_id else None
    if revision is None:
        return
    if action == Action.certify.value:
        entry = session.get(Entry, revision.entry_id)
        kind = "article_certified" if entry.kind == EntryKind.article.value else "answer_certified"
        credited = event.data.get("credited_author_id") or revision.author_id
        award(session=session, user_id=credited, kind=kind, key=f"certified:{revision.id}", entry_id=entry.id,
              actor_id=event.actor_id)
    elif action in REVIEW_ACTIONS and event.actor_id is not None:  # Action is a str enum: the value matches
        award(session=session, user_id=event.actor_id, kind="review", key=f"review:{revision.id}:{event.actor_id}:{action}",
              entry_id=revision.entry_id, actor_id=event.actor_id)


def _on_certification_changed(session: Session, event: Event) -> None:
    # Archiving and expiry take nothing back; a re-verification is review work.
    if event.data.get("action") != "reverify" or event.actor_id is None or event.entry_id is None:
        return
    cert = session.get(Certification, event.entry_id)
    if cert is not None:
        award(session=session, user_id=event.actor_id, kind="reverification", key=f"reverified:{cert.entry_id}:{cert.version}",
              entry_id=cert.entry_id, actor_id=event.actor_id)


def _on_flag_changed(session: Session, event: Event) -> None:
    """A flag is upheld when certifying a *newer* revision resolved it: the flagged content had to change.
    Dismissed flags, and flags resolved by certifying the very revision they were about, cost nothing."""
    if event.data.get("action") != "resolve":
        return
    flag = session.get(Flag, event.data.get("flag_id"))
    entry = session.get(Entry, flag.entry_id) if flag else None
    if flag is None or entry is None or flag.revision_id is None or flag.revision_id == entry.certified_revision_id:
        return
    flagged = session.get(Revision, flag.revision_id)
    if flagged is not None and flagged.author_id != flag.flagger_id:
        award(session=session, user_id=flagged.author_id, kind="flag_upheld", key=f"flag:{flag.id}", entry_id=entry.id,
              actor_id=event.actor_id)


def _on_vote_changed(session: Session, event: Event) -> None:
    """``data``: value (1, -1 or 0 when undone), previous, author_id (the rated work's author)."""
    author_id, value = event.data.get("author_id"), event.data.get("value", 0)
    if event.entry_id is None or event.actor_id is None:
        return
    rule = {1: "helpful_vote", -1: "not_helpful_vote"}.get(value)
    deserved = rule is not None and author_id is not None and author_id != event.actor_id
    settle(session=session, fact=f"vote:{event.entry_id}:{event.actor_id}", entry_id=event.entry_id,
           actor_id=event.actor_id, worth={author_id: rule} if deserved else {}, cancel="vote_withdrawn")


def _on_reuse(session: Session, event: Event) -> None:
    author_id, reuse_id = event.data.get("author_id"), event.data.get("reuse_id")
    if author_id is None or reuse_id is None or author_id == event.actor_id:
        return  # using your own work to solve a case earns nothing
    award(session=session, user_id=author_id, kind="reuse", key=f"reuse:{reuse_id}", entry_id=event.entry_id,
          actor_id=event.actor_id)


def register() -> None:
    """Subscribe to the domain events that earn or cost reputation (idempotent)."""
    subscribe(ANSWER_ACCEPTED, _on_answer_accepted)
    subscribe(REVISION_TRANSITION, _on_transition)
    subscribe(CERTIFICATION_CHANGED, _on_certification_changed)
    subscribe(FLAG_CHANGED, _on_flag_changed)
    subscribe(VOTE_CHANGED, _on_vote_changed)
    subscribe(ENTRY_REUSED, _on_reuse)


# --- reading ---------------------------------------------------------------------------------


def reputation_total(*, session: Session, user_id: int) -> int:
    return int(session.exec(select(func.coalesce(func.sum(ReputationEvent.points), 0))
                            .where(ReputationEvent.user_id == user_id)).one())


def _topic_revision():
    """The revision whose tags are an entry's topics: the certified one, else the latest."""
    return func.coalesce(Entry.certified_revision_id, Entry.latest_revision_id)


def reputation_by_topic(*, session: Session, user_id: int) -> list[tuple[str, int]]:
    """Points per topic (the tags of the entry each event is about), highest first. An entry with
    two tags counts in both; events about no entry count only in the total."""
    points = func.sum(ReputationEvent.points)
    rows = session.exec(
        select(Tag.name, points)
        .join(Entry, Entry.id == ReputationEvent.entry_id)
        .join(RevisionTag, RevisionTag.revision_id == _topic_revision())
        .join(Tag, Tag.id == RevisionTag.tag_id)
        .where(ReputationEvent.user_id == user_id)
        .group_by(Tag.name).order_by(points.desc(), Tag.name)
    )
    return [(name, int(total)) for name, total in rows if total]


@dataclass(frozen=True)
class Activity:
    """One line of a person's recent activity, as a viewer may see it."""

    kind: str
    says: str
    points: int
    at: datetime
    entry: Entry | None  # None when the viewer may not see the entry (or it is gone)
    title: str  # the entry's title as the viewer sees it; "" when hidden
    what: str  # "an article", "an answer", ... when the title is hidden


def recent_activity(*, session: Session, user_id: int, viewer: User, limit: int = 20) -> list[Activity]:
    """The user's latest reputation events. An entry the viewer cannot see (a draft, an article in
    review) is described by its kind only: its title never leaks."""
    events = session.exec(select(ReputationEvent).where(ReputationEvent.user_id == user_id)
                          .order_by(ReputationEvent.created_at.desc(), ReputationEvent.id.desc()).limit(limit))
    result = []
    for ev in events:
        entry, title, what = None, "", "content that was removed"
        if ev.entry_id is not None:
            raw = session.get(Entry, ev.entry_id)
            what = KIND_WORDS.get(raw.kind, what) if raw else what
            try:
                entry = content.get_entry(session=session, actor=viewer, entry_id=ev.entry_id)
            except NotFound:
                entry = None
            shown = content.visible_revision(session=session, actor=viewer, entry=entry) if entry else None
            if shown is None:
                entry = None
            else:
                title = shown.title
        result.append(Activity(kind=ev.kind, says=SAYS.get(ev.kind, ev.kind.replace("_", " ")), points=ev.points,
                               at=ev.created_at, entry=entry, title=title, what=what))
    return result


def top_contributors(*, session: Session, since: datetime, limit: int = 10) -> list[tuple[User, int]]:
    """Active users with the most points earned since ``since``, highest first (ties by name)."""
    points = func.sum(ReputationEvent.points).label("points")
    rows = session.exec(
        select(User, points).join(ReputationEvent, ReputationEvent.user_id == User.id)
        .where(ReputationEvent.created_at >= since, User.is_active.is_(True))
        .group_by(User.id).having(points > 0).order_by(points.desc(), User.display_name, User.id).limit(limit)
    )
    return [(user, int(total)) for user, total in rows]

