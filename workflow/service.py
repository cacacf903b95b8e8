"""Workflow transitions. Each one checks who may act, changes state with a conditional update,
writes the audit event, notifies and publishes a domain event, in that order, in one transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.models import Role, User
from kb.clock import utcnow
from kb.content import access as content_access
from kb.content import service as content
from kb.content.models import Entry, Revision, RevisionState
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from kb.events import CERTIFICATION_CHANGED, REVISION_TRANSITION, Event, publish
from workflow import audit
from workflow.actions import (ACTIONS, AvailableAction, CertificationContext, available_actions,
                              certification_refusal)
from workflow.models import Action, Certification, CertificationAction, CertificationStatus, Review, TopicExpert
from workflow.notify import notify
from workflow.policy import (EffectivePolicy, contributors, effective_policy, expert_topics, revision_tag_ids,
                             topic_experts)
from workflow.transitions import REVIEWED_KINDS, TRANSITIONS, ReviewContext, approved_it, contributed

S = RevisionState
OPEN_STATES = (S.in_review.value, S.approved.value, S.changes_requested.value)


def context_for(*, session: Session, actor: User, entry: Entry, revision: Revision) -> tuple[ReviewContext, EffectivePolicy]:
    tag_ids = revision_tag_ids(session=session, revision_id=revision.id)
    policy = effective_policy(session=session, tag_ids=tag_ids)
    # Only an approval counts: a reviewer who asked for changes may approve the resubmission.
    approvers = frozenset(session.exec(
        select(Review.reviewer_id).where(Review.revision_id == revision.id, Review.decision == Action.approve.value)))
    ctx = ReviewContext(
        experts_only_review=policy.experts_only_review,
        is_topic_expert=bool(expert_topics(session=session, user_id=actor.id, tag_ids=tag_ids)),
        already_reviewed=actor.id in approvers,
        is_latest=entry.latest_revision_id == revision.id,
        contributor_ids=contributors(session=session, revision=revision),
        approver_cannot_certify=policy.approver_cannot_certify,
        approver_ids=approvers,
    )
    return ctx, policy


def certification_context(*, session: Session, actor: User, entry: Entry) -> CertificationContext:
    """What the rules need about the entry's live certification; no query when nothing is certified."""
    if entry.certified_revision_id is None:
        return CertificationContext()
    cert = session.get(Certification, entry.id)
    if cert is None:
        return CertificationContext()
    certified = session.get(Revision, entry.certified_revision_id)
    return CertificationContext(
        status=CertificationStatus(cert.status),
        expert_of=tuple(expert_topics(session=session, user_id=actor.id, tag_ids=revision_tag_ids(session=session, revision_id=certified.id))),
        contributor_ids=contributors(session=session, revision=certified),
    )


def _may_act_at_all(*, session: Session, actor: User, entry: Entry, revision: Revision | None) -> bool:
    """False when no rule can offer ``actor`` an action on this entry, whatever its policy and
    history: not an expert or administrator, not the author, and designated expert of no topic
    (by score only experts and administrators become one). Every page an agent opens asks; this
    spares them the policy's queries (workflow.transitions and workflow.actions decide the rest)."""
    if entry.kind not in REVIEWED_KINDS or not actor.is_active:
        return False
    if actor.has_role(Role.expert, Role.admin):
        return True
    if actor.id in (entry.author_id, revision.author_id if revision is not None else None):
        return True
    return session.exec(select(TopicExpert.user_id).where(TopicExpert.user_id == actor.id).limit(1)).first() is not None


def available_actions_for(*, session: Session, actor: User, entry: Entry,
                          revision: Revision | None = None) -> list[AvailableAction]:
    """Every action ``actor`` may take now, with its label: the transitions of ``revision`` (the
    entry's latest one on its page) and the re-verification and archiving of the entry."""
    if not _may_act_at_all(session=session, actor=actor, entry=entry, revision=revision):
        return []
    review = context_for(session=session, actor=actor, entry=entry, revision=revision)[0] if revision is not None else None
    return available_actions(user=actor, entry=entry, revision=revision, review=review,
                             certification=certification_context(session=session, actor=actor, entry=entry))


