"""Expertise per user x topic: a weighted, time-decayed sum of evidence, kept with its parts.

Evidence, read from the tables that record it (never from the reputation ledger), and its weight:

=======================  ======  =============================================================
component                weight  evidence (topic: the tags of the revision or entry concerned)
=======================  ======  =============================================================
``certified_articles``     10    articles with a revision they wrote that was certified (still
                                 certified or superseded since; archived entries do not count)
``certified_answers``       6    the same for forum answers
``accepted_answers``        5    their answers accepted by someone else's question
``reviews``                 2    review decisions they took (approve, request changes, reject)
``helpful_votes``           1    helpful votes colleagues gave to entries whose shown revision
                                 (certified, else latest) they wrote
``endorsements``            3    colleagues who endorsed them for the topic
``interest``                2    they declared an interest in the topic (no decay)
``designated``             20    an administrator designated them expert of the topic (no decay)
=======================  ======  =============================================================

Dated evidence loses half its weight every ``HALF_LIFE_DAYS``. Scores are recomputed from the
evidence of the users an event concerns, in the topics it concerns (a vote, a review or a
certification: the entry's topics; simple, and always the same as a full recompute done at the
same moment; an author of thousands of entries costs a vote only the evidence in its topics);
since decay continues while nothing happens, run ``kb expertise recompute`` daily so quiet
experts fade too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import func, true, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content.models import Entry, EntryKind, Revision, RevisionState, RevisionTag
from kb.events import (
    ANSWER_ACCEPTED, CERTIFICATION_CHANGED, IMPORT_FINISHED, REVISION_CREATED, REVISION_TRANSITION,
    TOPIC_EXPERT_CHANGED, VOTE_CHANGED, Event, subscribe
)
from expertise.models import Endorsement, ExpertiseScore, TopicInterest, Vote
from workflow import reviewer_scores
from workflow.models import Action, Certification, CertificationStatus, Review, TopicExpert, WorkflowEvent

HALF_LIFE_DAYS = 180
WEIGHTS: dict[str, float] = {
    "certified_articles": 10.0,
    "certified_answers": 6.0,
    "accepted_answers": 5.0,
    "reviews": 2.0,
    "helpful_votes": 1.0,
    "endorsements": 3.0,
    "interest": 2.0,
    "designated": 20.0,
}
# Declarations that hold until withdrawn: they do not age.
TIMELESS = frozenset({"interest", "designated"})
PRECISION = 3  # decimals kept, so equal evidence gives equal rows on every database
BATCH = 200  # users per round of a full recompute
RECOMPUTE_EVERY = timedelta(days=1)  # how often the periodic job rebuilds every score


@dataclass(frozen=True)
class Evidence:
    user_id: int
    tag_id: int
    component: str
    at: datetime | None  # None for timeless evidence
    entry_id: int | None = None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def decay(at: datetime | None, now: datetime) -> float:
    """1 for evidence from now (or timeless), 0.5 after HALF_LIFE_DAYS, 0.25 after twice that..."""
    if at is None:
        return 1.0
    age_days = max(0.0, (now - _utc(at)).total_seconds() / 86400)
    return 0.5 ** (age_days / HALF_LIFE_DAYS)


# --- evidence --------------------------------------------------------------------------------


def _topic_revision():
    """The revision whose tags are an entry's topics: the certified one, else the latest."""
    return func.coalesce(Entry.certified_revision_id, Entry.latest_revision_id)


def _only(column, ids: list[int] | None):
    return column.in_(ids) if ids is not None else true()


