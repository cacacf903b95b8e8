"""The audit trail: append-only workflow events, with the meaning of each signature, and the
administrative events (users, roles, tokens, experts, policies, routing, synonyms).

Append-only twice over: the ORM refuses to update or delete a row (``kb.db.append_only``) and so does
the database itself (triggers from the migration ``append_only_triggers``), for raw SQL too."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content.models import Entry, Revision
from kb.csvcells import safe_cell
from kb.db import append_only
from kb.errors import Forbidden
from kb.events import ADMIN_ACTION, Event, subscribe
from workflow.models import WorkflowEvent


class AuditTrailIsAppendOnly(RuntimeError):
    pass


append_only(WorkflowEvent, AuditTrailIsAppendOnly, "Audit events are never changed or deleted.")


def record(
    session: Session, *, entry_id: int, action: str, actor: User | None, revision_id: int | None = None,
    from_state: str | None = None, to_state: str | None = None, comment: str = "", signature: str = "",
) -> WorkflowEvent:
    row = WorkflowEvent(entry_id=entry_id, revision_id=revision_id, actor_id=actor.id if actor else None,
                        action=action, from_state=from_state, to_state=to_state, comment=comment,
                        signature=signature)
    session.add(row)
    session.flush()
    return row


TARGET_LENGTH = 200


def record_admin(session: Session, *, actor: User | int | None, action: str, target: str,
                 detail: str = "") -> WorkflowEvent:
    """An administrative change; ``actor`` None: the command line."""
    actor_id = actor.id if isinstance(actor, User) else actor
    row = WorkflowEvent(entry_id=None, actor_id=actor_id, action=action, target=target[:TARGET_LENGTH],
                        comment=detail, signature="as administrator" if actor_id else "at the command line")
    session.add(row)
    session.flush()
    return row


def _on_admin_action(session: Session, event: Event) -> None:
    record_admin(session, actor=event.actor_id, action=event.data["action"], target=event.data["target"],
                 detail=event.data.get("detail", ""))


def register() -> None:
    """Record the administrative changes other packages announce (``kb.events.admin_action``)."""
    subscribe(ADMIN_ACTION, _on_admin_action)


def admin_events(*, session: Session, actor: User, limit: int = 100) -> list[tuple[WorkflowEvent, str | None]]:
    """The latest administrative events, newest first, with the actor's email (None: command line)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators can read the audit trail of administrative changes.")
    return list(session.exec(
        select(WorkflowEvent, User.email).join(User, User.id == WorkflowEvent.actor_id, isouter=True)
        .where(WorkflowEvent.entry_id.is_(None)).order_by(WorkflowEvent.id.desc()).limit(limit)
    ))


def history(session: Session, entry_id: int) -> list[WorkflowEvent]:
    return list(session.exec(
        select(WorkflowEvent).where(WorkflowEvent.entry_id == entry_id).order_by(WorkflowEvent.id)
    ))


def visible_history(*, session: Session, actor: User, entry: Entry) -> list[WorkflowEvent]:
    """The entry's events that ``actor`` may know of: entry-wide ones, and those of revisions they
    may open (reviewers' comments on a revision in review are not for agents)."""
    return list(session.exec(
        select(WorkflowEvent)
        .join(Revision, Revision.id == WorkflowEvent.revision_id, isouter=True)
        .join(Entry, Entry.id == WorkflowEvent.entry_id)
        .where(WorkflowEvent.entry_id == entry.id,
               WorkflowEvent.revision_id.is_(None) | access.revision_visible(actor))
        .order_by(WorkflowEvent.id)
    ))


CSV_COLUMNS = ["id", "time", "entry_id", "revision_id", "actor", "action", "from_state", "to_state", "signature",
               "comment", "target"]


def export_csv(*, session: Session, actor: User, start: datetime, end: datetime) -> str:
    """Every event from ``start`` (inclusive) to ``end`` (exclusive) as CSV; administrators only."""
    if not actor.is_admin:
        raise Forbidden("Only administrators can export the audit trail.")
    rows = session.exec(
        select(WorkflowEvent, User.email).join(User, User.id == WorkflowEvent.actor_id, isouter=True)
        .where(WorkflowEvent.created_at >= start, WorkflowEvent.created_at < end).order_by(WorkflowEvent.id)
    )
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)  # every cell quoted (kb.csvcells)
    writer.writerow(CSV_COLUMNS)
    for ev, email in rows:
        writer.writerow([safe_cell(v) for v in (
            ev.id, ev.created_at.isoformat(), ev.entry_id or "", ev.revision_id or "", email or "system",
            ev.action, ev.from_state or "", ev.to_state or "", ev.signature, ev.comment, ev.target)])
    return out.getvalue()
