"""Review policy (definition) and topic experts: global defaults with per-topic overrides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from kb.accounts.models import Role, User, UserRole
from kb.content.models import RevisionTag, Tag
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
