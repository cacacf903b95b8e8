"""People: colleagues' endorsements, self-declared interests, and what a person's profile shows.

Every signed-in user may look at anyone's profile. It shows only certified work, and activity
about content the viewer cannot see is described without its title, so drafts never leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision, Tag
from kb.errors import Conflict, Forbidden
from expertise import reputation, scores
from expertise.models import Endorsement, ExpertiseScore, TopicInterest
from workflow.models import Certification, TopicExpert

MAX_INTERESTS = 20
CERTIFIED_WORK_SHOWN = 50
# How the profile says each part of an expertise score: (one, many).
EVIDENCE_WORDS: dict[str, tuple[str, str]] = {
    "certified_articles": ("1 certified article", "{n} certified articles"),
    "certified_answers": ("1 certified answer", "{n} certified answers"),
    "accepted_answers": ("1 accepted answer", "{n} accepted answers"),
    "reviews": ("1 review", "{n} reviews"),
    "helpful_votes": ("1 helpful vote", "{n} helpful votes"),
    "endorsements": ("endorsed by 1 colleague", "endorsed by {n} colleagues"),
    "interest": ("declared interest", "declared interest"),
    "designated": ("designated expert", "designated expert"),
}


# --- endorsements ----------------------------------------------------------------------------


def endorse(*, session: Session, actor: User, user: User, topic: str) -> Endorsement:
    """``actor`` vouches for ``user``'s knowledge of ``topic``; endorsing twice changes nothing."""
    if actor.id == user.id:
        raise Forbidden("You cannot endorse yourself; colleagues who know your work can.")
    if not user.is_active:
        raise Conflict(f"{user.display_name}'s account is deactivated; they can no longer be endorsed.")
    tag = content.topic_named(session=session, name=topic, actor=actor)
    row = session.get(Endorsement, (actor.id, user.id, tag.id))
    if row is not None:
        return row
    row = Endorsement(endorser_id=actor.id, user_id=user.id, tag_id=tag.id)
    try:
        with session.begin_nested():  # a double click racing itself leaves one endorsement
            session.add(row)
            session.flush()
    except IntegrityError:
        return session.get(Endorsement, (actor.id, user.id, tag.id))
    scores.recompute_users(session=session, user_ids=[user.id])
    return row


def withdraw_endorsement(*, session: Session, actor: User, user: User, topic: str) -> None:
    """Take back one's own endorsement (nothing happens when there is none)."""
    row = session.get(Endorsement, (actor.id, user.id, content.topic_named(session=session, name=topic).id))
    if row is not None:
        session.delete(row)
        session.flush()
        scores.recompute_users(session=session, user_ids=[user.id])


def endorsers(*, session: Session, user_id: int) -> dict[int, list[User]]:
    """Who endorsed the user, per topic id, by name."""
    result: dict[int, list[User]] = {}
    for tag_id, endorser in session.exec(select(Endorsement.tag_id, User).join(User, User.id == Endorsement.endorser_id)
                                         .where(Endorsement.user_id == user_id).order_by(User.display_name)):
        result.setdefault(tag_id, []).append(endorser)
    return result


# --- interests -------------------------------------------------------------------------------


def declare_interest(*, session: Session, actor: User, topic: str) -> TopicInterest:
    """Say you know about (or want questions on) a topic; it counts a little toward your expertise."""
    tag = content.topic_named(session=session, name=topic, actor=actor)
    row = session.get(TopicInterest, (actor.id, tag.id))
    if row is not None:
        return row
    held = session.exec(select(func.count()).select_from(TopicInterest).where(TopicInterest.user_id == actor.id)).one()
    if held >= MAX_INTERESTS:
        raise Conflict(f"You can declare at most {MAX_INTERESTS} interests; remove one first.", field="topic")
    row = TopicInterest(user_id=actor.id, tag_id=tag.id)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return session.get(TopicInterest, (actor.id, tag.id))
    scores.recompute_users(session=session, user_ids=[actor.id])
    return row


def remove_interest(*, session: Session, actor: User, topic: str) -> None:
    row = session.get(TopicInterest, (actor.id, content.topic_named(session=session, name=topic).id))
    if row is not None:
        session.delete(row)
        session.flush()
        scores.recompute_users(session=session, user_ids=[actor.id])