def _certified_authorship(session: Session, user_ids: list[int] | None,
                          tag_ids: list[int] | None = None) -> Iterable[Evidence]:
    entries = _entries_of(user_ids, tag_ids)
    certified_at = (select(WorkflowEvent.revision_id, func.max(WorkflowEvent.created_at).label("at"))
                    .where(WorkflowEvent.action == Action.certify.value,
                           true() if entries is None else WorkflowEvent.entry_id.in_(entries))
                    .group_by(WorkflowEvent.revision_id)
                    .subquery())
    rows = session.exec(
        select(Revision.author_id, Revision.id, RevisionTag.tag_id, Entry.kind, Entry.id,
               func.coalesce(certified_at.c.at, Revision.created_at))
        .join(Entry, Entry.id == Revision.entry_id)
        .join(RevisionTag, RevisionTag.revision_id == Revision.id)
        .join(certified_at, certified_at.c.revision_id == Revision.id, isouter=True)
        .join(Certification, Certification.entry_id == Entry.id, isouter=True)
        .where(Revision.state.in_([RevisionState.certified.value, RevisionState.superseded.value]),
               Entry.kind.in_([EntryKind.article.value, EntryKind.answer.value]),
               (Certification.status.is_(None)) | (Certification.status != CertificationStatus.archived.value),
               _only(Revision.author_id, user_ids), true() if tag_ids is None else Entry.id.in_(entries))
    )
    # One piece of evidence per entry and author: their most recently certified revision of it.
    latest: dict[tuple[int, int], tuple[datetime, int, str, list[int]]] = {}
    for user_id, revision_id, tag_id, kind, entry_id, at in rows:
        held = latest.get((user_id, entry_id))
        if held is None or (_utc(at), revision_id) > (_utc(held[0]), held[1]):
            latest[user_id, entry_id] = held = (at, revision_id, kind, [])
        if held[1] == revision_id:
            held[3].append(tag_id)
    for (user_id, entry_id), (at, _, kind, topics) in latest.items():
        component = "certified_articles" if kind == EntryKind.article.value else "certified_answers"
        for tag_id in topics:
            if tag_ids is None or tag_id in tag_ids:
                yield Evidence(user_id, tag_id, component, at, entry_id)


def _entries_of(user_ids: list[int] | None, tag_ids: list[int] | None):
    """The entries with a revision by these users (in one of these topics): the only ones whose
    most recently certified revision can be their evidence (there). None: every entry."""
    if user_ids is None and tag_ids is None:
        return None
    entries = select(Revision.entry_id).where(_only(Revision.author_id, user_ids))
    if tag_ids is not None:
        entries = entries.join(RevisionTag, RevisionTag.revision_id == Revision.id).where(RevisionTag.tag_id.in_(tag_ids))
    return entries


def _accepted_answers(session: Session, user_ids: list[int] | None,
                      tag_ids: list[int] | None = None) -> Iterable[Evidence]:
    question = aliased(Entry)
    rows = session.exec(
        select(Entry.author_id, RevisionTag.tag_id, Entry.created_at, Entry.id)
        .join(question, question.accepted_answer_id == Entry.id)
        .join(RevisionTag, RevisionTag.revision_id == _topic_revision())
        .where(Entry.kind == EntryKind.answer.value, question.author_id != Entry.author_id,
               _only(Entry.author_id, user_ids))
    )
    for user_id, tag_id, at, entry_id in rows:
        if tag_ids is None or tag_id in tag_ids:  # in Python: in SQL, SQLite's plan then scanned the questions
            yield Evidence(user_id, tag_id, "accepted_answers", at, entry_id)


def _reviews(session: Session, user_ids: list[int] | None, tag_ids: list[int] | None = None) -> Iterable[Evidence]:
    rows = session.exec(
        select(Review.reviewer_id, RevisionTag.tag_id, Review.created_at, Revision.entry_id)
        .join(Revision, Revision.id == Review.revision_id)
        .join(RevisionTag, RevisionTag.revision_id == Review.revision_id)
        .where(_only(Review.reviewer_id, user_ids))
    )
    for user_id, tag_id, at, entry_id in rows:
        if tag_ids is None or tag_id in tag_ids:
            yield Evidence(user_id, tag_id, "reviews", at, entry_id)


def _helpful_votes(session: Session, user_ids: list[int] | None,
                   tag_ids: list[int] | None = None) -> Iterable[Evidence]:
    # A vote is about what its voter saw (the certified revision, else the latest): its author gets it.
    rows = session.exec(
        select(Revision.author_id, RevisionTag.tag_id, Vote.updated_at, Entry.id)
        .join(Entry, Entry.id == Vote.entry_id)
        .join(Revision, Revision.id == _topic_revision())
        .join(RevisionTag, RevisionTag.revision_id == Revision.id)
        .where(Vote.value > 0, Vote.user_id != Revision.author_id, _only(Revision.author_id, user_ids))
    )
    for user_id, tag_id, at, entry_id in rows:
        if tag_ids is None or tag_id in tag_ids:
            yield Evidence(user_id, tag_id, "helpful_votes", at, entry_id)


