"""The audit trail as administrators read it: filtered by who, what, when and entry, a page at a time,
with each event's actor and the title of its entry; and the CSV export, with the same titles.

Reads only, in a fixed number of queries for a page of any size: the events with their actors (one),
the count (one), the entries and the titles the reader may see (``content.visible_revisions``, twice
over: the entries, then the questions of answers). The export does the same per chunk of rows.

Administrators only. Events of a revision also go through ``access.revision_visible``, the rule the
entry's own audit page applies (``audit.visible_history_with_actors``): today an administrator sees
every revision, and the day that rule changes this page follows it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import User
from kb.clock import UTC
from kb.content import access
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision
from kb.csvcells import safe_cell
from kb.errors import ValidationFailed
from workflow.models import Action, WorkflowEvent

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
# Deep pages mean the filters are too wide: past this, narrow them (or download the CSV).
MAX_PAGE = 200
MAX_WHO = 254
MAX_ENTRY = 200
MAX_ACTION = 32
EXPORT_CHUNK = 500

_CERTIFICATION = ("certify", "reverify", "archive", "expire", "supersede")
_REVIEW = tuple(a.value for a in Action if a.value not in _CERTIFICATION)
_FLAGS = ("flag", "resolve_flag", "dismiss_flag")


def _prefixed(*prefixes: str):
    return sa.or_(*[WorkflowEvent.action.startswith(p, autoescape=True) for p in prefixes])


# What the "kind" filter offers: a label, and the condition on the event.
KINDS: dict[str, tuple[str, sa.ColumnElement[bool]]] = {
    "review": ("Review decisions (submit, approve, request changes, reject, withdraw)",
               WorkflowEvent.action.in_(_REVIEW)),
    "certification": ("Certification (certify, re-verify, archive, expiry)", WorkflowEvent.action.in_(_CERTIFICATION)),
    "flags": ("Flags", WorkflowEvent.action.in_(_FLAGS)),
    "content": ("Every change to content", WorkflowEvent.entry_id.is_not(None)),
    "admin": ("Every administrative change", WorkflowEvent.entry_id.is_(None)),
    "users": ("Users, roles and API tokens", _prefixed("user.", "token.")),
    "policy": ("Review policies, topic experts and routing", _prefixed("policy.", "expert.", "routing.")),
    "synonyms": ("Search synonyms", _prefixed("synonym.")),
    "webhooks": ("Webhooks", _prefixed("webhook.")),
}


@dataclass(frozen=True)
class AuditFilter:
    """What to show. Empty text and None mean "any"; ``end`` is inclusive."""

    who: str = ""          # part of the actor's name or email
    kind: str = ""         # a key of KINDS
    action: str = ""       # one action exactly, e.g. "certify" or "user.create"
    start: date | None = None
    end: date | None = None
    entry: str = ""        # an entry's number, or words of its title (an answer: its question's)

    def is_empty(self) -> bool:
        return not (self.who or self.kind or self.action or self.start or self.end or self.entry)


# What each recorded action means, as the audit page says it (the raw name stays the filter's value).
ACTION_NAMES = {
    "submit": "Submitted for review", "resubmit": "Resubmitted for review", "withdraw": "Withdrew from review",
    "approve": "Approved", "request-changes": "Requested changes", "reject": "Rejected", "certify": "Certified",
    "reverify": "Re-verified", "archive": "Archived", "expire": "Expired (needs re-verification)",
    "supersede": "Replaced by a newer certified version", "discard": "Discarded a draft version",
    "delete": "Deleted a draft", "flag": "Flagged", "resolve_flag": "Resolved a flag",
    "dismiss_flag": "Dismissed a flag",
    "user.create": "Created a user", "user.roles": "Changed roles", "user.deactivate": "Deactivated a user",
    "user.activate": "Reactivated a user", "user.password": "Set a password",
    "user.password_link.invite": "Sent an invitation", "user.password_link.reset": "Sent a password reset link",
    "user.sso_sign_in": "Signed in through single sign-on", "user.email": "Changed an email address",
    "user.roles_from_provider": "Let the identity provider's groups set roles again",
    "token.create": "Created an API token", "token.revoke": "Revoked an API token",
    "policy.set": "Set a review policy", "policy.remove": "Removed a review policy",
    "expert.designate": "Named a topic expert", "expert.remove": "Removed a topic expert",
    "routing.set": "Set question routing", "routing.remove": "Removed question routing",
    "synonym.save": "Saved a search synonym", "synonym.delete": "Deleted a search synonym",
    "webhook.create": "Added a webhook", "webhook.delete": "Deleted a webhook", "webhook.disable": "Paused a webhook",
    "webhook.enable": "Resumed a webhook", "webhook.retry": "Retried webhook deliveries",
}


def action_name(action: str) -> str:
    """``"user.password_link.invite"`` -> "Sent an invitation"; an action without a name reads as its words."""
    return ACTION_NAMES.get(action) or action.replace("_", " ").replace(".", ": ").replace("-", " ").capitalize()


@dataclass(frozen=True)
class AuditRow:
    event: WorkflowEvent
    actor: User | None     # None: kb itself (workflow events) or the command line (administrative ones)
    entry: Entry | None    # None: an administrative change
    title: str             # the entry's title as the reader may see it; "" without an entry

    @property
    def what(self) -> str:
        return action_name(self.event.action)


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.page_size)))


def _check(filters: AuditFilter) -> None:
    if filters.kind and filters.kind not in KINDS:
        raise ValidationFailed("Choose a kind of event from the list.", field="kind")
    if len(filters.who) > MAX_WHO:
        raise ValidationFailed(f"Give at most {MAX_WHO} characters of the person's name or email.", field="who")
    if len(filters.entry) > MAX_ENTRY:
        raise ValidationFailed(f"Give an entry's number or at most {MAX_ENTRY} characters of its title.",
                               field="entry")
    if len(filters.action) > MAX_ACTION:
        raise ValidationFailed("That is not an action of the audit trail; choose a kind of event instead.",
                               field="action")
    if filters.start and filters.end and filters.end < filters.start:
        raise ValidationFailed("The end date must not be before the start date.", field="end")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _statement(actor: Actor, filters: AuditFilter, columns: tuple):
    """Events matching ``filters`` that ``actor`` may know of, with the given columns."""
    statement = (
        select(*columns)
        .join(User, User.id == WorkflowEvent.actor_id, isouter=True)
        .join(Revision, Revision.id == WorkflowEvent.revision_id, isouter=True)
        .join(Entry, Entry.id == WorkflowEvent.entry_id, isouter=True)
        # Deleted drafts keep their history here (and only here).
        .where(WorkflowEvent.revision_id.is_(None) | access.revision_visible(actor, include_deleted=True))
    )
    who = filters.who.strip()
    if who:
        statement = statement.where(User.email.icontains(who, autoescape=True)
                                    | User.display_name.icontains(who, autoescape=True))
    if filters.kind:
        statement = statement.where(KINDS[filters.kind][1])
    if filters.action.strip():
        statement = statement.where(WorkflowEvent.action == filters.action.strip())
    if filters.start:
        statement = statement.where(WorkflowEvent.created_at >= _day_start(filters.start))
    if filters.end and filters.end < date.max:
        statement = statement.where(WorkflowEvent.created_at < _day_start(filters.end + timedelta(days=1)))
    entry = filters.entry.strip().removeprefix("#")
    if entry.isdigit():
        statement = statement.where(WorkflowEvent.entry_id == int(entry))
    elif entry:
        # Entries with a revision the reader may open whose title has these words; answers by their question.
        titled = (select(Revision.entry_id).join(Entry, Entry.id == Revision.entry_id)
                  .where(Revision.title.icontains(entry, autoescape=True),
                         access.revision_visible(actor, include_deleted=True)))
        statement = statement.where(Entry.id.in_(titled) | Entry.parent_id.in_(titled))
    return statement


def audit_page(*, session: Session, actor: Actor, filters: AuditFilter = AuditFilter(), page: int = 1,
               page_size: int = DEFAULT_PAGE_SIZE) -> AuditPage:
    """One page of the events matching ``filters``, newest first (by time: imported or demo history may
    have been written out of order); administrators only."""
    require_admin(actor, "Only administrators can read the audit trail.")
    _check(filters)
    if page_size not in PAGE_SIZES:
        raise ValidationFailed(f"Show {', '.join(map(str, PAGE_SIZES))} events a page.", field="page_size")
    if not 1 <= page <= MAX_PAGE:
        raise ValidationFailed(f"Pages go up to {MAX_PAGE}: narrow the filters (dates, who, kind) to see older "
                               f"events, or download them as CSV.", field="page")
    total = session.exec(_statement(actor, filters, (sa.func.count(WorkflowEvent.id),))).one()
    found = list(session.exec(_statement(actor, filters, (WorkflowEvent, User))
                              .order_by(WorkflowEvent.created_at.desc(), WorkflowEvent.id.desc()).limit(page_size).offset((page - 1) * page_size)))
    return AuditPage(rows=_rows(session, actor, found, {}), total=total, page=page, page_size=page_size)


def _rows(session: Session, actor: Actor, found: list[tuple[WorkflowEvent, User | None]],
          known: dict[int, tuple[Entry, str]]) -> list[AuditRow]:
    """Rows with their entries and titles, loaded in one batch (``known`` carries them across batches)."""
    _load_titles(session, actor, {event.entry_id for event, _ in found if event.entry_id is not None}, known)
    rows = []
    for event, user in found:
        entry, title = known.get(event.entry_id, (None, "")) if event.entry_id is not None else (None, "")
        rows.append(AuditRow(event=event, actor=user, entry=entry, title=title))
    return rows


def _load_titles(session: Session, actor: Actor, entry_ids: set[int], known: dict[int, tuple[Entry, str]]) -> None:
    wanted = entry_ids - known.keys()
    if not wanted:
        return
    entries = list(session.exec(select(Entry).where(Entry.id.in_(wanted))))
    titles = _visible_titles(session, actor, entries)
    parent_ids = {e.parent_id for e in entries if e.kind == EntryKind.answer.value and e.parent_id is not None}
    parents = list(session.exec(select(Entry).where(Entry.id.in_(parent_ids)))) if parent_ids else []
    parent_titles = _visible_titles(session, actor, parents)
    for entry in entries:
        if entry.kind == EntryKind.answer.value:
            question = parent_titles.get(entry.parent_id, "")
            title = f"Answer to “{question}”" if question else f"Answer {entry.id}"
        else:
            title = titles.get(entry.id) or f"{entry.kind.capitalize()} {entry.id}"
        known[entry.id] = (entry, title)


def _visible_titles(session: Session, actor: Actor, entries: list[Entry]) -> dict[int, str]:
    if not entries:
        return {}
    revisions = content.visible_revisions(session=session, actor=actor, entries=entries)
    titles = {entry_id: revision.title for entry_id, revision in revisions.items() if revision is not None}
    # A deleted draft is seen by nobody, but its history is: named by its last title.
    deleted = {e.latest_revision_id: e.id for e in entries if access.is_deleted(e) and e.latest_revision_id}
    for revision_id, title in session.exec(select(Revision.id, Revision.title).where(Revision.id.in_(deleted))):
        titles[deleted[revision_id]] = f"{title} (deleted)"
    return titles


def entry_titles(*, session: Session, actor: Actor, entry_ids: Iterable[int]) -> dict[int, str]:
    """The titles ``actor`` may see of these entries (answers: "Answer to “question”"), in one batch."""
    known: dict[int, tuple[Entry, str]] = {}
    _load_titles(session, actor, set(entry_ids), known)
    return {entry_id: title for entry_id, (_, title) in known.items()}


# --- CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = ["id", "time", "entry_id", "revision_id", "actor", "action", "from_state", "to_state", "signature",
               "comment", "target", "entry_title"]


def export_rows(*, session: Session, actor: Actor, filters: AuditFilter) -> Iterator[AuditRow]:
    """Every event matching ``filters``, oldest first, with titles loaded a chunk at a time."""
    require_admin(actor, "Only administrators can export the audit trail.")
    _check(filters)
    last_id = 0
    known: dict[int, tuple[Entry, str]] = {}
    while True:
        chunk = list(session.exec(_statement(actor, filters, (WorkflowEvent, User))
                                  .where(WorkflowEvent.id > last_id).order_by(WorkflowEvent.id).limit(EXPORT_CHUNK)))
        if not chunk:
            return
        if len(known) > 10 * EXPORT_CHUNK:
            known.clear()  # a long export keeps only recent entries at hand
        yield from _rows(session, actor, chunk, known)
        last_id = chunk[-1][0].id


def export_csv(*, session: Session, actor: Actor, filters: AuditFilter) -> str:
    """The matching events as CSV (every cell quoted and formula-safe: ``kb.csvcells``), with titles."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for row in export_rows(session=session, actor=actor, filters=filters):
        ev = row.event
        writer.writerow([safe_cell(v) for v in (
            ev.id, ev.created_at.isoformat(), ev.entry_id or "", ev.revision_id or "",
            row.actor.email if row.actor else "system", ev.action, ev.from_state or "", ev.to_state or "",
            ev.signature, ev.comment, ev.target, row.title)])
    return out.getvalue()
