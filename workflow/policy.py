"""Review policy (definition) and topic experts: global defaults with per-topic overrides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from kb.accounts.models import Role, User, UserRole
from kb.content.models import RevisionTag, Tag
from kb.content.tags import normalise_tag
from kb.errors import Conflict, Forbidden, NotFound, ValidationFailed
from workflow.models import Policy, TopicExpert


@dataclass(frozen=True)
class EffectivePolicy:
    required_approvals: int = 1
    validity_days: int = 90
    reminder_days: int = 14
    approval_certifies: bool = False
    experts_only_review: bool = False


def revision_tag_ids(session: Session, revision_id: int) -> list[int]:
    return list(session.exec(select(RevisionTag.tag_id).where(RevisionTag.revision_id == revision_id)))


def effective_policy(session: Session, tag_ids: list[int]) -> EffectivePolicy:
    """The global policy, tightened by the overrides of every topic the revision carries."""
    rows = list(session.exec(select(Policy).where((Policy.tag_id.is_(None)) | (Policy.tag_id.in_(tag_ids)))))
    base = next((p for p in rows if p.tag_id is None), None) or Policy()
    topics = [p for p in rows if p.tag_id is not None]
    if not topics:
        return EffectivePolicy(base.required_approvals, base.validity_days, base.reminder_days,
                               base.approval_certifies, base.experts_only_review)
    return EffectivePolicy(
        required_approvals=max(p.required_approvals for p in topics),
        validity_days=min(p.validity_days for p in topics),
        reminder_days=max(p.reminder_days for p in topics),
        approval_certifies=all(p.approval_certifies for p in topics),
        experts_only_review=any(p.experts_only_review for p in topics),
    )


def expert_topics(session: Session, user_id: int, tag_ids: list[int]) -> list[str]:
    """Names of the given topics in which the user is a designated expert."""
    if not tag_ids:
        return []
    return list(session.exec(
        select(Tag.name).join(TopicExpert, TopicExpert.tag_id == Tag.id)
        .where(TopicExpert.user_id == user_id, TopicExpert.tag_id.in_(tag_ids)).order_by(Tag.name)
    ))


def topic_experts(session: Session, tag_ids: list[int]) -> list[User]:
    """Designated experts of these topics; when a topic has none, every active expert."""
    experts = list(session.exec(
        select(User).join(TopicExpert, TopicExpert.user_id == User.id)
        .where(TopicExpert.tag_id.in_(tag_ids), User.is_active.is_(True)).distinct()
    )) if tag_ids else []
    if experts:
        return experts
    return list(session.exec(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.expert.value, User.is_active.is_(True)).distinct()
    ))


# --- changing the definition (administrators) ------------------------------------------------


def _require_admin(actor: User | None) -> None:
    if actor is not None and not actor.is_admin:
        raise Forbidden("Only administrators can change review policies and topic experts.")


def _tag(session: Session, name: str) -> Tag:
    tag = session.exec(select(Tag).where(Tag.name == normalise_tag(name))).first()
    if tag is None:
        raise NotFound(f"There is no topic called “{name}”. Topics are the tags used on articles.")
    return tag


def designate_expert(*, session: Session, actor: User | None, topic: str, user: User) -> TopicExpert:
    """Make ``user`` a designated expert of ``topic`` (actor None: the command line)."""
    _require_admin(actor)
    if not user.has_role(Role.expert, Role.admin):
        raise Conflict(f"{user.display_name} does not have the expert role; give them that role first.")
    tag = _tag(session, topic)
    row = session.get(TopicExpert, (tag.id, user.id))
    if row is None:
        row = TopicExpert(tag_id=tag.id, user_id=user.id, designated_by=actor.id if actor else None)
        session.add(row)
        session.flush()
    return row


def remove_expert(*, session: Session, actor: User | None, topic: str, user: User) -> None:
    _require_admin(actor)
    row = session.get(TopicExpert, (_tag(session, topic).id, user.id))
    if row is not None:
        session.delete(row)
        session.flush()


def experts_by_topic(session: Session) -> dict[str, list[User]]:
    rows = session.exec(select(Tag.name, User).join(TopicExpert, TopicExpert.tag_id == Tag.id)
                        .join(User, User.id == TopicExpert.user_id).order_by(Tag.name, User.display_name))
    result: dict[str, list[User]] = {}
    for name, user in rows:
        result.setdefault(name, []).append(user)
    return result


def policies(session: Session) -> tuple[Policy, dict[str, Policy]]:
    """The global policy (default values when never saved) and the per-topic overrides by topic name."""
    base = session.exec(select(Policy).where(Policy.tag_id.is_(None))).first() or Policy()
    overrides = {name: p for p, name in session.exec(select(Policy, Tag.name).join(Tag, Tag.id == Policy.tag_id))}
    return base, overrides


def set_policy(*, session: Session, actor: User | None, topic: str | None, required_approvals: int,
               validity_days: int, reminder_days: int, approval_certifies: bool, experts_only_review: bool) -> Policy:
    """Save the global policy (topic None) or a topic's override."""
    _require_admin(actor)
    if not 1 <= required_approvals <= 10:
        raise ValidationFailed("Required approvals must be between 1 and 10.", field="required_approvals")
    if not 1 <= validity_days <= 3650:
        raise ValidationFailed("Validity must be between 1 and 3650 days.", field="validity_days")
    if not 0 <= reminder_days < validity_days:
        raise ValidationFailed("The reminder must come before the certification expires.", field="reminder_days")
    tag_id = _tag(session, topic).id if topic else None
    policy = session.exec(select(Policy).where(Policy.tag_id.is_(None) if tag_id is None
                                               else Policy.tag_id == tag_id)).first()
    if policy is None:
        policy = Policy(tag_id=tag_id)
        session.add(policy)
    policy.required_approvals, policy.validity_days, policy.reminder_days = (
        required_approvals, validity_days, reminder_days)
    policy.approval_certifies, policy.experts_only_review = approval_certifies, experts_only_review
    session.flush()
    return policy


def remove_policy(*, session: Session, actor: User | None, topic: str) -> None:
    _require_admin(actor)
    policy = session.exec(select(Policy).where(Policy.tag_id == _tag(session, topic).id)).first()
    if policy is not None:
        session.delete(policy)
        session.flush()