def _declarations(session: Session, user_ids: list[int] | None,
                  tag_ids: list[int] | None = None) -> Iterable[Evidence]:
    for user_id, tag_id, at in session.exec(select(Endorsement.user_id, Endorsement.tag_id, Endorsement.created_at)
                                            .where(_only(Endorsement.user_id, user_ids),
                                                   _only(Endorsement.tag_id, tag_ids))):
        yield Evidence(user_id, tag_id, "endorsements", at)
    for user_id, tag_id in session.exec(select(TopicInterest.user_id, TopicInterest.tag_id)
                                        .where(_only(TopicInterest.user_id, user_ids),
                                               _only(TopicInterest.tag_id, tag_ids))):
        yield Evidence(user_id, tag_id, "interest", None)
    for user_id, tag_id in session.exec(select(TopicExpert.user_id, TopicExpert.tag_id)
                                        .where(_only(TopicExpert.user_id, user_ids), _only(TopicExpert.tag_id, tag_ids))):
        yield Evidence(user_id, tag_id, "designated", None)


def evidence(*, session: Session, user_ids: list[int] | None, tag_ids: list[int] | None = None) -> list[Evidence]:
    """Every piece of evidence about these users (None: everyone), in these topics (None: all)."""
    return [item for source in (_certified_authorship, _accepted_answers, _reviews, _helpful_votes, _declarations)
            for item in source(session, user_ids, tag_ids)]


def evidence_counts(*, session: Session, user_id: int) -> dict[int, dict[str, int]]:
    """How many pieces of each kind of evidence a user has, per topic (for the profile's words)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in evidence(session=session, user_ids=[user_id]):
        counts[item.tag_id][item.component] += 1
    return {tag_id: dict(parts) for tag_id, parts in counts.items()}


# --- scores ----------------------------------------------------------------------------------


def compute(items: Iterable[Evidence], now: datetime) -> dict[tuple[int, int], tuple[float, dict[str, float]]]:
    """(user, topic) -> (score, components): the weighted, decayed sums."""
    parts: dict[tuple[int, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for item in items:
        parts[item.user_id, item.tag_id][item.component] += WEIGHTS[item.component] * decay(item.at, now)
    result = {}
    for pair, components in parts.items():
        rounded = {name: round(value, PRECISION) for name, value in sorted(components.items())}
        result[pair] = (round(sum(rounded.values()), PRECISION), rounded)
    return result


def _store(session: Session, user_ids: list[int], scores: dict[tuple[int, int], tuple[float, dict]],
           now: datetime, tag_ids: list[int] | None = None) -> None:
    """Make these users' rows (in these topics; None: all) equal ``scores``: update, insert, and
    delete rows left without evidence."""
    if not user_ids:
        return
    # Lock the users (PostgreSQL) so two transactions recomputing the same person take turns; in id
    # order, once per transaction (``_recompute_pending``). FOR NO KEY UPDATE, not FOR UPDATE: every
    # insert that names a user (a vote, a reuse, an audit event) takes FOR KEY SHARE on that user's
    # row, and FOR UPDATE would wait for it, which deadlocked concurrent votes and certifications.
    session.exec(select(User.id).where(User.id.in_(user_ids)).order_by(User.id)
                 .with_for_update(key_share=True)).all()
    existing = {(row.user_id, row.tag_id): row for row in session.exec(
        select(ExpertiseScore).where(ExpertiseScore.user_id.in_(user_ids), _only(ExpertiseScore.tag_id, tag_ids)))}
    for pair, row in existing.items():
        if pair not in scores:
            session.delete(row)
    for (user_id, tag_id), (score, components) in scores.items():
        row = existing.get((user_id, tag_id))
        if row is None:
            session.add(ExpertiseScore(user_id=user_id, tag_id=tag_id, score=score, components=components,
                                       updated_at=now))
        elif row.score != score or row.components != components:
            row.score, row.components, row.updated_at = score, components, now
    session.flush()
    # Workflow qualifies reviewers by these scores (``expert_min_score``) from its own copy.
    reviewer_scores.record(session=session, user_ids=user_ids, tag_ids=tag_ids,
                           scores={pair: score for pair, (score, _) in scores.items()})


def recompute_users(*, session: Session, user_ids: Iterable[int | None],
                    tag_ids: Iterable[int] | None = None) -> None:
    """Recompute the scores of these users from their evidence: in these topics only (an event
    changes the evidence of an entry's topics, and an author of thousands of entries must not cost
    a vote seconds of work), or in every topic (None)."""
    ids = sorted({uid for uid in user_ids if uid is not None})
    topics = None if tag_ids is None else sorted(set(tag_ids))
    if not ids or topics == []:
        return
    now = utcnow()
    _store(session, ids, compute(evidence(session=session, user_ids=ids, tag_ids=topics), now), now, topics)


def recompute_all(*, session: Session, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole table from the evidence, ``BATCH`` users at a time; returns the rows kept."""
    user_ids = list(session.exec(select(User.id).order_by(User.id)))
    total = len(user_ids)
    now = utcnow()  # one moment for everyone, so scores compare fairly
    for start in range(0, total, BATCH):
        batch = user_ids[start:start + BATCH]
        _store(session, batch, compute(evidence(session=session, user_ids=batch), now), now)
        if progress is not None:
            progress(min(start + BATCH, total), total)
    # Every row is stamped, changed or not: the periodic job reads the last full recompute from it.
    session.execute(update(ExpertiseScore).values(updated_at=now))
    # Rows of users that no longer exist go with them (foreign keys cascade); count what is left.
    return session.exec(select(func.count()).select_from(ExpertiseScore)).one()


