"""Flags: anyone who can see an article or answer may say it is outdated, incorrect, unclear or a
duplicate. A flag asks the topic's experts to look; they dismiss it with a reason, or certifying a
new revision resolves every open flag of the entry."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import service as content
from kb.content.models import Entry, Revision, RevisionTag
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from kb.events import FLAG_CHANGED, REVISION_TRANSITION, Event, publish, subscribe
from workflow import audit
from workflow.models import Action, Flag, FlagReason, FlagStatus
from workflow.notify import notify
from workflow.policy import revision_tag_ids, topic_experts
from workflow.transitions import REVIEWED_KINDS

OPEN = FlagStatus.open.value


def entry_link(entry_id: int) -> str:
    # /entries/{id} redirects to the entry's page (answers live in their question's thread).
    return f"/entries/{entry_id}"


def _title(session: Session, entry: Entry, revision_id: int | None) -> str:
    revision = session.get(Revision, revision_id or entry.certified_revision_id or entry.latest_revision_id)
    return (revision.title if revision else "") or f"entry {entry.id}"


def _flag_tag_ids(session: Session, entry: Entry, flag: Flag) -> list[int]:
    """The topics of the flagged revision (or, if it is gone, of the entry's current one)."""
    revision_id = flag.revision_id or entry.certified_revision_id or entry.latest_revision_id
    return revision_tag_ids(session=session, revision_id=revision_id) if revision_id else []


def _changed(session: Session, flag: Flag, actor_id: int | None, action: str) -> None:
    publish(session=session, event=Event(FLAG_CHANGED, entry_id=flag.entry_id, revision_id=flag.revision_id, actor_id=actor_id,
                           data={"action": action, "flag_id": flag.id, "reason": flag.reason}))


# --- reading ---------------------------------------------------------------------------------


def get_flag(*, session: Session, actor: User, flag_id: int) -> Flag:
    """The flag if this user may see it (its flagger, or anyone who can see the entry)."""
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound("That flag does not exist, or you cannot see it.")
    if flag.flagger_id != actor.id:
        try:
            content.get_entry(session=session, actor=actor, entry_id=flag.entry_id)
        except NotFound:
            raise NotFound("That flag does not exist, or you cannot see it.") from None
    return flag


def flags_for_entry(*, session: Session, entry_id: int) -> list[Flag]:
    """Every flag of an entry, newest first (open and closed: the history of complaints)."""
    return list(session.exec(select(Flag).where(Flag.entry_id == entry_id)
                             .order_by(Flag.created_at.desc(), Flag.id.desc())))


def open_flags(*, session: Session, tag_ids: list[int] | None = None, limit: int = 200) -> list[Flag]:
    """Open flags, oldest first; with ``tag_ids``, only those whose flagged revision has one of these topics."""
    statement = select(Flag).where(Flag.status == OPEN)
    if tag_ids is not None:
        if not tag_ids:
            return []
        statement = statement.where(Flag.revision_id.in_(
            select(RevisionTag.revision_id).where(RevisionTag.tag_id.in_(tag_ids))))
    return list(session.exec(statement.order_by(Flag.created_at, Flag.id).limit(limit)))


def may_dismiss(*, session: Session, actor: User, flag: Flag, entry: Entry | None = None) -> bool:
    """Administrators, and the experts who are told about the flag (the topic's experts)."""
    if actor.is_admin:
        return True
    entry = entry or session.get(Entry, flag.entry_id)
    return any(u.id == actor.id for u in topic_experts(session=session, tag_ids=_flag_tag_ids(session, entry, flag)))


# --- writing ---------------------------------------------------------------------------------


def raise_flag(*, session: Session, actor: User, entry: Entry, reason: FlagReason, comment: str = "") -> Flag:
    """Flag the revision of ``entry`` this user sees (the certified one if there is one)."""
    entry = content.get_entry(session=session, actor=actor, entry_id=entry.id)
    if entry.kind not in REVIEWED_KINDS:
        raise ValidationFailed("Only articles and answers can be flagged; answer the question instead.",
                               field="reason")
    reason = FlagReason(reason)
    # Lock the entry (PostgreSQL) so two clicks cannot both pass the duplicate check below.
    session.exec(select(Entry.id).where(Entry.id == entry.id).with_for_update()).first()
    duplicate = session.exec(select(Flag.id).where(Flag.entry_id == entry.id, Flag.flagger_id == actor.id,
                                                   Flag.status == OPEN)).first()
    if duplicate is not None:
        raise Conflict("You have already flagged this entry; its experts will look at your flag.",
                       details={"flag_id": duplicate})
    revision_id = entry.certified_revision_id
    if revision_id is None:
        seen = content.visible_revision(session=session, actor=actor, entry=entry)
        revision_id = seen.id if seen else None
    flag = Flag(entry_id=entry.id, revision_id=revision_id, flagger_id=actor.id, reason=reason.value,
                comment=comment.strip())
    session.add(flag)
    session.flush()
    audit.record(session=session, entry_id=entry.id, revision_id=revision_id, actor=actor, action="flag", to_state=OPEN,
                 comment=flag.comment, signature=f"flagged as {reason.value}")
    title = _title(session, entry, revision_id)
    note = f": {flag.comment}" if flag.comment else "."
    notify(session=session, users=topic_experts(session=session, tag_ids=_flag_tag_ids(session, entry, flag)), kind="flag",
           entry_id=entry.id, link=entry_link(entry.id), exclude=actor,
           message=f"{actor.display_name} flagged “{title}” as {reason.value}{note}")
    _changed(session, flag, actor.id, "raise")
    return flag


def dismiss_flag(*, session: Session, actor: User, flag: Flag, reason: str) -> Flag:
    """Close an open flag without changing the content; the flagger is told why."""
    entry = session.get(Entry, flag.entry_id)
    if not may_dismiss(session=session, actor=actor, flag=flag, entry=entry):
        raise Forbidden("Only experts of this entry's topics, or administrators, can dismiss its flags.")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the flag is dismissed; the person who raised it will read it.",
                               field="reason")
    if flag.status != OPEN:
        raise InvalidTransition(f"This flag is already {flag.status}.")
    _close(session, flag, status=FlagStatus.dismissed, resolution=reason, actor_id=actor.id)
    audit.record(session=session, entry_id=flag.entry_id, revision_id=flag.revision_id, actor=actor, action="dismiss_flag",
                 from_state=OPEN, to_state=flag.status, comment=reason, signature="dismissed flag")
    notify(session=session, users=[session.get(User, flag.flagger_id)], kind="flag_dismissed", entry_id=flag.entry_id,
           link=entry_link(flag.entry_id), exclude=actor,
           message=f"{actor.display_name} dismissed your flag on “{_title(session, entry, flag.revision_id)}”: "
                   f"{reason}")
    _changed(session, flag, actor.id, "dismiss")
    return flag


