"""The signed-in user's inbox: their notifications, read state, and how they want to be emailed."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry
from kb.errors import NotFound
from workflow.models import Notification, NotificationMode, NotificationPreference


def in_audience():
    """Notifications about entries their recipient may still see: one limited to groups since
    (``kb.content.audiences``), or whose group they left, is kept out of the inbox and email."""
    return Notification.entry_id.is_(None) | (
        select(Entry.id).where(Entry.id == Notification.entry_id, access.audience_includes(Notification.user_id))
        .exists())


def inbox(*, session: Session, actor: User, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    """The actor's notifications, newest first."""
    statement = select(Notification).where(Notification.user_id == actor.id, in_audience())
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    statement = statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list(session.exec(statement))


def unread_count(*, session: Session, actor: User | int) -> int:
    """One COUNT query (served by the (user_id, read_at) index); the top bar runs it on every page."""
    user_id = actor if isinstance(actor, int) else actor.id
    return session.exec(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None), in_audience())
    ).one()


def mark_read(*, session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read; someone else's is NotFound, as if it did not exist."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise NotFound("That notification does not exist or is not yours.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.add(notification)
        session.flush()
    return notification


def mark_all_read(*, session: Session, actor: User) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    return session.exec(
        update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount


def get_preference(*, session: Session, actor: User) -> NotificationMode:
    """How the actor wants notifications emailed; immediate when they never chose."""
    row = session.get(NotificationPreference, actor.id)
    return NotificationMode(row.mode) if row is not None else NotificationMode.immediate


def set_preference(*, session: Session, actor: User, mode: NotificationMode) -> NotificationPreference:
    mode = NotificationMode(mode)
    row = session.get(NotificationPreference, actor.id)
    if row is None:
        try:
            with session.begin_nested():
                row = NotificationPreference(user_id=actor.id, mode=mode.value)
                session.add(row)
                session.flush()
            return row
        except IntegrityError:  # a parallel request created the row first: update it instead
            row = session.get(NotificationPreference, actor.id, populate_existing=True)
    row.mode = mode.value
    session.add(row)
    session.flush()
    return row