def recompute_when_due(*, session: Session, now: datetime | None = None) -> bool:
    """The periodic job: recompute every score when the last full recompute (the oldest
    ``updated_at``: ``recompute_all`` stamps every row) is more than a day old, so that time decay
    reaches people whom no event concerns."""
    now = now or utcnow()
    oldest = session.exec(select(func.min(ExpertiseScore.updated_at))).one()
    if oldest is None or now - oldest < RECOMPUTE_EVERY:
        return False
    recompute_all(session=session)
    return True


# --- reading ---------------------------------------------------------------------------------


def top_experts(*, session: Session, tag_ids: list[int], limit: int,
                exclude_user_ids: Iterable[int] = ()) -> list[tuple[User, float]]:
    """Active users with the highest expertise summed over these topics, best first."""
    if not tag_ids:
        return []
    total = func.sum(ExpertiseScore.score).label("total")
    statement = (select(User, total).join(ExpertiseScore, ExpertiseScore.user_id == User.id)
                 .where(ExpertiseScore.tag_id.in_(tag_ids), User.is_active.is_(True)))
    excluded = list(exclude_user_ids)
    if excluded:
        statement = statement.where(User.id.not_in(excluded))
    rows = session.exec(statement.group_by(User.id).having(total > 0)
                        .order_by(total.desc(), User.id).limit(limit))
    return [(user, round(float(score), PRECISION)) for user, score in rows]


# --- reactions to domain events --------------------------------------------------------------

# Only these transitions change evidence: a review decision, or a certification.
_EVIDENCE_ACTIONS = {Action.approve.value, Action.request_changes.value, Action.reject.value, Action.certify.value}


def _on_transition(session: Session, event: Event) -> None:
    if event.data.get("action") not in _EVIDENCE_ACTIONS or event.revision_id is None:
        return
    revision = session.get(Revision, event.revision_id)
    # The reviewer, and on certification every author of the entry: the certified revision now
    # decides whose work the votes and answers are, and in which topics.
    if event.data["action"] == Action.certify.value:
        session.info.setdefault(_PENDING, set()).add(revision.entry_id)
    _recompute_topics_at_commit(session, [event.actor_id, revision.author_id], _revision_topics(session, revision.id))


# What the transaction's events changed, recomputed once just before it commits (``_recompute_pending``):
# the entries whose authors are due in the entries' topics, the users due in every topic, and the
# users due in some topics.
_PENDING = "kb_expertise_pending_entries"
_PENDING_USERS = "kb_expertise_pending_users"
_PENDING_TOPICS = "kb_expertise_pending_topics"


def _revision_topics(session: Session, revision_id: int) -> set[int]:
    return set(session.exec(select(RevisionTag.tag_id).where(RevisionTag.revision_id == revision_id)))


def _recompute_topics_at_commit(session: Session, user_ids: Iterable[int | None], tag_ids: Iterable[int]) -> None:
    """Like ``_recompute_at_commit``, in these topics only."""
    pending = session.info.setdefault(_PENDING_TOPICS, {})
    tags = set(tag_ids)
    for uid in user_ids:
        if uid is not None:
            pending.setdefault(uid, set()).update(tags)


def _recompute_at_commit(session: Session, user_ids: Iterable[int | None]) -> None:
    """Recompute these users' scores when the transaction commits, not now: a certification publishes
    two events and a vote one, and recomputing (and locking the users) once at the end, in id order,
    keeps both the work and the time the locks are held to one pass."""
    session.info.setdefault(_PENDING_USERS, set()).update(uid for uid in user_ids if uid is not None)


