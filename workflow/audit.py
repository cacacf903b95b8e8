"""The audit trail: append-only workflow events, with the meaning of each signature, and the
administrative events (users, roles, tokens, experts, policies, routing, synonyms).

Append-only twice over: the ORM refuses to update or delete a row (``kb.db.append_only``) and so does
the database itself (triggers from the migration ``append_only_triggers``), for raw SQL too.
Administrators read and export the whole trail through ``workflow.audit_trail``."""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import Session, select

from kb.accounts.actors import SYSTEM, Actor, require_actor
from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry, Revision
from kb.db import append_only
from kb.events import ADMIN_ACTION, ENTRY_AUDIENCE_CHANGED, ENTRY_DELETED, REVISION_DISCARDED, Event, subscribe
from workflow.models import WorkflowEvent


class AuditTrailIsAppendOnly(RuntimeError):
    pass


append_only(WorkflowEvent, AuditTrailIsAppendOnly, "Audit events are never changed or deleted.")


def record(
    *, session: Session, entry_id: int, action: str, actor: Actor, revision_id: int | None = None,
    from_state: str | None = None, to_state: str | None = None, comment: str = "", signature: str = "",
) -> WorkflowEvent:
    row = WorkflowEvent(entry_id=entry_id, revision_id=revision_id, actor_id=require_actor(actor).id,
                        action=action, from_state=from_state, to_state=to_state, comment=comment,
                        signature=signature)
    session.add(row)
    session.flush()
    return row


def record_all(*, session: Session, actor: Actor, events: list[dict]) -> None:
    """``record`` for many events by one actor, in one statement (``kb import`` certifies
    thousands of revisions per transaction). Each dict has ``record``'s keyword arguments."""
    actor_id = require_actor(actor).id
    now = utcnow()
    if events:
        session.exec(insert(WorkflowEvent.__table__), params=[
            {"revision_id": None, "from_state": None, "to_state": None, "comment": "", "signature": "", **event,
             "actor_id": actor_id, "target": "", "created_at": now} for event in events])


TARGET_LENGTH = 200


def record_admin(*, session: Session, actor: Actor | int | None, action: str, target: str,
                 detail: str = "", signature: str = "") -> WorkflowEvent:
    """An administrative change by ``actor``, or by the user with that id (from an event, where
    None is the command line); ``SYSTEM`` has no id either, so its rows name nobody."""
    actor_id = actor if actor is None or isinstance(actor, int) else actor.id
    row = WorkflowEvent(entry_id=None, actor_id=actor_id, action=action, target=target[:TARGET_LENGTH],
                        comment=detail,
                        signature=signature or ("as administrator" if actor_id else "at the command line"))
    session.add(row)
    session.flush()
    return row


def _on_admin_action(session: Session, event: Event) -> None:
    record_admin(session=session, actor=event.actor_id, action=event.data["action"], target=event.data["target"],
                 detail=event.data.get("detail", ""), signature=event.data.get("signature", ""))


def _on_revision_discarded(session: Session, event: Event) -> None:
    data = event.data
    record(session=session, entry_id=event.entry_id, revision_id=event.revision_id, actor=_actor(session, event),
           action="discard", from_state=data["from_state"], to_state="discarded",
           comment=f"Discarded revision {data['number']} “{data['title']}”.", signature="discarded the draft")


def _on_entry_deleted(session: Session, event: Event) -> None:
    record(session=session, entry_id=event.entry_id, actor=_actor(session, event), action="delete",
           comment=f"Deleted the draft {event.data.get('kind', 'entry')} “{event.data['title']}”.",
           signature="deleted the draft")


def _on_audience_changed(session: Session, event: Event) -> None:
    names = event.data.get("groups") or []
    if event.data.get("group_deleted"):
        comment = ("A group it was limited to was deleted; visible to: " + ", ".join(names) + "." if names else
                   "The group it was limited to was deleted; only its authors and administrators see it.")
    else:
        comment = "Visible to: " + ", ".join(names) + "." if names else "Visible to everyone."
    if "public" in event.data:
        comment += (" Customer-facing: published in the static help centre." if event.data["public"] else
                    " No longer customer-facing.")
    record(session=session, entry_id=event.entry_id, actor=_actor(session, event), action="audience",
           comment=comment, signature="changed who may see it")


def _actor(session: Session, event: Event) -> Actor:
    return session.get(User, event.actor_id) if event.actor_id is not None else SYSTEM


def register() -> None:
    """Record the administrative changes other packages announce (``kb.events.admin_action``), and
    drafts thrown away (``kb.content.removal``)."""
    subscribe(ADMIN_ACTION, _on_admin_action)
    subscribe(REVISION_DISCARDED, _on_revision_discarded)
    subscribe(ENTRY_DELETED, _on_entry_deleted)
    subscribe(ENTRY_AUDIENCE_CHANGED, _on_audience_changed)


def history(*, session: Session, entry_id: int) -> list[WorkflowEvent]:
    return list(session.exec(
        select(WorkflowEvent).where(WorkflowEvent.entry_id == entry_id).order_by(WorkflowEvent.id)
    ))


def visible_history(*, session: Session, actor: User, entry: Entry) -> list[WorkflowEvent]:
    """The entry's events that ``actor`` may know of: entry-wide ones, and those of revisions they
    may open (reviewers' comments on a revision in review are not for agents)."""
    return [event for event, _ in visible_history_with_actors(session=session, actor=actor, entry=entry)]


def visible_history_with_actors(*, session: Session, actor: User, entry: Entry,
                                revision_id: int | None = None) -> list[tuple[WorkflowEvent, User | None]]:
    """``visible_history`` with each event's actor (None: kb itself), in one query; ``revision_id``
    keeps the events of that revision only."""
    statement = (
        select(WorkflowEvent, User)
        .join(Revision, Revision.id == WorkflowEvent.revision_id, isouter=True)
        .join(Entry, Entry.id == WorkflowEvent.entry_id)
        .join(User, User.id == WorkflowEvent.actor_id, isouter=True)
        .where(WorkflowEvent.entry_id == entry.id,
               WorkflowEvent.revision_id.is_(None) | access.revision_visible(actor))
        .order_by(WorkflowEvent.id)
    )
    if revision_id is not None:
        statement = statement.where(WorkflowEvent.revision_id == revision_id)
    return list(session.exec(statement))