def _close(session: Session, flag: Flag, *, status: FlagStatus, resolution: str, actor_id: int | None) -> None:
    """Conditional update: a flag is closed once, whoever gets there first."""
    moved = session.exec(update(Flag).where(Flag.id == flag.id, Flag.status == OPEN).values(
        status=status.value, resolution=resolution, resolved_by=actor_id, resolved_at=utcnow())).rowcount
    session.refresh(flag)
    if moved != 1:
        raise InvalidTransition(f"This flag is already {flag.status}; reload to see what changed.")


def resolve_by_certification(*, session: Session, entry_id: int, revision_id: int, actor_id: int | None) -> list[Flag]:
    """Certifying a revision answers every open flag of its entry."""
    revision = session.get(Revision, revision_id)
    entry = session.get(Entry, entry_id)
    actor = session.get(User, actor_id) if actor_id is not None else None
    resolution = f"Resolved by certified revision {revision.number}"
    resolved = []
    for flag in session.exec(select(Flag).where(Flag.entry_id == entry_id, Flag.status == OPEN)
                             .order_by(Flag.id)).all():
        try:
            _close(session, flag, status=FlagStatus.resolved, resolution=resolution, actor_id=actor_id)
        except InvalidTransition:  # dismissed at the same moment: nothing left to resolve
            continue
        audit.record(session=session, entry_id=entry_id, revision_id=revision_id, actor=actor, action="resolve_flag",
                     from_state=OPEN, to_state=flag.status, comment=resolution, signature="resolved by certification")
        notify(session=session, users=[session.get(User, flag.flagger_id)], kind="flag_resolved", entry_id=entry_id,
               link=entry_link(entry_id), exclude=actor,
               message=f"Your flag on “{_title(session, entry, revision_id)}” was resolved: revision "
                       f"{revision.number} is now certified.")
        _changed(session, flag, actor_id, "resolve")
        resolved.append(flag)
    return resolved


def _on_transition(session: Session, event: Event) -> None:
    if event.data.get("action") == Action.certify.value and event.entry_id and event.revision_id:
        resolve_by_certification(session=session, entry_id=event.entry_id, revision_id=event.revision_id,
                                 actor_id=event.actor_id)


def register() -> None:
    """Subscribe to domain events (call at start-up; calling again changes nothing)."""
    subscribe(REVISION_TRANSITION, _on_transition)