def _on_certification_changed(session: Session, event: Event) -> None:
    if event.entry_id is None:
        return
    if event.data.get("imported"):
        # ``kb import`` certifies thousands of entries of the same few authors, a batch per
        # transaction: each author is recomputed once, when the import announces it is done.
        return
    # Archiving retires the evidence of everyone who wrote the entry.
    session.info.setdefault(_PENDING, set()).add(event.entry_id)


def _on_import_finished(session: Session, event: Event) -> None:
    _recompute_at_commit(session, event.data.get("author_ids", []))


def _recompute_pending(session: OrmSession) -> None:
    # Left over from a transaction that rolled back, the ids only cost a recompute that changes nothing.
    if session.in_nested_transaction():  # a savepoint: wait for the transaction itself
        return
    entry_ids = session.info.pop(_PENDING, None)
    everything = session.info.pop(_PENDING_USERS, set())
    topics: dict[int, set[int]] = session.info.pop(_PENDING_TOPICS, {})
    if entry_ids:
        # Every author of an entry, in every topic any revision of it had (evidence may leave a topic).
        rows = session.exec(select(Revision.entry_id, Revision.author_id, RevisionTag.tag_id)
                            .join(RevisionTag, RevisionTag.revision_id == Revision.id, isouter=True)
                            .where(Revision.entry_id.in_(entry_ids)))
        authors: dict[int, set[int]] = defaultdict(set)
        tags: dict[int, set[int]] = defaultdict(set)
        for entry_id, author_id, tag_id in rows:
            authors[entry_id].add(author_id)
            if tag_id is not None:
                tags[entry_id].add(tag_id)
        for entry_id, people in authors.items():
            for uid in people:
                topics.setdefault(uid, set()).update(tags[entry_id])
    partial = {uid: tags for uid, tags in topics.items() if uid not in everything and tags}
    if not everything and not partial:
        return
    # Lock everyone concerned once, in id order (see _store), before recomputing any of them.
    session.exec(select(User.id).where(User.id.in_(sorted(everything | set(partial)))).order_by(User.id)
                 .with_for_update(key_share=True)).all()
    if everything:
        recompute_users(session=session, user_ids=everything)
    for uid in sorted(partial):
        recompute_users(session=session, user_ids=[uid], tag_ids=partial[uid])



def _on_answer_accepted(session: Session, event: Event) -> None:
    # The authors of the question's answers, in the answers' topics.
    question_id = event.data.get("question_id")
    answers = session.exec(select(Entry.id).where(Entry.parent_id == question_id))
    session.info.setdefault(_PENDING, set()).update(answers)


def _on_vote_changed(session: Session, event: Event) -> None:
    # Only helpful votes are evidence, credited to the author of the rated (certified) revision.
    # In the entry's topics: its authors (the one credited among them).
    if event.entry_id is not None and 1 in (event.data.get("value"), event.data.get("previous")):
        session.info.setdefault(_PENDING, set()).add(event.entry_id)


def _on_revision_created(session: Session, event: Event) -> None:
    """While an entry has no certified revision, its latest revision's tags are its topics."""
    entry = session.get(Entry, event.entry_id) if event.entry_id else None
    if entry is not None and entry.certified_revision_id is None and entry.latest_revision_id == event.revision_id:
        has_votes = session.exec(select(Vote.id).where(Vote.entry_id == entry.id)).first() is not None
        if has_votes or entry.kind == EntryKind.answer.value:
            session.info.setdefault(_PENDING, set()).add(entry.id)


def _on_designation(session: Session, event: Event) -> None:
    _recompute_at_commit(session, [event.data.get("user_id")])


def register() -> None:
    """Subscribe to the domain events that change evidence (idempotent)."""
    subscribe(REVISION_TRANSITION, _on_transition)
    subscribe(CERTIFICATION_CHANGED, _on_certification_changed)
    subscribe(ANSWER_ACCEPTED, _on_answer_accepted)
    subscribe(VOTE_CHANGED, _on_vote_changed)
    subscribe(REVISION_CREATED, _on_revision_created)
    subscribe(TOPIC_EXPERT_CHANGED, _on_designation)
    subscribe(IMPORT_FINISHED, _on_import_finished)
    if not sa_event.contains(OrmSession, "before_commit", _recompute_pending):
        sa_event.listen(OrmSession, "before_commit", _recompute_pending)
