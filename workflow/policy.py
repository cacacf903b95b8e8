"""Review policy (definition) and topic experts: global defaults with per-topic overrides.

A topic's experts are the users an administrator designated and, when the policy sets an
``expert_min_score``, users with the expert role whose expertise score in the topic reaches it
(read from workflow's own ``ReviewerScore``, which expertise fills: ``workflow.reviewer_scores``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import Role, User, UserRole
from kb.content import service as content
from kb.content.models import Revision, RevisionState, RevisionTag, Tag
from kb.errors import Conflict, ValidationFailed
from kb.events import TOPIC_EXPERT_CHANGED, Event, publish
from workflow import audit
from workflow.models import Policy, ReviewerScore, TopicExpert

MAX_EXPERT_MIN_SCORE = 100_000


@dataclass(frozen=True)
class EffectivePolicy:
    required_approvals: int = 1
    validity_days: int = 90
    reminder_days: int = 14
    approval_certifies: bool = False
    experts_only_review: bool = False
    approver_cannot_certify: bool = False


def revision_tag_ids(*, session: Session, revision_id: int) -> list[int]:
    return list(session.exec(select(RevisionTag.tag_id).where(RevisionTag.revision_id == revision_id)))


# A revision that reached one of these states was checked by someone else: its text is verified.
_VERIFIED_STATES = (RevisionState.certified.value, RevisionState.superseded.value)


def contributors(*, session: Session, revision: Revision) -> frozenset[int]:
    """Everyone who wrote part of this revision's text since the entry's last certified revision:
    the authors of this revision and of every revision saved between that certification and it.
    Each revision is edited from the one before it, so a trivial re-save by someone else still
    carries their text; four eyes means none of them may review or certify it."""
    baseline = session.exec(
        select(sa.func.max(Revision.number)).where(Revision.entry_id == revision.entry_id,
                                                   Revision.number < revision.number,
                                                   Revision.state.in_(_VERIFIED_STATES))
    ).one() or 0
    authors = session.exec(
        select(Revision.author_id).where(Revision.entry_id == revision.entry_id, Revision.number > baseline,
                                         Revision.number <= revision.number).distinct()
    )
    return frozenset(authors) | {revision.author_id}


def effective_policy(*, session: Session, tag_ids: list[int]) -> EffectivePolicy:
    """The global policy, tightened by the overrides of every topic the revision carries."""
    rows = list(session.exec(select(Policy).where((Policy.tag_id.is_(None)) | (Policy.tag_id.in_(tag_ids)))))
    return combined_policy(rows, tag_ids)


def combined_policy(rows: list[Policy], tag_ids: list[int]) -> EffectivePolicy:
    """``effective_policy`` from policy rows read beforehand (the global one and any overrides;
    rows of other topics are left out), for callers that decide for many revisions at once."""
    wanted = set(tag_ids)
    base = next((p for p in rows if p.tag_id is None), None) or Policy()
    topics = [p for p in rows if p.tag_id is not None and p.tag_id in wanted]
    if not topics:
        return EffectivePolicy(base.required_approvals, base.validity_days, base.reminder_days,
                               base.approval_certifies, base.experts_only_review, base.approver_cannot_certify)
    return EffectivePolicy(
        required_approvals=max(p.required_approvals for p in topics),
        validity_days=min(p.validity_days for p in topics),
        reminder_days=max(p.reminder_days for p in topics),
        approval_certifies=all(p.approval_certifies for p in topics),
        experts_only_review=any(p.experts_only_review for p in topics),
        approver_cannot_certify=any(p.approver_cannot_certify for p in topics),
    )


def expert_score_thresholds(*, session: Session, tag_ids: list[int]) -> dict[int, float]:
    """Per topic, the expertise score that makes a user its expert; topics without one are left out.
    A topic's own policy decides (its override may leave the score out); otherwise the global one."""
    if not tag_ids:
        return {}
    rows = list(session.exec(select(Policy).where((Policy.tag_id.is_(None)) | (Policy.tag_id.in_(tag_ids)))))
    base = next((p.expert_min_score for p in rows if p.tag_id is None), None)
    own = {p.tag_id: p.expert_min_score for p in rows if p.tag_id is not None}
    thresholds = {tag_id: own[tag_id] if tag_id in own else base for tag_id in tag_ids}
    return {tag_id: value for tag_id, value in thresholds.items() if value is not None}


def scoring_experts(*, session: Session, tag_ids: list[int], user_id: int | None = None) -> list[tuple[int, int]]:
    """(user id, topic id) of active users with the expert (or admin) role whose score reaches the policy."""
    thresholds = expert_score_thresholds(session=session, tag_ids=tag_ids)
    if not thresholds:
        return []
    reaches = sa.or_(*[(ReviewerScore.tag_id == tag_id) & (ReviewerScore.score >= value)
                       for tag_id, value in thresholds.items()])
    statement = (select(ReviewerScore.user_id, ReviewerScore.tag_id)
                 .join(User, User.id == ReviewerScore.user_id)
                 .where(reaches, User.is_active.is_(True), User.id.in_(
                     select(UserRole.user_id).where(UserRole.role.in_([Role.expert.value, Role.admin.value])))))
    if user_id is not None:
        statement = statement.where(ReviewerScore.user_id == user_id)
    return [(uid, tid) for uid, tid in session.exec(statement)]


