"""Email delivery of notifications over SMTP, when ``KB_SMTP_URL`` is set.

``KB_SMTP_URL`` looks like ``smtp://user:pass@host:587?starttls=1``, ``smtp://host:25`` or
``smtps://user:pass@host:465`` (implicit TLS). Without it, notifications stay in the in-app inbox.

Each notification is claimed with a conditional update (``emailed_at IS NULL``) before it is sent,
so two mailers running at once never send it twice; when sending fails the claim is undone and the
next run retries. SMTP errors are logged, never raised: the caller's transaction (which commits
the ``emailed_at`` marks) must not fail because a mail server is down.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import or_, update
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.settings import Settings
from workflow.models import Notification, NotificationMode, NotificationPreference
from workflow.inbox import in_audience

log = logging.getLogger("kb.mailer")

# Older notifications are left to the in-app inbox: a mail server that was down for a week
# should not flood people with stale news when it comes back.
EMAIL_WINDOW = timedelta(days=2)
DIGEST_INTERVAL = timedelta(hours=24)
DIGEST_MAX_ITEMS = 50
SMTP_TIMEOUT = 15
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False


def smtp_config(url: str) -> SmtpConfig:
    """Parse ``KB_SMTP_URL``; a ValueError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("KB_SMTP_URL must start with smtp:// or smtps://.")
    if not parts.hostname:
        raise ValueError("KB_SMTP_URL has no host name (smtp://host:port).")
    implicit_tls = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    starttls = any(v.lower() in _TRUE for v in query.get("starttls", []))
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        implicit_tls=implicit_tls,
        starttls=starttls and not implicit_tls,
    )


# Errors that concern one message only; anything else means the connection is unusable.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
                   smtplib.SMTPNotSupportedError, ValueError, UnicodeError)


class _Outbox:
    """One SMTP connection per run, opened on the first message and closed at the end."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None
        self.broken = False

    def __enter__(self) -> _Outbox:
        return self

    def __exit__(self, *_exc) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.implicit_tls:
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=SMTP_TIMEOUT)
        try:
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.username:
                smtp.login(c.username, c.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, compose: Callable[[], EmailMessage]) -> bool:
        """True when the server accepted the message; errors are logged, never raised."""
        if self.broken:
            return False
        message = None
        try:
            message = compose()
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.send_message(message)
            return True
        except _MESSAGE_ERRORS as exc:
            log.warning("Email to %s was not sent: %s", message.get("To") if message else "?", exc)
            return False
        except (smtplib.SMTPException, OSError) as exc:
            self.broken = True
            log.error("Cannot send email through %s:%s (%s); will retry on the next run.",
                      self.config.host, self.config.port, exc)
            return False


def _open_outbox(settings: Settings) -> _Outbox | None:
    if not settings.smtp_url:
        return None
    try:
        return _Outbox(smtp_config(settings.smtp_url))
    except ValueError as exc:
        log.error("Email is not sent: %s", exc)
        return None


def send_one(settings: Settings, compose: Callable[[], EmailMessage]) -> bool:
    """Send one email now (outside any transaction); False when it was not sent (no mail server,
    or the server refused it: logged, never raised)."""
    outbox = _open_outbox(settings)
    if outbox is None:
        return False
    with outbox:
        return outbox.send(compose)


# --- claiming: a conditional update, so two mailers never send the same notification -------------


def _claim(session: Session, ids: list[int], now: datetime) -> bool:
    claimed = session.exec(
        update(Notification).where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
        .values(emailed_at=now)
    ).rowcount
    if claimed != len(ids):
        _release(session, ids, now)
        return False
    return True


def _release(session: Session, ids: list[int], now: datetime) -> None:
    session.exec(update(Notification).where(Notification.id.in_(ids), Notification.emailed_at == now)
                 .values(emailed_at=None))


def _pending(mode: NotificationMode, since: datetime):
    """Unread, not yet emailed notifications of active users in ``mode`` (no preference = immediate)."""
    mode_matches = NotificationPreference.mode == mode.value
    if mode is NotificationMode.immediate:
        mode_matches = or_(NotificationPreference.mode.is_(None), mode_matches)
    return (
        select(Notification, User)
        .join(User, User.id == Notification.user_id)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == Notification.user_id)
        .where(mode_matches, User.is_active.is_(True), Notification.emailed_at.is_(None),
               Notification.read_at.is_(None), Notification.created_at >= since, in_audience())
        .order_by(Notification.user_id, Notification.created_at, Notification.id)
    )


def deliver_pending(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Email each recent unread notification to users who want them immediately; returns emails sent."""
    outbox = _open_outbox(settings)
    if outbox is None:
        return 0
    now = now or utcnow()
    rows = list(session.exec(_pending(NotificationMode.immediate, now - EMAIL_WINDOW)))
    sent = 0
    with outbox:
        for notification, user in rows:
            if outbox.broken:
                break
            if not _claim(session, [notification.id], now):
                continue
            if outbox.send(partial(_single_email, settings, user, notification, now)):
                sent += 1
            else:
                _release(session, [notification.id], now)
    session.flush()
    return sent


