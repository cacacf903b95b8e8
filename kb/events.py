"""Domain events: a service publishes, other packages react inside the same transaction.

``kb`` cannot import ``workflow``, ``search`` or ``expertise``; they subscribe here instead
(search writes outbox rows, workflow sends notifications, expertise updates scores).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session


@dataclass(frozen=True)
class Event:
    name: str
    entry_id: int | None = None
    revision_id: int | None = None
    actor_id: int | None = None
    data: dict = field(default_factory=dict)


Handler = Callable[[Session, Event], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler) -> None:
    """Register a reaction to events called ``name`` ("*" for all). Registering twice is a no-op."""
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def publish(session: Session, event: Event) -> None:
    for handler in (*_handlers.get(event.name, ()), *_handlers.get("*", ())):
        handler(session, event)


ADMIN_ACTION = "admin.action"


def admin_action(session: Session, *, actor_id: int | None, action: str, target: str, detail: str = "") -> None:
    """Announce an administrative change (users, roles, tokens, experts, policies, routing, synonyms)
    for the audit trail, which ``workflow.audit`` keeps. ``actor_id`` None: the command line."""
    publish(session, Event(ADMIN_ACTION, actor_id=actor_id, data={"action": action, "target": target,
                                                                  "detail": detail}))