def expert_topic_ids(*, session: Session, user_id: int, tag_ids: list[int]) -> set[int]:
    """The given topics in which the user is an expert: designated, or by score when the policy
    allows it (each topic on its own, so asking for more topics at once gives the same answer)."""
    if not tag_ids:
        return set()
    designated = set(session.exec(select(TopicExpert.tag_id).where(TopicExpert.user_id == user_id,
                                                                  TopicExpert.tag_id.in_(tag_ids))))
    return designated | {tag_id for _, tag_id in scoring_experts(session=session, tag_ids=tag_ids, user_id=user_id)}


def expert_topics(*, session: Session, user_id: int, tag_ids: list[int]) -> list[str]:
    """Names of the given topics in which the user is an expert: designated, or by score when the
    policy allows it."""
    ids = expert_topic_ids(session=session, user_id=user_id, tag_ids=tag_ids)
    if not ids:
        return []
    return list(session.exec(select(Tag.name).where(Tag.id.in_(ids)).order_by(Tag.name)))


def topic_experts(*, session: Session, tag_ids: list[int]) -> list[User]:
    """Experts of these topics (designated, or by score when the policy allows it); when the topics
    have none, every active expert."""
    experts = list(session.exec(
        select(User).join(TopicExpert, TopicExpert.user_id == User.id)
        .where(TopicExpert.tag_id.in_(tag_ids), User.is_active.is_(True)).distinct()
    )) if tag_ids else []
    known = {u.id for u in experts}
    scoring = sorted({uid for uid, _ in scoring_experts(session=session, tag_ids=tag_ids)} - known)
    if scoring:
        experts += list(session.exec(select(User).where(User.id.in_(scoring)).order_by(User.id)))
    if experts:
        return experts
    return list(session.exec(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.expert.value, User.is_active.is_(True)).distinct()
    ))


# --- describing a policy ---------------------------------------------------------------------

# How an option reads in a policy's summary when it differs from kb's default (``Policy()``).
_OPTION_WORDS = {
    "required_approvals": lambda v: f"{v} approval{'s' if v != 1 else ''} required",
    "validity_days": lambda v: f"certification valid {v} day{'s' if v != 1 else ''}",
    "reminder_days": lambda v: f"reminder {v} day{'s' if v != 1 else ''} before expiry" if v else "no expiry reminder",
    "approval_certifies": lambda v: "approval certifies at once" if v else "approval does not certify",
    "approver_cannot_certify": lambda v: "the approver may not also certify" if v else "the approver may certify",
    "experts_only_review": lambda v: "only the topic's experts review" if v else "any expert may review",
    "expert_min_score": lambda v: f"experts by score ≥ {v:g}" if v is not None else "designated experts only",
}
_NOT_OPTIONS = ("id", "tag_id")


