"""Routing work to the people who know: reviewer suggestions and assignment, and the routing rules.

Who counts as an expert of a set of topics (``ranked_topic_experts``): the designated experts
(an admin's ``TopicExpert``) first, then everyone with an expertise score in those topics, best
first; inactive users never. The same ranking picks reviewers here and the experts a new forum
question notifies (``expertise.questions``), and orders the experts directory.

Reviewer suggestions are computed when asked for, not stored: they depend on everyone's open
review load, which changes with every assignment and review, so a stored list would go stale.
When a topic's ``TopicRouting.auto_assign`` is on, submitting a revision assigns the best
suggestions (as many as the policy's required approvals) and tells them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import Role, User, UserRole
from kb.content import access
from kb.content import service as content
from kb.content.models import Entry, Revision, RevisionState, Tag
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from kb.events import REVISION_TRANSITION, Event, subscribe
from expertise.models import ExpertiseScore, ReviewAssignment, TopicRouting
from workflow.models import Action, Review, TopicExpert
from workflow import audit
from workflow.notify import notify
from workflow.policy import contributors, effective_policy, expert_topics, revision_tag_ids, scoring_experts
from workflow.transitions import ReviewContext, is_owner, may_review

SUGGESTIONS = 3
MAX_NOTIFY_EXPERTS = 20
MAX_ESCALATE_HOURS = 24 * 30
IN_REVIEW = RevisionState.in_review.value


# --- who knows these topics --------------------------------------------------------------------


@dataclass(frozen=True)
class TopicCandidate:
    user: User
    designated: bool  # an admin's designation as expert of one of the topics
    score: float  # summed expertise score in the topics (0 without any)


def candidate_order(candidate: TopicCandidate) -> tuple:
    return (not candidate.designated, -candidate.score, candidate.user.display_name.lower(), candidate.user.id)


def ranked_topic_experts(*, session: Session, tag_ids: list[int]) -> list[TopicCandidate]:
    """Active designated experts of the topics first, then active users with expertise in them."""
    if not tag_ids:
        return []
    designated = set(session.exec(select(TopicExpert.user_id).where(TopicExpert.tag_id.in_(tag_ids))))
    scores = dict(session.exec(
        select(ExpertiseScore.user_id, func.sum(ExpertiseScore.score))
        .where(ExpertiseScore.tag_id.in_(tag_ids), ExpertiseScore.score > 0).group_by(ExpertiseScore.user_id)
    ).all())
    ids = designated | set(scores)
    if not ids:
        return []
    users = session.exec(select(User).where(User.id.in_(ids), User.is_active.is_(True)))
    return sorted((TopicCandidate(u, u.id in designated, float(scores.get(u.id) or 0.0)) for u in users),
                  key=candidate_order)


def ranked_role_experts(*, session: Session) -> list[TopicCandidate]:
    """Every active user with the expert role, by their total expertise (the fallback circle)."""
    users = list(session.exec(select(User).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == Role.expert.value, User.is_active.is_(True)).distinct()))
    if not users:
        return []
    totals = dict(session.exec(
        select(ExpertiseScore.user_id, func.sum(ExpertiseScore.score))
        .where(ExpertiseScore.user_id.in_([u.id for u in users])).group_by(ExpertiseScore.user_id)
    ).all())
    return sorted((TopicCandidate(u, False, float(totals.get(u.id) or 0.0)) for u in users), key=candidate_order)


# --- routing rules (TopicRouting) --------------------------------------------------------------


@dataclass(frozen=True)
class RoutingRules:
    auto_assign: bool = False
    notify_experts: int = 3
    escalate_after_hours: int = 24


def effective_routing(*, session: Session, tag_ids: list[int]) -> RoutingRules:
    """The global rules, or, when some of the topics have their own, those combined: assign
    automatically if any topic asks for it, notify as many experts as the most demanding topic,
    escalate after the shortest wait."""
    rows = list(session.exec(select(TopicRouting).where(
        TopicRouting.tag_id.is_(None) | TopicRouting.tag_id.in_(tag_ids or [-1]))))
    topics = [r for r in rows if r.tag_id is not None]
    if not topics:
        base = next((r for r in rows if r.tag_id is None), None) or TopicRouting()
        return RoutingRules(base.auto_assign, base.notify_experts, base.escalate_after_hours)
    return RoutingRules(auto_assign=any(r.auto_assign for r in topics),
                        notify_experts=max(r.notify_experts for r in topics),
                        escalate_after_hours=min(r.escalate_after_hours for r in topics))


def routing_rules(*, session: Session) -> tuple[TopicRouting, dict[str, TopicRouting]]:
    """The global rules (defaults when never saved) and the per-topic rules by topic name."""
    base = session.exec(select(TopicRouting).where(TopicRouting.tag_id.is_(None))).first() or TopicRouting()
    topics = {name: r for r, name in session.exec(select(TopicRouting, Tag.name).join(Tag, Tag.id == TopicRouting.tag_id)
                                                   .order_by(Tag.name))}
    return base, topics


def _require_admin(actor: Actor) -> None:
    require_admin(actor, "Only administrators can change how questions and reviews are routed.")


def set_routing(*, session: Session, actor: Actor, topic: str | None, auto_assign: bool, notify_experts: int,
                escalate_after_hours: int) -> TopicRouting:
    """Save the global rules (topic None) or a topic's own (actor ``SYSTEM``: the command line)."""
    _require_admin(actor)
    if not 0 <= notify_experts <= MAX_NOTIFY_EXPERTS:
        raise ValidationFailed(f"A new question can notify between 0 and {MAX_NOTIFY_EXPERTS} experts.",
                               field="notify_experts")
    if not 1 <= escalate_after_hours <= MAX_ESCALATE_HOURS:
        raise ValidationFailed(f"Escalate after 1 to {MAX_ESCALATE_HOURS} hours ({MAX_ESCALATE_HOURS // 24} days).",
                               field="escalate_after_hours")
    tag_id = content.topic_named(session=session, name=topic).id if topic else None
    row = session.exec(select(TopicRouting).where(
        TopicRouting.tag_id.is_(None) if tag_id is None else TopicRouting.tag_id == tag_id)).first()
    if row is None:
        row = TopicRouting(tag_id=tag_id)
        session.add(row)
    row.auto_assign, row.notify_experts, row.escalate_after_hours = auto_assign, notify_experts, escalate_after_hours
    session.flush()
    audit.record_admin(session=session, actor=actor, action="routing.set", target=f"routing of {topic}" if topic else
                       "global routing", detail=(f"Auto-assign reviewers: {'yes' if auto_assign else 'no'}, notify "
                                                 f"{notify_experts} experts, escalate after {escalate_after_hours} h."))
    return row


