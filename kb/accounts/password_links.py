"""Links to set a password: an invitation to a new account, or a reset of a forgotten one.

A link carries a random token (256 bits from ``secrets``); kb keeps only its hash, so the database
cannot give a working link away. A link works once, until it expires (``KB_PASSWORD_RESET_HOURS``
for resets, ``KB_INVITATION_DAYS`` for invitations), and only while it is the person's newest one:
making a link deletes their older ones, and so does any change of their password or signing them
out everywhere (deactivation). Using a link sets the password, which signs the person out of every
other session and revokes their API tokens.

kb does not send email itself: making a link publishes ``PASSWORD_LINK_REQUESTED`` with the link,
and the mailer (subscribed by the composition root) sends it once the transaction has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from kb.accounts import security
from kb.accounts import service as accounts
from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import PasswordLink, User
from kb.accounts.schemas import UserCreate
from kb.clock import utcnow
from kb.errors import Conflict, Gone, Throttled, ValidationFailed
from kb.events import PASSWORD_LINK_REQUESTED, Event, admin_action, publish
from kb.settings import Settings

log = logging.getLogger("kb.accounts")

INVITE = "invite"
RESET = "reset"
PURPOSES = (INVITE, RESET)
TOKEN_PREFIX = "kbp"
SET_PATH = "/password/set"
MAX_TOKEN_CHARS = 100  # a real token has 47; anything longer is not worth hashing
# Forgot-password requests: a few per email address (more would only fill someone's mailbox; the
# extra ones are dropped without a word, as for an unknown address), more per network address.
REQUESTS_PER_EMAIL = 3
REQUESTS_PER_ADDRESS = 20
REQUEST_WINDOW_MINUTES = 60

NOT_VALID = ("This link has expired or was already used; ask for a new one. Only the newest link you "
             "were sent works, once, for a limited time.")
INACTIVE = "This account is deactivated: activate it before sending a link to set its password."


@dataclass(frozen=True)
class IssuedLink:
    """A link just made. ``url`` holds the token: it is shown only to an administrator or the
    operator who made the link, and only when kb cannot email it (``emailed`` False)."""

    user: User
    purpose: str
    url: str
    expires_at: datetime
    emailed: bool


@dataclass(frozen=True)
class PendingLink:
    """What the page behind a valid link shows: whose password it sets, and why."""

    email: str
    display_name: str
    purpose: str
    expires_at: datetime


def lifetime(purpose: str, settings: Settings) -> timedelta:
    if purpose == INVITE:
        return timedelta(days=settings.invitation_days)
    return timedelta(hours=settings.password_reset_hours)


def send_link(*, session: Session, actor: Actor, user: User, settings: Settings,
              purpose: str | None = None) -> IssuedLink:
    """An administrator's "Send invitation" / "Send password reset link": a new link for ``user``,
    emailed to them. Without ``purpose``: an invitation when they never had a password, else a reset.
    Their older links stop working; their password stays as it is until they use the link."""
    require_admin(actor, "Only an administrator can send someone a link to set their password.")
    purpose = purpose or (INVITE if user.password_hash is None else RESET)
    if purpose not in PURPOSES:
        raise ValidationFailed("Choose an invitation or a password reset link.", field="purpose")
    if not user.is_active:
        raise Conflict(INACTIVE)
    issued = _issue(session, user=user, purpose=purpose, settings=settings, requested_by=actor.id)
    what = "Invitation" if purpose == INVITE else "Password reset link"
    delivery = "emailed" if issued.emailed else "shown to be passed on (email is not set up)"
    admin_action(session=session, actor_id=actor.id, action=f"user.password_link.{purpose}", target=user.email,
                 detail=f"{what} {delivery}; valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC.")
    return issued


def invite_user(*, session: Session, actor: Actor, data: UserCreate, settings: Settings) -> IssuedLink:
    """Create an account without a password and invite its person to choose one."""
    user = accounts.create_user(session=session, actor=actor, data=data.model_copy(update={"password": None}))
    return send_link(session=session, actor=actor, user=user, settings=settings, purpose=INVITE)


def request_reset(*, session: Session, email: str, ip: str, settings: Settings) -> None:
    """"Forgot your password?": email a reset link to ``email`` if an active account has it. The
    caller answers the same whatever happens here, so nobody learns which addresses have accounts;
    only a burst of requests from one network address is refused (``Throttled``)."""
    email = email.strip().lower()[:254]
    now = utcnow()
    since = now - timedelta(minutes=REQUEST_WINDOW_MINUTES)
    if ip and not accounts.count_attempt(session, key=f"reset-ip:{ip}", limit=REQUESTS_PER_ADDRESS,
                                         now=now, since=since):
        raise Throttled(f"Too many requests for password links from your network. Wait "
                        f"{REQUEST_WINDOW_MINUTES} minutes and try again, or ask an administrator.",
                        retry_after=REQUEST_WINDOW_MINUTES * 60)
    if not email or not accounts.count_attempt(session, key=f"reset-email:{email}", limit=REQUESTS_PER_EMAIL,
                                               now=now, since=since):
        return
    user = accounts.find_user_by_email(session=session, email=email)
    if user is None or not user.is_active:
        log.info("Password link asked for %r, which has no active account; nothing sent.", email)
        return
    _issue(session, user=user, purpose=RESET, settings=settings, requested_by=user.id)


def pending_link(*, session: Session, token: str) -> PendingLink:
    """The person and purpose of a link that still works, or ``Gone``. Changes nothing."""
    link, user = _valid(session, token)
    return PendingLink(email=user.email, display_name=user.display_name, purpose=link.purpose,
                       expires_at=link.expires_at)


def set_password_with_link(*, session: Session, token: str, password: str) -> User:
    """Use a link: set the password of its person and end the link (and every other session and
    API token of theirs). A password kb refuses leaves the link working for another try."""
    link, user = _valid(session, token)
    accounts.check_password_rules(password)
    # Consumed by a conditional delete: of two requests racing with the same link, one wins.
    if session.exec(delete(PasswordLink).where(PasswordLink.id == link.id)).rowcount != 1:
        raise Gone(NOT_VALID)
    how = "Chosen with an invitation link" if link.purpose == INVITE else "Reset with an emailed link"
    accounts.set_password(session=session, actor=user, user=user, password=password, how=how)
    return user


# --- inside -----------------------------------------------------------------------------------------


def _issue(session: Session, *, user: User, purpose: str, settings: Settings, requested_by: int | None) -> IssuedLink:
    now = utcnow()
    # The person's older links stop working, and expired links of anyone are cleared away.
    session.exec(delete(PasswordLink).where((PasswordLink.user_id == user.id) | (PasswordLink.expires_at <= now)))
    raw = security.new_token(TOKEN_PREFIX)
    expires_at = now + lifetime(purpose, settings)
    session.add(PasswordLink(user_id=user.id, purpose=purpose, token_hash=security.token_hash(raw), created_at=now,
                             expires_at=expires_at, requested_by_id=requested_by))
    session.flush()
    url = f"{settings.base_url.rstrip('/')}{SET_PATH}?token={raw}"
    publish(session=session, event=Event(PASSWORD_LINK_REQUESTED, actor_id=requested_by, data={
        "user_id": user.id, "purpose": purpose, "url": url, "expires_at": expires_at, "settings": settings}))
    return IssuedLink(user=user, purpose=purpose, url=url, expires_at=expires_at, emailed=bool(settings.smtp_url))


def _valid(session: Session, token: str) -> tuple[PasswordLink, User]:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Gone(NOT_VALID)
    row = session.exec(
        select(PasswordLink, User).join(User, User.id == PasswordLink.user_id)
        .where(PasswordLink.token_hash == security.token_hash(token), PasswordLink.expires_at > utcnow())
    ).first()
    if row is None or not row[1].is_active:
        raise Gone(NOT_VALID)
    return row[0], row[1]