def actions_for(*, session: Session, actor: User, entry: Entry, revision: Revision) -> list[Action]:
    """The transitions ``actor`` may take on ``revision`` (what the API reports as next steps)."""
    ctx, _ = context_for(session=session, actor=actor, entry=entry, revision=revision)
    return _transitions(actor, entry, revision, ctx)


def _transitions(actor: User, entry: Entry, revision: Revision, ctx: ReviewContext) -> list[Action]:
    return [a.action for a in available_actions(user=actor, entry=entry, revision=revision, review=ctx)]


def after_transition(*, session: Session, actor: User, revision: Revision) -> tuple[Entry, list[Action], bool]:
    """The entry, the actor's next actions and whether the actor may still see the revision, right
    after ``transition``. No visibility check: the actor just acted on it, and a reviewer who rejected
    a revision may no longer see it (that must not turn the rejection into a 404)."""
    entry = session.exec(select(Entry).where(Entry.id == revision.entry_id)
                         .execution_options(populate_existing=True)).one()
    return entry, actions_for(session=session, actor=actor, entry=entry, revision=revision), \
        content_access.can_view_revision(actor, entry, revision)


def _lock(session: Session, revision_id: int) -> Revision:
    """Re-read the revision under a row lock (PostgreSQL), so racing transitions queue up."""
    revision = session.exec(
        select(Revision).where(Revision.id == revision_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if revision is None:
        raise NotFound("That revision does not exist.")
    return revision


def _move(session: Session, revision: Revision, from_state: str, to_state: str) -> None:
    """Conditional update: only one of two racing requests can move the revision out of a state."""
    moved = session.exec(
        update(Revision).where(Revision.id == revision.id, Revision.state == from_state).values(state=to_state)
    ).rowcount
    if moved != 1:
        session.refresh(revision)
        raise InvalidTransition(f"This revision is now “{revision.state.replace('_', ' ')}”; reload to see what changed.")
    session.refresh(revision)


def _signature(action: Action, actor: User, topics: list[str]) -> str:
    if action is Action.certify:
        return f"certified as expert of {', '.join(topics)}" if topics else "certified as administrator"
    return {
        Action.submit: "submitted as author", Action.resubmit: "resubmitted as author",
        Action.withdraw: "withdrawn", Action.approve: "approved as reviewer",
        Action.request_changes: "requested changes as reviewer", Action.reject: "rejected as reviewer",
    }[action]


def transition(*, session: Session, actor: User, revision_id: int, action: Action, comment: str = "") -> Revision:
    """Take ``action`` on a revision: 403 when this user may not, 409 when the state does not allow it."""
    _, revision = content.get_revision(session=session, actor=actor, revision_id=revision_id)
    revision = _lock(session, revision.id)
    entry = session.exec(select(Entry).where(Entry.id == revision.entry_id)
                         .execution_options(populate_existing=True)).one()
    if entry.kind not in REVIEWED_KINDS:
        raise InvalidTransition("Questions are not reviewed; only articles and answers are.")
    sources, target = TRANSITIONS[action]
    if RevisionState(revision.state) not in sources:
        raise InvalidTransition(
            f"You cannot {action.value.replace('-', ' ')} a revision that is “{revision.state.replace('_', ' ')}”."
        )
    ctx, policy = context_for(session=session, actor=actor, entry=entry, revision=revision)
    if action not in _transitions(actor, entry, revision, ctx):
        raise Forbidden(_refusal(action, actor, revision, ctx))
    comment = comment.strip()
    if ACTIONS[action].needs_comment and not comment:
        raise ValidationFailed(ACTIONS[action].comment_prompt, field="comment")
    handler = {Action.approve: _approve, Action.certify: _certify}.get(action, _plain_transition)
    return handler(session, actor=actor, entry=entry, revision=revision, action=action, target=target,
                   comment=comment, policy=policy)


def _refusal(action: Action, actor: User, revision: Revision, ctx: ReviewContext) -> str:
    if contributed(actor, revision, ctx) and action in (Action.approve, Action.request_changes, Action.reject,
                                                        Action.certify):
        if revision.author_id == actor.id:
            return "You cannot review or certify your own work; another expert must do it."
        return ("You contributed to this text since it was last certified, so you cannot review or certify it; "
                "another expert must do it.")
    if action is Action.approve and ctx.already_reviewed:
        return "You have already approved this revision; another reviewer must approve too."
    if action is Action.certify and approved_it(actor, ctx):
        return ("You approved this revision, and this topic's policy wants someone other than the approver to "
                "certify it (author, approver and certifier are three people); another expert must certify.")
    if action is Action.certify:
        return "Only experts of this topic (designated, or with enough expertise when the policy allows it), or administrators, can certify."
    if action in (Action.approve, Action.request_changes, Action.reject):
        return "Only experts of this topic can review it."
    return "Only the author of this revision (or an administrator) can do that."


def _record_transition(session: Session, *, actor: User, entry: Entry, revision: Revision, action: Action,
                       from_state: str, comment: str, signature: str) -> None:
    """After a move: the audit event, the notifications, then the domain event (in that order)."""
    audit.record(session=session, entry_id=entry.id, revision_id=revision.id, actor=actor, action=action.value,
                 from_state=from_state, to_state=revision.state, comment=comment, signature=signature)
    _notify(session, actor=actor, entry=entry, revision=revision, action=action, comment=comment)
    data = {"action": action.value, "from": from_state, "to": revision.state}
    if action is Action.certify:  # a fresh certification: search ranks it as not stale
        data["needs_reverification"] = False
        # Whom it credits (reputation): the answer's author for an article turned from their answer.
        data["credited_author_id"] = content.credited_author_id(entry=entry, revision=revision)
    publish(session=session, event=Event(REVISION_TRANSITION, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id,
                           data=data))


def _plain_transition(session, *, actor, entry, revision, action, target, comment, policy) -> Revision:
    """Every action but approve and certify: move the state, with the review a decision records."""
    from_state = revision.state
    if action is Action.submit:
        _withdraw_older(session, actor=actor, entry=entry, keep=revision)
    if action in (Action.request_changes, Action.reject):
        _record_review(session, revision=revision, actor=actor, decision=action, comment=comment)
    _move(session, revision, from_state, target.value)
    _record_transition(session, actor=actor, entry=entry, revision=revision, action=action, from_state=from_state,
                       comment=comment, signature=_signature(action, actor, []))
    return revision


def _record_review(session: Session, *, revision: Revision, actor: User, decision: Action, comment: str) -> None:
    """One review per reviewer and revision: a later decision replaces the earlier one."""
    review = session.exec(select(Review).where(Review.revision_id == revision.id, Review.reviewer_id == actor.id)
                          .with_for_update()).first()
    if review is not None:
        if review.decision == decision.value == Action.approve.value:
            raise Conflict("You have already approved this revision.")
        review.decision, review.comment, review.created_at = decision.value, comment, utcnow()
        session.flush()
        return
    try:
        with session.begin_nested():  # the savepoint covers the insert, so a duplicate leaves the session usable
            session.add(Review(revision_id=revision.id, reviewer_id=actor.id, decision=decision.value,
                               comment=comment))
            session.flush()
    except IntegrityError:
        raise Conflict("You have already reviewed this revision.") from None


def _withdraw_older(session: Session, *, actor: User, entry: Entry, keep: Revision) -> None:
    """Submitting a new revision takes older ones out of review: one revision is reviewed at a time."""
    older = session.exec(select(Revision).where(Revision.entry_id == entry.id, Revision.id != keep.id,
                                                Revision.state.in_(OPEN_STATES)))
    for rev in older:
        from_state = rev.state
        _move(session, rev, from_state, S.withdrawn.value)
        audit.record(session=session, entry_id=entry.id, revision_id=rev.id, actor=actor, action=Action.withdraw.value,
                     from_state=from_state, to_state=rev.state,
                     comment=f"Replaced by revision {keep.number}.", signature="withdrawn")


def _approve(session, *, actor, entry, revision, action, target, comment, policy) -> Revision:
    _record_review(session, revision=revision, actor=actor, decision=action, comment=comment)
    approvals = len(list(session.exec(select(Review.id).where(Review.revision_id == revision.id,
                                                              Review.decision == Action.approve.value))))
    from_state = revision.state
    if approvals >= policy.required_approvals:
        _move(session, revision, from_state, target.value)
    else:
        comment = comment or f"Approval {approvals} of {policy.required_approvals}."
    _record_transition(session, actor=actor, entry=entry, revision=revision, action=action, from_state=from_state,
                       comment=comment, signature=_signature(action, actor, []))
    ctx, _ = context_for(session=session, actor=actor, entry=entry, revision=revision)
    if revision.state == S.approved.value and policy.approval_certifies and Action.certify in _transitions(
            actor, entry, revision, ctx):
        return _certify(session, actor=actor, entry=entry, revision=revision, action=Action.certify,
                        target=S.certified, comment="Certified on approval (topic policy).", policy=policy)
    return revision


def _certify(session, *, actor, entry, revision, action, target, comment, policy) -> Revision:
    """Certify and, in the same transaction, supersede the previously certified revision."""
    from_state = revision.state
    _move(session, revision, from_state, target.value)
    previous_id = entry.certified_revision_id
    # Every other certified revision (normally the one the entry points at; after an archive, the
    # archived one) is superseded, so an entry never has two certified revisions.
    older = session.exec(select(Revision).where(Revision.entry_id == entry.id, Revision.id != revision.id,
                                                Revision.state == S.certified.value))
    for previous in older:
        _move(session, previous, S.certified.value, S.superseded.value)
        audit.record(session=session, entry_id=entry.id, revision_id=previous.id, actor=actor, action="supersede",
                     from_state=S.certified.value, to_state=S.superseded.value,
                     comment=f"Superseded by revision {revision.number}.", signature="superseded on certification")
    moved = session.exec(
        update(Entry).where(Entry.id == entry.id, Entry.certified_revision_id.is_(previous_id)
                            if previous_id is None else Entry.certified_revision_id == previous_id)
        .values(certified_revision_id=revision.id)
    ).rowcount
    if moved != 1:
        raise InvalidTransition("Another revision was certified at the same time; reload to see it.")
    now = utcnow()
    cert = session.get(Certification, entry.id)
    if cert is None:
        cert = Certification(entry_id=entry.id, revision_id=revision.id, certified_by=actor.id, certified_at=now,
                             valid_until=now)
        session.add(cert)
    cert.revision_id, cert.certified_by, cert.certified_at = revision.id, actor.id, now
    cert.valid_until = now + timedelta(days=policy.validity_days)
    cert.status = CertificationStatus.active.value
    cert.reminder_sent_at = cert.reverified_by = cert.reverified_at = cert.archived_by = cert.archived_at = None
    cert.version += 1
    session.flush()
    session.refresh(entry)
    topics = expert_topics(session=session, user_id=actor.id, tag_ids=revision_tag_ids(session=session, revision_id=revision.id))
    _record_transition(session, actor=actor, entry=entry, revision=revision, action=action, from_state=from_state,
                       comment=comment, signature=_signature(action, actor, topics))
    return revision


def _notify(session: Session, *, actor: User, entry: Entry, revision: Revision, action: Action, comment: str) -> None:
    link = f"/review/{revision.id}"
    title = revision.title or f"entry {entry.id}"
    author = session.get(User, revision.author_id)
    if action in (Action.submit, Action.resubmit):
        reviewers = [u for u in topic_experts(session=session, tag_ids=revision_tag_ids(session=session, revision_id=revision.id))
                     if u.id != revision.author_id]
        notify(session=session, users=reviewers, kind="review_requested", entry_id=entry.id, link=link, exclude=actor,
               message=f"{actor.display_name} submitted “{title}” for review.")
        return
    messages = {
        Action.request_changes: ("changes_requested", f"{actor.display_name} asked for changes to “{title}”: {comment}"),
        Action.approve: ("approved", f"{actor.display_name} approved “{title}”."),
        Action.reject: ("rejected", f"{actor.display_name} rejected “{title}”: {comment}"),
        Action.certify: ("certified", f"{actor.display_name} certified “{title}”."),
        Action.withdraw: ("withdrawn", f"{actor.display_name} withdrew “{title}” from review."),
    }
    if action in messages:
        kind, message = messages[action]
        notify(session=session, users=[author], kind=kind, entry_id=entry.id, link=link, message=message, exclude=actor)


# --- entry-level: re-verification and archiving ----------------------------------------------


def _certification(session: Session, entry: Entry) -> Certification:
    cert = session.exec(select(Certification).where(Certification.entry_id == entry.id).with_for_update()
                        .execution_options(populate_existing=True)).first()
    if cert is None or entry.certified_revision_id is None:
        raise InvalidTransition("This entry has no certified revision.")
    return cert


def _authorise(session: Session, actor: User, entry: Entry, action: CertificationAction) -> CertificationContext:
    """The same rule that offers the buttons: refused unless ``action`` is available to ``actor``."""
    certification = certification_context(session=session, actor=actor, entry=entry)
    if ACTIONS[action] not in available_actions(user=actor, entry=entry, certification=certification):
        raise Forbidden(certification_refusal(actor, certification))
    return certification


def reverify(*, session: Session, actor: User, entry: Entry, comment: str = "") -> Certification:
    """Confirm the certified revision is still right: a new validity period from today."""
    cert = _certification(session, entry)
    if cert.status == CertificationStatus.archived.value:
        raise InvalidTransition("This entry is archived; certify a new revision instead.")
    topics = _authorise(session, actor, entry, CertificationAction.reverify).expert_of
    revision = session.get(Revision, entry.certified_revision_id)
    policy = effective_policy(session=session, tag_ids=revision_tag_ids(session=session, revision_id=revision.id))
    from_status, now = cert.status, utcnow()
    moved = session.exec(update(Certification).where(Certification.entry_id == entry.id,
                                                     Certification.version == cert.version).values(
        status=CertificationStatus.active.value, valid_until=now + timedelta(days=policy.validity_days),
        reverified_by=actor.id, reverified_at=now, reminder_sent_at=None, version=cert.version + 1)).rowcount
    if moved != 1:
        raise InvalidTransition("Someone else changed this certification at the same time; reload.")
    session.refresh(cert)
    signature = f"re-verified as expert of {', '.join(topics)}" if topics else "re-verified as administrator"
    audit.record(session=session, entry_id=entry.id, revision_id=revision.id, actor=actor, action="reverify",
                 from_state=from_status, to_state=cert.status, comment=comment.strip(), signature=signature)
    publish(session=session, event=Event(CERTIFICATION_CHANGED, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id,
                           data={"action": "reverify", "needs_reverification": False}))
    return cert


def archive(*, session: Session, actor: User, entry: Entry, comment: str = "") -> Certification:
    """Take certified content away from agents (it stays in the history)."""
    cert = _certification(session, entry)
    if cert.status == CertificationStatus.archived.value:
        raise InvalidTransition("This entry is already archived.")
    _authorise(session, actor, entry, CertificationAction.archive)
    from_status, now = cert.status, utcnow()
    moved = session.exec(update(Certification).where(Certification.entry_id == entry.id,
                                                     Certification.version == cert.version).values(
        status=CertificationStatus.archived.value, archived_by=actor.id, archived_at=now,
        version=cert.version + 1)).rowcount
    if moved != 1:
        raise InvalidTransition("Someone else changed this certification at the same time; reload.")
    session.exec(update(Entry).where(Entry.id == entry.id).values(certified_revision_id=None))
    session.refresh(cert)
    session.refresh(entry)
    audit.record(session=session, entry_id=entry.id, revision_id=cert.revision_id, actor=actor, action="archive",
                 from_state=from_status, to_state=cert.status, comment=comment.strip(), signature="archived")
    publish(session=session, event=Event(CERTIFICATION_CHANGED, entry_id=entry.id, revision_id=cert.revision_id,
                           actor_id=actor.id, data={"action": "archive", "needs_reverification": False}))
    return cert
