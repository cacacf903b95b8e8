"""The audit trail: append-only workflow events, with the meaning of each signature."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.csvcells import safe_cell
from kb.db import append_only
from kb.errors import Forbidden
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


def history(session: Session, entry_id: int) -> list[WorkflowEvent]:
    return list(session.exec(
        select(WorkflowEvent).where(WorkflowEvent.entry_id == entry_id).order_by(WorkflowEvent.id)
    ))


CSV_COLUMNS = ["id", "time", "entry_id", "revision_id", "actor", "action", "from_state", "to_state", "signature",
               "comment"]


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
            ev.id, ev.created_at.isoformat(), ev.entry_id, ev.revision_id or "", email or "system",
            ev.action, ev.from_state or "", ev.to_state or "", ev.signature, ev.comment)])
    return out.getvalue()