def send_digests(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """One email listing the unread notifications of each daily-digest user whose last digest is 24 h old."""
    outbox = _open_outbox(settings)
    if outbox is None:
        return 0
    now = now or utcnow()
    due = or_(NotificationPreference.last_digest_at.is_(None),
              NotificationPreference.last_digest_at <= now - DIGEST_INTERVAL)
    by_user: dict[int, tuple[User, list[Notification]]] = {}
    for notification, user in session.exec(_pending(NotificationMode.daily, now - EMAIL_WINDOW).where(due)):
        by_user.setdefault(user.id, (user, []))[1].append(notification)
    sent = 0
    with outbox:
        for user, notifications in by_user.values():
            if outbox.broken:
                break
            ids = [n.id for n in notifications]
            if not _claim(session, ids, now):
                continue
            if outbox.send(partial(_digest_email, settings, user, notifications, now)):
                session.exec(update(NotificationPreference).where(NotificationPreference.user_id == user.id)
                             .values(last_digest_at=now))
                sent += 1
            else:
                _release(session, ids, now)
    session.flush()
    return sent


# --- the emails ---------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject_for(message: str) -> str:
    """The message up to the quoted title, with a long title shortened:
    "Erin Expert asked for changes to “Refunds…”" (the comment stays in the body)."""
    message = _one_line(message)
    quoted = re.match(r"(?P<before>[^“]*)“(?P<title>[^”]*)”", message)
    if quoted:
        return f"[kb] {quoted['before']}“{_shorten(quoted['title'], 40)}”"
    return f"[kb] {_shorten(message.rstrip('.'), 90)}"


def _shorten(text: str, width: int) -> str:
    """Cut at a word boundary (a single very long word is cut mid-word)."""
    if len(text) <= width:
        return text
    return textwrap.shorten(text, width, placeholder="…") if " " in text[:width] else text[: width - 1] + "…"


def _url(settings: Settings, link: str) -> str:
    base = settings.base_url.rstrip("/")
    return base + link if link.startswith("/") and not link.startswith("//") else f"{base}/inbox"


def _footer(settings: Settings, how: str) -> str:
    return (f"\n-- \nYou get these emails {how}. Change this, or read all your notifications, "
            f"at {_url(settings, '/inbox')}\n")


def _email(settings: Settings, user: User, subject: str, body: str, now: datetime) -> EmailMessage:
    return email_message(settings, name=user.display_name, address=user.email, subject=subject, body=body, now=now)


def email_message(settings: Settings, *, name: str, address: str, subject: str, body: str,
                  now: datetime) -> EmailMessage:
    """A plain-text email from kb (``KB_MAIL_FROM``) to one person."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = Address(display_name=_one_line(name), addr_spec=address)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _single_email(settings: Settings, user: User, notification: Notification, now: datetime) -> EmailMessage:
    body = (f"Hello {user.display_name},\n\n{notification.message}\n\n"
            f"Open it: {_url(settings, notification.link)}\n" + _footer(settings, "as things happen"))
    return _email(settings, user, subject_for(notification.message), body, now)


def _digest_email(settings: Settings, user: User, notifications: Iterable[Notification], now: datetime) -> EmailMessage:
    notifications = list(notifications)
    count = len(notifications)
    lines = [f"Hello {user.display_name},", "",
             f"You have {count} new notification{'' if count == 1 else 's'} in kb:", ""]
    for n in notifications[:DIGEST_MAX_ITEMS]:
        lines.append(textwrap.fill(n.message, 76, initial_indent="- ", subsequent_indent="  "))
        lines.append(f"  {_url(settings, n.link)}")
    if count > DIGEST_MAX_ITEMS:
        lines.append(f"… and {count - DIGEST_MAX_ITEMS} more in your inbox.")
    subject = f"[kb] Your daily digest: {count} new notification{'' if count == 1 else 's'}"
    return _email(settings, user, subject, "\n".join(lines) + "\n" + _footer(settings, "as a daily digest"), now)
