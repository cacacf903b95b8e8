"""Domain events: a service publishes, other packages react inside the same transaction.

``kb`` cannot import ``workflow``, ``search`` or ``expertise``; they subscribe here instead
(search writes outbox rows, workflow sends notifications, expertise updates scores). Subscribers
are registered by one composition root, ``cli.bootstrap.bootstrap()``, for every entry point (the
web app, the ``kb`` command, tests); ``require_bootstrap`` lets an entry point refuse to start
without them, since a missing subscriber fails silently (nothing is indexed, nobody is notified).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

# Every event a service publishes. A name is a constant so that a typo fails at import, and
# ``subscribe`` refuses names not listed here, so a typo in a subscriber fails at bootstrap.
ENTRY_CREATED = "entry.created"  # kb.content: an article, question or answer (also by import)
REVISION_CREATED = "revision.created"  # kb.content: a new revision of an entry
ANSWER_ACCEPTED = "answer.accepted"  # kb.content.forum; data: question_id, previous_answer_id, asker_id, answerer_id
ANSWER_PROMOTED = "answer.promoted"  # kb.content.forum; data: article_id, author_id (the answer's author)
REVISION_TRANSITION = "revision.transition"  # workflow.service; data: action, from, to
CERTIFICATION_CHANGED = "certification.changed"  # workflow: certified, re-verified, expired, archived
FLAG_CHANGED = "flag.changed"  # workflow.flags: raised or resolved
TOPIC_EXPERT_CHANGED = "topic_expert.changed"  # workflow.policy: designated or removed
VOTE_CHANGED = "vote.changed"  # expertise.ratings: helpful / not helpful
ENTRY_REUSED = "entry.reused"  # expertise.ratings: "used to solve a case"
# kb.content.removal: an author threw away a draft revision; data: number, title, from_state,
# previous_revision_id (the entry's latest revision again, or None when a later one stays latest).
REVISION_DISCARDED = "revision.discarded"
# kb.content.removal: a draft article was deleted (soft: nobody sees it any more); data: title, kind.
ENTRY_DELETED = "entry.deleted"
ADMIN_ACTION = "admin.action"  # any package: an administrative change for the audit trail
# kb.content.transfer: an import wrote its last batch; data: author_ids (whose entries it created or
# changed), files. What is worth recomputing once per import rather than once per batch waits for it.
IMPORT_FINISHED = "import.finished"
# kb.accounts.password_links: a link to set a password was made, to be emailed once the transaction
# commits; data: user_id, purpose ("invite" | "reset"), url (with the one-time token, which kb keeps
# only as a hash, so it lives in this event alone), expires_at, settings (mail server and sender).
PASSWORD_LINK_REQUESTED = "password_link.requested"

# kb.content.audiences: who may see an entry changed (set by its author or an admin, or a group it
# was limited to was deleted); data: groups (names; [] with the entry no longer limited, or left to
# its authors), group_deleted (True when that was the cause), public (present when the
# customer-facing flag changed: its new value).
ENTRY_AUDIENCE_CHANGED = "entry.audience_changed"
EVENT_NAMES = frozenset({
    ENTRY_CREATED, REVISION_CREATED, ANSWER_ACCEPTED, ANSWER_PROMOTED, REVISION_TRANSITION,
    CERTIFICATION_CHANGED, FLAG_CHANGED, TOPIC_EXPERT_CHANGED, VOTE_CHANGED, ENTRY_REUSED, ADMIN_ACTION,
    PASSWORD_LINK_REQUESTED, REVISION_DISCARDED, ENTRY_DELETED, IMPORT_FINISHED, ENTRY_AUDIENCE_CHANGED,
})


@dataclass(frozen=True)
class Event:
    name: str
    entry_id: int | None = None
    revision_id: int | None = None
    actor_id: int | None = None
    data: dict = field(default_factory=dict)


Handler = Callable[[Session, Event], None]
BulkHandler = Callable[[Session, list[Event]], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
# A subscriber may also react to many events of one name at once (``publish_all``): same effect
# as its handler run on each event in order, in fewer statements (``kb import`` publishes
# thousands per transaction).
_bulk_handlers: dict[Handler, BulkHandler] = {}
_bootstrapped = False


def subscribe(name: str, handler: Handler, *, bulk: BulkHandler | None = None) -> None:
    """Register a reaction to events called ``name`` (one of ``EVENT_NAMES``); ``bulk``, its
    equivalent for a list of such events. Registering twice is a no-op."""
    if name not in EVENT_NAMES:
        raise ValueError(f"There is no domain event called {name!r}; use a constant of kb.events.")
    if handler not in _handlers[name]:
        _handlers[name].append(handler)
    if bulk is not None:
        _bulk_handlers[handler] = bulk


def subscribers(name: str) -> tuple[Handler, ...]:
    """The reactions registered for ``name`` (for checks that every event is wired)."""
    return tuple(_handlers.get(name, ()))


def publish(*, session: Session, event: Event) -> None:
    for handler in _handlers.get(event.name, ()):
        handler(session, event)


def publish_all(*, session: Session, events: list[Event]) -> None:
    """Publish many events of one name with the effect of ``publish`` on each: every subscriber
    sees them all, in order, through its bulk variant when it registered one (subscriber by
    subscriber rather than event by event: subscribers of an event do not depend on each other)."""
    names = {event.name for event in events}
    if len(names) > 1:
        raise ValueError(f"publish_all takes events of one name, not {sorted(names)}.")
    if not events:
        return
    for handler in _handlers.get(events[0].name, ()):
        bulk = _bulk_handlers.get(handler)
        if bulk is not None:
            bulk(session, events)
        else:
            for event in events:
                handler(session, event)


def mark_bootstrapped() -> None:
    """Called by the composition root once every subscriber and periodic job is registered."""
    global _bootstrapped
    _bootstrapped = True


def require_bootstrap(entry_point: str) -> None:
    """Refuse to build ``entry_point`` when the composition root has not registered the reactions:
    without them writes would silently skip indexing, notifications and expertise."""
    if not _bootstrapped:
        raise RuntimeError(f"{entry_point} needs the domain-event subscribers and periodic jobs: call "
                           "cli.bootstrap.bootstrap() first (the `kb` command and cli.asgi:app do).")


def admin_action(*, session: Session, actor_id: int | None, action: str, target: str, detail: str = "",
                 signature: str = "") -> None:
    """Announce an administrative change (users, roles, tokens, experts, policies, routing, synonyms)
    for the audit trail, which ``workflow.audit`` keeps. ``actor_id`` None: the command line.
    ``signature``: how the actor acted, when not as an administrator (e.g. "through single sign-on")."""
    data = {"action": action, "target": target, "detail": detail}
    if signature:
        data["signature"] = signature
    publish(session=session, event=Event(ADMIN_ACTION, actor_id=actor_id, data=data))