def remove_routing(*, session: Session, actor: Actor, topic: str) -> None:
    """The topic follows the global rules again."""
    _require_admin(actor)
    tag = content.topic_named(session=session, name=topic)
    row = session.exec(select(TopicRouting).where(TopicRouting.tag_id == tag.id)).first()
    if row is not None:
        session.delete(row)
        session.flush()
        audit.record_admin(session=session, actor=actor, action="routing.remove", target=f"routing of {tag.name}",
                           detail="The topic follows the global routing again.")


# --- reviewer suggestions ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerSuggestion:
    user: User
    load: int  # reviews this person owes now (see ``open_review_load``)
    designated: bool
    score: float
    assigned: bool  # already assigned to this revision


def open_review_load(*, session: Session, user_ids: list[int]) -> dict[int, int]:
    """Revisions in review that wait for each person: assigned to them, or sent back to review
    after they asked for changes, and not yet approved by them."""
    load = {uid: 0 for uid in user_ids}
    if not user_ids:
        return load
    in_review = select(Revision.id).where(Revision.state == IN_REVIEW)
    owed: dict[int, set[int]] = defaultdict(set)
    approved: dict[int, set[int]] = defaultdict(set)
    for uid, rid in session.exec(select(ReviewAssignment.reviewer_id, ReviewAssignment.revision_id)
                                 .where(ReviewAssignment.reviewer_id.in_(user_ids),
                                        ReviewAssignment.revision_id.in_(in_review))):
        owed[uid].add(rid)
    for uid, rid, decision in session.exec(select(Review.reviewer_id, Review.revision_id, Review.decision)
                                           .where(Review.reviewer_id.in_(user_ids), Review.revision_id.in_(in_review))):
        (approved if decision == Action.approve.value else owed)[uid].add(rid)
    for uid in user_ids:
        load[uid] = len(owed[uid] - approved[uid])
    return load


