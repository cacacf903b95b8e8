"""In-app notifications (the inbox). Email delivery and digests build on these rows."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from kb.accounts.models import User
from kb.content import access
from kb.content.models import Entry
from workflow.models import Notification


def notify(
    *, session: Session, users: Iterable[User], kind: str, message: str, link: str = "",
    entry_id: int | None = None, exclude: User | None = None,
) -> list[Notification]:
    """One notification per distinct user, never to the person who caused it, nor to someone outside
    the entry's audience (``kb.content.access.audience_allows``)."""
    rows = []
    seen: set[int] = set()
    entry = session.get(Entry, entry_id) if entry_id is not None else None
    limited = entry is not None and entry.limited_to_groups
    for user in users:
        if user is None or user.id in seen or (exclude is not None and user.id == exclude.id) or not user.is_active:
            continue
        if limited and not access.audience_allows(user, entry):
            continue
        seen.add(user.id)
        rows.append(Notification(user_id=user.id, kind=kind, message=message[:500], link=link, entry_id=entry_id))
    session.add_all(rows)
    session.flush()
    return rows