def interests(*, session: Session, user_id: int) -> list[str]:
    return list(session.exec(select(Tag.name).join(TopicInterest, TopicInterest.tag_id == Tag.id)
                             .where(TopicInterest.user_id == user_id).order_by(Tag.name)))


# --- the profile -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicExpertise:
    topic: str
    score: float
    # The score's parts in words, with the points each gives: [("3 reviews", 5.2), ...].
    evidence: list[tuple[str, float]]
    endorsers: list[str]
    endorsed_by_viewer: bool
    designated: bool


@dataclass(frozen=True)
class CertifiedWork:
    entry: Entry
    title: str
    certified_at: datetime | None
    status: str  # "active" or "needs_reverification"


@dataclass
class PersonProfile:
    person: User
    is_self: bool
    reputation: int
    reputation_by_topic: list[tuple[str, int]]
    expertise: list[TopicExpertise]
    certified_work: list[CertifiedWork]
    activity: list[reputation.Activity]
    interests: list[str]


def _in_words(component: str, count: int) -> str:
    one, many = EVIDENCE_WORDS.get(component, (component, component))
    return one if count == 1 else many.format(n=count)


def _expertise(session: Session, viewer: User, user_id: int) -> list[TopicExpertise]:
    rows = session.exec(select(ExpertiseScore, Tag.name).join(Tag, Tag.id == ExpertiseScore.tag_id)
                        .where(ExpertiseScore.user_id == user_id)
                        .order_by(ExpertiseScore.score.desc(), Tag.name)).all()
    counts = scores.evidence_counts(session=session, user_id=user_id)
    by_topic = endorsers(session=session, user_id=user_id)
    designated = set(session.exec(select(TopicExpert.tag_id).where(TopicExpert.user_id == user_id)))
    result = []
    for row, name in rows:
        parts = sorted(row.components.items(), key=lambda kv: (-kv[1], kv[0]))
        evidence = [(_in_words(component, counts.get(row.tag_id, {}).get(component, 0)), points)
                    for component, points in parts]
        people = by_topic.get(row.tag_id, [])
        result.append(TopicExpertise(topic=name, score=row.score, evidence=evidence,
                                     endorsers=[p.display_name for p in people],
                                     endorsed_by_viewer=any(p.id == viewer.id for p in people),
                                     designated=row.tag_id in designated))
    return result


def certified_work(*, session: Session, user_id: int, limit: int = CERTIFIED_WORK_SHOWN) -> list[CertifiedWork]:
    """Articles and answers whose certified revision the user wrote (what agents see), newest first."""
    rows = session.exec(
        select(Entry, Revision.title, Certification.certified_at, Certification.status)
        .join(Revision, Revision.id == Entry.certified_revision_id)
        .join(Certification, Certification.entry_id == Entry.id, isouter=True)
        .where(Revision.author_id == user_id, Entry.kind.in_([EntryKind.article.value, EntryKind.answer.value]))
        .order_by(Certification.certified_at.desc().nulls_last(), Entry.id.desc()).limit(limit)
    )
    return [CertifiedWork(entry=entry, title=title, certified_at=at, status=status or "active")
            for entry, title, at, status in rows]


def person_profile(*, session: Session, viewer: User, user_id: int) -> PersonProfile:
    """What ``viewer`` may see about a person: reputation, expertise with its evidence, certified
    work and recent activity."""
    person = accounts.get_user(session=session, user_id=user_id)
    by_topic = reputation.reputation_by_topic(session=session, user_id=person.id)
    expertise = _expertise(session, viewer, person.id)
    declared = interests(session=session, user_id=person.id)
    # Topics only a draft carries are as private as the draft: never named to those who cannot open it.
    shown = content.visible_tag_names(session=session, actor=viewer, names=[t for t, _ in by_topic]
                                      + [t.topic for t in expertise] + declared)
    return PersonProfile(
        person=person,
        is_self=viewer.id == person.id,
        reputation=reputation.reputation_total(session=session, user_id=person.id),
        reputation_by_topic=[(t, points) for t, points in by_topic if t in shown],
        expertise=[t for t in expertise if t.topic in shown],
        certified_work=certified_work(session=session, user_id=person.id),
        activity=reputation.recent_activity(session=session, user_id=person.id, viewer=viewer),
        interests=[t for t in declared if t in shown],
    )