def _plain(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def non_default_options(policy: Policy) -> list[str]:
    """Every option of ``policy`` that differs from kb's default, in words, in the order of the table:
    what a summary must show so that no setting hides. An option without words of its own (a new
    column) still shows, by its name."""
    defaults = Policy()
    described = []
    for name in Policy.model_fields:
        value = getattr(policy, name)
        if name in _NOT_OPTIONS or value == getattr(defaults, name):
            continue
        words = _OPTION_WORDS.get(name)
        described.append(words(value) if words else f"{name.replace('_', ' ')}: {_plain(value)}")
    return described


# --- changing the definition (administrators) ------------------------------------------------


def _require_admin(actor: Actor) -> None:
    require_admin(actor, "Only administrators can change review policies and topic experts.")


def designate_expert(*, session: Session, actor: Actor, topic: str, user: User) -> TopicExpert:
    """Make ``user`` a designated expert of ``topic`` (actor ``SYSTEM``: the command line)."""
    _require_admin(actor)
    if not user.has_role(Role.expert, Role.admin):
        raise Conflict(f"{user.display_name} does not have the expert role; give them that role first.")
    tag = content.topic_named(session=session, name=topic)
    row = session.get(TopicExpert, (tag.id, user.id))
    if row is None:
        row = TopicExpert(tag_id=tag.id, user_id=user.id, designated_by=actor.id)
        session.add(row)
        session.flush()
        _designation_changed(session, actor, tag, user, designated=True)
        audit.record_admin(session=session, actor=actor, action="expert.designate", target=user.email,
                           detail=f"Designated expert of {tag.name}.")
    return row


def _designation_changed(session: Session, actor: Actor, tag: Tag, user: User, *, designated: bool) -> None:
    # Expertise scores count designations; they update from this event.
    publish(session=session, event=Event(TOPIC_EXPERT_CHANGED, actor_id=actor.id,
                           data={"user_id": user.id, "tag_id": tag.id, "designated": designated}))


def remove_expert(*, session: Session, actor: Actor, topic: str, user: User) -> None:
    _require_admin(actor)
    tag = content.topic_named(session=session, name=topic)
    row = session.get(TopicExpert, (tag.id, user.id))
    if row is not None:
        session.delete(row)
        session.flush()
        _designation_changed(session, actor, tag, user, designated=False)
        audit.record_admin(session=session, actor=actor, action="expert.remove", target=user.email,
                           detail=f"No longer a designated expert of {tag.name}.")


def experts_by_topic(*, session: Session) -> dict[str, list[User]]:
    rows = session.exec(select(Tag.name, User).join(TopicExpert, TopicExpert.tag_id == Tag.id)
                        .join(User, User.id == TopicExpert.user_id).order_by(Tag.name, User.display_name))
    result: dict[str, list[User]] = {}
    for name, user in rows:
        result.setdefault(name, []).append(user)
    return result


def policies(*, session: Session) -> tuple[Policy, dict[str, Policy]]:
    """The global policy (default values when never saved) and the per-topic overrides by topic name."""
    base = session.exec(select(Policy).where(Policy.tag_id.is_(None))).first() or Policy()
    overrides = {name: p for p, name in session.exec(select(Policy, Tag.name).join(Tag, Tag.id == Policy.tag_id))}
    return base, overrides


def set_policy(*, session: Session, actor: Actor, topic: str | None, required_approvals: int,
               validity_days: int, reminder_days: int, approval_certifies: bool, experts_only_review: bool,
               expert_min_score: float | None = None, approver_cannot_certify: bool = False) -> Policy:
    """Save the global policy (topic None) or a topic's override. ``expert_min_score`` None: only
    designated users are the topic's experts. ``approver_cannot_certify``: someone other than the
    approvers must certify (which rules out certifying at once on approval)."""
    _require_admin(actor)
    if not 1 <= required_approvals <= 10:
        raise ValidationFailed("Required approvals must be between 1 and 10.", field="required_approvals")
    if not 1 <= validity_days <= 3650:
        raise ValidationFailed("Validity must be between 1 and 3650 days.", field="validity_days")
    if not 0 <= reminder_days < validity_days:
        raise ValidationFailed("The reminder must come before the certification expires.", field="reminder_days")
    if expert_min_score is not None and not (math.isfinite(expert_min_score)
                                             and 0 < expert_min_score <= MAX_EXPERT_MIN_SCORE):
        raise ValidationFailed(f"The expertise score that makes an expert must be above 0 and at most "
                               f"{MAX_EXPERT_MIN_SCORE:,}; leave it empty to count designated experts only.",
                               field="expert_min_score")
    if approval_certifies and approver_cannot_certify:
        raise ValidationFailed("Approval cannot certify at once when the approver may not also certify; "
                               "untick one of the two.", field="approver_cannot_certify")
    tag_id = content.topic_named(session=session, name=topic).id if topic else None
    policy = session.exec(select(Policy).where(Policy.tag_id.is_(None) if tag_id is None
                                               else Policy.tag_id == tag_id)).first()
    if policy is None:
        policy = Policy(tag_id=tag_id)
        session.add(policy)
    policy.required_approvals, policy.validity_days, policy.reminder_days = (
        required_approvals, validity_days, reminder_days)
    policy.approval_certifies, policy.experts_only_review = approval_certifies, experts_only_review
    policy.expert_min_score = expert_min_score
    policy.approver_cannot_certify = approver_cannot_certify
    session.flush()
    score = "designated experts only" if expert_min_score is None else f"experts from score {expert_min_score:g}"
    audit.record_admin(session=session, actor=actor, action="policy.set", target=f"policy of {topic}" if topic else
                       "global policy", detail=(
                           f"{required_approvals} approvals, valid {validity_days} days, reminder {reminder_days} "
                           f"days before, approval certifies: {'yes' if approval_certifies else 'no'}, experts-only "
                           f"review: {'yes' if experts_only_review else 'no'}, approver may certify: "
                           f"{'no' if approver_cannot_certify else 'yes'}, {score}."))
    return policy


def remove_policy(*, session: Session, actor: Actor, topic: str) -> None:
    _require_admin(actor)
    tag = content.topic_named(session=session, name=topic)
    policy = session.exec(select(Policy).where(Policy.tag_id == tag.id)).first()
    if policy is not None:
        session.delete(policy)
        session.flush()
        audit.record_admin(session=session, actor=actor, action="policy.remove", target=f"policy of {tag.name}",
                           detail="The topic follows the global policy again.")