def suggest_reviewers(*, session: Session, revision: Revision, limit: int = SUGGESTIONS) -> list[ReviewerSuggestion]:
    """The ``limit`` best reviewers: experts of the revision's topics who may review it (never its
    author nor the entry's), least loaded first, ties broken by expertise. Without eligible topic
    experts, the users with the expert role."""
    entry = session.get(Entry, revision.entry_id)
    tag_ids = revision_tag_ids(session=session, revision_id=revision.id)
    policy = effective_policy(session=session, tag_ids=tag_ids)
    authors = {revision.author_id, entry.author_id} | contributors(session=session, revision=revision)
    # Whether someone counts as the topic's expert matters only when the policy says so; experts by
    # score are found once for everyone (designated ones are marked on the candidates).
    by_score = {uid for uid, _ in scoring_experts(session=session, tag_ids=tag_ids)} if policy.experts_only_review else set()

    def eligible(candidates: list[TopicCandidate]) -> list[TopicCandidate]:
        # Someone outside the entry's audience (kb.content.access) may not read it, so not review it.
        return [c for c in candidates if c.user.id not in authors and access.audience_allows(c.user, entry)
                and may_review(c.user, revision, ReviewContext(experts_only_review=policy.experts_only_review,
                                                               is_topic_expert=c.designated or c.user.id in by_score))]

    candidates = eligible(ranked_topic_experts(session=session, tag_ids=tag_ids)) or eligible(ranked_role_experts(session=session))
    load = open_review_load(session=session, user_ids=[c.user.id for c in candidates])
    assigned = set(session.exec(select(ReviewAssignment.reviewer_id).where(ReviewAssignment.revision_id == revision.id)))
    # ``candidates`` is in expertise order, and sorted() is stable: equal loads keep that order.
    ranked = sorted(candidates, key=lambda c: load[c.user.id])
    return [ReviewerSuggestion(c.user, load[c.user.id], c.designated, c.score, c.user.id in assigned)
            for c in ranked[:limit]]


# --- assignment ----------------------------------------------------------------------------------


def can_assign(actor: User, entry: Entry, revision: Revision) -> bool:
    """The author, experts and admins may ask someone to review a revision that is in review."""
    return (actor.is_active and revision.state == IN_REVIEW
            and (is_owner(actor, entry, revision) or actor.has_role(Role.expert, Role.admin)))


def _insert_assignment(session: Session, *, revision: Revision, reviewer: User, assigned_by: User | None,
                       automatic: bool) -> ReviewAssignment | None:
    """The new assignment, or None when the reviewer was already assigned (also by a racing request)."""
    if session.get(ReviewAssignment, (revision.id, reviewer.id)) is not None:
        return None
    row = ReviewAssignment(revision_id=revision.id, reviewer_id=reviewer.id,
                           assigned_by=assigned_by.id if assigned_by else None, automatic=automatic)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def _tell_assignee(session: Session, *, entry: Entry, revision: Revision, reviewer: User,
                   assigned_by: User | None) -> None:
    title = revision.title or f"entry {entry.id}"
    who = assigned_by.display_name if assigned_by else "kb"
    notify(session=session, users=[reviewer], kind="review_assigned", entry_id=entry.id, link=f"/review/{revision.id}",
           exclude=assigned_by, message=f"{who} asked you to review “{title}”.")


def assign_reviewer(*, session: Session, actor: User, revision_id: int, reviewer_id: int) -> ReviewAssignment:
    """Ask ``reviewer_id`` to review the revision, and tell them."""
    entry, revision = content.get_revision(session=session, actor=actor, revision_id=revision_id)
    if revision.state != IN_REVIEW:
        raise InvalidTransition("Reviewers can be assigned only while the revision is in review.")
    if not can_assign(actor, entry, revision):
        raise Forbidden("Only the author, experts and administrators can assign reviewers.")
    reviewer = session.get(User, reviewer_id)
    if reviewer is None or not reviewer.is_active:
        raise NotFound("That reviewer does not exist or their account is deactivated.", field="reviewer_id")
    if reviewer.id in {revision.author_id, entry.author_id} | contributors(session=session, revision=revision):
        raise ValidationFailed(f"{reviewer.display_name} wrote this; choose someone else to review it.",
                               field="reviewer_id")
    tag_ids = revision_tag_ids(session=session, revision_id=revision.id)
    ctx = ReviewContext(experts_only_review=effective_policy(session=session, tag_ids=tag_ids).experts_only_review,
                        is_topic_expert=bool(expert_topics(session=session, user_id=reviewer.id, tag_ids=tag_ids)))
    if not may_review(reviewer, revision, ctx):
        raise ValidationFailed(f"{reviewer.display_name} cannot review this revision: reviewers are experts of "
                               "its topic or administrators.", field="reviewer_id")
    row = _insert_assignment(session, revision=revision, reviewer=reviewer, assigned_by=actor, automatic=False)
    if row is None:
        raise Conflict(f"{reviewer.display_name} is already assigned to review this revision.", field="reviewer_id")
    _tell_assignee(session, entry=entry, revision=revision, reviewer=reviewer, assigned_by=actor)
    return row


def assignees(*, session: Session, revision_id: int) -> list[tuple[ReviewAssignment, User]]:
    return list(session.exec(select(ReviewAssignment, User).join(User, User.id == ReviewAssignment.reviewer_id)
                             .where(ReviewAssignment.revision_id == revision_id)
                             .order_by(ReviewAssignment.created_at)))


def assigned_to(*, session: Session, actor: User) -> list[tuple[Entry, Revision, ReviewAssignment]]:
    """Revisions in review the actor was asked to review and has not approved yet, oldest first."""
    approved = select(Review.revision_id).where(Review.reviewer_id == actor.id,
                                                Review.decision == Action.approve.value)
    return list(session.exec(
        select(Entry, Revision, ReviewAssignment)
        .join(Revision, Revision.id == ReviewAssignment.revision_id).join(Entry, Entry.id == Revision.entry_id)
        .where(ReviewAssignment.reviewer_id == actor.id, Revision.state == IN_REVIEW,
               Revision.id.not_in(approved), access.audience_condition(actor))
        .order_by(ReviewAssignment.created_at)))


def auto_assign(*, session: Session, revision: Revision) -> list[User]:
    """When the revision's topics ask for it, assign the best suggestions (as many as approvals
    are required, so nobody reviews in vain) and tell them. Returns who was assigned."""
    tag_ids = revision_tag_ids(session=session, revision_id=revision.id)
    if not effective_routing(session=session, tag_ids=tag_ids).auto_assign:
        return []
    needed = effective_policy(session=session, tag_ids=tag_ids).required_approvals
    entry = session.get(Entry, revision.entry_id)
    assigned = []
    for suggestion in suggest_reviewers(session=session, revision=revision, limit=needed):
        if _insert_assignment(session, revision=revision, reviewer=suggestion.user, assigned_by=None, automatic=True):
            _tell_assignee(session, entry=entry, revision=revision, reviewer=suggestion.user, assigned_by=None)
            assigned.append(suggestion.user)
    return assigned


def _on_transition(session: Session, event: Event) -> None:
    if event.data.get("action") == Action.submit.value and event.revision_id is not None:
        revision = session.get(Revision, event.revision_id)
        if revision is not None and revision.state == IN_REVIEW:
            auto_assign(session=session, revision=revision)


def register() -> None:
    """Subscribe reviewer auto-assignment to submissions (idempotent)."""
    subscribe(REVISION_TRANSITION, _on_transition)
